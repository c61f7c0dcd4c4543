"""Generation jobs (one render request: n takes of one shot) and the takes they make.

The job row is the truth about a render; the Celery message only carries its id. `task_id` names
the one message allowed to work on the job: the reconciler replaces it when it re-sends a job, so
an old message that turns up later does nothing. A take is unique per (job, index), so a
redelivered message never stores a take twice, and per (shot, number), the take number people see.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "canceled")
FINISHED = frozenset({"succeeded", "failed", "canceled"})
ACTIVE = frozenset({"queued", "running"})
PRIORITIES = {"rush": 0, "normal": 5}  # Redis priorities: 0 is served first


class GenerationJob(Base):
    __tablename__ = "generation_jobs"
    __table_args__ = (
        Index("ix_generation_jobs_status_model", "status", "model"),
        Index("ix_generation_jobs_shot_id_id", "shot_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    shot_id: Mapped[int] = mapped_column(ForeignKey("shots.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    model: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)  # workers.spec.RenderSpec.to_dict()
    spec_hash: Mapped[str] = mapped_column(String(32))
    takes: Mapped[int] = mapped_column(default=1)  # takes requested (n)
    seeds: Mapped[list[int]] = mapped_column(JSON, default=list)  # one per take index
    priority: Mapped[str] = mapped_column(String(10), default="normal")  # normal, rush
    status: Mapped[str] = mapped_column(String(12), default="queued")
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)  # times a worker started it
    deaths: Mapped[int] = mapped_column(default=0)  # times its worker vanished while running it
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    step: Mapped[int] = mapped_column(default=0)
    total_steps: Mapped[int] = mapped_column(default=0)
    takes_done: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")  # what happened that people should know (cancel, resume)
    worker: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[str] = mapped_column(String(64))  # the Celery message currently entitled to run it
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # when that message was sent
    heartbeat_at: Mapped[dt.datetime | None]  # the database's clock, never a worker's
    claimed_at: Mapped[dt.datetime | None]  # when the current run claimed it (database clock): a lost run's time
    progress_at: Mapped[dt.datetime | None]  # when its step or progress last moved (the stall watchdog)
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    estimate_s: Mapped[float] = mapped_column(Float, default=0.0)
    gpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    snap_note: Mapped[str] = mapped_column(Text, default="")  # size/frames snapped to the model, continuity
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("generation_jobs.id", ondelete="SET NULL"))

    take_rows: Mapped[list[Take]] = relationship(
        back_populates="job", order_by="Take.index", cascade="all, delete-orphan", passive_deletes=True
    )


class Take(Base):
    __tablename__ = "takes"
    __table_args__ = (
        UniqueConstraint("job_id", "index"),
        UniqueConstraint("shot_id", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    shot_id: Mapped[int] = mapped_column(ForeignKey("shots.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("generation_jobs.id", ondelete="CASCADE"))
    index: Mapped[int]  # 0..n-1 within the job; its seed is job.seeds[index]
    number: Mapped[int]  # take number within the shot: 1, 2, 3 ... across jobs
    seed: Mapped[int] = mapped_column(BigInteger)
    compiled_prompt: Mapped[str] = mapped_column(Text, default="")
    negative_prompt: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(64))
    spec_hash: Mapped[str] = mapped_column(String(32))
    frames: Mapped[int]
    fps: Mapped[float] = mapped_column(Float)
    width: Mapped[int]
    height: Mapped[int]
    video_key: Mapped[str] = mapped_column(String(200))
    poster_key: Mapped[str] = mapped_column(String(200))
    filmstrip_key: Mapped[str] = mapped_column(String(200))
    last_frame_key: Mapped[str | None] = mapped_column(String(200))  # PNG: the first frame of the next shot
    filmstrip: Mapped[dict[str, Any]] = mapped_column(default=dict)  # sprite geometry
    conditioning: Mapped[dict[str, Any]] = mapped_column(default=dict)  # which images conditioned it
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    gpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    review_status: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    job: Mapped[GenerationJob] = relationship(back_populates="take_rows")

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps else 0.0
