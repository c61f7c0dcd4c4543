"""The project's live event stream (Server-Sent Events) for its open pages."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from app.deps import ProjectAccess, access
from app.events import hub
from app.permissions import Action
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


@router.get("/projects/{project_id}/events")
async def project_events(
    request: Request, ctx: Annotated[ProjectAccess, access(Action.project_view)], once: bool = False
):
    """Live events of one project: activity, and later job progress, takes, comments.

    `?once=1` ends the stream after the first message (health checks and tests).
    """
    project_id = ctx.project.id

    async def stream():
        if once:
            yield {"event": "ready", "data": "{}"}
            return
        async with hub.subscribe(project_id) as events:
            yield {"event": "ready", "data": "{}"}  # subscribed: nothing published from now on is missed
            async for event in events:
                yield {"event": event["kind"], "data": _payload(request, event)}

    return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


project_events.streams = True  # type: ignore[attr-defined]  (the route walk asks for ?once=1)
