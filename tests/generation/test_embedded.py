"""Generation in the embedded mode (`slate up`): SQLite, the in-process broker and worker, the animatic engine.

Through the API: takes appear as playable H.264 with Range support; a running job stops at the
next step and keeps its finished takes; the reconciler resumes a job whose worker died (only the
missing take is rendered, identical to the first time), fails a job after too many deaths, and
sends again a job whose message went with the last process.
"""

from __future__ import annotations

import datetime as dt
import io
import time
import av
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import commit, engine_for, session_factory
from app.generation.models import GenerationJob, Take
from app.main import create_app
from app.migrate import upgrade
from tests.conftest import PASSWORD
from tests.live import wait_until
from workers.celery_app import configure


@pytest.fixture
def studio(tmp_path, monkeypatch):
    """A running embedded app with one signed-up owner, a project, a scene and a 64x64 shot of 17 frames."""
    monkeypatch.setenv("SLATE_JOB_PROGRESS_INTERVAL_S", "0.05")
    monkeypatch.setenv("SLATE_JOB_HEARTBEAT_S", "0.2")
    monkeypatch.setenv("SLATE_JOB_RECONCILE_S", "3600")  # the tests run the reconciler themselves
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/slate.db", broker_url="memory://",
                        embedded_worker=True, secret_key="", env="development", demo=False, _env_file=None)  # fmt: skip
    upgrade(settings.database_url)
    try:
        with TestClient(create_app(settings)) as api:
            api.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PASSWORD,
                                                     "display_name": "Ada"})  # fmt: skip
            token = api.post("/api/v1/auth/tokens", json={"email": "ada@example.com", "password": PASSWORD,
                                                            "name": "t"}).json()["token"]  # fmt: skip
            h = {"Authorization": f"Bearer {token}"}
            project = api.post("/api/v1/projects", json={"name": "Embedded"}, headers=h).json()
            scene = api.post(f"/api/v1/projects/{project['id']}/scenes", json={"heading": "INT. LAMP ROOM - NIGHT"},
                             headers=h).json()  # fmt: skip
            shot = api.post(f"/api/v1/scenes/{scene['id']}/shots", headers=h, json={
                "action": "The lamp turns.", "width": 64, "height": 64, "fps": 24, "duration_s": 0.7,
                "camera": {"move": "pan_left"}}).json()  # fmt: skip
            yield api, h, shot, settings
    finally:
        configure()  # back to the suite's settings


def _wait(api, h, job_id: int, timeout: float = 60) -> dict:
    state: dict = {}

    def done() -> bool:
        state.update(api.get(f"/api/v1/jobs/{job_id}", headers=h).json())
        return state["status"] not in ("queued", "running")

    wait_until(done, timeout, f"job {job_id} to finish")
    return state


def _decode(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.profile) == ("h264", "High")
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])


