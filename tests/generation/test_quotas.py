"""Instance quotas on PostgreSQL: GPU-seconds per project per month and per person per day, who may rush,
whether CPU seconds count, and how far a project's own budget may be raised."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict

import pytest
from sqlalchemy import func, select

from app.errors import Forbidden, Invalid, TooMany
from app.generation import quotas, service
from app.generation.models import GenerationJob
from app.projects import service as projects
from app.storyboard import service as storyboard
from app.system import service as system

UTC = dt.UTC


@pytest.fixture
def admin(make_user):
    return make_user(name="Admin", admin=True)  # made first: the people below are not admins


@pytest.fixture
def owner(admin, make_user):
    return make_user(name="Director")


@pytest.fixture
def project(make_project, owner):
    return make_project(owner, name="Lighthouse")


def _shot(db, owner, project, **values):
    scene = storyboard.create_scene(db, actor=owner, project=project, heading="EXT. LIGHTHOUSE - NIGHT")
    values = {"action": "Waves.", "width": 64, "height": 64, "fps": 24, "duration_s": 0.7, **values}
    return storyboard.create_shot(db, actor=owner, scene=scene, values=values)


@pytest.fixture
def shot(db, owner, project):
    shot = _shot(db, owner, project)
    db.commit()
    return shot


def _past_job(db, shot, user, *, model="ltx", status="succeeded", gpu_seconds=0.0, estimate_s=0.0, queued_at=None):
    """A job row as the worker leaves it (no broker, no render): what the quotas count."""
    job = GenerationJob(project_id=shot.project_id, shot_id=shot.id, requested_by_id=user.id if user else None,
                        model=model, spec={}, spec_hash="h", takes=1, seeds=[1], status=status,
                        task_id=str(uuid.uuid4()), queued_at=queued_at or dt.datetime.now(UTC),
                        gpu_seconds=gpu_seconds, estimate_s=estimate_s)  # fmt: skip
    db.add(job)
    db.commit()
    return job


def _quota(db, **changes):
    values = {**asdict(system.quotas(db)), **changes}
    system.set_quotas(db, **values)
    db.commit()
    return system.quotas(db)


def _enqueue(db, actor, shot, **kw):
    job = service.enqueue(db, actor=actor, shot=shot, **{"takes": 1, "model": "ltx", **kw})
    db.info.pop("after_commit", None)  # no broker round trip in these tests
    return job


def _jobs(db, shot) -> int:
    return db.scalar(select(func.count()).select_from(GenerationJob).where(GenerationJob.shot_id == shot.id))


# ---- periods --------------------------------------------------------------------------------------


def test_periods_are_utc_calendar_months_and_days():
    late = dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert quotas.month_window(late) == (dt.datetime(2026, 12, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC))
    assert quotas.day_window(late) == (dt.datetime(2026, 12, 31, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC))
    # 00:30 in Berlin on 1 March is still 28 February in UTC
    berlin = dt.datetime(2026, 3, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert quotas.month_window(berlin)[1] == dt.datetime(2026, 3, 1, tzinfo=UTC)
    assert quotas.day_window(berlin)[0] == dt.datetime(2026, 2, 28, tzinfo=UTC)


# ---- the project's month ------------------------------------------------------------------------


def test_project_month_quota_refuses_with_the_figures_and_the_reset(db, owner, project, shot):
    quota = _quota(db, project_gpu_s_month=36_000, user_gpu_s_day=100_000)
    december = dt.datetime(2026, 12, 20, 15, 0, tzinfo=UTC)
    _past_job(db, shot, owner, gpu_seconds=35_900, queued_at=dt.datetime(2026, 12, 2, tzinfo=UTC))
    _past_job(db, shot, owner, gpu_seconds=20_000, queued_at=dt.datetime(2026, 11, 30, 23, 59, tzinfo=UTC))  # not Dec
    quotas.check_quotas(db, quota=quota, project=project, actor=owner, estimate=100, now=december)  # exactly fits
    with pytest.raises(TooMany) as err:
        quotas.check_quotas(db, quota=quota, project=project, actor=owner, estimate=200, now=december)
    assert err.value.detail == ("this project has used 35,900 of its 36,000 GPU-seconds this month; this job needs "
                                "about 200 more; the quota resets on 2027-01-01 00:00 UTC")  # fmt: skip
    # in January the month starts again
    quotas.check_quotas(db, quota=quota, project=project, actor=owner, estimate=200,
                        now=dt.datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip


def test_queued_and_running_jobs_hold_their_estimate_against_the_month(db, owner, project, shot):
    quota = _quota(db, project_gpu_s_month=1000, user_gpu_s_day=100_000)
    _past_job(db, shot, owner, status="queued", estimate_s=600)
    _past_job(db, shot, owner, status="running", estimate_s=300)
    _past_job(db, shot, owner, status="canceled", estimate_s=5000)  # canceled before it ran: charged nothing
    with pytest.raises(TooMany, match=r"used 900 of its 1,000 GPU-seconds this month \(900 of them held by queued"):
        quotas.check_quotas(db, quota=quota, project=project, actor=owner, estimate=101)


def test_generate_over_the_project_quota_answers_429_and_writes_nothing(client, db, api_token, owner, shot):
    _quota(db, project_gpu_s_month=100, user_gpu_s_day=100_000)
    _past_job(db, shot, owner, gpu_seconds=99.9)
    before = _jobs(db, shot)
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1, "model": "ltx"}, headers=api_token(owner))
    assert r.status_code == 429, r.text
    start, reset = quotas.month_window()
    assert r.json()["detail"].startswith("this project has used 100 of its 100 GPU-seconds this month")
    assert r.json()["detail"].endswith(f"the quota resets on {reset:%Y-%m-%d} 00:00 UTC")
    assert _jobs(db, shot) == before


def test_the_quota_is_checked_again_on_retry(client, db, api_token, owner, shot):
    h = api_token(owner)
    _quota(db, project_gpu_s_month=36_000, user_gpu_s_day=100_000)
    job = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1, "model": "ltx"}, headers=h).json()
    client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=h)
    _past_job(db, shot, owner, gpu_seconds=36_000)
    r = client.post(f"/api/v1/jobs/{job['id']}/retry", headers=h)
    assert r.status_code == 429 and "36,000 of its 36,000" in r.json()["detail"]


# ---- the person's day ---------------------------------------------------------------------------


def test_user_day_quota_counts_every_project_of_the_person(db, owner, make_project, project, shot):
    quota = _quota(db, project_gpu_s_month=1_000_000, user_gpu_s_day=7200)
    other = make_project(owner, name="Second Unit")
    other_shot = _shot(db, owner, other)
    noon = dt.datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    _past_job(db, other_shot, owner, gpu_seconds=7000, queued_at=dt.datetime(2026, 5, 4, 0, 0, 1, tzinfo=UTC))
    _past_job(db, other_shot, owner, gpu_seconds=7000, queued_at=dt.datetime(2026, 5, 3, 23, 59, tzinfo=UTC))
    with pytest.raises(TooMany) as err:
        quotas.check_quotas(db, quota=quota, project=project, actor=owner, estimate=300, now=noon)
    assert err.value.detail == ("you have used 7,000 of your 7,200 GPU-seconds today; this job needs about 300 more; "
                                "the quota resets on 2026-05-05 00:00 UTC")  # fmt: skip
    quotas.check_quotas(db, quota=quota, project=project, actor=owner, estimate=200, now=noon)


def test_generate_over_the_day_quota_answers_429(client, db, api_token, owner, make_user, add_member, project, shot):
    _quota(db, project_gpu_s_month=1_000_000, user_gpu_s_day=50)
    artist = make_user(name="Artist")
    add_member(project, artist, "artist")
    _past_job(db, shot, artist, gpu_seconds=50)
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1, "model": "ltx"}, headers=api_token(artist))
    assert r.status_code == 429 and r.json()["detail"].startswith("you have used 50 of your 50 GPU-seconds today")
    # the quota is the person's: the owner of the same project still generates
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1, "model": "ltx"}, headers=api_token(owner))
    assert r.status_code == 202, r.text


# ---- CPU seconds ----------------------------------------------------------------------------------


def test_cpu_engines_count_only_when_the_instance_says_so(db, owner, project, shot):
    _quota(db, project_gpu_s_month=0, user_gpu_s_day=0, count_cpu=False)
    assert _enqueue(db, owner, shot, model="animatic").status == "queued"  # free: not counted
    with pytest.raises(TooMany, match="this project has used 0 of its 0 GPU-seconds"):
        _enqueue(db, owner, shot, model="ltx")
    _quota(db, project_gpu_s_month=0, user_gpu_s_day=0, count_cpu=True)
    with pytest.raises(TooMany, match="this project has used"):
        _enqueue(db, owner, shot, model="animatic")


def test_counting_cpu_also_holds_the_animatic_to_the_project_budget_and_charges_it(db, owner, project, shot):
    from app.errors import Conflict

    _quota(db, project_gpu_s_month=1_000_000, user_gpu_s_day=1_000_000, count_cpu=False)
    project.gpu_budget_s, project.gpu_used_s = 0, 0.0
    db.commit()
    job = _enqueue(db, owner, shot, model="animatic")
    service.finish(db, job_id=job.id, task_id=job.task_id, status="succeeded", worker_s=2.5)
    assert (job.gpu_seconds, project.gpu_used_s) == (0.0, 0.0)  # not charged
    _quota(db, count_cpu=True)
    with pytest.raises(Conflict, match="left of the project's budget"):
        _enqueue(db, owner, shot, model="animatic")
    project.gpu_budget_s = 100
    db.commit()
    job = _enqueue(db, owner, shot, model="animatic")
    service.finish(db, job_id=job.id, task_id=job.task_id, status="succeeded", worker_s=2.5)
    db.refresh(project)
    assert (job.gpu_seconds, project.gpu_used_s) == (2.5, 2.5)
    assert quotas.use(db, since=quotas.month_window()[0], count_cpu=True, project_id=project.id).used == 2.5
    assert quotas.use(db, since=quotas.month_window()[0], count_cpu=False, project_id=project.id).used == 0


# ---- rush ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "allowed"), [
    ("admins", {"admin"}),
    ("owners", {"admin", "owner", "director"}),
    ("everyone", {"admin", "owner", "director", "artist"}),
])  # fmt: skip
def test_who_may_rush(client, db, api_token, make_user, add_member, admin, owner, project, shot, policy, allowed):
    _quota(db, rush=policy)
    people = {"admin": admin, "owner": owner}
    add_member(project, admin, "artist")  # an admin who is only an artist in the project
    for role in ("director", "artist"):
        people[role] = make_user(name=role.title())
        add_member(project, people[role], role)
    for who, user in people.items():
        before = _jobs(db, shot)
        r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1, "priority": "rush"},
                        headers=api_token(user))  # fmt: skip
        if who in allowed:
            assert r.status_code == 202 and r.json()["priority"] == "rush", (who, r.text)
        else:
            assert r.status_code == 403, (who, r.text)
            assert r.json()["field"] == "priority" and "rush priority is for" in r.json()["detail"]
            assert _jobs(db, shot) == before
        r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1}, headers=api_token(user))
        assert r.status_code == 202, (who, r.text)  # normal priority is everyone's who may generate


def test_a_rush_job_retried_by_someone_who_may_not_rush_runs_at_normal_priority(db, admin, owner, project, shot):
    _quota(db, rush="admins")
    job = _enqueue(db, admin, shot, priority="rush")
    service.cancel(db, actor=admin, job=job)
    db.info.pop("after_commit", None)
    again = service.retry(db, actor=owner, job=job)
    db.info.pop("after_commit", None)
    assert again.priority == "normal"
    assert "retried at normal priority: rush is for this Slate's admins" in again.snap_note
    with pytest.raises(Forbidden, match="rush priority is for this Slate's admins"):
        _enqueue(db, owner, shot, priority="rush")


# ---- the project's own budget ------------------------------------------------------------------


def test_a_new_project_gets_the_default_budget_or_the_quota_if_less(db, owner, make_project):
    assert make_project(owner, name="A").gpu_budget_s == projects.DEFAULT_BUDGET_S
    _quota(db, project_gpu_s_month=1200)
    assert make_project(owner, name="B").gpu_budget_s == 1200


def test_a_budget_is_lowered_freely_and_never_raised_past_the_quota(db, owner, project):
    _quota(db, project_gpu_s_month=36_000)
    with pytest.raises(Invalid) as err:
        projects.create_project(db, actor=owner, name="Big", gpu_budget_s=36_001)
    assert err.value.field == "gpu_budget_s"
    assert err.value.detail == ("the GPU budget can be at most 36,000 s: this Slate's quota of 36,000 GPU-seconds a "
                                "project a month (the admin sets it)")  # fmt: skip
    projects.update_project(db, actor=owner, project=project, changes={"gpu_budget_s": 36_000})
    with pytest.raises(Invalid, match="at most 36,000 s"):
        projects.update_project(db, actor=owner, project=project, changes={"gpu_budget_s": 36_001})
    # what the project has used carries the ceiling along, month by month
    project.gpu_used_s = 9000.2
    with pytest.raises(Invalid, match=r"at most 45,001 s: what the project has used \(9,001 s\) plus this Slate's "):
        projects.update_project(db, actor=owner, project=project, changes={"gpu_budget_s": 50_000})
    projects.update_project(db, actor=owner, project=project, changes={"gpu_budget_s": 45_001})
    # a budget set before the quota was lowered can still be lowered, even while above the ceiling
    _quota(db, project_gpu_s_month=100)
    projects.update_project(db, actor=owner, project=project, changes={"gpu_budget_s": 20_000})
    assert project.gpu_budget_s == 20_000
    with pytest.raises(Invalid, match=r"at most 9,101 s"):
        projects.update_project(db, actor=owner, project=project, changes={"gpu_budget_s": 20_001})


def test_raising_the_budget_past_the_quota_answers_422_by_api_and_page(client, db, api_token, sign_in, owner,
                                                                         project):  # fmt: skip
    _quota(db, project_gpu_s_month=5000)
    h = api_token(owner)
    r = client.patch(f"/api/v1/projects/{project.id}", json={"gpu_budget_s": 5001}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "gpu_budget_s" and "quota of 5,000" in r.json()["detail"]
    assert client.patch(f"/api/v1/projects/{project.id}", json={"gpu_budget_s": "60"}, headers=h).status_code == 422
    r = client.post("/api/v1/projects", json={"name": "Big", "gpu_budget_s": 9999}, headers=h)
    assert r.status_code == 422 and "quota of 5,000" in r.json()["detail"]
    b = sign_in(owner)
    form = {"name": project.name, "fps": "24", "width": "1280", "height": "720", "default_model": "animatic"}
    r = b.post(f"/projects/{project.id}/settings", data={**form, "gpu_budget_s": "5001"})
    assert r.status_code == 422 and "quota of 5,000" in r.text
    db.refresh(project)
    assert project.gpu_budget_s == projects.DEFAULT_BUDGET_S
    assert b.post(f"/projects/{project.id}/settings", data={**form, "gpu_budget_s": "600"}).status_code == 303
    db.refresh(project)
    assert project.gpu_budget_s == 600
    assert "At most 5,000 s on this Slate" in b.get(f"/projects/{project.id}/settings").text
