"""Watchdogs of running jobs: time limits from the estimate, the stall watchdog, deaths counted on every
redelivery, lost runs charged, a cancel that survives a worker death, and heartbeats on the database's clock.

The service-level checks run on PostgreSQL (the `db` fixture); the reconciler and the real render runs use the
embedded mode (SQLite, the in-process worker, the animatic engine), where a test engine stops stepping on demand.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import commit, engine_for, session_factory, utcnow
from app.generation import service
from app.generation.models import GenerationJob, Take
from app.main import create_app
from app.migrate import upgrade
from app.projects.models import Project
from app.storyboard import service as storyboard
from tests.conftest import PASSWORD
from tests.live import wait_until
from workers.celery_app import configure

# ---- on PostgreSQL: the service's worker side ----------------------------------------------------------------


@pytest.fixture
def owner(make_user):
    return make_user(name="Director")


@pytest.fixture
def shot(db, owner, make_project):
    project = make_project(owner, name="Night Watch", gpu_budget_s=3600)
    scene = storyboard.create_scene(db, actor=owner, project=project, heading="INT. BOILER ROOM - NIGHT")
    return storyboard.create_shot(db, actor=owner, scene=scene, values={
        "action": "Steam rises.", "width": 64, "height": 64, "fps": 24, "duration_s": 0.7})  # fmt: skip


def _job(db, owner, shot, **kw) -> GenerationJob:
    job = service.enqueue(db, actor=owner, shot=shot, **{"takes": 2, "model": "animatic", **kw})
    db.info.pop("after_commit", None)  # no broker round trip in these tests
    return job


def test_time_limits_come_from_the_estimate_within_the_floor_and_the_ceiling(monkeypatch):
    monkeypatch.setenv("SLATE_JOB_TIME_LIMIT_MIN_S", "60")
    monkeypatch.setenv("SLATE_JOB_TIME_LIMIT_MAX_S", "600")
    monkeypatch.setenv("SLATE_JOB_TIME_LIMIT_FACTOR", "3")
    assert service.time_limits(2.0) == (60.0, 90.0)  # the floor: a cold worker loads its model first
    assert service.time_limits(100.0) == (300.0, 330.0)
    assert service.time_limits(10_000.0) == (600.0, 660.0)  # the ceiling


def test_the_message_carries_the_time_limits(db, owner, shot, monkeypatch):
    from workers.celery_app import celery

    sent: list[dict] = []
    monkeypatch.setattr(celery, "send_task", lambda name, **kw: sent.append({"name": name, **kw}))
    monkeypatch.setenv("SLATE_JOB_TIME_LIMIT_MIN_S", "120")
    job = service.enqueue(db, actor=owner, shot=shot, takes=1, model="animatic")
    for dispatch in db.info.pop("after_commit", []):
        dispatch()
    sent = [m for m in sent if m["name"] == "slate.generation.render_job"]  # (a shot may also queue its sketch)
    assert len(sent) == 1 and sent[0]["task_id"] == job.task_id
    assert (sent[0]["soft_time_limit"], sent[0]["time_limit"]) == service.time_limits(job.estimate_s) == (120.0, 150.0)


def test_a_redelivered_message_counts_a_death_each_time_and_fails_the_job_at_max_deaths(db, owner, shot):
    """A render that kills its worker: the broker hands the same message to the next worker (a prefork child, a
    restarted process), which finds the job `running` for it. Every such claim is a death, and the lost run's
    seconds are charged."""
    job = _job(db, owner, shot, model="ltx")  # a charged model (the tiny folder is never loaded here)
    used = db.get(Project, job.project_id).gpu_used_s
    first = service.claim(db, job_id=job.id, task_id=job.task_id, worker="gpu-1@a", stale_s=20, max_deaths=3)
    assert first is not None and job.deaths == 0
    job.claimed_at = job.heartbeat_at = service.db_now(db) - dt.timedelta(seconds=40)
    job.heartbeat_at += dt.timedelta(seconds=30)  # the run lived 30 s, then its worker was gone
    again = service.claim(db, job_id=job.id, task_id=job.task_id, worker="gpu-1@a", stale_s=20, max_deaths=3)
    assert again is not None and (job.deaths, job.attempts) == (1, 2)  # the same worker name: a new process
    assert job.note == "the worker gpu-1@a was lost running it; started again (1 of 3)"
    assert job.gpu_seconds == pytest.approx(30.0) and db.get(Project, job.project_id).gpu_used_s == pytest.approx(
        used + 30.0)  # fmt: skip
    assert service.claim(db, job_id=job.id, task_id=job.task_id, worker="gpu-2@b", stale_s=20, max_deaths=3) is None
    assert job.deaths == 1  # another worker while the heartbeat is fresh: a duplicate, not a death
    assert service.claim(db, job_id=job.id, task_id=job.task_id, worker="gpu-1@a", stale_s=20, max_deaths=3)
    assert job.deaths == 2
    assert service.claim(db, job_id=job.id, task_id=job.task_id, worker="gpu-1@a", stale_s=20, max_deaths=3) is None
    assert (job.status, job.deaths) == ("failed", 3)
    assert job.error == ("The worker stopped three times while rendering this shot, so Slate gave up: the shot may "
                         "need more memory than the worker has; try fewer takes, a shorter shot or a smaller frame")
    assert job.timings["error_detail"] == f"worker lost 3 times running job {job.id} (last: gpu-1@a)"


def test_a_celery_retry_in_the_same_process_is_no_death(db, owner, shot):
    job = _job(db, owner, shot)
    service.claim(db, job_id=job.id, task_id=job.task_id, worker="gpu-1@a", stale_s=20, max_deaths=3)
    again = service.claim(db, job_id=job.id, task_id=job.task_id, worker="gpu-1@a", stale_s=20, max_deaths=3,
                          ended_here=True)  # fmt: skip
    assert again is not None and (job.deaths, job.attempts) == (0, 2)


def test_heartbeats_are_stamped_with_the_database_clock(db, owner, shot, monkeypatch):
    job = _job(db, owner, shot)
    service.claim(db, job_id=job.id, task_id=job.task_id, worker="gpu-1@a", stale_s=20)
    real = service.db_now(db)
    assert abs((real - utcnow()).total_seconds()) < 60 and real.tzinfo is not None
    monkeypatch.setattr(service, "utcnow", lambda: dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))  # a slow clock
    service.heartbeat(db, job_id=job.id, task_id=job.task_id, progress=0.25, step=3, total_steps=10)
    db.refresh(job)
    assert abs((job.heartbeat_at - real).total_seconds()) < 60
    assert abs((job.progress_at - real).total_seconds()) < 60


# ---- embedded: the reconciler and real runs ------------------------------------------------------------------


class Hanging:
    """The process's animatic engine, except that each render stops stepping after its first step (its heartbeat
    thread goes on) until `let_go()`. Installed only by these tests, as the loader's engine."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self.hangs = 0
        self.hung = threading.Event()
        self.gate = threading.Event()  # the hang in progress waits for this one
        self.free = False  # no more hangs

    def let_go(self, *, forever: bool = False) -> None:
        """The render hanging now steps again; the next one hangs too, unless `forever`."""
        self.free = self.free or forever
        self.hung.clear()
        gate, self.gate = self.gate, threading.Event()
        gate.set()

    def __getattr__(self, name: str):
        attr = getattr(self._engine, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            if kwargs.get("on_step") is not None:
                kwargs["on_step"] = self._stops(kwargs["on_step"])
            return attr(*args, **kwargs)

        return call

    def _stops(self, on_step):
        def step(n: int, total: int) -> None:
            on_step(n, total)
            if n == 1 and not self.free:
                self.hangs += 1
                gate = self.gate
                self.hung.set()
                while not gate.wait(0.02):  # Python-level: a soft time limit reaches it
                    pass

        return step


@pytest.fixture
def studio(tmp_path, monkeypatch):
    monkeypatch.setenv("SLATE_JOB_PROGRESS_INTERVAL_S", "0.05")
    monkeypatch.setenv("SLATE_JOB_HEARTBEAT_S", "0.1")
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
            project = api.post("/api/v1/projects", json={"name": "Watch"}, headers=h).json()
            scene = api.post(f"/api/v1/projects/{project['id']}/scenes", json={"heading": "INT. BOILER ROOM - NIGHT"},
                             headers=h).json()  # fmt: skip
            shot = api.post(f"/api/v1/scenes/{scene['id']}/shots", headers=h, json={
                "action": "Steam rises.", "width": 64, "height": 64, "fps": 24, "duration_s": 0.7}).json()  # fmt: skip
            yield api, h, shot, settings
    finally:
        configure()


@pytest.fixture
def hanging(studio, monkeypatch):
    from workers.engines import loader

    engine = Hanging(loader.get_engine("animatic"))
    monkeypatch.setitem(loader._engines, "animatic", engine)
    yield engine
    engine.let_go(forever=True)  # the worker thread gets its run back before the app stops


def _generate(api, h, shot, takes: int = 1) -> dict:
    r = api.post(f"/api/v1/shots/{shot['id']}/generate", json={"takes": takes, "model": "animatic"}, headers=h)
    assert r.status_code == 202, r.text
    return r.json()


def _wait(api, h, job_id: int, until, timeout: float = 60) -> dict:
    state: dict = {}

    def check() -> bool:
        state.update(api.get(f"/api/v1/jobs/{job_id}", headers=h).json())
        return until(state)

    wait_until(check, timeout, f"job {job_id}")
    return state


def _finished(state: dict) -> bool:
    return state["status"] not in ("queued", "running")


def _db(settings):
    return session_factory(engine_for(settings.database_url))()


def _reconcile_until(found, timeout: float):
    """Run the reconciler every 0.1 s until `found(report)`; returns (report, seconds it took)."""
    from workers import reconcile

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        report = reconcile.reconcile()
        if found(report):
            return report, time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"the reconciler did not act within {timeout} s")


