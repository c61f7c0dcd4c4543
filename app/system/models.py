"""Instance-wide settings an admin can change, and worker health probes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class InstanceSetting(Base):
    __tablename__ = "instance_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WorkerProbe(Base):
    """A round trip through the job queue: the web writes it, a worker answers it."""

    __tablename__ = "worker_probes"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued, done
    queue: Mapped[str] = mapped_column(String(60), default="default")
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    latency_ms: Mapped[float | None]
