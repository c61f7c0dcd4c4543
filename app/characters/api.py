"""JSON API of the characters domain: characters, looks, reference pictures, LoRA, locking, versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile

from app.characters import service, versions
from app.characters.models import Character, CharacterVersion, Look, ReferenceImage
from app.characters.schemas import (
    AdvanceRead,
    AdvanceRequest,
    ChangeRead,
    CharacterCreate,
    CharacterRead,
    CharacterUpdate,
    LookCreate,
    LookRead,
    LookUpdate,
    LoraRead,
    ReferenceRead,
    ReferenceUpdate,
    ShotUseRead,
    VersionRead,
)
from app.config import get_settings
from app.deps import DB, ProjectAccess, access
from app.errors import Invalid, NotFound
from app.media.uploads import read_upload
from app.permissions import Action
from app.storyboard import usage

router = APIRouter(prefix="/api/v1", tags=["characters"])

View = Annotated[ProjectAccess, access(Action.project_view)]
Edit = Annotated[ProjectAccess, access(Action.character_edit)]
CharacterView = Annotated[ProjectAccess, access(Action.project_view, model=Character, param="character_id")]
CharacterEdit = Annotated[ProjectAccess, access(Action.character_edit, model=Character, param="character_id")]
CharacterLock = Annotated[ProjectAccess, access(Action.character_lock, model=Character, param="character_id")]
LookView = Annotated[ProjectAccess, access(Action.project_view, model=Look, param="look_id")]
LookEdit = Annotated[ProjectAccess, access(Action.character_edit, model=Look, param="look_id")]
LookLock = Annotated[ProjectAccess, access(Action.character_lock, model=Look, param="look_id")]
ReferenceEdit = Annotated[ProjectAccess, access(Action.character_edit, model=ReferenceImage, param="reference_id")]
VersionView = Annotated[ProjectAccess, access(Action.project_view, model=CharacterVersion, param="version_id")]

Latest = dict[tuple[int, int | None], int]


def reference_read(ref: ReferenceImage) -> ReferenceRead:
    return ReferenceRead(id=ref.id, asset_id=ref.asset_id, character_id=ref.character_id, look_id=ref.look_id,
                         caption=ref.caption, position=ref.position, url=f"/media/{ref.asset_id}",
                         thumb_url=f"/media/{ref.asset_id}/thumb", width=ref.asset.width,
                         height=ref.asset.height)  # fmt: skip


def look_read(look: Look, latest: Latest) -> LookRead:
    return LookRead(id=look.id, character_id=look.character_id, name=look.name, description=look.description,
                    prompt_fragment=look.prompt_fragment, negative_fragment=look.negative_fragment,
                    position=look.position, version=look.version, locked=look.locked,
                    latest_locked_version=latest.get((look.character_id, look.id)),
                    references=[reference_read(r) for r in look.references])  # fmt: skip


def lora_read(c: Character) -> LoraRead | None:
    if c.lora_asset is not None:
        a = c.lora_asset
        return LoraRead(asset_id=a.id, url=f"/media/{a.id}", filename=a.original_name, bytes=a.bytes,
                        weight=c.lora_weight)  # fmt: skip
    if c.lora_path:
        return LoraRead(path=c.lora_path, weight=c.lora_weight)
    return None


def character_read(c: Character, latest: Latest) -> CharacterRead:
    refs = [reference_read(r) for r in c.references]
    return CharacterRead(
        id=c.id, project_id=c.project_id, name=c.name, description=c.description, traits=dict(c.traits or {}),
        prompt_fragment=c.prompt_fragment, negative_fragment=c.negative_fragment, seed=c.seed, version=c.version,
        locked=c.locked, latest_locked_version=latest.get((c.id, None)), lora=lora_read(c), lora_weight=c.lora_weight,
        looks=[look_read(lk, latest) for lk in c.looks], references=refs,
        thumb_url=refs[0].thumb_url if refs else None, created_at=c.created_at, updated_at=c.updated_at,
    )  # fmt: skip


def _one(db: DB, c: Character) -> CharacterRead:
    return character_read(c, versions.latest_locked(db, character_ids=[c.id]))


def version_read(entry: service.VersionEntry) -> VersionRead:
    v = entry.version
    return VersionRead(id=v.id, character_id=v.character_id, look_id=v.look_id, look_name=entry.look_name,
                       number=v.number, locked_by_id=v.locked_by_id, locked_by=entry.locked_by, locked_at=v.locked_at,
                       data=v.data, changes=[ChangeRead(**c.__dict__) for c in entry.changes])  # fmt: skip


# ---- characters ----------------------------------------------------------------------------


@router.get("/projects/{project_id}/characters", response_model=list[CharacterRead])
def list_characters(db: DB, ctx: View):
    characters = service.list_characters(db, project_id=ctx.project.id)
    latest = versions.latest_locked(db, character_ids=[c.id for c in characters])
    return [character_read(c, latest) for c in characters]


@router.post("/projects/{project_id}/characters", status_code=201, response_model=CharacterRead)
def create_character(body: CharacterCreate, db: DB, ctx: Edit):
    values = body.model_dump()
    name = values.pop("name")
    character = service.create_character(db, actor=ctx.user, project=ctx.project, name=name, **values)
    return _one(db, character)


@router.get("/characters/{character_id}", response_model=CharacterRead)
def get_character(db: DB, ctx: CharacterView):
    return _one(db, ctx.obj)


@router.patch("/characters/{character_id}", response_model=CharacterRead)
def update_character(body: CharacterUpdate, db: DB, ctx: CharacterEdit):
    service.update_character(db, actor=ctx.user, character=ctx.obj, changes=body.model_dump(exclude_unset=True))
    return _one(db, ctx.obj)


@router.delete("/characters/{character_id}", status_code=204)
def delete_character(db: DB, ctx: CharacterEdit):
    usage.delete_character(db, actor=ctx.user, character=ctx.obj)
    return Response(status_code=204)


@router.post("/characters/{character_id}/lock", response_model=CharacterRead)
def lock_character(db: DB, ctx: CharacterLock):
    service.lock_character(db, actor=ctx.user, character=ctx.obj)
    return _one(db, ctx.obj)


@router.get("/characters/{character_id}/versions", response_model=list[VersionRead])
def list_versions(db: DB, ctx: CharacterView):
    return [version_read(e) for e in service.list_versions(db, character=ctx.obj)]


@router.get("/character-versions/{version_id}", response_model=VersionRead)
def get_version(db: DB, ctx: VersionView):
    snap: CharacterVersion = ctx.obj
    character = db.get(Character, snap.character_id)
    for entry in service.list_versions(db, character=character):
        if entry.version.id == snap.id:
            return version_read(entry)
    raise NotFound("no such version")  # pragma: no cover (the snapshot was just read)


@router.get("/characters/{character_id}/shots", response_model=list[ShotUseRead])
def character_shots(db: DB, ctx: CharacterView):
    """The shots the character is in, with the versions they are pinned to and whether a newer one is locked."""
    return [ShotUseRead(shot_id=u.shot_id, code=u.code, character_version=u.character_version, look_id=u.look_id,
                        look_name=u.look_name, look_version=u.look_version, behind=u.behind)
            for u in usage.shot_usage(db, character=ctx.obj)]  # fmt: skip


@router.post("/characters/{character_id}/advance-shots", response_model=AdvanceRead)
def advance_shots(db: DB, ctx: CharacterEdit, body: AdvanceRequest | None = None):
    character: Character = ctx.obj
    look = None
    if body is not None and body.look_id is not None:
        look = db.get(Look, body.look_id)
        if look is None or look.character_id != character.id:
            raise Invalid(f"“{character.name}” has no look with id {body.look_id}", field="look_id")
    result = usage.advance_shots(db, actor=ctx.user, character=character, look=look)
    return AdvanceRead(version=result.version, moved=len(result.codes), shots=result.codes)


# ---- reference pictures -----------------------------------------------------------------


@router.post("/characters/{character_id}/references", status_code=201, response_model=ReferenceRead)
def add_character_reference(db: DB, ctx: CharacterEdit, file: Annotated[UploadFile, File()],
                            caption: Annotated[str, Form(max_length=2000)] = ""):  # fmt: skip
    upload = read_upload(file, limit=get_settings().upload_max_bytes, what="the picture")
    ref = service.add_reference(db, actor=ctx.user, character=ctx.obj, data=upload.read(), filename=upload.filename,
                                caption=caption)  # fmt: skip
    return reference_read(ref)


@router.post("/looks/{look_id}/references", status_code=201, response_model=ReferenceRead)
def add_look_reference(db: DB, ctx: LookEdit, file: Annotated[UploadFile, File()],
                       caption: Annotated[str, Form(max_length=2000)] = ""):  # fmt: skip
    look: Look = ctx.obj
    upload = read_upload(file, limit=get_settings().upload_max_bytes, what="the picture")
    ref = service.add_reference(db, actor=ctx.user, character=look.character, look=look, data=upload.read(),
                                filename=upload.filename, caption=caption)  # fmt: skip
    return reference_read(ref)


@router.patch("/references/{reference_id}", response_model=ReferenceRead)
def update_reference(body: ReferenceUpdate, db: DB, ctx: ReferenceEdit):
    ref = service.update_reference(db, actor=ctx.user, reference=ctx.obj, caption=body.caption, position=body.position)
    return reference_read(ref)


@router.delete("/references/{reference_id}", status_code=204)
def delete_reference(db: DB, ctx: ReferenceEdit):
    service.delete_reference(db, actor=ctx.user, reference=ctx.obj)
    return Response(status_code=204)


# ---- LoRA ------------------------------------------------------------------------------------


@router.post("/characters/{character_id}/lora", response_model=CharacterRead)
def upload_lora(db: DB, ctx: CharacterEdit, file: Annotated[UploadFile, File()],
                weight: Annotated[str, Form(max_length=20)] = ""):  # fmt: skip
    character: Character = ctx.obj
    upload = read_upload(file, limit=get_settings().lora_max_bytes, what="the LoRA file")
    service.set_lora_file(db, actor=ctx.user, character=character, data=upload.file, filename=upload.filename)
    if weight.strip():
        service.update_character(db, actor=ctx.user, character=character, changes={"lora_weight": weight})
    return _one(db, character)


@router.delete("/characters/{character_id}/lora", response_model=CharacterRead)
def remove_lora(db: DB, ctx: CharacterEdit):
    service.remove_lora(db, actor=ctx.user, character=ctx.obj)
    return _one(db, ctx.obj)


# ---- looks -------------------------------------------------------------------------------------


@router.post("/characters/{character_id}/looks", status_code=201, response_model=LookRead)
def create_look(body: LookCreate, db: DB, ctx: CharacterEdit):
    values = body.model_dump()
    name = values.pop("name")
    look = service.create_look(db, actor=ctx.user, character=ctx.obj, name=name, **values)
    return look_read(look, {})


@router.get("/looks/{look_id}", response_model=LookRead)
def get_look(db: DB, ctx: LookView):
    look: Look = ctx.obj
    return look_read(look, versions.latest_locked(db, character_ids=[look.character_id]))


@router.patch("/looks/{look_id}", response_model=LookRead)
def update_look(body: LookUpdate, db: DB, ctx: LookEdit):
    look: Look = ctx.obj
    service.update_look(db, actor=ctx.user, look=look, changes=body.model_dump(exclude_unset=True))
    return look_read(look, versions.latest_locked(db, character_ids=[look.character_id]))


@router.delete("/looks/{look_id}", status_code=204)
def delete_look(db: DB, ctx: LookEdit):
    usage.delete_look(db, actor=ctx.user, look=ctx.obj)
    return Response(status_code=204)


@router.post("/looks/{look_id}/lock", response_model=LookRead)
def lock_look(db: DB, ctx: LookLock):
    look: Look = ctx.obj
    service.lock_look(db, actor=ctx.user, look=look)
    return look_read(look, versions.latest_locked(db, character_ids=[look.character_id]))
