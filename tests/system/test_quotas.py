"""The admin sets the instance quotas on /admin and through the API; nobody else can; bad values change nothing."""

from __future__ import annotations

import uuid
from dataclasses import asdict

import pytest

from app.config import use_settings
from app.errors import Invalid
from app.generation.models import GenerationJob
from app.storyboard import service as storyboard
from app.system import service

GOOD = {"project_gpu_s_month": "50000", "user_gpu_s_day": "3600", "rush": "owners", "count_cpu": "1"}
SAVED = service.Quotas(project_gpu_s_month=50_000, user_gpu_s_day=3600, rush="owners", count_cpu=True)


@pytest.fixture
def admin(make_user):
    return make_user(name="Admin", admin=True)


@pytest.fixture
def member(admin, make_user):
    return make_user(name="Member")


def test_environment_defaults_until_the_admin_chooses(db, monkeypatch):
    assert service.quotas(db) == service.Quotas(project_gpu_s_month=36_000, user_gpu_s_day=7200, rush="admins",
                                                count_cpu=False)  # fmt: skip
    monkeypatch.setenv("SLATE_QUOTA_PROJECT_GPU_S_MONTH", "900")
    monkeypatch.setenv("SLATE_QUOTA_RUSH", "everyone")
    monkeypatch.setenv("SLATE_QUOTA_COUNT_CPU", "true")
    use_settings(None)
    assert service.quotas(db) == service.Quotas(project_gpu_s_month=900, user_gpu_s_day=7200, rush="everyone",
                                                count_cpu=True)  # fmt: skip
    service.set_quotas(db, project_gpu_s_month=100, user_gpu_s_day=7200, rush="admins", count_cpu=False)
    assert service.quotas(db).project_gpu_s_month == 100 and service.quotas(db).rush == "admins"  # the admin's wins
    assert service.quota_defaults().project_gpu_s_month == 900


def test_admin_changes_the_quotas_on_the_admin_page(db, sign_in, admin):
    b = sign_in(admin)
    page = b.get("/admin")
    assert page.status_code == 200 and 'action="/admin/quotas"' in page.text and 'value="36000"' in page.text
    r = b.post("/admin/quotas", data=GOOD)
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    assert service.quotas(db) == SAVED
    page = b.get("/admin").text
    assert 'value="50000"' in page and 'value="owners" checked' in page
    r = b.post("/admin/quotas", data={**GOOD, "count_cpu": ""})  # an unticked box is false
    assert r.status_code == 303 and service.quotas(db).count_cpu is False


@pytest.mark.parametrize("bad", [
    {"project_gpu_s_month": "lots"}, {"project_gpu_s_month": "-5"}, {"user_gpu_s_day": "1e9"},
    {"user_gpu_s_day": "100000001"}, {"rush": "nobody"}, {"project_gpu_s_month": "١٢"},
])  # fmt: skip
def test_bad_values_get_422_and_change_nothing(db, sign_in, admin, bad):
    service.set_quotas(db, **{**asdict(SAVED), "count_cpu": False})
    db.commit()
    before = service.quotas(db)
    r = sign_in(admin).post("/admin/quotas", data={**GOOD, **bad})
    assert r.status_code == 422, r.text
    assert 'role="alert"' in r.text and 'action="/admin/quotas"' in r.text  # the form again, with the reason
    db.expire_all()
    assert service.quotas(db) == before  # not even the good fields of the same form


def test_a_missing_field_gets_422(db, sign_in, admin):
    r = sign_in(admin).post("/admin/quotas", data={"project_gpu_s_month": "10"})
    assert r.status_code == 422
    assert service.quotas(db) == service.quota_defaults()


def test_members_cannot_see_or_change_the_quotas(db, sign_in, client, api_token, member):
    b = sign_in(member)
    assert b.get("/admin").status_code == 403
    assert b.post("/admin/quotas", data=GOOD).status_code == 403
    h = api_token(member)
    assert client.get("/api/v1/system/quotas", headers=h).status_code == 403
    body = {"project_gpu_s_month": 1, "user_gpu_s_day": 1, "rush": "everyone", "count_cpu": True}
    assert client.put("/api/v1/system/quotas", json=body, headers=h).status_code == 403
    assert client.get("/api/v1/system/quotas").status_code == 401
    assert service.quotas(db) == service.quota_defaults()


def test_admin_sets_the_quotas_through_the_api(db, client, api_token, admin):
    h = api_token(admin)
    got = client.get("/api/v1/system/quotas", headers=h).json()
    assert got["rush"] == "admins" and got["defaults"]["project_gpu_s_month"] == 36_000
    body = {"project_gpu_s_month": 50_000, "user_gpu_s_day": 3600, "rush": "owners", "count_cpu": True}
    r = client.put("/api/v1/system/quotas", json=body, headers=h)
    assert r.status_code == 200 and {k: r.json()[k] for k in body} == body
    for bad in ({"project_gpu_s_month": "50000"}, {"count_cpu": "yes"}, {"count_cpu": 1}, {"rush": "nobody"},
                {"user_gpu_s_day": -1}, {"user_gpu_s_day": 10**12}, {"user_gpu_s_day": True},
                {"extra": 1}):  # fmt: skip
        r = client.put("/api/v1/system/quotas", json={**body, "user_gpu_s_day": 1, **bad}, headers=h)
        assert r.status_code == 422, (bad, r.text)
    r = client.put("/api/v1/system/quotas", json={"rush": "everyone"}, headers=h)
    assert r.status_code == 422
    assert service.quotas(db) == SAVED


def test_the_admin_page_shows_this_months_use_per_project(db, sign_in, admin, make_project):
    lighthouse = make_project(admin, name="Lighthouse")
    quiet = make_project(admin, name="Quiet Film")
    scene = storyboard.create_scene(db, actor=admin, project=lighthouse, heading="EXT. ROCKS")
    shot = storyboard.create_shot(db, actor=admin, scene=scene, values={"duration_s": 1.0})
    db.add(GenerationJob(project_id=lighthouse.id, shot_id=shot.id, model="ltx", spec={}, spec_hash="h",
                         seeds=[1], status="succeeded", task_id=str(uuid.uuid4()), gpu_seconds=1234.4))  # fmt: skip
    db.commit()
    page = sign_in(admin).get("/admin").text
    assert "Lighthouse</td><td>1,234</td>" in page and quiet.name not in page


def test_set_quotas_checks_every_value_before_writing_any(db):
    before = service.quotas(db)
    with pytest.raises(Invalid) as err:
        service.set_quotas(db, project_gpu_s_month=1, user_gpu_s_day=1, rush="owners", count_cpu="yes")
    assert err.value.field == "count_cpu"
    with pytest.raises(Invalid, match="user gpu s day must be a whole number of seconds from 0 to 100,000,000"):
        service.set_quotas(db, project_gpu_s_month=1, user_gpu_s_day=-1, rush="owners", count_cpu=True)
    assert service.quotas(db) == before  # no rollback here: the first field was not written either
