"""The project's activity page (the whole feed, filtered by kind and person, page by page) and its live event
stream (Server-Sent Events) for its open pages."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sse_starlette import EventSourceResponse

from app.activity.service import list_events
from app.auth.models import User, UserSession
from app.config import get_settings
from app.db import row_id, utcnow
from app.deps import DB, OptionalPrincipal, ProjectAccess, access
from app.errors import NotFound, is_htmx
from app.events import hub
from app.permissions import Action
from app.projects.models import Membership
from app.projects.service import list_members
from app.web import render, templates

router = APIRouter(tags=["pages"], include_in_schema=False)

View = Annotated[ProjectAccess, access(Action.project_view)]
FEED_PAGE = 30

# The kinds of activity people filter by: a label and the verbs (by prefix) that belong to it.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "story": ("Scenes and shots", ("scene.", "scenes.", "shot.", "shots.", "screenplay.")),
    "generation": ("Takes and renders", ("generation.", "take.", "review.")),
    "characters": ("Characters", ("character.", "look.")),
    "design": ("Locations and style", ("location.", "style.")),
    "team": ("Team", ("member.", "invitation.")),
    "project": ("Project", ("project.",)),
}


@router.get("/projects/{project_id}/activity")
def activity_page(request: Request, db: DB, ctx: View, before: str = "", kind: str = "", person: str = ""):
    """The project's activity, newest first, 30 at a time.

    htmx asks for the next page of the overview's feed (`before`, no filters) and gets only the items; a browser
    gets the whole page. An unknown kind or someone who is not on the team is ignored and the page says so; a
    `before` that is not an event id is a 404 (an unknown id, as everywhere).
    """
    before_id = row_id(before) if before.strip() else None
    if before.strip() and before_id is None:
        raise NotFound("not found")
    if is_htmx(request) and not (kind or person):
        events = list_events(db, project_id=ctx.project.id, before_id=before_id, limit=FEED_PAGE)
        return render(request, "projects/_feed.html", {"project": ctx.project, "events": events,
                                                       "feed_page": FEED_PAGE})  # fmt: skip
    members = list_members(db, project=ctx.project)
    people = sorted(((m.user_id, m.user.display_name) for m in members), key=lambda p: p[1].casefold())
    notes = []
    kind = kind.strip()
    if kind and kind not in KINDS:
        notes.append(f"There is no kind of activity called “{kind[:40]}”: showing every kind.")
        kind = ""
    person_id = row_id(person) if person.strip() else None
    if person.strip() and person_id not in {pid for pid, _ in people}:
        notes.append("That person is not on the team: showing everyone.")
        person_id = None
    events = list_events(db, project_id=ctx.project.id, before_id=before_id, limit=FEED_PAGE,
                         verb_prefixes=KINDS[kind][1] if kind else (), actor_id=person_id)  # fmt: skip
    filters = {k: v for k, v in (("kind", kind), ("person", person_id)) if v}
    return render(request, "activity/page.html", {
        "ctx": ctx, "project": ctx.project, "events": events, "kinds": KINDS, "people": people, "kind": kind,
        "person_id": person_id, "filters": filters, "notes": notes, "before": before_id,
        "older": events[-1].id if len(events) == FEED_PAGE else None, "live": not filters and before_id is None,
    })  # fmt: skip

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
