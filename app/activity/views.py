"""The project's live event stream (Server-Sent Events) for its open pages."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sse_starlette import EventSourceResponse

from app.auth.models import User, UserSession
from app.config import get_settings
from app.db import utcnow
from app.deps import OptionalPrincipal, ProjectAccess, access
from app.events import hub
from app.permissions import Action
from app.projects.models import Membership
from app.web import templates

router = APIRouter(tags=["pages"], include_in_schema=False)

# Events that pages swap in as HTML (htmx sse-swap); every other kind is sent as JSON.
FRAGMENTS = {"activity": "projects/_feed_item.html"}


def _payload(request: Request, event: dict[str, Any]) -> str:
    template = FRAGMENTS.get(event["kind"])
    if template is None:
        return json.dumps(event["data"])
    data = dict(event["data"])
    if isinstance(data.get("at"), str):
        data["at"] = dt.datetime.fromisoformat(data["at"])
    return templates.get_template(template).render(request=request, e=data).replace("\n", " ")


def _still_allowed(request: Request, *, project_id: int, user_id: int, session_id: int | None) -> bool:
    """Whether the reader is still a member with an active account (and, signed in by cookie, still signed in).

    A short session of its own, closed at once: an open stream holds no database connection.
    """
    query = (
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.project_id == project_id, Membership.user_id == user_id, User.is_active.is_(True))
    )
    if session_id is not None:
        query = query.where(
            select(UserSession.id)
            .where(UserSession.id == session_id, UserSession.user_id == user_id, UserSession.expires_at > utcnow())
            .exists()
        )
    with request.app.state.sessionmaker() as db:
        return db.scalar(query) is not None


@router.get("/projects/{project_id}/events")
async def project_events(
    request: Request, ctx: Annotated[ProjectAccess, access(Action.project_view)], principal: OptionalPrincipal,
    once: bool = False,
):  # fmt: skip
    """Live events of one project: activity, and later job progress, takes, comments.

    Every SLATE_EVENTS_RECHECK_S (30 s at most) the stream checks that its reader may still see the
    project, and ends when they were removed, their account deactivated or their session ended; the
    browser's reconnection then gets the 404 of a non-member.
    `?once=1` ends the stream after the first message (health checks and tests).
    """
    project_id, user_id = ctx.project.id, ctx.user.id
    session_id = principal.session.id if principal is not None and principal.session is not None else None
    recheck_s = get_settings().events_recheck_s

    async def stream():
        if once:
            yield {"event": "ready", "data": "{}"}
            return
        loop = asyncio.get_running_loop()
        async with hub.subscribe(project_id) as events:
            yield {"event": "ready", "data": "{}"}  # subscribed: nothing published from now on is missed
            due = loop.time() + recheck_s
            while True:
                event = await events.next(timeout=max(0.0, due - loop.time()))
                if event is not None:
                    yield {"event": event["kind"], "data": _payload(request, event)}
                if loop.time() >= due:
                    allowed = await asyncio.to_thread(_still_allowed, request, project_id=project_id,
                                                      user_id=user_id, session_id=session_id)  # fmt: skip
                    if not allowed:
                        return
                    due = loop.time() + recheck_s

    return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


project_events.streams = True  # type: ignore[attr-defined]  (the route walk asks for ?once=1)
