"""The render task: a worker renders the takes of one job with its warm engine, encodes and stores them.

`slate.generation.render_job(job_id)` runs on queue `gen.<model id>` (acks late, re-queued when
the worker is lost). It re-reads the job and claims it for its own message id, so a superseded
or duplicated message never renders twice; it renders only the takes not stored yet (a job
resumed after a worker died keeps its finished takes, and every take keeps the seed of its
index). Before rendering, the worker checks the job against its own work limits
(`app.generation.limits`): a job past them fails with the limit's message and nothing is drawn.
Engines that stream (`stream`: the animatic) are encoded and stored take by take as their frames
come, in chunks, so the worker holds one chunk and never a whole take. Other engines (diffusers)
render the missing takes in chunks of the model's `batch` (default 1), and each take goes, as soon
as its frames exist, to one encoder thread of the task (`_Encoder`: a hand-off of one take) that
finishes it (to uint8, the virtual camera), encodes and stores it while the next take renders; a
worker death loses at most the takes in flight. An error on the encoder thread fails the job with
its reason. A cancel (or a superseding message), seen at a step, between takes or after a take is
stored, stops after the take in progress: the job ends `canceled`, keeping the takes stored. While
it runs, a heartbeat thread tells the reconciler the worker is alive; steps write throttled
progress (and live events) and poll for a cancel. Each take is encoded (H.264 MP4, poster,
filmstrip, last frame), put in the media store and inserted once (unique per job and index).
Accelerator out of memory: out of the handler (the failed attempt's tensors go with it) and after
emptying the CUDA cache, again with half the batch that failed, down to one take, then once with
the engine's memory savings, then the job fails naming the size and the model's limits. Database
or broker hiccups: Celery retries with backoff. Anything else, MemoryError included, fails the job with a
reason people can read (`RenderTask.on_failure`) and leaves the worker (and, in `slate up`, the
web process around it) running: a MemoryError never reaches Celery, whose worker would stop.

GPU workers load the models of the queues they consume when their process starts
(`worker_process_init`), so the first job finds its model warm.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import queue
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import astuple
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kombu.exceptions
import redis
from billiard.process import current_process
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from sqlalchemy.exc import OperationalError

from app.db import utcnow
from app.errors import Invalid
from app.events import publish
from app.generation import failures, limits, phases, service
from app.generation.failures import Failure
from app.generation.models import GenerationJob
from app.generation.service import Claim
from workers.celery_app import celery, task_db
from workers.engines.base import Canceled, splits, streams
from workers.engines.loader import OutOfMemory
from workers.engines.registry import get_model
from workers.spec import RenderSpec

log = logging.getLogger("slate.generation")

TRANSIENT = (OperationalError, redis.ConnectionError, redis.TimeoutError, kombu.exceptions.OperationalError)


OUT_OF_MEMORY = failures.worker_memory().message


class RenderFailed(Exception):
    """A render that failed for a reason written for people: its `failure` is the job's error and detail as they
    are. (Built from plain strings, so Celery hands it to `on_failure` as itself, not wrapped.)"""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message, detail)

    def __str__(self) -> str:
        return self.args[0]

    @property
    def failure(self) -> Failure:
        return Failure(*self.args)


def fail(job_id: int, task_id: str | None, exc: BaseException | Failure) -> None:
    """Fail the job with the sentence for people and the detail for engineers (`app.generation.failures`)."""
    with task_db() as db:
        job = db.get(GenerationJob, job_id)
        if job is None:
            return
        failure = exc if isinstance(exc, Failure) else failures.from_exception(exc, job=job)
        service.finish(db, job_id=job_id, task_id=task_id, status="failed", error=failure.message,
                       detail=failure.detail)  # fmt: skip


def with_local_files(spec: RenderSpec) -> RenderSpec:
    """The spec with the local file of each media key it names: engines get paths, never the media store."""
    from app.media.store import get_store

    store = get_store()
    return spec.with_files({key: store.path(key) for key in spec.media_keys()})


class RenderTask(Task):
    """Fails the job, in words people can act on, when a render ends in an error that is not retried."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        if not args:
            return
        fail(int(args[0]), task_id, exc)


def _timed(chunks: Iterable[Any], waited: list[float]) -> Iterator[Any]:
    """The chunks as they come, adding the seconds spent waiting for each (the engine rendering it) to waited[0]."""
    it = iter(chunks)
    while True:
        t = time.perf_counter()
        chunk = next(it, None)
        waited[0] += time.perf_counter() - t
        if chunk is None:
            return
        yield chunk


