"""Generation through PostgreSQL, real Redis and real `slate worker` processes rendering with tiny LTX.

In order (one worker process at a time, started and killed by the tests): messages lost with a
Redis flush come back through the reconciler while a canceled queued job stays canceled; takes
render, stream events and are reproducible; a running job is canceled at its next step; a worker
killed with SIGKILL in the middle of a job is replaced and the job ends with exactly its takes.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import subprocess
import threading
import time

import av
import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from app.config import Settings, use_settings
from app.main import create_app
from app.migrate import upgrade
from tests.conftest import PASSWORD, recreate_database
from tests.live import SLATE, clean_env, wait_until
from workers.celery_app import configure

REDIS = os.environ.get("SLATE_TEST_REDIS", "redis://127.0.0.1:6379/12")  # runs side by side: another db each
STALE_S = 2.0
pytestmark = pytest.mark.redis


class Worker:
    """One `slate worker` process on gen.ltx, its output collected by a thread."""

    def __init__(self, env: dict[str, str], name: str, pool: str = "solo") -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen([SLATE, "worker", "--queues", "gen.ltx", "--pool", pool, "--hostname",
                                      f"{name}@%h", "--loglevel", "INFO"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()
        try:
            wait_until(lambda: any(" ready." in line for line in self.lines), 60, f"worker {name} to be ready", None)
        except AssertionError:
            self.kill()  # never left behind: it would take later tests' messages from the shared queue
            raise

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class Studio:
    def __init__(self, api: TestClient, h: dict, project: dict, scene: dict, env: dict[str, str],
                 settings: Settings) -> None:  # fmt: skip
        self.api, self.h, self.project, self.scene, self.env = api, h, project, scene, env
        self.settings = settings
        self.worker: Worker | None = None
        self.started = 0

    def start_worker(self) -> Worker:
        self.started += 1
        self.worker = Worker(self.env, f"gen-test-{self.started}")
        return self.worker

    def ensure_worker(self) -> Worker:
        if self.worker is None or self.worker.proc.poll() is not None:
            return self.start_worker()
        return self.worker

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def shot(self, **values) -> dict:
        values = {"action": "The lamp turns.", "width": 64, "height": 64, "fps": 24, "duration_s": 0.7, **values}
        r = self.api.post(f"/api/v1/scenes/{self.scene['id']}/shots", json=values, headers=self.h)
        assert r.status_code == 201, r.text
        return r.json()

    def generate(self, shot: dict, **body) -> dict:
        r = self.api.post(f"/api/v1/shots/{shot['id']}/generate", json={"model": "ltx", **body}, headers=self.h)
        assert r.status_code == 202, r.text
        return r.json()

    def job(self, job_id: int) -> dict:
        return self.api.get(f"/api/v1/jobs/{job_id}", headers=self.h).json()

    def wait(self, job_id: int, timeout: float = 90, until=None) -> dict:
        state: dict = {}
        until = until or (lambda s: s["status"] not in ("queued", "running"))

        def check() -> bool:
            state.update(self.job(job_id))
            return until(state)

        wait_until(check, timeout, f"job {job_id}", self.worker.proc if self.worker else None)
        return state


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from workers.engines.registry import reload_registry
    from workers.engines.tiny import make_tiny

    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (make services starts it)")
    client.flushdb()
    tmp = tmp_path_factory.mktemp("gen-redis")
    folder = make_tiny("ltx", tmp / "ltx-tiny")
    models = tmp / "models.toml"
    models.write_text("[models.ltx]\ndefault_steps = 4\n")
    db_url = recreate_database("slate_test_generation")
    upgrade(db_url)
    env = clean_env(SLATE_DATABASE_URL=db_url, SLATE_BROKER_URL=REDIS, SLATE_REDIS_URL=REDIS, SLATE_DATA_DIR=str(tmp),
                    SLATE_MODEL_LTX_FOLDER=str(folder), SLATE_MODELS_FILE=str(models), SLATE_JOB_STALE_S=str(STALE_S),
                    SLATE_JOB_HEARTBEAT_S="0.3", SLATE_JOB_REQUEUE_S="1", SLATE_JOB_PROGRESS_INTERVAL_S="0.05",
                    SLATE_JOB_RECONCILE_S="3600", SLATE_ENV="test", SLATE_SECRET_KEY="x" * 40)  # fmt: skip
    saved = {k: os.environ.get(k) for k in ("SLATE_MODEL_LTX_FOLDER", "SLATE_MODELS_FILE")}
    os.environ.update(SLATE_MODEL_LTX_FOLDER=str(folder), SLATE_MODELS_FILE=str(models))
    reload_registry()
    settings = Settings(database_url=db_url, broker_url=REDIS, redis_url=REDIS, data_dir=tmp, embedded_worker=False,
                        secret_key="x" * 40, env="test", _env_file=None)  # fmt: skip
    configure(settings)
    studio = None
    try:
        with TestClient(create_app(settings)) as api:
            api.post("/api/v1/auth/register", json={"email": "root@example.com", "password": PASSWORD,
                                                     "display_name": "Root"})  # fmt: skip
            token = api.post("/api/v1/auth/tokens", json={"email": "root@example.com", "password": PASSWORD,
                                                            "name": "t"}).json()["token"]  # fmt: skip
            h = {"Authorization": f"Bearer {token}"}
            project = api.post("/api/v1/projects", json={"name": "Redis"}, headers=h).json()
            scene = api.post(f"/api/v1/projects/{project['id']}/scenes", json={"heading": "INT. LAMP ROOM - NIGHT"},
                             headers=h).json()  # fmt: skip
            studio = Studio(api, h, project, scene, env, settings)
            yield studio
    finally:
        if studio is not None:
            studio.stop_worker()
        configure()
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        reload_registry()
        client.flushdb()


@pytest.fixture(autouse=True)
def _studio_settings(studio):
    """The suite resets the process settings before each test; these tests share the studio's (media folder)."""
    use_settings(studio.settings)


