"""Frames over HTTP: the picture of a shot card, and the sketch of a character or location without a reference.

Members only (a non-member gets 404, like any unknown id). A URL carries the version of what it shows
(`?v=`: the take or the sketch's inputs hash): asked with the current version, the answer is cached for
a year, since a new take or a change of camera gives the card a new URL; asked without it, it is
revalidated each time (ETag, 304).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from app.characters.models import Character
from app.deps import DB, ProjectAccess, access
from app.design.models import Location
from app.errors import NotFound
from app.frames import service
from app.media.store import get_store
from app.permissions import Action
from app.storyboard.models import Shot

router = APIRouter(tags=["pages"], include_in_schema=False)

ShotView = Annotated[ProjectAccess, access(Action.project_view, model=Shot, param="shot_id")]
CharacterView = Annotated[ProjectAccess, access(Action.project_view, model=Character, param="character_id")]
LocationView = Annotated[ProjectAccess, access(Action.project_view, model=Location, param="location_id")]

FOREVER = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"


def _picture(request: Request, key: str, token: str) -> Response:
    """The JPEG under `key`, with caching by version token."""
    path = get_store().path(key) if key else None
    if path is None or not path.exists():
        raise NotFound("the picture is missing from the media store")
    etag = f'"{token}"'
    cache = FOREVER if token and request.query_params.get("v") == token else REVALIDATE
    headers = {"Cache-Control": cache, "ETag": etag}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type="image/jpeg", headers=headers)


@router.get("/shots/{shot_id}/frame")
def shot_frame(request: Request, db: DB, ctx: ShotView):
    """The shot's frame: its approved take's poster, else its newest take's, else its sketch (drawn now if needed)."""
    key, token = service.frame_file(db, shot=ctx.obj)
    return _picture(request, key, token)


@router.get("/characters/{character_id}/picture")
def character_picture(request: Request, db: DB, ctx: CharacterView):
    """The sketch of a character drawn from its name and description (cards show a reference instead if any)."""
    key, token = service.card_sketch(db, row=ctx.obj)
    return _picture(request, key, token)


@router.get("/locations/{location_id}/picture")
def location_picture(request: Request, db: DB, ctx: LocationView):
    """The sketch of a location drawn from its name and description (cards show a reference instead if any)."""
    key, token = service.card_sketch(db, row=ctx.obj)
    return _picture(request, key, token)