def test_a_render_that_stops_stepping_is_requeued_then_failed_by_the_stall_watchdog(studio, hanging, monkeypatch):
    api, h, shot, settings = studio
    monkeypatch.setenv("SLATE_JOB_STALL_S", "1.5")
    monkeypatch.setenv("SLATE_JOB_MAX_DEATHS", "2")
    job = _generate(api, h, shot)
    assert hanging.hung.wait(60)
    hung_at = time.monotonic()
    report, _ = _reconcile_until(lambda r: job["id"] in r.to_dict().get("requeued_stalled", []), 10)
    assert time.monotonic() - hung_at < 1.5 + 2  # within the configured time (SQLite stamps to the second)
    state = api.get(f"/api/v1/jobs/{job['id']}", headers=h).json()
    assert state["deaths"] == 1 and state["heartbeat_at"] is not None
    worker = state["worker"]
    assert state["note"] == f"the render on {worker} made no progress for 1.5 s; queued again (1 of 2)"
    hanging.let_go()  # the stuck run steps again, finds itself superseded and lets the worker go; the job's
    # new message hangs the same way
    assert hanging.hung.wait(60)
    hung_at = time.monotonic()
    _reconcile_until(lambda r: job["id"] in r.failed, 10)
    assert time.monotonic() - hung_at < 1.5 + 2
    hanging.let_go(forever=True)
    failed = _wait(api, h, job["id"], _finished)
    assert failed["status"] == "failed" and failed["deaths"] == 2 and hanging.hangs == 2
    assert failed["error"].startswith("The render stopped making progress ") and "(no step for 1.5 s)" in failed["error"]
    assert failed["error_detail"].startswith(f"no step for 1.5 s on {worker}")


