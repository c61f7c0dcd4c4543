"""JSON API of the design domain: locations with their reference pictures, and style presets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile
from sqlalchemy.orm import Session

from app.characters.models import ReferenceImage
from app.config import get_settings
from app.deps import DB, ProjectAccess, access
from app.design import service
from app.design.models import Location, StylePreset
from app.design.schemas import (
    LocationCreate,
    LocationRead,
    LocationUpdate,
    PresetRead,
    ReferenceRead,
    StyleCreate,
    StyleFromPreset,
    StyleRead,
    StyleUpdate,
)
from app.media.uploads import read_upload
from app.permissions import Action
from app.storyboard import usage

router = APIRouter(prefix="/api/v1", tags=["design"])

View = Annotated[ProjectAccess, access(Action.project_view)]
Edit = Annotated[ProjectAccess, access(Action.story_edit)]
LocationView = Annotated[ProjectAccess, access(Action.project_view, model=Location, param="location_id")]
LocationEdit = Annotated[ProjectAccess, access(Action.story_edit, model=Location, param="location_id")]
StyleView = Annotated[ProjectAccess, access(Action.project_view, model=StylePreset, param="style_id")]
StyleEdit = Annotated[ProjectAccess, access(Action.story_edit, model=StylePreset, param="style_id")]


def reference_read(ref: ReferenceImage) -> ReferenceRead:
    return ReferenceRead(id=ref.id, asset_id=ref.asset_id, location_id=ref.location_id, caption=ref.caption,
                         position=ref.position, url=f"/media/{ref.asset_id}", thumb_url=f"/media/{ref.asset_id}/thumb",
                         width=ref.asset.width, height=ref.asset.height, created_at=ref.created_at)  # fmt: skip


def location_read(loc: Location, shot_count: int) -> LocationRead:
    refs = [reference_read(r) for r in loc.references]
    return LocationRead(id=loc.id, project_id=loc.project_id, name=loc.name, description=loc.description,
                        prompt_fragment=loc.prompt_fragment, negative_fragment=loc.negative_fragment,
                        thumb_url=refs[0].thumb_url if refs else None, references=refs, shot_count=shot_count,
                        created_at=loc.created_at, updated_at=loc.updated_at)  # fmt: skip


def _one_location(db: Session, loc: Location) -> LocationRead:
    db.refresh(loc, ["references"])
    return location_read(loc, usage.shots_using_location(db, location_id=loc.id))


def style_read(style: StylePreset, shot_count: int = 0) -> StyleRead:
    out = StyleRead.model_validate(style)
    out.shot_count = shot_count
    return out


def _one_style(db: Session, style: StylePreset) -> StyleRead:
    return style_read(style, usage.shots_using_style(db, style_id=style.id))


# ---- locations ----------------------------------------------------------------------------


@router.get("/projects/{project_id}/locations", response_model=list[LocationRead])
def list_locations(db: DB, ctx: View):
    counts = usage.location_shot_counts(db, project_id=ctx.project.id)
    return [location_read(loc, counts.get(loc.id, 0)) for loc in service.list_locations(db, project_id=ctx.project.id)]


@router.post("/projects/{project_id}/locations", status_code=201, response_model=LocationRead)
def create_location(body: LocationCreate, db: DB, ctx: Edit):
    loc = service.create_location(db, actor=ctx.user, project_id=ctx.project.id, **body.model_dump(exclude_unset=True))
    return _one_location(db, loc)


@router.get("/locations/{location_id}", response_model=LocationRead)
def get_location(db: DB, ctx: LocationView):
    return _one_location(db, ctx.obj)


@router.patch("/locations/{location_id}", response_model=LocationRead)
def update_location(body: LocationUpdate, db: DB, ctx: LocationEdit):
    service.update_location(db, actor=ctx.user, location=ctx.obj, changes=body.model_dump(exclude_unset=True))
    return _one_location(db, ctx.obj)


@router.delete("/locations/{location_id}", status_code=204)
def delete_location(db: DB, ctx: LocationEdit):
    usage.delete_location(db, actor=ctx.user, location=ctx.obj)
    return Response(status_code=204)


@router.post("/locations/{location_id}/references", status_code=201, response_model=ReferenceRead)
def add_location_reference(
    db: DB, ctx: LocationEdit, file: Annotated[UploadFile, File()],
    caption: Annotated[str, Form(max_length=2000)] = "",
):  # fmt: skip
    upload = read_upload(file, limit=get_settings().upload_max_bytes, what="the picture")
    ref = service.add_location_reference(db, actor=ctx.user, location=ctx.obj, data=upload.read(),
                                         filename=upload.filename, caption=caption)  # fmt: skip
    return reference_read(ref)


# ---- styles -------------------------------------------------------------------------------


@router.get("/projects/{project_id}/styles", response_model=list[StyleRead])
def list_styles(db: DB, ctx: View):
    counts = usage.style_shot_counts(db, project_id=ctx.project.id)
    return [style_read(s, counts.get(s.id, 0)) for s in service.list_styles(db, project_id=ctx.project.id)]


@router.post("/projects/{project_id}/styles", status_code=201, response_model=StyleRead)
def create_style(body: StyleCreate, db: DB, ctx: Edit):
    style = service.create_style(db, actor=ctx.user, project_id=ctx.project.id, **body.model_dump(exclude_unset=True))
    return style_read(style)


@router.get("/projects/{project_id}/style-presets", response_model=list[PresetRead])
def list_presets(db: DB, ctx: View):
    added = service.presets_added(db, project_id=ctx.project.id)
    return [
        PresetRead(key=p.key, name=p.name, description=p.description, prompt_fragment=p.prompt_fragment,
                   negative_fragment=p.negative_fragment, added=p.key in added)
        for p in service.STYLE_PRESETS
    ]  # fmt: skip


@router.post("/projects/{project_id}/style-presets", status_code=201, response_model=StyleRead)
def add_preset(body: StyleFromPreset, db: DB, ctx: Edit):
    style = service.add_preset_style(db, actor=ctx.user, project_id=ctx.project.id, key=body.preset)
    return style_read(style)


@router.get("/styles/{style_id}", response_model=StyleRead)
def get_style(db: DB, ctx: StyleView):
    return _one_style(db, ctx.obj)


@router.patch("/styles/{style_id}", response_model=StyleRead)
def update_style(body: StyleUpdate, db: DB, ctx: StyleEdit):
    changes = body.model_dump(exclude_unset=True)
    service.update_style(db, actor=ctx.user, style=ctx.obj, changes=changes)
    return _one_style(db, ctx.obj)


@router.delete("/styles/{style_id}", status_code=204)
def delete_style(db: DB, ctx: StyleEdit):
    usage.delete_style(db, actor=ctx.user, style=ctx.obj)
    return Response(status_code=204)


@router.post("/styles/{style_id}/default", response_model=StyleRead)
def make_default(db: DB, ctx: StyleEdit):
    service.set_default_style(db, actor=ctx.user, style=ctx.obj)
    return _one_style(db, ctx.obj)
