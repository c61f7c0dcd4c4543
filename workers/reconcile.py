"""The job reconciler: brings back jobs the broker lost and ends or re-queues jobs whose worker died or hangs.

The database is the truth; Redis is only transport. Every stamp it judges (`heartbeat_at`,
`progress_at`, `claimed_at`) is written with the database's clock (`now()` in SQL) and compared with
the database's clock: hosts whose clocks are apart agree on what is stale. One pass of `reconcile()`
repairs, from the job rows:

1. **A worker died while running a job** (kill -9, out of host memory, a lost machine). A running
   job's worker refreshes `heartbeat_at` every `SLATE_JOB_HEARTBEAT_S` (5) from a thread of its own.
   A `running` job whose heartbeat is older than `SLATE_JOB_STALE_S` (20) counts one death; so does
   one whose heartbeat is fresh but whose step and progress have not moved for `SLATE_JOB_STALL_S`
   (600: the render hangs while its heartbeat thread goes on). The lost run's seconds, from its claim
   to its last heartbeat, are charged to the job and its project (for charged models). A job with a
   cancel asked ends `canceled`, keeping its stored takes. After `SLATE_JOB_MAX_DEATHS` (3) deaths it
   fails with the reason ("the worker died N times running this job (last: <worker>); ..."); before
   that it goes back to `queued` with a new message id, keeping its stored takes: the next worker
   renders only the missing ones, with the same seeds. A message that the broker delivers again
   after its worker died (a prefork child killed, a redelivery) counts a death in `service.claim` the
   same way, so a render that kills its worker every time ends failed, never loops.
2. **The broker lost a queued job's message** (Redis restarted without persistence, a flush, a
   send that failed after the commit). A `queued` job whose message was sent more than
   `SLATE_JOB_REQUEUE_S` (60) ago and whose message id is nowhere in the broker — not in the
   model's queue lists (`gen.<model>`, and `gen.<model>` + sep + priority for the priority lanes
   of the kombu Redis transport) nor in the `unacked` hash of delivered-but-unacknowledged
   messages — is sent again with a new message id. With the in-process memory broker (embedded
   mode), nothing outside the process can lose a message, but a restart loses them all: jobs sent
   before this process's broker started are sent again.

Every change is a compare-and-set on the locked job row (status, and the message id it was
judged by), and the task claims a job only for the message id the row names. So a message that
was not lost after all (it turns up later, or Redis restores it after the visibility timeout)
finds itself superseded and does nothing, and reconcilers running in several places at once do no
harm. Takes are unique per (job, index), the last line of defence.

It runs when a worker starts (`worker_ready`), every `SLATE_JOB_RECONCILE_S` (5) s from Celery
beat in production (`celery -A workers.celery_app beat`, task `slate.generation.reconcile` on the
`default` queue), and from a timer thread of the embedded worker (`slate up`). A dead worker is
noticed within stale + reconcile = 25 s.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import kombu.exceptions
import redis
from celery.signals import worker_ready
from sqlalchemy import and_, case, or_, select
from sqlalchemy.exc import OperationalError

from app.db import utcnow
from app.events import publish_after_commit
from app.generation import service
from app.generation.models import GenerationJob
from workers.celery_app import celery, task_db

log = logging.getLogger("slate.reconcile")

_memory_broker_started: dt.datetime | None = None


def memory_broker_started(at: dt.datetime | None = None) -> None:
    """The embedded worker says when this process's in-memory broker started (messages from before are gone)."""
    global _memory_broker_started
    _memory_broker_started = at or utcnow()


@dataclass
class Report:
    requeued_dead: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    requeued_lost: list[int] = field(default_factory=list)
    requeued_stalled: list[int] = field(default_factory=list)
    canceled: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(self.to_dict().values())

    def to_dict(self) -> dict[str, list[int]]:
        out = {"requeued_dead": self.requeued_dead, "failed": self.failed, "requeued_lost": self.requeued_lost}
        if self.requeued_stalled or self.canceled:  # only when they happened: older readers keep their three keys
            out.update(requeued_stalled=self.requeued_stalled, canceled=self.canceled)
        return out


# Jobs are sent again in the order workers take them: rush first, then by when they were queued.
_LANE_ORDER = (case((GenerationJob.priority == "rush", 0), else_=1), GenerationJob.queued_at, GenerationJob.id)


def _broker_url() -> str:
    return str(celery.conf.broker_url or "")


def _broker_messages(models: set[str]) -> bytes | None:
    """Every message the Redis broker holds for these models' queues, plus the unacked ones, as one blob.

    None when the broker is not Redis (the caller then decides by other means).
    """
    url = _broker_url()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    options = celery.conf.broker_transport_options or {}
    sep = options.get("sep", "\x06\x16")
    steps = options.get("priority_steps") or [0, 3, 6, 9]
    client = redis.Redis.from_url(url)
    try:
        chunks: list[bytes] = []
        for model in sorted(models):
            name = service.queue_name(model)
            for key in dict.fromkeys([name, *(f"{name}{sep}{p}" for p in steps if p)]):
                chunks.extend(client.lrange(key, 0, -1))
        chunks.extend(client.hvals("unacked"))
        return b"\n".join(chunks)
    finally:
        client.close()


def _requeue(db: Any, job: GenerationJob, *, now: dt.datetime) -> None:
    job.status, job.task_id, job.sent_at = "queued", str(uuid.uuid4()), now
    job.progress, job.step = min(job.takes_done / job.takes, 0.99) if job.takes else 0.0, 0
    db.flush()
    service.send_after_commit(db, job_id=job.id, task_id=job.task_id, model_id=job.model, priority=job.priority,
                              estimate_s=job.estimate_s)  # fmt: skip
    publish_after_commit(db, job.project_id, "job", service.job_event(job))