def _decoded(api, h, take: dict) -> np.ndarray:
    r = api.get(take["video_url"], headers=h)
    assert r.status_code == 200
    with av.open(io.BytesIO(r.content)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])])


def test_a_redis_flush_loses_nothing_rush_goes_first_and_a_canceled_queued_job_stays_canceled(studio):
    studio.stop_worker()
    shot = studio.shot()
    lost = [studio.generate(shot, takes=2, seed=1), studio.generate(shot, takes=1, seed=3, priority="rush")]
    doomed = studio.generate(shot, takes=1, seed=4)
    r = studio.api.post(f"/api/v1/jobs/{doomed['id']}/cancel", headers=studio.h)
    assert r.json()["status"] == "canceled"
    client = redis.Redis.from_url(REDIS)
    assert client.llen("gen.ltx:5") + client.llen("gen.ltx") >= 2  # the messages were there
    client.flushdb()  # ... and now they are gone
    fresh = [studio.generate(shot, takes=1, seed=5), studio.generate(shot, takes=1, seed=6, priority="rush")]
    assert client.llen("gen.ltx") == 1 and client.llen("gen.ltx:5") == 1  # rush: Redis priority 0
    time.sleep(1.1)  # older than SLATE_JOB_REQUEUE_S
    studio.start_worker()  # the reconciler runs at worker start, before it takes jobs
    done = {job["id"]: studio.wait(job["id"]) for job in lost + fresh}
    for job in lost + fresh:
        assert done[job["id"]]["status"] == "succeeded", done[job["id"]]["error"]
        assert len(done[job["id"]]["takes"]) == job["take_count"]
    for job in lost:
        assert done[job["id"]]["note"] == "its message was lost by the queue; sent again"
    for job in fresh:
        assert done[job["id"]]["note"] == ""  # its message was there: not sent twice
    started = {i: dt.datetime.fromisoformat(d["started_at"]) for i, d in done.items()}
    rush, normal = [lost[1]["id"], fresh[1]["id"]], [lost[0]["id"], fresh[0]["id"]]
    assert max(started[i] for i in rush) < min(started[i] for i in normal)  # rush jobs go first
    assert done[fresh[1]["id"]]["timings"]["load_s"] == 0.0  # the model was loaded when the worker started
    assert studio.job(doomed["id"])["status"] == "canceled" and studio.job(doomed["id"])["takes"] == []
    assert "sent again" in studio.worker.output