class _Heartbeat:
    """A thread that keeps the job's heartbeat fresh while the worker renders (killed with the worker), and keeps
    the run's time limits where the pool does not (solo, threads, the embedded worker; prefork enforces its own).

    Soft limit: `SoftTimeLimitExceeded` is raised in the rendering thread (at its next Python instruction), and
    `render_job` fails the job with the reason. Hard limit (the render is stuck inside one native call and never
    saw the soft one): the job is failed here and a standalone worker process ends itself, freeing the accelerator
    (its supervisor starts a fresh one; its message, not acknowledged, finds the job finished). The embedded worker
    lives in the web process: there the hard limit is only logged.
    """

    def __init__(self, job_id: int, task_id: str, interval: float, *,
                 time_limit: tuple[float | None, float | None] = (None, None)) -> None:  # fmt: skip
        self.job_id, self.task_id, self.interval = job_id, task_id, max(interval, 0.05)
        self.soft, self.hard = (None, None) if _pool_keeps_time_limits() else time_limit
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._target: int | None = None  # the rendering thread, while it is inside the block
        self._thread = threading.Thread(target=self._run, name=f"slate-heartbeat-{job_id}", daemon=True)

    def _run(self) -> None:
        started = last = time.monotonic()
        tick = min(self.interval, 0.25) if (self.soft or self.hard) else self.interval
        soft_sent = False
        while not self._stop.wait(tick):
            now = time.monotonic()
            if self.soft and not soft_sent and now - started >= self.soft:
                soft_sent = self._interrupt()
            if self.hard and now - started >= self.hard:
                self.hard = self._hard_limit()
            if now - last < self.interval:
                continue
            last = now
            try:
                with task_db() as db:
                    service.heartbeat(db, job_id=self.job_id, task_id=self.task_id)
            except OperationalError as exc:  # the database is away for a moment: the next beat tries again
                log.warning("job %s: heartbeat failed: %s", self.job_id, exc)

    def _interrupt(self) -> bool:
        """Raise the soft time limit in the rendering thread (only while it is still inside the block)."""
        with self._lock:
            if self._target is None:
                return True
            log.warning("job %s: soft time limit (%.0f s) passed; stopping the render", self.job_id, self.soft)
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._target),
                                                       ctypes.py_object(SoftTimeLimitExceeded))  # fmt: skip
            return True

    def _hard_limit(self) -> None:
        """Fail the job and end a standalone worker process (returns only in the embedded worker)."""
        log.error("job %s: the render did not stop at its hard time limit (%.0f s)", self.job_id, self.hard)
        settings = getattr(celery, "slate_settings", None)
        if settings is not None and settings.embedded_worker:
            return  # the web process around it must live on
        try:
            with task_db() as db:
                job = db.get(GenerationJob, self.job_id)
                failure = failures.time_limit(job=job, seconds=self.hard, hard=True)
                service.finish(db, job_id=self.job_id, task_id=self.task_id, status="failed", error=failure.message,
                               detail=failure.detail)  # fmt: skip
        finally:
            logging.shutdown()
            os._exit(70)  # EX_SOFTWARE: the only way to free a device held by a stuck native call

    def __enter__(self) -> _Heartbeat:
        self._target = threading.get_ident()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._target = None
        self._stop.set()
        self._thread.join(5)


def _pool_keeps_time_limits() -> bool:
    """Whether the pool enforces Celery time limits itself: prefork children do; solo, threads and the embedded
    worker (all in the main process) do not."""
    return current_process().name != "MainProcess"


def _run_time_limits() -> tuple[float | None, float | None]:
    """(soft, hard) seconds of the message being run (`apply_async(soft_time_limit=, time_limit=)`), or Nones."""
    hard, soft = (getattr(render_job.request, "timelimit", None) or (None, None))[:2]
    return (float(soft) if soft else None, float(hard) if hard else None)


# Runs of (job, message) that ended in this process without finishing the job and let go of it (a transient error
# that Celery retries): when the retry claims the job it is not a lost worker.
_ended_here: set[tuple[int, str]] = set()


