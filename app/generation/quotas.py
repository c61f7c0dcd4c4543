"""Instance quotas on generation: GPU-seconds per project per month and per person per day, and who may rush.

The admin sets them on /admin (environment defaults: `SLATE_QUOTA_*`, read by `app.system.service.quotas`).
They are checked when a job is queued or retried, counted from the job rows, so the count holds
across web processes and workers:
- a finished job counts the seconds it was charged (`gpu_seconds`); a queued or running one holds
  its estimate until it ends (it is charged nothing before);
- a job counts in the period (UTC calendar month, UTC day) it was queued in, so a job is never
  counted twice and a period's count never changes after it ends;
- CPU engines (the animatic) count only where the admin says so (`count_cpu`): then their seconds
  are charged when they finish and their estimates held while they wait.
The caller holds the project's row lock (`service._lock_project`); the person's row is locked here,
so one person's requests for two projects are counted one after the other.
Refusals are `TooMany` (429) with the figures and the moment the quota resets; rush by someone the
policy does not allow is `Forbidden` (403).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import utcnow
from app.errors import Forbidden, TooMany
from app.generation.models import ACTIVE, GenerationJob
from app.permissions import Role
from app.projects.models import Membership, Project
from app.system.service import Quotas
from workers.engines.registry import get_registry

RUSH_ROLES = frozenset({Role.owner, Role.director})
RUSH_WHO = {
    "admins": "this Slate's admins",
    "owners": "project owners and directors (and this Slate's admins)",
    "everyone": "everyone",
}


def month_window(now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """(start, reset) of the calendar month (UTC) that holds `now`."""
    now = (now or utcnow()).astimezone(dt.UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    reset = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, reset


def day_window(now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """(start, reset) of the day (UTC) that holds `now`."""
    now = (now or utcnow()).astimezone(dt.UTC)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=1)


def _cpu_models() -> list[str]:
    return [m.id for m in get_registry() if not m.accelerated]


def _counted(count_cpu: bool):
    """The seconds a job row counts (charged if finished, its estimate while active), and the rows that count."""
    amount = case((GenerationJob.status.in_(ACTIVE), GenerationJob.estimate_s), else_=GenerationJob.gpu_seconds)
    where = [] if count_cpu else [GenerationJob.model.not_in(_cpu_models())]
    return amount, where


@dataclass(frozen=True)
class Use:
    """Seconds counted against a quota in its current period: charged by finished jobs and held by active ones."""

    used: float
    held: float

    @property
    def total(self) -> float:
        return self.used + self.held


def use(db: Session, *, since: dt.datetime, count_cpu: bool, project_id: int | None = None,
        user_id: int | None = None) -> Use:  # fmt: skip
    """What one project's or one person's jobs queued since `since` count against their quota."""
    amount, where = _counted(count_cpu)
    active = GenerationJob.status.in_(ACTIVE)
    q = select(func.coalesce(func.sum(case((active, 0.0), else_=amount)), 0.0),
               func.coalesce(func.sum(case((active, amount), else_=0.0)), 0.0)).where(
        GenerationJob.queued_at >= since, *where)  # fmt: skip
    if project_id is not None:
        q = q.where(GenerationJob.project_id == project_id)
    if user_id is not None:
        q = q.where(GenerationJob.requested_by_id == user_id)
    used, held = db.execute(q).one()
    return Use(used=float(used), held=float(held))


def top_projects(db: Session, *, quota: Quotas, limit: int = 10) -> list[tuple[int, str, float]]:
    """(project id, name, seconds) of this month's biggest users of the project quota, most first."""
    amount, where = _counted(quota.count_cpu)
    start, _ = month_window()
    total = func.sum(amount).label("total")
    rows = db.execute(select(Project.id, Project.name, total).join(Project, Project.id == GenerationJob.project_id)
                      .where(GenerationJob.queued_at >= start, *where).group_by(Project.id, Project.name)
                      .order_by(total.desc(), Project.id).limit(limit))  # fmt: skip
    return [(pid, name, float(seconds or 0)) for pid, name, seconds in rows if seconds]


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _refusal(who: str, whose: str, use_: Use, limit: int, period: str, estimate: float, reset: dt.datetime) -> str:
    held = f" ({math.ceil(use_.held):,} of them held by queued and running jobs)" if use_.held >= 1 else ""
    return (f"{who} used {round(use_.total):,} of {whose} {limit:,} GPU-seconds {period}{held}; this job needs about "
            f"{math.ceil(estimate):,} more; the quota resets on {_when(reset)}")


def check_quotas(db: Session, *, quota: Quotas, project: Project, actor: User | None, estimate: float,
                 now: dt.datetime | None = None) -> None:  # fmt: skip
    """Refuse (429) a job of `estimate` charged seconds that would take the project's month or the person's day
    past the instance quota. The caller decides whether the job is charged at all."""
    now = now or utcnow()
    start, reset = month_window(now)
    month = use(db, since=start, count_cpu=quota.count_cpu, project_id=project.id)
    if month.total + estimate > quota.project_gpu_s_month:
        raise TooMany(_refusal("this project has", "its", month, quota.project_gpu_s_month, "this month", estimate,
                               reset), field="takes")  # fmt: skip
    if actor is None:  # work the system queues itself is held by the project quota only
        return
    if db.get_bind().dialect.name != "sqlite":  # one person's requests are counted one at a time (SQLite already is)
        db.execute(select(User.id).where(User.id == actor.id).with_for_update())
    start, reset = day_window(now)
    day = use(db, since=start, count_cpu=quota.count_cpu, user_id=actor.id)
    if day.total + estimate > quota.user_gpu_s_day:
        raise TooMany(_refusal("you have", "your", day, quota.user_gpu_s_day, "today", estimate, reset),
                      field="takes")  # fmt: skip


def may_rush(db: Session, *, quota: Quotas, project: Project, actor: User | None) -> bool:
    """Whether `actor` may queue work of `project` at rush priority (work the system queues itself may)."""
    if actor is None or quota.rush == "everyone" or actor.is_admin:
        return True
    if quota.rush != "owners":
        return False
    role = db.scalar(select(Membership.role).where(Membership.project_id == project.id,
                                                   Membership.user_id == actor.id))  # fmt: skip
    return role in RUSH_ROLES


def check_rush(db: Session, *, quota: Quotas, project: Project, actor: User | None) -> None:
    """Refuse (403) rush priority to someone the instance's rush policy does not name."""
    if not may_rush(db, quota=quota, project=project, actor=actor):
        raise Forbidden(f"rush priority is for {RUSH_WHO[quota.rush]} on this Slate; queue it at normal priority",
                        field="priority")  # fmt: skip


def rush_note(quota: Quotas) -> str:
    """Why a retried rush job runs at normal priority."""
    return f"retried at normal priority: rush is for {RUSH_WHO[quota.rush]}"
