"""The per-take pipeline: takes render in chunks of the model's `batch`, and each is finished, encoded, stored and
announced on the encoder's thread while the next one renders.

Through the real path (API, the embedded broker and worker, the task, the media store) with the `sleepy` test engine
(workers/engines/sleepy.py): a known render time per take and real frames. Out of memory: the batch that failed is
halved (never more), the failed attempt's memory is let go before the retry, then the engine's memory savings, then
the job fails naming the size and the model's limits. A cancel between takes or while a take is stored ends the job
`canceled` with the takes stored so far; an encoding error fails it with its reason.
"""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import commit, engine_for, session_factory
from app.generation import service
from app.generation.models import GenerationJob, Take
from app.main import create_app
from app.migrate import upgrade
from tests.conftest import PASSWORD
from tests.live import wait_until
from workers import media
from workers.celery_app import configure
from workers.engines import loader, registry
from workers.engines.sleepy import MODEL_ID, SleepyEngine, install


@pytest.fixture
def studio(tmp_path, monkeypatch):
    """The embedded app with the `sleepy` model (batch 1 unless a test says otherwise) and a 64x64 shot of 17 frames."""
    monkeypatch.setenv("SLATE_JOB_PROGRESS_INTERVAL_S", "0.05")
    monkeypatch.setenv("SLATE_JOB_HEARTBEAT_S", "0.2")
    monkeypatch.setenv("SLATE_JOB_RECONCILE_S", "3600")
    monkeypatch.setitem(registry.ENGINES, MODEL_ID, "workers.engines.sleepy:SleepyEngine")
    monkeypatch.setenv(registry.ENV_FILE, str(tmp_path / "sleepy-models.toml"))  # written by `install`
    install(tmp_path)
    SleepyEngine.reset(take_seconds=0.3)
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
            project = api.post("/api/v1/projects", json={"name": "Pipeline"}, headers=h).json()
            scene = api.post(f"/api/v1/projects/{project['id']}/scenes", json={"heading": "EXT. PIER - DAWN"},
                             headers=h).json()  # fmt: skip
            shot = api.post(f"/api/v1/scenes/{scene['id']}/shots", headers=h, json={
                "action": "Gulls lift off the pier.", "width": 64, "height": 64, "fps": 24,
                "duration_s": 0.7}).json()  # fmt: skip
            yield api, h, shot, settings
    finally:
        monkeypatch.undo()
        registry.reload_registry()
        loader.forget(MODEL_ID)
        configure()


def _batch(tmp_path, batch: int) -> None:
    """The sleepy model with another `batch` (the next job loads it afresh)."""
    install(tmp_path, batch=batch)
    loader.forget(MODEL_ID)


def _generate(api, h, shot, takes: int) -> int:
    r = api.post(f"/api/v1/shots/{shot['id']}/generate", json={"takes": takes, "model": MODEL_ID, "seed": 3},
                 headers=h)  # fmt: skip
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _wait(api, h, job_id: int, timeout: float = 60) -> dict:
    state: dict = {}

    def done() -> bool:
        state.update(api.get(f"/api/v1/jobs/{job_id}", headers=h).json())
        return state["status"] not in ("queued", "running")

    wait_until(done, timeout, f"job {job_id} to finish")
    return state


def _stored(settings) -> int:
    with session_factory(engine_for(settings.database_url))() as db:
        return len(db.query(Take).all())