class _Encoder:
    """The takes a render hands over, finished, encoded and stored one by one on a thread of the task while the next
    take renders. At most one take waits (`put` blocks while one does), so a worker holds the take being stored, the
    one waiting and the one rendering. Without `overlap`, `put` stores the take at once, on the caller's thread.

    An error on the thread is kept and raised on the task's thread (`check`, and on leaving the block); the takes
    after it are let go unstored. Leaving the block, by an error or not, stores the takes already handed over.
    """

    def __init__(self, store: Any, *, overlap: bool, name: str) -> None:
        self._store = store
        self.stored = 0
        self.spent = 0.0  # seconds storing (finishing, encoding, writing) takes
        self.error: BaseException | None = None
        self._queue: queue.Queue[tuple | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True) if overlap else None

    def __enter__(self) -> _Encoder:
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        if exc_type is None:
            self.check()

    def put(self, *take: Any) -> None:
        if self._thread is None:
            self._keep(take)
        else:
            self._queue.put(take)

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def _keep(self, take: tuple) -> None:
        self.spent += self._store(*take)
        self.stored += 1

    def _run(self) -> None:
        while (take := self._queue.get()) is not None:
            if self.error is None:
                try:
                    self._keep(take)
                except BaseException as exc:  # crosses to the task's thread, which raises it (`check`)
                    exc.encoding_take = take[0] + 1  # what it was doing, for the failure's words
                    self.error = exc
            del take  # its frames go now, not when the next take comes


