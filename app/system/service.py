"""Instance settings and the worker round trip."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import get_settings
from app.db import queue_after_commit, utcnow
from app.errors import Invalid, NotFound
from app.system.models import InstanceSetting, WorkerProbe

SIGNUP_MODES = ("open", "invite")


def get_value(db: Session, *, key: str, default: Any = None) -> Any:
    row = db.get(InstanceSetting, key)
    return default if row is None else row.value.get("v", default)


def set_value(db: Session, *, key: str, value: Any) -> None:
    row = db.get(InstanceSetting, key)
    if row is None:
        db.add(InstanceSetting(key=key, value={"v": value}))
    else:
        row.value = {"v": value}
    db.flush()


def signup_mode(db: Session) -> str:
    """`open` or `invite`: the admin's choice, else the SLATE_SIGNUP_MODE setting."""
    return get_value(db, key="signup_mode", default=get_settings().signup_mode)


def set_signup_mode(db: Session, *, mode: str) -> None:
    """Change who may create an account."""
    if mode not in SIGNUP_MODES:
        raise Invalid(f"sign-up mode must be one of {', '.join(SIGNUP_MODES)}", field="signup_mode")
    set_value(db, key="signup_mode", value=mode)


def request_probe(db: Session, *, actor: User, queue: str = "default") -> WorkerProbe:
    """Write a probe row and send it to a worker once the transaction commits."""
    probe = WorkerProbe(requested_by_id=actor.id, queue=queue)
    db.add(probe)
    db.flush()
    probe_id = probe.id

    def _send() -> None:
        from app.system.tasks import answer_probe

        answer_probe.apply_async(args=[probe_id], queue=queue)

    queue_after_commit(db, _send)
    return probe


def answer_probe(db: Session, *, probe_id: int, worker: str) -> WorkerProbe | None:
    """Worker side: mark the probe answered (once; a redelivered message changes nothing)."""
    probe = db.get(WorkerProbe, probe_id)
    if probe is None or probe.status == "done":
        return probe
    now = utcnow()
    probe.status = "done"
    probe.finished_at = now
    probe.worker = worker[:200]
    probe.latency_ms = (now - probe.queued_at).total_seconds() * 1000
    db.flush()
    return probe


def get_probe(db: Session, *, probe_id: int) -> WorkerProbe:
    probe = db.get(WorkerProbe, probe_id)
    if probe is None:
        raise NotFound("no such probe")
    return probe


def recent_probes(db: Session, *, limit: int = 10) -> list[WorkerProbe]:
    return list(db.scalars(select(WorkerProbe).order_by(WorkerProbe.id.desc()).limit(limit)))
