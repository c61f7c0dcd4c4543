"""Write and read the project's activity feed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.activity.models import ActivityEvent
from app.auth.models import User
from app.events import publish_after_commit


def record(
    db: Session,
    *,
    project_id: int,
    actor: User | None,
    verb: str,
    object_type: str,
    object_id: int | str | None,
    summary: str,
    data: dict[str, Any] | None = None,
) -> ActivityEvent:
    """Append one event to the project's feed (services call this for every change)."""
    event = ActivityEvent(
        project_id=project_id,
        actor_id=actor.id if actor else None,
        verb=verb,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        summary=summary[:300],
        data=data or {},
    )
    db.add(event)
    db.flush()
    publish_after_commit(db, project_id, "activity", {
        "id": event.id, "verb": verb, "summary": event.summary, "actor_name": actor.display_name if actor else None,
        "at": event.at.isoformat(),
    })  # fmt: skip
    return event


def list_events(
    db: Session, *, project_id: int, before_id: int | None = None, limit: int = 30,
    verb_prefixes: Sequence[str] = (), actor_id: int | None = None,
) -> list[ActivityEvent]:  # fmt: skip
    """Newest first; page with `before_id`; only verbs starting with one of `verb_prefixes`, only by `actor_id`."""
    stmt = select(ActivityEvent).where(ActivityEvent.project_id == project_id)
    if before_id is not None:
        stmt = stmt.where(ActivityEvent.id < before_id)
    if verb_prefixes:
        stmt = stmt.where(or_(*(ActivityEvent.verb.startswith(p, autoescape=True) for p in verb_prefixes)))
    if actor_id is not None:
        stmt = stmt.where(ActivityEvent.actor_id == actor_id)
    stmt = stmt.order_by(ActivityEvent.id.desc()).limit(max(1, min(limit, 200)))
    return list(db.scalars(stmt))