class _Render:
    """One run of one job on this worker."""

    def __init__(self, task: Task, job_id: int) -> None:
        self.job_id = job_id
        self.task_id = task.request.id
        self.worker = task.request.hostname or socket.gethostname()
        self.cfg = service.job_settings()
        self.t0 = time.perf_counter()
        self.first_step_at: float | None = None
        self.last_write = 0.0
        self.cancel_requested = False
        self.superseded = False
        self.claim: Claim | None = None
        self.remaining: list[int] = []
        self.notes: list[str] = []
        self.engine: Any = None
        self.model: Any = None
        self.before_chunk: int | None = None  # takes done before the chunk rendering now (None: one render call)
        self.chunk_len = 0
        # The phase people read (`app.generation.phases`), written to the job as soon as it changes, from the task's
        # thread and the encoder's: loading the model, rendering takes (1..n of the job), encoding a take.
        self._phase_lock = threading.Lock()
        self.loading = False
        self.rendering: tuple[int, int] | None = None
        self.encoding: int | None = None
        self.unit = "step"  # what the engine counts: denoising steps, or frames (the animatic)
        self.take_frames = 0  # a streaming engine's frames a take: its steps are frames over all the takes
        self.progress, self.step, self.total = 0.0, 0, 0
        self.written_phase: dict[str, Any] | None = None

    # -- progress and cancel (called from the engine at every step) --

    def on_step(self, step: int, total: int) -> None:
        now = time.perf_counter()
        if self.first_step_at is None:
            self.first_step_at = now
        c = self.claim
        if self.before_chunk is None:
            progress = (len(c.done) + step / max(total, 1) * len(self.remaining)) / c.takes
        else:
            progress = (self.before_chunk + step / max(total, 1) * self.chunk_len) / c.takes
        with self._phase_lock:
            self.progress = min(progress, 0.99)
            if self.take_frames:  # a streaming engine counts frames over all the takes: take k, frame x of y
                nth = min(max(step - 1, 0) // self.take_frames, len(self.remaining) - 1)
                take = self.remaining[nth] + 1
                self.step, self.total = step - nth * self.take_frames, self.take_frames
                done_rendering = self.step >= self.take_frames
                self.rendering = None if done_rendering else (take, take)
                self.encoding = take if done_rendering else None
            else:
                self.step, self.total = step, total
        self._announce(force=step >= total)

    def _announce(self, *, force: bool = True) -> None:
        """Write the progress, step and phase to the job and publish them live: a changed phase at once, steps at
        most every `progress_interval_s` (unless `force`). Reads whether the job was canceled or superseded."""
        c = self.claim
        with self._phase_lock:
            phase = self._phase()
            changed = phase != self.written_phase
            now = time.perf_counter()
            if not (changed or force) and now - self.last_write < self.cfg.progress_interval_s:
                return
            self.last_write = now
            with task_db() as db:
                self.cancel_requested, self.superseded = service.heartbeat(
                    db, job_id=self.job_id, task_id=self.task_id, progress=self.progress, step=self.step,
                    total_steps=self.total, phase=phase if changed else None)  # fmt: skip
            self.written_phase = phase
            view = SimpleNamespace(status="running", model=c.model, takes=c.takes, takes_done=len(c.done),
                                   cancel_requested=self.cancel_requested, step=self.step, total_steps=self.total,
                                   timings={"phase": phase})  # fmt: skip
            words = phases.describe(view)
            event = {"id": self.job_id, "shot_id": c.shot_id, "status": "running", "progress": round(self.progress, 4),
                     "step": self.step, "total_steps": self.total, "takes": c.takes, "takes_done": len(c.done),
                     "phase": words.phase, "progress_text": words.words}  # fmt: skip
        publish(c.project_id, "job", event)

    def _phase(self) -> dict[str, Any]:
        if self.loading:
            return {"name": "loading"}
        if self.rendering is not None:
            return {"name": "rendering", "take": self.rendering[0], "last": self.rendering[1],
                    "encoding": self.encoding, "unit": self.unit}  # fmt: skip
        if self.encoding is not None:
            return {"name": "encoding", "take": self.encoding}
        return {"name": "starting"}

    def _set_phase(self, *, announce: bool = True, **state: Any) -> None:
        """Change the phase (`loading`, `rendering`, `encoding`, `step`, `total`) and, by default, say so at once."""
        with self._phase_lock:
            for name, value in state.items():
                setattr(self, name, value)
        if announce:
            self._announce()

    def should_cancel(self) -> bool:
        return self.cancel_requested or self.superseded

    # -- the run --

    def run(self) -> str:
        with task_db() as db:
            self.claim = service.claim(db, job_id=self.job_id, task_id=self.task_id, worker=self.worker,
                                       stale_s=self.cfg.stale_s, max_deaths=self.cfg.max_deaths,
                                       ended_here=(self.job_id, self.task_id) in _ended_here)  # fmt: skip
        _ended_here.discard((self.job_id, self.task_id))
        if self.claim is None:
            return "skipped"
        c = self.claim
        self.remaining = [i for i in range(c.takes) if i not in c.done]
        queue_wait = max((utcnow() - c.queued_at).total_seconds(), 0.0)
        with _Heartbeat(self.job_id, self.task_id, self.cfg.heartbeat_s, time_limit=_run_time_limits()):
            if not self.remaining:
                return self._finish("succeeded", render_s=0.0, encode_s=0.0, rendered=0, queue_wait=queue_wait)
            spec = with_local_files(RenderSpec.from_dict(c.spec).with_seeds([c.seeds[i] for i in self.remaining]))
            try:
                limits.check(spec, settings=self.cfg)  # the worker's own limits, before anything is loaded
            except Invalid as exc:
                return self._refuse(str(exc))
            from workers.engines import loader

            model = get_model(c.model)
            loaded_before = c.model in loader.loaded()
            if not loaded_before:
                self._set_phase(loading=True)
            engine = loader.get_engine(c.model)
            self._set_phase(loading=False, announce=False)
            load_s = 0.0 if loaded_before else (loader.load_seconds(c.model) or 0.0)
            self.engine, self.model = engine, model
            if streams(engine):
                return self._stream(engine, spec, model, queue_wait=queue_wait, load_s=load_s)
            return self._pipeline(engine, spec, model, queue_wait=queue_wait, load_s=load_s)

    def _refuse(self, reason: str) -> str:
        """Fail a job past this worker's limits without rendering anything."""
        fail(self.job_id, self.task_id, failures.refused(reason))
        return "refused"

    def _stream(self, engine: Any, spec: RenderSpec, model: Any, *, queue_wait: float, load_s: float) -> str:
        """Render, encode and store take by take as the engine hands out frames: one chunk in memory at a time."""
        c = self.claim
        render_start = time.perf_counter()
        render_s = encode_s = 0.0
        stored = 0
        status, note = "succeeded", None
        self.unit, self.take_frames = "frame", int(spec.frames)
        self._set_phase(rendering=(self.remaining[0] + 1,) * 2, step=0, total=self.take_frames)
        try:
            takes = engine.stream(spec, on_step=self.on_step, should_cancel=self.should_cancel)
            for index, chunks in zip(self.remaining, takes, strict=True):
                rendering, encoding = self._keep(index, chunks, spec, model, render_s=None)
                render_s, encode_s, stored = render_s + rendering, encode_s + encoding, stored + 1
        except Canceled:
            if self.superseded:
                return "superseded"
            status, note = "canceled", f"stopped after {len(c.done) + stored} of {c.takes} takes"
        if self.superseded:
            return "superseded"
        return self._finish(status, note=note, render_s=render_s, encode_s=encode_s, rendered=stored,
                            queue_wait=queue_wait, load_s=load_s, render_start=render_start, engine=engine,
                            steps=spec.steps, spec=spec)  # fmt: skip

    def _pipeline(self, engine: Any, spec: RenderSpec, model: Any, *, queue_wait: float, load_s: float) -> str:
        """Render the missing takes in chunks of the model's `batch` and hand each take, as soon as its frames exist,
        to the encoder (finish, encode, store, announce) while the next chunk renders."""
        c = self.claim
        render_start = time.perf_counter()
        render_s = 0.0
        pending = list(self.remaining)
        size, saving = max(model.batch, 1), False
        canceled = False
        with _Encoder(self._store, overlap=self.cfg.overlap_encode, name=f"slate-encode-{self.job_id}") as encoder:
            try:
                while pending:
                    encoder.check()  # an encoding error stops the job before the next render
                    self._poll()  # a cancel that came between takes, or while the last one was stored
                    if self.should_cancel():
                        raise Canceled("canceled between takes")
                    chunk = pending[:size]
                    part = spec.with_seeds([c.seeds[i] for i in chunk])
                    self.before_chunk = len(c.done) + len(self.remaining) - len(pending)
                    self.chunk_len = len(chunk)
                    self._set_phase(rendering=(chunk[0] + 1, chunk[-1] + 1), step=0, total=0)
                    plan = engine.plan(part) if splits(engine) else None
                    started = time.perf_counter()
                    failure = None
                    try:
                        takes = self._render(engine, part, plan)
                    except OutOfMemory as exc:
                        failure = str(exc)
                    except Canceled as exc:  # the takes this call finished before the cancel are kept
                        render_s += time.perf_counter() - started
                        for index, frames in zip(chunk, exc.takes, strict=False):
                            encoder.put(index, frames, part, plan, 0.0)
                        raise
                    render_s += time.perf_counter() - started
                    self._set_phase(rendering=None, announce=False)  # the encoder says which take it encodes
                    if failure is not None:  # out of the handler: the failed attempt's tensors are gone with it
                        size, saving = self._after_out_of_memory(engine, model, part, len(chunk), saving, failure)
                        continue
                    share = (time.perf_counter() - started) / len(chunk)
                    for index, frames in zip(chunk, takes, strict=True):
                        encoder.put(index, frames, part, plan, share)
                    del takes, frames  # the encoder holds them now, and lets each go once it is stored
                    pending = pending[len(chunk):]
            except Canceled:
                canceled = True
        if self.superseded:
            return "superseded"
        status, note = "succeeded", None
        if canceled or self.cancel_requested:
            status, note = "canceled", f"stopped after {len(c.done) + encoder.stored} of {c.takes} takes"
        return self._finish(status, note=note, render_s=render_s, encode_s=encoder.spent, rendered=encoder.stored,
                            queue_wait=queue_wait, load_s=load_s, render_start=render_start, engine=engine,
                            steps=spec.steps, spec=spec, busy_s=time.perf_counter() - render_start)  # fmt: skip

    def _render(self, engine: Any, spec: RenderSpec, plan: dict[str, Any] | None) -> list:
        """One engine call for the seeds of `spec`: the model's own frames (`generate`) where the engine splits its
        render, finished takes otherwise."""
        if plan is not None:
            return engine.generate(spec, on_step=self.on_step, should_cancel=self.should_cancel, plan=plan)
        return engine.render(spec, on_step=self.on_step, should_cancel=self.should_cancel)

    def _after_out_of_memory(self, engine: Any, model: Any, spec: RenderSpec, failed: int, saving: bool,
                             reason: str) -> tuple[int, bool]:  # fmt: skip
        """The batch size and memory savings of the next try after a batch of `failed` takes ran out of memory: half
        that batch, then (at one take) the engine's memory savings; raises `RenderFailed` when none is left."""
        gc.collect()  # what the failed attempt held in reference cycles
        torch = sys.modules.get("torch")  # never imported here for it: a CPU engine has no cache to empty
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
        self.first_step_at = None
        if failed > 1:
            size = failed // 2
            log.warning("job %s: %s; retrying %d takes at a time", self.job_id, reason, size)
            self.notes.append(f"ran out of memory with {failed} takes at once; went on with {size} at a time")
            return size, saving
        if not saving and callable(getattr(engine, "enable_memory_saving", None)):
            applied = engine.enable_memory_saving()
            log.warning("job %s: %s; retrying with %s", self.job_id, reason, ", ".join(applied))
            self.notes.append(f"ran out of memory; went on with {', '.join(applied) or 'memory savings'}")
            return 1, True
        limits_text = (f"{model.label or model.id} renders at most {model.max_width}x{model.max_height}, "
                       f"{model.max_frames} frames, {model.batch} take{'s' if model.batch != 1 else ''} at once")
        failure = failures.out_of_memory(model=model.label or model.id, width=spec.width, height=spec.height,
                                         frames=spec.frames, savings=saving, limits=limits_text)  # fmt: skip
        raise RenderFailed(failure.message, failure.detail)

    def _poll(self) -> None:
        """Between takes: say the job is alive and read whether it was canceled or superseded."""
        with task_db() as db:
            self.cancel_requested, self.superseded = service.heartbeat(db, job_id=self.job_id, task_id=self.task_id)

    def _store(self, index: int, frames: Any, spec: RenderSpec, plan: dict[str, Any] | None, render_share: float
               ) -> float:  # fmt: skip
        """Finish take `index` (the engine's CPU share: to uint8, the virtual camera), encode, store and announce it,
        then look for a cancel; returns the seconds spent (on the encoder's thread when encoding overlaps)."""
        started = time.perf_counter()
        self._set_phase(encoding=index + 1)
        if plan is not None:
            frames = self.engine.finish_take(frames, spec, self.claim.seeds[index], plan)
        finishing = time.perf_counter() - started
        spent = finishing + self._keep(index, frames, spec, self.model, render_s=render_share)[1]
        del frames
        self._set_phase(encoding=None, announce=False)  # the next step or phase write says so
        self._poll()
        return spent

    def _keep(self, index: int, frames: Any, spec: RenderSpec, model: Any, *, render_s: float | None
              ) -> tuple[float, float]:  # fmt: skip
        """Encode take `index` (a clip, or chunks as the engine renders them: `render_s` None), put its files in the
        media store, insert it once and publish it; returns (seconds rendering, seconds encoding and storing)."""
        from app.media.store import get_store
        from workers import media

        store = get_store()
        c = self.claim
        waited = [0.0]  # seconds spent waiting for a streaming engine's chunks: rendering, not encoding
        started = time.perf_counter()
        source = _timed(frames, waited) if render_s is None else frames
        with tempfile.TemporaryDirectory(prefix="slate-take-") as tmp:
            count = spec.frames if render_s is None else len(frames)  # a batch engine's take is what it is
            out = media.encode_take(source, count=count, fps=spec.fps, path=Path(tmp) / "take.mp4")
            video_key, _ = store.put(out.video.path.read_bytes(), "mp4")
        poster_key, _ = store.put(out.poster_jpeg, "jpg")
        strip_key, _ = store.put(out.filmstrip_jpeg, "jpg")
        last_key, _ = store.put(out.last_frame_png, "png")
        rendering = waited[0] if render_s is None else render_s
        encode_s = time.perf_counter() - started - waited[0]
        gpu = round(rendering + encode_s, 3) if service.charged(c.model) else 0.0
        conditioning = {"first_frame": spec.first_frame_key, "last_frame": spec.last_frame_key,
                        "references": [k for m in spec.cast for k in (m.reference_keys or [])]
                        if model.supports("references") else [],
                        "loras": [{"name": m.name, **(m.lora or {})} for m in spec.cast if m.lora]}  # fmt: skip
        values = dict(
            compiled_prompt=spec.prompt, negative_prompt=spec.negative_prompt, frames=out.video.frames,
            fps=spec.fps, width=out.video.width, height=out.video.height, video_key=video_key, poster_key=poster_key,
            filmstrip_key=strip_key, last_frame_key=last_key, filmstrip=out.filmstrip, conditioning=conditioning,
            timings={"render_s": round(rendering, 4), "encode_s": round(encode_s, 4), "worker": self.worker},
            gpu_seconds=gpu,
        )  # fmt: skip
        with task_db() as db:
            take = service.store_take(db, job_id=self.job_id, index=index, values=values)
            take_id, number = (take.id, take.number) if take is not None else (None, None)
        if take_id is not None:
            publish(c.project_id, "take", {"id": take_id, "job_id": self.job_id, "shot_id": c.shot_id,
                                           "number": number, "index": index})  # fmt: skip
        return rendering, encode_s

    def _finish(self, status: str, *, render_s: float, encode_s: float, rendered: int, queue_wait: float,
                note: str | None = None, load_s: float = 0.0, render_start: float | None = None, engine: Any = None,
                steps: int | None = None, spec: RenderSpec | None = None, busy_s: float | None = None) -> str:
        total = time.perf_counter() - self.t0
        timings: dict[str, Any] = {"queue_wait_s": round(queue_wait, 3), "load_s": round(load_s, 4),
                                   "render_s": round(render_s, 4), "encode_s": round(encode_s, 4),
                                   "total_s": round(total, 4), "takes_rendered": rendered, "worker": self.worker}
        if render_start is not None:
            # the engine's own timing is of this render only when it finished
            engine_timing = dict(getattr(engine, "last_timing", None) or {}) if status == "succeeded" else {}
            if engine_timing.get("steps"):
                before = (render_start - self.t0) + engine_timing.get("before_first_step_s", 0.0)
            elif self.first_step_at is not None:  # CPU engines report a step per frame: up to the first one
                before = self.first_step_at - self.t0
            else:
                before = render_s
            timings["before_first_step_s"] = round(before, 4)
            timings["before_first_step_share"] = round(before / total, 4) if total else 0.0
            if engine_timing:
                timings["engine"] = engine_timing
            if status == "succeeded" and rendered and spec is not None:
                units = service._mpxf(spec) * rendered
                timings["rate"] = round(render_s / max((steps or 1) * units, 1e-9), 6)
                timings["encode_rate"] = round(encode_s / max(units, 1e-9), 6)
        if self.notes:
            note = "; ".join(filter(None, [note, *self.notes]))
        with task_db() as db:
            service.finish(db, job_id=self.job_id, task_id=self.task_id, status=status, note=note,
                           worker_s=render_s + encode_s if busy_s is None else busy_s, timings=timings)  # fmt: skip
        return status


@celery.task(name=service.RENDER_TASK, bind=True, base=RenderTask, acks_late=True,
             reject_on_worker_lost=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=30,
             retry_jitter=True, max_retries=3)  # fmt: skip
def render_job(self, job_id: int) -> str:
    """Render the takes of job `job_id` that are not stored yet (by id; superseded or finished: nothing)."""
    out_of_memory = False
    try:
        return _Render(self, int(job_id)).run()
    except MemoryError:
        out_of_memory = True  # the job fails below, out of the handler: the error's frames and memory go with it
    except SoftTimeLimitExceeded:
        soft = _run_time_limits()[0]
        with task_db() as db:
            job = db.get(GenerationJob, int(job_id))
            if job is not None:
                failure = failures.time_limit(job=job, seconds=soft, hard=False)
                service.finish(db, job_id=int(job_id), task_id=self.request.id, status="failed",
                               error=failure.message, detail=failure.detail)  # fmt: skip
        return "timed out"
    except TRANSIENT:
        _ended_here.add((int(job_id), self.request.id))  # Celery retries it: the retry is no lost worker
        raise
    assert out_of_memory  # every other way out of the block above returns or raises
    raise RenderFailed(*astuple(failures.worker_memory()))


def consumed_models() -> list[str]:
    """Model ids of the `gen.<id>` queues this worker consumes."""
    names = list(celery.amqp.queues.consume_from or {})
    return [name.removeprefix("gen.") for name in names if name.startswith("gen.")]


@worker_process_init.connect
def warm_models(sender: Any = None, **kwargs: Any) -> None:
    """Load the models of this worker's queues before the first job (not in the web process: loaded on first use)."""
    from workers.engines import loader
    from workers.engines.registry import RegistryError

    settings = getattr(celery, "slate_settings", None)
    if settings is not None and settings.embedded_worker:
        return
    for model_id in consumed_models():
        try:
            seconds = loader.warm(model_id)
        except (RegistryError, OSError, ValueError, ImportError) as exc:
            log.error("could not load model %s at start (%s); jobs will try again", model_id, exc)
            continue
        log.info("model %s warm (%.2f s)", model_id, seconds)