def test_takes_render_stream_events_and_are_reproducible(studio):
    studio.ensure_worker()
    shot = studio.shot(camera={"move": "dolly_in"})
    events: list[dict] = []
    pubsub = redis.Redis.from_url(REDIS).pubsub()
    pubsub.subscribe(f"{studio.settings.events_prefix}{studio.project['id']}")
    listening = threading.Event()
    listening.set()

    def listen() -> None:
        while listening.is_set():
            msg = pubsub.get_message(timeout=0.1)
            if msg and msg["type"] == "message":
                events.append(json.loads(msg["data"]))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    first = studio.wait(studio.generate(shot, takes=3, seed=11)["id"])
    again = studio.wait(studio.generate(shot, takes=3, seed=11)["id"])
    time.sleep(0.2)
    listening.clear()
    listener.join(2)
    pubsub.close()
    for job in (first, again):
        assert job["status"] == "succeeded", job["error"]
        assert [(t["index"], t["seed"], t["frames"], t["width"]) for t in job["takes"]] == [
            (0, 11, 17, 64), (1, 12, 17, 64), (2, 13, 17, 64)]  # fmt: skip
        assert job["worker"].startswith("gen-test-") and job["gpu_seconds"] > 0
        assert job["timings"]["before_first_step_s"] < job["timings"]["total_s"]
    assert [t["number"] for t in first["takes"] + again["takes"]] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(first["takes"], again["takes"], strict=True):  # same seed, same frames
        assert np.array_equal(_decoded(studio.api, studio.h, a), _decoded(studio.api, studio.h, b))
    assert not np.array_equal(_decoded(studio.api, studio.h, first["takes"][0]),
                              _decoded(studio.api, studio.h, first["takes"][1]))  # fmt: skip
    kinds = [(e["kind"], e["data"].get("id")) for e in events]
    assert kinds.count(("job", first["id"])) >= 3  # queued, running with progress, succeeded
    progress = [e["data"]["progress"] for e in events if e["kind"] == "job" and e["data"]["id"] == first["id"]]
    assert any(0 < p < 1 for p in progress) and progress[-1] == 1.0
    takes = [e["data"]["index"] for e in events if e["kind"] == "take" and e["data"]["job_id"] == first["id"]]
    assert takes == [0, 1, 2]  # each take announced as soon as it is stored
    project = studio.api.get(f"/api/v1/projects/{studio.project['id']}", headers=studio.h).json()
    assert project["gpu_used_s"] >= first["gpu_seconds"] + again["gpu_seconds"] - 1e-6


def test_batch_take_i_equals_the_single_render_of_seed_i(studio):
    """The raw engine output for a job's spec: take i of the batch is the single render of seed i."""
    from workers.engines.ltx import LtxEngine
    from workers.spec import RenderSpec

    shot = studio.shot(duration_s=0.5)  # 12 frames, snapped to 9
    spec = RenderSpec.from_dict(studio.api.post(f"/api/v1/shots/{shot['id']}/generate",
                                                json={"model": "ltx", "takes": 3, "seed": 21},
                                                headers=studio.h).json()["spec"])  # fmt: skip
    engine = LtxEngine()
    batch = engine.generate(spec)
    single = engine.generate(spec.with_seeds([22]))[0]
    assert batch[1].shape == (9, 64, 64, 3)
    assert np.abs(batch[1] - single).max() < 1e-4
    assert np.abs(batch[0] - single).max() > 1e-2


