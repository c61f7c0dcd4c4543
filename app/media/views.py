"""Media files, served only to members of their project, with HTTP Range for seeking."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.deps import ProjectAccess, access
from app.errors import Forbidden, NotFound
from app.media.models import MediaAsset
from app.media.store import get_store
from app.permissions import Action

router = APIRouter(tags=["media"])

AssetView = Annotated[ProjectAccess, access(Action.project_view, model=MediaAsset, param="asset_id")]


def _file(key: str | None, mime: str, name: str) -> FileResponse:
    if not key:
        raise NotFound("no such file")
    path = get_store().path(key)
    if not path.exists():
        raise NotFound("the file is missing from the media store")
    return FileResponse(path, media_type=mime, filename=name or None, content_disposition_type="inline",
                        headers={"Cache-Control": "private, max-age=86400"})  # fmt: skip


@router.get("/media/{asset_id}")
def media_file(ctx: AssetView):
    asset: MediaAsset = ctx.obj
    if asset.kind == "lora" and not ctx.can(Action.character_edit):
        # Trained weights are the team's work: viewers and clients watch what they make, they don't take them home.
        raise Forbidden("only those who edit characters can download LoRA files")
    return _file(asset.key, asset.mime, asset.original_name)


@router.get("/media/{asset_id}/thumb")
def media_thumb(ctx: AssetView):
    asset: MediaAsset = ctx.obj
    return _file(asset.thumb_key, "image/jpeg", "")
