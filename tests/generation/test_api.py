"""Generation API on PostgreSQL (no worker: jobs stay queued): who may do what, bad input, budget, reading takes."""

from __future__ import annotations

import pytest

from app.characters import versions
from app.generation.models import GenerationJob, Take
from app.media.store import get_store
from app.storyboard import service as storyboard
from tests.storyboard import factories as f


@pytest.fixture
def owner(make_user):
    return make_user(name="Director")


@pytest.fixture
def project(make_project, owner):
    return make_project(owner, name="Lighthouse")


@pytest.fixture
def shot(db, owner, project):
    scene = storyboard.create_scene(db, actor=owner, project=project, heading="EXT. LIGHTHOUSE - NIGHT")
    shot = storyboard.create_shot(db, actor=owner, scene=scene, values={
        "action": "Waves.", "width": 64, "height": 64, "fps": 24, "duration_s": 0.7})  # fmt: skip
    db.commit()
    return shot


@pytest.fixture
def take(db, project, shot):
    """A stored take (as a worker leaves it) of a finished job."""
    key, _ = get_store().put(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 4, "mp4")
    job = GenerationJob(project_id=project.id, shot_id=shot.id, model="animatic", spec={}, spec_hash="h", takes=1,
                        seeds=[5], status="succeeded", task_id="t")  # fmt: skip
    db.add(job)
    db.flush()
    t = Take(project_id=project.id, shot_id=shot.id, job_id=job.id, index=0, number=1, seed=5, model="animatic",
             spec_hash="h", frames=17, fps=24, width=64, height=64, video_key=key, poster_key=key, filmstrip_key=key,
             compiled_prompt="Waves.", filmstrip={"count": 10})  # fmt: skip
    db.add(t)
    db.commit()
    return t


def _drop_sends(db):
    db.info.pop("after_commit", None)


def test_generate_answers_202_with_the_job(client, db, api_token, owner, shot):
    h = api_token(owner)
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 2, "seed": 9, "priority": "rush"}, headers=h)
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["status"], job["take_count"], job["seeds"], job["priority"], job["model"]) == (
        "queued", 2, [9, 10], "rush", "animatic")  # the project's default model
    assert job["takes"] == [] and job["spec"]["frames"] == 17 and job["estimate_s"] > 0
    got = client.get(f"/api/v1/jobs/{job['id']}", headers=h).json()
    assert got["status"] == "queued" and got["id"] == job["id"]
    queue = client.get(f"/api/v1/projects/{shot.project_id}/queue", headers=h).json()
    assert [(q["job_id"], q["position"], q["shot_code"]) for q in queue] == [(job["id"], 1, shot.code)]
    r = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    r = client.post(f"/api/v1/jobs/{job['id']}/retry", headers=h)
    assert r.status_code == 202 and r.json()["seeds"] == [9, 10] and r.json()["retry_of_id"] == job["id"]
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=h).status_code == 409


@pytest.mark.parametrize(("body", "field"), [
    ({"takes": 0}, "takes"), ({"takes": 17}, "takes"), ({"takes": 1, "model": "sora"}, "model"),
    ({"takes": 1, "priority": "asap"}, None), ({"takes": "many"}, None),
])  # fmt: skip
def test_bad_parameters_get_422(client, api_token, owner, shot, body, field):
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json=body, headers=api_token(owner))
    assert r.status_code == 422, r.text
    if field:
        assert r.json()["field"] == field


def test_a_shot_too_long_for_the_model_gets_422(client, db, api_token, owner, shot):
    shot.duration_s = 60.0  # 1440 frames at 24 fps
    db.commit()
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1, "model": "ltx"}, headers=api_token(owner))
    assert r.status_code == 422 and "at most 257" in r.json()["detail"]


def test_an_unlocked_character_gets_409(client, db, api_token, owner, project, shot):
    mara = f.character(db, project, "Mara", "grey hair")
    storyboard.update_shot(db, actor=owner, shot=shot, changes={"character_ids": [mara.id]})
    db.commit()
    h = api_token(owner)
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1}, headers=h)
    assert r.status_code == 409 and r.json()["detail"] == "lock Mara first (shot uses draft v1)"
    versions.lock(db, subject=mara, actor=owner)
    db.commit()
    assert client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1}, headers=h).status_code == 202


