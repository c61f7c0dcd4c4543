"""Instance settings and the worker round trip."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import get_settings
from app.db import queue_after_commit, utcnow
from app.errors import Invalid, NotFound
from app.system.models import InstanceSetting, WorkerProbe

SIGNUP_MODES = ("open", "invite")
RUSH_POLICIES = ("admins", "owners", "everyone")  # owners: a project's owners and directors (and admins)
QUOTA_MAX_S = 100_000_000  # a sanity bound on a quota field, not a policy
PROBE_TASK = "slate.system.answer_probe"  # app.system.tasks.answer_probe, sent by name


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


@dataclass(frozen=True)
class Quotas:
    """The instance's limits on generation, as in force now (app/generation/quotas.py applies them)."""

    project_gpu_s_month: int  # GPU-seconds a project may use in a calendar month (UTC)
    user_gpu_s_day: int  # GPU-seconds one person may use in a day (UTC), across projects
    rush: str  # who may queue at rush priority: one of RUSH_POLICIES
    count_cpu: bool  # whether CPU engines' seconds count against budgets and quotas


def quota_defaults() -> Quotas:
    """The quotas of the environment (SLATE_QUOTA_*), in force where the admin has not chosen."""
    s = get_settings()
    return Quotas(project_gpu_s_month=s.quota_project_gpu_s_month, user_gpu_s_day=s.quota_user_gpu_s_day,
                  rush=s.quota_rush, count_cpu=s.quota_count_cpu)  # fmt: skip


def quotas(db: Session) -> Quotas:
    """The quotas in force: each the admin's choice on /admin, else its SLATE_QUOTA_* setting."""
    defaults = asdict(quota_defaults())
    return Quotas(**{name: get_value(db, key=f"quota_{name}", default=value) for name, value in defaults.items()})


def _quota_seconds(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= QUOTA_MAX_S:
        raise Invalid(f"{field.replace('_', ' ')} must be a whole number of seconds from 0 to {QUOTA_MAX_S:,}",
                      field=field)  # fmt: skip
    return value


def set_quotas(db: Session, *, project_gpu_s_month: Any, user_gpu_s_day: Any, rush: Any, count_cpu: Any) -> Quotas:
    """Change the instance quotas: every value is checked before any is written, so a bad one changes nothing."""
    if rush not in RUSH_POLICIES:
        raise Invalid(f"rush must be one of {', '.join(RUSH_POLICIES)}", field="rush")
    if not isinstance(count_cpu, bool):
        raise Invalid("count_cpu must be true or false", field="count_cpu")
    chosen = Quotas(project_gpu_s_month=_quota_seconds(project_gpu_s_month, "project_gpu_s_month"),
                    user_gpu_s_day=_quota_seconds(user_gpu_s_day, "user_gpu_s_day"), rush=rush,
                    count_cpu=count_cpu)  # fmt: skip
    for name, value in asdict(chosen).items():
        set_value(db, key=f"quota_{name}", value=value)
    return chosen


def request_probe(db: Session, *, actor: User, queue: str = "default") -> WorkerProbe:
    """Write a probe row and send it to a worker once the transaction commits.

    The task is named, not imported: the probe task (app.system.tasks) builds on this service, never the reverse.
    """
    probe = WorkerProbe(requested_by_id=actor.id, queue=queue)
    db.add(probe)
    db.flush()
    probe_id = probe.id

    def _send() -> None:
        from workers.celery_app import celery

        celery.send_task(PROBE_TASK, args=[probe_id], queue=queue)

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