def _watch_encoding(monkeypatch) -> list[str]:
    """The names of the threads that encode takes, in order."""
    threads: list[str] = []
    encode = media.encode_take

    def watched(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return encode(*args, **kwargs)

    monkeypatch.setattr(media, "encode_take", watched)
    return threads


def test_each_take_is_stored_while_the_next_renders(studio, monkeypatch):
    api, h, shot, settings = studio
    threads = _watch_encoding(monkeypatch)
    stored_at_end_of_render: list[int] = []
    generate = SleepyEngine.generate

    def counting(self, spec, **kwargs):
        out = generate(self, spec, **kwargs)
        stored_at_end_of_render.append(_stored(settings))
        return out

    monkeypatch.setattr(SleepyEngine, "generate", counting)
    job_id = _generate(api, h, shot, 4)
    job = _wait(api, h, job_id)
    assert job["status"] == "succeeded", job["error"]
    assert [(t["index"], t["seed"], t["frames"]) for t in job["takes"]] == [(i, 3 + i, 17) for i in range(4)]
    assert SleepyEngine.attempts == [1, 1, 1, 1]  # batch 1: one take a call
    # a take is in the store by the time the next one has rendered (0.3 s; it encodes in milliseconds)
    assert stored_at_end_of_render == [0, 1, 2, 3]
    assert threads == [f"slate-encode-{job_id}"] * 4  # not the task's thread


def test_without_overlap_takes_are_encoded_on_the_task_thread(studio, monkeypatch):
    api, h, shot, _ = studio
    monkeypatch.setenv("SLATE_JOB_OVERLAP_ENCODE", "false")
    threads = _watch_encoding(monkeypatch)
    job = _wait(api, h, _generate(api, h, shot, 2))
    assert job["status"] == "succeeded" and len(job["takes"]) == 2
    assert len(threads) == 2 and not any(name.startswith("slate-encode-") for name in threads)


def test_a_batch_option_renders_takes_together(studio, tmp_path):
    api, h, shot, _ = studio
    _batch(tmp_path, 3)
    job = _wait(api, h, _generate(api, h, shot, 4))
    assert job["status"] == "succeeded" and SleepyEngine.attempts == [3, 1]
    assert [t["seed"] for t in job["takes"]] == [3, 4, 5, 6]


def test_out_of_memory_halves_the_batch_that_failed_after_letting_it_go(studio, tmp_path):
    api, h, shot, _ = studio
    _batch(tmp_path, 4)
    SleepyEngine.reset(take_seconds=0.05, oom_above=1)
    job = _wait(api, h, _generate(api, h, shot, 4))
    assert job["status"] == "succeeded", job["error"]
    assert [t["index"] for t in job["takes"]] == [0, 1, 2, 3]
    assert SleepyEngine.attempts == [4, 2, 1, 1, 1, 1]  # never more than the batch that failed
    assert SleepyEngine.released == [True] * 6  # the failed attempts' memory was gone before each retry
    assert job["note"] == ("ran out of memory with 4 takes at once; went on with 2 at a time; "
                           "ran out of memory with 2 takes at once; went on with 1 at a time")  # fmt: skip


def test_out_of_memory_at_one_take_tries_the_memory_savings_then_fails_naming_the_limits(studio):
    api, h, shot, _ = studio
    SleepyEngine.reset(take_seconds=0.05, oom_above=0)
    job = _wait(api, h, _generate(api, h, shot, 2))
    assert job["status"] == "succeeded" and SleepyEngine.attempts == [1, 1, 1]
    assert job["note"] == "ran out of memory; went on with smaller activations"

    loader.forget(MODEL_ID)  # a fresh engine, without its savings
    SleepyEngine.reset(take_seconds=0.05, oom_above=0, oom_above_saving=0)
    job = _wait(api, h, _generate(api, h, shot, 2))
    assert job["status"] == "failed" and job["takes"] == []
    assert job["error"] == ("Sleepy (test engine) ran out of GPU memory at 64x64 (17 frames) even with its memory "
                            "savings: try a smaller frame or fewer frames")  # fmt: skip
    assert job["error_detail"] == ("out of memory rendering one take of 64x64, 17 frames even with its memory savings; "
                                   "Sleepy (test engine) renders at most 1280x1280, 240 frames, 1 take at once")


def _cancel_while_storing(monkeypatch, settings, *, at_take: int) -> None:
    """Cancel the job (as a person would) while take `at_take` is being encoded."""
    encode = media.encode_take
    count = [0]

    def canceling(*args, **kwargs):
        if count[0] == at_take:
            with session_factory(engine_for(settings.database_url))() as db:
                job = db.query(GenerationJob).filter(GenerationJob.status == "running").one()
                service.cancel(db, actor=None, job=job)
                commit(db)
        count[0] += 1
        return encode(*args, **kwargs)

    monkeypatch.setattr(media, "encode_take", canceling)


@pytest.mark.parametrize("overlap", ["true", "false"])
def test_a_cancel_while_a_take_is_stored_stops_after_it(studio, monkeypatch, overlap):
    api, h, shot, settings = studio
    monkeypatch.setenv("SLATE_JOB_OVERLAP_ENCODE", overlap)
    _cancel_while_storing(monkeypatch, settings, at_take=0)
    job = _wait(api, h, _generate(api, h, shot, 3))
    assert (job["status"], job["note"]) == ("canceled", "stopped after 1 of 3 takes")
    assert [t["index"] for t in job["takes"]] == [0]
    assert job["cancel_requested"] is True


def test_a_cancel_while_the_last_take_is_stored_ends_canceled_with_it(studio, monkeypatch):
    api, h, shot, settings = studio
    _cancel_while_storing(monkeypatch, settings, at_take=1)
    job = _wait(api, h, _generate(api, h, shot, 2))
    assert (job["status"], job["note"]) == ("canceled", "stopped after 2 of 2 takes")
    assert len(job["takes"]) == 2


def test_an_encoding_error_fails_the_job_and_keeps_the_stored_takes(studio, monkeypatch):
    api, h, shot, _ = studio
    encode = media.encode_take
    count = [0]

    def failing(*args, **kwargs):
        count[0] += 1
        if count[0] == 2:
            raise OSError("No space left on device")
        return encode(*args, **kwargs)

    monkeypatch.setattr(media, "encode_take", failing)
    job = _wait(api, h, _generate(api, h, shot, 4))
    assert job["status"] == "failed" and job["error"] == ("The worker's disk is full, so the job stopped while encoding "
                                                         "take 2 of 4: free some space on the worker, then retry")
    assert job["error_detail"] == "OSError: No space left on device"
    assert [t["index"] for t in job["takes"]] == [0]
    assert SleepyEngine.attempts in ([1, 1], [1, 1, 1])  # the render stops at the next take after the error