def test_a_render_past_its_soft_time_limit_fails_with_the_reason(studio, hanging, monkeypatch):
    api, h, shot, _ = studio
    monkeypatch.setenv("SLATE_JOB_TIME_LIMIT_MIN_S", "1")
    monkeypatch.setenv("SLATE_JOB_TIME_LIMIT_MAX_S", "1")
    started = time.monotonic()
    job = _wait(api, h, _generate(api, h, shot)["id"], _finished, timeout=20)
    assert hanging.hangs == 1 and time.monotonic() - started < 10
    assert job["status"] == "failed" and job["takes"] == []
    assert job["error"].startswith("The render took longer than its time limit (1 s, from the job's estimate)")
    hanging.let_go(forever=True)
    assert _wait(api, h, _generate(api, h, shot)["id"], _finished)["status"] == "succeeded"  # the worker goes on


def test_a_cancel_asked_while_the_worker_died_ends_canceled_with_its_takes(studio):
    api, h, shot, settings = studio
    job = _wait(api, h, _generate(api, h, shot, takes=2)["id"], _finished)
    assert job["status"] == "succeeded"
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with _db(settings) as db:  # it was running take 2 when its worker died, with a cancel asked
        db.delete(db.get(Take, job["takes"][1]["id"]))
        row = db.get(GenerationJob, job["id"])
        row.status, row.finished_at, row.heartbeat_at, row.worker = "running", None, old, "gpu-7@host"
        row.cancel_requested, row.claimed_at = True, old - dt.timedelta(seconds=5)
        commit(db)
    from workers import reconcile

    report = reconcile.reconcile()
    assert report.canceled == [job["id"]] and report.requeued_dead == []
    ended = api.get(f"/api/v1/jobs/{job['id']}", headers=h).json()
    assert ended["status"] == "canceled" and ended["deaths"] == 1
    assert [t["id"] for t in ended["takes"]] == [job["takes"][0]["id"]]  # the stored take is kept
    assert ended["note"] == "stopped after 1 of 2 takes (its worker was lost while stopping)"
    assert ended["gpu_seconds"] == 0.0  # the animatic is not charged (CPU seconds are not counted here)