def test_cancel_a_running_job_stops_it_at_the_next_step(studio):
    studio.ensure_worker()
    shot = studio.shot(width=512, height=512, duration_s=4.04)  # 97 frames: a few seconds of denoising
    job = studio.generate(shot, takes=3, seed=5)
    studio.wait(job["id"], until=lambda s: s["progress"] > 0)
    r = studio.api.post(f"/api/v1/jobs/{job['id']}/cancel", headers=studio.h)
    assert r.status_code == 200
    done = studio.wait(job["id"])
    kept = len(done["takes"])  # takes render one by one: one may be stored before the cancel is seen
    assert done["status"] == "canceled" and kept < 3 and [t["index"] for t in done["takes"]] == list(range(kept))
    assert done["note"] == f"stopped after {kept} of 3 takes"
    assert kept or done["step"] < done["total_steps"]  # in its first take: stopped at a step, not at its end
    status = studio.api.get(f"/api/v1/shots/{shot['id']}", headers=studio.h).json()["status"]
    assert status == ("in_review" if kept else "ready")


def test_a_worker_killed_mid_job_is_replaced_and_the_job_ends_with_exactly_its_takes(studio):
    studio.ensure_worker()
    shot = studio.shot(width=256, height=256, duration_s=2.7)  # 65 frames
    job = studio.generate(shot, takes=2, seed=31)
    studio.wait(job["id"], until=lambda s: s["status"] == "running" and s["progress"] > 0)
    studio.worker.kill()
    time.sleep(STALE_S + 0.3)  # its heartbeat goes stale
    assert studio.job(job["id"])["status"] == "running"  # nobody knows yet
    studio.start_worker()
    done = studio.wait(job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert (done["deaths"], done["attempts"]) == (1, 2)
    assert [(t["index"], t["seed"]) for t in done["takes"]] == [(0, 31), (1, 32)]
    takes = studio.api.get(f"/api/v1/shots/{shot['id']}/takes", headers=studio.h).json()
    assert sorted(t["number"] for t in takes) == [1, 2]  # exactly N takes, no duplicates


def test_a_worker_killed_after_two_of_four_takes_keeps_them_and_renders_only_the_rest(studio):
    studio.ensure_worker()
    shot = studio.shot(width=256, height=256, duration_s=2.7)  # 65 frames: seconds a take, stored one by one
    job = studio.generate(shot, takes=4, seed=41)
    studio.wait(job["id"], until=lambda s: len(s["takes"]) >= 2)
    studio.worker.kill()
    kept = studio.job(job["id"])["takes"]  # what was stored before the worker died (nothing can be added now)
    assert 2 <= len(kept) < 4, [t["index"] for t in kept]
    files = {t["id"]: studio.api.get(t["video_url"], headers=studio.h).content for t in kept}
    studio.start_worker()
    done = studio.wait(job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["deaths"] == 1
    assert [(t["index"], t["seed"]) for t in done["takes"]] == [(0, 41), (1, 42), (2, 43), (3, 44)]
    assert done["timings"]["takes_rendered"] == 4 - len(kept)  # the resumed run rendered only the missing ones
    by_id = {t["id"]: t for t in done["takes"]}
    for take in kept:  # the finished takes are untouched: the same rows and the same files
        assert by_id[take["id"]]["index"] == take["index"]
        assert studio.api.get(take["video_url"], headers=studio.h).content == files[take["id"]]
    takes = studio.api.get(f"/api/v1/shots/{shot['id']}/takes", headers=studio.h).json()
    assert sorted(t["number"] for t in takes) == [1, 2, 3, 4]


# Loaded into worker processes started by the next test only (a sitecustomize on their PYTHONPATH): every render
# kills the process that runs it at its first step, as a render that takes the host's memory would.
KILLER = """
import os
import signal

from workers.engines import loader

_get_engine = loader.get_engine


class _KillsItsWorker:
    def __init__(self, engine):
        self._engine = engine

    def __getattr__(self, name):
        attr = getattr(self._engine, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            if kwargs.get("on_step") is not None:
                kwargs["on_step"] = lambda step, total: os.kill(os.getpid(), signal.SIGKILL)
            return attr(*args, **kwargs)

        return call


loader.get_engine = lambda model_id, **kw: _KillsItsWorker(_get_engine(model_id, **kw))

from workers.celery_app import celery  # noqa: E402

celery.conf.worker_proc_alive_timeout = 120  # a child loads the tiny model before it says it is up
"""


def test_a_render_that_kills_its_worker_every_time_fails_after_max_deaths(studio, tmp_path):
    """A prefork worker: each render kills its child, Celery hands the message (acks late, rejected on a lost
    worker) to the next child, whose claim counts the death; the third ends the job with the reason."""
    studio.stop_worker()
    (tmp_path / "sitecustomize.py").write_text(KILLER)
    env = {**studio.env, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), studio.env.get("PYTHONPATH")])),
           "SLATE_JOB_MAX_DEATHS": "3", "SLATE_JOB_STALE_S": "3600"}  # no stale heartbeat helps here  # fmt: skip
    killer = Worker(env, "gen-killer", pool="prefork")
    try:
        job = studio.generate(studio.shot(), takes=1, seed=41)
        state: dict = {}

        def ended() -> bool:
            state.update(studio.job(job["id"]))
            return state["status"] not in ("queued", "running")

        try:
            wait_until(ended, 120, f"job {job['id']} to end", killer.proc)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; job {state}; worker output:\n{killer.output[-4000:]}") from None
        assert state["status"] == "failed" and (state["deaths"], state["attempts"]) == (3, 3), state
        assert state["error"].startswith("The worker stopped three times while ") and "more memory" in state["error"]
        assert state["error_detail"] == f"worker lost 3 times running job {job['id']} (last: {state['worker']})"
        assert state["takes"] == [] and "WorkerLostError" in killer.output
    finally:
        killer.stop()