def _lose(db: Any, job: GenerationJob, cfg: service.JobSettings, now: dt.datetime, report: Report, *,
          stalled: bool) -> None:  # fmt: skip
    """A running job whose run is over without it (dead worker, stalled render): cancel, fail or send it again."""
    worker = job.worker or "unknown"
    outcome = service.lost_run(db, job=job, max_deaths=cfg.max_deaths, stalled_s=cfg.stall_s if stalled else None)
    if outcome == "canceled":
        report.canceled.append(job.id)
        log.warning("job %s: worker %s lost while it was stopping; canceled", job.id, worker)
    elif outcome == "failed":
        report.failed.append(job.id)
        log.warning("job %s failed: %s", job.id, job.error)
    elif stalled:
        job.note = (f"the render on {worker} made no progress for {cfg.stall_s:g} s; queued again "
                    f"({job.deaths} of {cfg.max_deaths})")  # fmt: skip
        _requeue(db, job, now=now)
        report.requeued_stalled.append(job.id)
        log.warning("job %s: render on %s stalled (death %d); queued again", job.id, worker, job.deaths)
    else:
        job.note = f"the worker {worker} stopped answering; queued again ({job.deaths} of {cfg.max_deaths})"
        _requeue(db, job, now=now)
        report.requeued_dead.append(job.id)
        log.warning("job %s: worker %s lost (death %d); queued again", job.id, worker, job.deaths)


def _dead(cfg: service.JobSettings, now: dt.datetime, report: Report) -> None:
    """Running jobs whose heartbeat is stale (the worker is gone), then those whose progress is (the render hangs)."""
    stale = now - dt.timedelta(seconds=cfg.stale_s)
    stall = now - dt.timedelta(seconds=cfg.stall_s)
    stalled_where = and_(GenerationJob.heartbeat_at >= stale, GenerationJob.progress_at < stall)
    with task_db() as db:
        rows = db.execute(select(GenerationJob.id, stalled_where).where(
            GenerationJob.status == "running", or_(GenerationJob.heartbeat_at < stale, stalled_where))
            .order_by(*_LANE_ORDER)).all()  # fmt: skip
    for job_id, was_stalled in rows:
        with task_db() as db:
            job = service.lock_job(db, job_id)
            if job is None or job.status != "running" or job.heartbeat_at is None:
                continue  # it moved on since we looked
            dead = job.heartbeat_at < stale
            stalled = not dead and job.progress_at is not None and job.progress_at < stall
            if dead or stalled:
                _lose(db, job, cfg, now, report, stalled=stalled)


def _lost(cfg: service.JobSettings, now: dt.datetime, report: Report) -> None:
    cutoff = now - dt.timedelta(seconds=cfg.requeue_s)
    memory = _broker_url().startswith("memory://")
    if memory:
        if _memory_broker_started is None:
            return  # no in-process worker: nothing here consumes or loses the memory broker's messages
        cutoff = min(cutoff, _memory_broker_started)
    with task_db() as db:
        rows = db.execute(select(GenerationJob.id, GenerationJob.model, GenerationJob.task_id).where(
            GenerationJob.status == "queued", GenerationJob.sent_at < cutoff).order_by(*_LANE_ORDER)).all()  # fmt: skip
    if not rows:
        return
    blob = None if memory else _broker_messages({r.model for r in rows})
    if blob is None and not memory:
        return  # a broker we cannot look into: leave its messages alone
    for job_id, _model, task_id in rows:
        if blob is not None and task_id.encode() in blob:
            continue
        with task_db() as db:
            job = service.lock_job(db, job_id)
            if job is None or job.status != "queued" or job.task_id != task_id:
                continue
            job.note = "its message was lost by the queue; sent again"
            _requeue(db, job, now=now)
            report.requeued_lost.append(job.id)
            log.warning("job %s: message %s not in the broker; sent again", job_id, task_id)


def reconcile() -> Report:
    """One pass: re-queue or fail jobs of dead workers, re-send queued jobs whose message is gone."""
    cfg = service.job_settings()
    with task_db() as db:
        now = service.db_now(db)  # every stamp it judges is on the database's clock too
    report = Report()
    _dead(cfg, now, report)
    _lost(cfg, now, report)
    return report


RECOVERABLE = (OperationalError, redis.RedisError, kombu.exceptions.OperationalError, OSError)


def reconcile_quietly() -> Report | None:
    """`reconcile()` for timers and signals: a database or broker that is away is logged, not raised."""
    try:
        return reconcile()
    except RECOVERABLE as exc:
        log.warning("reconcile skipped: %s", exc)
        return None


@celery.task(name="slate.generation.reconcile", ignore_result=True)
def reconcile_task() -> dict[str, list[int]]:
    """The periodic pass (Celery beat)."""
    return reconcile().to_dict()


_every = service.job_settings().reconcile_s
celery.add_periodic_task(_every, reconcile_task.s(), name="slate.generation.reconcile", queue="default",
                         expires=_every)  # a pass nobody ran in time is dropped: the next one does the same work


@worker_ready.connect
def _at_worker_start(sender: Any = None, **kwargs: Any) -> None:
    """A worker that starts repairs what the last one left behind, before it takes jobs."""
    report = reconcile_quietly()
    if report:
        log.warning("reconciled at worker start: %s", report.to_dict())


class Timer:
    """Run the reconciler every `interval` seconds in a daemon thread (the embedded worker's beat)."""

    def __init__(self, interval: float | None = None) -> None:
        self.interval = interval if interval is not None else service.job_settings().reconcile_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slate-reconciler", daemon=True)

    def _run(self) -> None:
        while True:
            reconcile_quietly()
            if self._stop.wait(self.interval):
                return

    def start(self) -> Timer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