def test_the_stale_check_holds_when_the_clocks_of_worker_and_reconciler_are_off(studio, monkeypatch):
    from workers import reconcile

    api, h, shot, settings = studio
    monkeypatch.setenv("SLATE_JOB_STALE_S", "20")
    job = _wait(api, h, _generate(api, h, shot)["id"], _finished)
    with _db(settings) as db:
        row = db.get(GenerationJob, job["id"])
        row.status, row.finished_at, row.worker, task_id = "running", None, "gpu-3@far", row.task_id
        commit(db)
    hour = dt.timedelta(hours=1)
    monkeypatch.setattr(service, "utcnow", lambda: dt.datetime.now(dt.UTC) - hour)  # the worker's clock is slow
    monkeypatch.setattr(reconcile, "utcnow", lambda: dt.datetime.now(dt.UTC) + hour)  # the reconciler's is fast
    with _db(settings) as db:
        service.heartbeat(db, job_id=job["id"], task_id=task_id)
        commit(db)
    assert reconcile.reconcile().to_dict() == {"requeued_dead": [], "failed": [], "requeued_lost": []}
    with _db(settings) as db:  # SQLite's now() is naive text: read back as aware UTC, on the real clock
        beat = db.get(GenerationJob, job["id"]).heartbeat_at
        assert beat.tzinfo is not None and abs((beat - dt.datetime.now(dt.UTC)).total_seconds()) < 5
        assert abs((service.db_now(db) - dt.datetime.now(dt.UTC)).total_seconds()) < 5
        db.get(GenerationJob, job["id"]).heartbeat_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=21)
        commit(db)
    assert reconcile.reconcile().requeued_dead == [job["id"]]  # stale on the database's clock: a death