def test_a_killed_worker_is_noticed_and_its_job_resumed_within_a_minute_at_the_default_timings(studio, monkeypatch):
    """Heartbeat 5 s, stale 20 s, reconciler every 5 s (the defaults; beat runs here as the embedded timer does), and
    a second worker on the queue: the seconds from kill -9 to the death counted (the dead worker noticed) and to
    the job running again on the other worker are printed and bounded."""
    from workers import reconcile

    studio.stop_worker()
    defaults = {k: v for k, v in studio.env.items() if k not in ("SLATE_JOB_STALE_S", "SLATE_JOB_HEARTBEAT_S")}
    for key in ("SLATE_JOB_STALE_S", "SLATE_JOB_HEARTBEAT_S", "SLATE_JOB_RECONCILE_S"):
        monkeypatch.delenv(key, raising=False)
    workers: dict[str, Worker] = {}
    timer = None
    try:
        for name in ("gen-a", "gen-b"):  # two GPUs on the queue
            workers[name] = Worker(defaults, name)
        shot = studio.shot(width=512, height=512, duration_s=4.04)  # 97 frames: a few seconds a take
        job = studio.generate(shot, takes=3, seed=51)
        running = studio.wait(job["id"], until=lambda s: s["status"] == "running" and s["progress"] > 0)
        victim = running["worker"].split("@")[0]
        timer = reconcile.Timer().start()  # as beat does, every SLATE_JOB_RECONCILE_S
        assert timer.interval == 5.0
        workers[victim].kill()
        killed = time.monotonic()
        studio.wait(job["id"], timeout=60, until=lambda s: s["deaths"] == 1)
        noticed = time.monotonic() - killed
        studio.wait(job["id"], timeout=90, until=lambda s: not s["worker"].startswith(victim))
        recovered = time.monotonic() - killed
        print(f"kill -9 -> death counted: {noticed:.1f} s; -> running on the other worker: {recovered:.1f} s")
        assert noticed < 30  # stale 20 s + one reconciler tick
        assert recovered < 60
        done = studio.wait(job["id"], timeout=180)
        assert done["status"] == "succeeded" and done["deaths"] == 1, done
        assert sorted(t["index"] for t in done["takes"]) == [0, 1, 2]
    finally:
        if timer is not None:
            timer.stop()
        for worker in workers.values():
            worker.stop()