def test_takes_come_back_as_playable_h264(studio):
    api, h, shot, _ = studio
    r = api.post(f"/api/v1/shots/{shot['id']}/generate", json={"takes": 2, "model": "animatic", "seed": 5}, headers=h)
    assert r.status_code == 202, r.text
    job = _wait(api, h, r.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    assert (job["progress"], job["takes_done"], job["attempts"], job["gpu_seconds"]) == (1.0, 2, 1, 0.0)
    assert job["timings"]["render_s"] > 0 and job["timings"]["encode_s"] > 0
    takes = job["takes"]
    assert [(t["index"], t["number"], t["seed"], t["frames"]) for t in takes] == [(0, 1, 5, 17), (1, 2, 6, 17)]
    assert takes[0]["compiled_prompt"].startswith("The lamp turns.") and "pans left" in takes[0]["compiled_prompt"]
    frames = []
    for t in takes:
        video = api.get(t["video_url"], headers=h)
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        frames.append(_decode(video.content))
        assert frames[-1].shape == (17, 64, 64, 3)
        part = api.get(t["video_url"], headers={**h, "Range": "bytes=0-1023"})
        assert part.status_code == 206 and part.content == video.content[:1024]
        assert part.headers["content-range"] == f"bytes 0-1023/{len(video.content)}"
        assert api.get(t["poster_url"], headers=h).content[:2] == b"\xff\xd8"
        assert api.get(t["filmstrip_url"], headers=h).content[:2] == b"\xff\xd8"
        assert t["filmstrip"]["source_frames"] == 17
    assert not np.array_equal(frames[0], frames[1])  # another seed, another take
    assert [t["id"] for t in api.get(f"/api/v1/shots/{shot['id']}/takes", headers=h).json()] == [
        takes[1]["id"], takes[0]["id"]]  # fmt: skip
    assert api.get(f"/api/v1/shots/{shot['id']}", headers=h).json()["status"] == "in_review"
    feed = api.get(f"/api/v1/projects/{shot['project_id']}/queue", headers=h).json()
    assert feed == []


def test_cancel_a_running_job_keeps_its_finished_takes(studio):
    api, h, shot, _ = studio
    # 20 s (the longest take the work limits allow) at 256x192: about 0.5 s a take on the animatic, long enough
    # to cancel in the second take
    api.patch(f"/api/v1/shots/{shot['id']}", json={"duration_s": 20, "width": 256, "height": 192}, headers=h)
    job = api.post(f"/api/v1/shots/{shot['id']}/generate", json={"takes": 3, "model": "animatic"}, headers=h).json()
    state: dict = {}

    def in_second_take() -> bool:
        state.update(api.get(f"/api/v1/jobs/{job['id']}", headers=h).json())
        return state["progress"] > 0.36

    wait_until(in_second_take, 60, "the job to reach its second take")
    r = api.post(f"/api/v1/jobs/{job['id']}/cancel", headers=h)
    assert r.status_code == 200 and r.json()["cancel_requested"] is True
    job = _wait(api, h, job["id"])
    kept = len(job["takes"])
    assert job["status"] == "canceled" and 1 <= kept < 3
    assert job["note"] == f"stopped after {kept} of 3 takes"
    assert [t["index"] for t in job["takes"]] == list(range(kept))
    assert api.get(f"/api/v1/shots/{shot['id']}", headers=h).json()["status"] == "in_review"
    again = api.post(f"/api/v1/jobs/{job['id']}/retry", headers=h)
    assert again.status_code == 202 and again.json()["seeds"] == job["seeds"][kept:]
    api.post(f"/api/v1/jobs/{again.json()['id']}/cancel", headers=h)  # not needed here: stop it
    assert _wait(api, h, again.json()["id"])["status"] == "canceled"


def _db(settings):
    return session_factory(engine_for(settings.database_url))()


def test_the_reconciler_resumes_fails_and_resends(studio, monkeypatch):
    from workers import reconcile

    api, h, shot, settings = studio
    monkeypatch.setenv("SLATE_JOB_STALE_S", "5")
    monkeypatch.setenv("SLATE_JOB_MAX_DEATHS", "2")
    job = _wait(api, h, api.post(f"/api/v1/shots/{shot['id']}/generate", json={"takes": 2, "model": "animatic"},
                                 headers=h).json()["id"])  # fmt: skip
    first = {t["index"]: t for t in job["takes"]}
    before = api.get(first[1]["video_url"], headers=h).content
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)

    # a worker died after storing take 0: the job is resumed and only take 1 is rendered, exactly as before
    with _db(settings) as db:
        db.delete(db.get(Take, first[1]["id"]))
        row = db.get(GenerationJob, job["id"])
        row.status, row.heartbeat_at, row.worker, old_task = "running", old, "gpu-7@host", row.task_id
        commit(db)
    report = reconcile.reconcile()
    assert report.requeued_dead == [job["id"]]
    resumed = _wait(api, h, job["id"])
    assert resumed["status"] == "succeeded" and resumed["deaths"] == 1 and resumed["attempts"] == 2
    assert [t["index"] for t in resumed["takes"]] == [0, 1]
    assert resumed["takes"][0]["id"] == first[0]["id"]  # kept, not rendered again
    assert resumed["takes"][1]["seed"] == first[1]["seed"] and resumed["takes"][1]["number"] == 2
    again = api.get(resumed["takes"][1]["video_url"], headers=h).content
    assert np.array_equal(_decode(again), _decode(before))  # same spec and seed: the same take
    with _db(settings) as db:
        assert db.get(GenerationJob, job["id"]).task_id != old_task

    # the worker died again: the second death fails the job, with the reason
    with _db(settings) as db:
        row = db.get(GenerationJob, job["id"])
        row.status, row.heartbeat_at, row.finished_at = "running", old, None
        commit(db)
    assert reconcile.reconcile().failed == [job["id"]]
    failed = api.get(f"/api/v1/jobs/{job['id']}", headers=h).json()
    assert failed["status"] == "failed" and failed["deaths"] == 2
    assert failed["error"].startswith("The worker stopped twice while ")
    assert "more memory than the worker has" in failed["error"]
    assert failed["error_detail"].startswith(f"worker lost 2 times running job {job['id']} (last: ")

    # a job queued by the last process: its message went with that process's memory
    lost = api.post(f"/api/v1/shots/{shot['id']}/generate", json={"takes": 1, "model": "animatic"}, headers=h).json()
    _wait(api, h, lost["id"])
    with _db(settings) as db:
        row = db.get(GenerationJob, lost["id"])
        db.execute(Take.__table__.delete().where(Take.job_id == row.id))
        row.status, row.sent_at, row.task_id, row.finished_at = "queued", old, "gone-with-the-last-process", None
        commit(db)
    assert reconcile.reconcile().requeued_lost == [lost["id"]]
    again = _wait(api, h, lost["id"])
    assert again["status"] == "succeeded" and len(again["takes"]) == 1
    assert reconcile.reconcile().to_dict() == {"requeued_dead": [], "failed": [], "requeued_lost": []}


def test_a_render_error_fails_the_job_with_its_message(studio):
    from app.generation.tasks import render_job

    api, h, shot, settings = studio
    job = _wait(api, h, api.post(f"/api/v1/shots/{shot['id']}/generate", json={"takes": 1, "model": "animatic"},
                                 headers=h).json()["id"])  # fmt: skip
    with _db(settings) as db:  # the same spec with a camera move no engine knows (written by hand, not by Slate)
        row = db.get(GenerationJob, job["id"])
        spec = dict(row.spec, camera={"move": "moonwalk"})
        bad = GenerationJob(project_id=row.project_id, shot_id=row.shot_id, model="animatic", spec=spec,
                            spec_hash=row.spec_hash, takes=1, seeds=[1], task_id="bad-spec-1")  # fmt: skip
        db.add(bad)
        commit(db)
        bad_id = bad.id
    render_job.apply_async(args=[bad_id], task_id="bad-spec-1", queue="gen.animatic")
    failed = _wait(api, h, bad_id)
    assert failed["status"] == "failed" and failed["takes"] == []
    assert failed["error"].startswith("This shot cannot be rendered as it is written: ") and "moonwalk" in failed["error"]
    assert failed["error_detail"].startswith("Invalid: ")
    render_job.apply_async(args=[bad_id], task_id="bad-spec-2", queue="gen.animatic")  # a stray message: ignored
    render_job.apply_async(args=[10_000], task_id="no-such-job", queue="gen.animatic")
    time.sleep(0.3)
    assert api.get(f"/api/v1/jobs/{bad_id}", headers=h).json()["attempts"] == 1