def test_over_budget_gets_409_with_the_estimate(client, db, api_token, owner, project, shot):
    project.gpu_budget_s, project.gpu_used_s = 10, 9.5
    shot.width, shot.height, shot.duration_s = 512, 512, 4.0
    db.commit()
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 4, "model": "ltx"}, headers=api_token(owner))
    assert r.status_code == 409
    assert r.json()["detail"].startswith("needs ~") and "0 s left of the project's budget" in r.json()["detail"]
    assert db.query(GenerationJob).filter_by(shot_id=shot.id).count() == 0


def test_viewers_read_but_cannot_generate_cancel_or_retry(client, db, api_token, make_user, add_member, project, shot,
                                                          take):  # fmt: skip
    viewer = make_user(name="Client")
    add_member(project, viewer, "viewer")
    h = api_token(viewer)
    assert client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1}, headers=h).status_code == 403
    assert client.post(f"/api/v1/jobs/{take.job_id}/cancel", headers=h).status_code == 403
    assert client.post(f"/api/v1/jobs/{take.job_id}/retry", headers=h).status_code == 403
    assert client.get(f"/api/v1/jobs/{take.job_id}", headers=h).json()["takes"][0]["id"] == take.id
    assert client.get(f"/api/v1/takes/{take.id}", headers=h).json()["seed"] == 5
    assert [t["id"] for t in client.get(f"/api/v1/shots/{shot.id}/takes", headers=h).json()] == [take.id]
    assert client.get(f"/api/v1/takes/{take.id}/video", headers=h).status_code == 200
    assert client.get(f"/api/v1/projects/{project.id}/queue", headers=h).json() == []


def test_non_members_get_404_for_the_job_the_take_and_its_files(client, api_token, make_user, shot, take):
    h = api_token(make_user(name="Outsider"))
    for url in (f"/api/v1/jobs/{take.job_id}", f"/api/v1/takes/{take.id}", f"/api/v1/takes/{take.id}/video",
                f"/api/v1/takes/{take.id}/poster", f"/api/v1/takes/{take.id}/filmstrip",
                f"/api/v1/shots/{shot.id}/takes"):  # fmt: skip
        assert client.get(url, headers=h).status_code == 404, url
    for url in (f"/api/v1/jobs/{take.job_id}/cancel", f"/api/v1/jobs/{take.job_id}/retry",
                f"/api/v1/shots/{shot.id}/generate"):  # fmt: skip
        assert client.post(url, json={"takes": 1}, headers=h).status_code == 404, url
    assert client.get("/api/v1/takes/999999", headers=h).status_code == 404


def test_take_fields_and_range_requests(client, api_token, owner, take):
    h = api_token(owner)
    t = client.get(f"/api/v1/takes/{take.id}", headers=h).json()
    assert {k: t[k] for k in ("seed", "compiled_prompt", "model", "frames", "fps", "review_status", "spec_hash")} == {
        "seed": 5, "compiled_prompt": "Waves.", "model": "animatic", "frames": 17, "fps": 24.0,
        "review_status": "pending", "spec_hash": "h"}  # fmt: skip
    assert t["video_url"] == f"/api/v1/takes/{take.id}/video" and t["filmstrip"] == {"count": 10}
    r = client.get(t["video_url"], headers={**h, "Range": "bytes=4-11"})
    assert r.status_code == 206 and r.content == b"ftypisom"
    assert r.headers["content-type"] == "video/mp4"


def test_generation_is_rate_limited_per_person(client, db, api_token, owner, shot, monkeypatch):
    monkeypatch.setenv("SLATE_JOB_RATE_PER_MINUTE", "2")
    h = api_token(owner)
    for _ in range(2):
        assert client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1}, headers=h).status_code == 202
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1}, headers=h)
    assert r.status_code == 429 and "a minute" in r.json()["detail"]
    assert db.query(GenerationJob).filter_by(shot_id=shot.id).count() == 2
