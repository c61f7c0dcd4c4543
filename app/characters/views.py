"""Pages of the characters domain: the library grid and the character editor (looks, references, versions)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from sqlalchemy.orm import Session

from app.characters import service, versions
from app.characters.models import Character, Look, ReferenceImage
from app.config import get_settings
from app.deps import DB, ProjectAccess, access
from app.errors import DomainError, Invalid, is_htmx
from app.media.uploads import is_chosen, read_upload
from app.permissions import Action
from app.storyboard import usage
from app.web import redirect, render

router = APIRouter(tags=["pages"], include_in_schema=False)

View = Annotated[ProjectAccess, access(Action.project_view)]
Edit = Annotated[ProjectAccess, access(Action.character_edit)]
CharacterView = Annotated[ProjectAccess, access(Action.project_view, model=Character, param="character_id")]
CharacterEdit = Annotated[ProjectAccess, access(Action.character_edit, model=Character, param="character_id")]
CharacterLock = Annotated[ProjectAccess, access(Action.character_lock, model=Character, param="character_id")]
LookEdit = Annotated[ProjectAccess, access(Action.character_edit, model=Look, param="look_id")]
LookLock = Annotated[ProjectAccess, access(Action.character_lock, model=Look, param="look_id")]
ReferenceEdit = Annotated[ProjectAccess, access(Action.character_edit, model=ReferenceImage, param="reference_id")]

BLANK_TRAIT_ROWS = 2
Text = Annotated[str, Form(max_length=20000)]


def _trait_rows(traits: dict[str, str]) -> list[dict[str, Any]]:
    """The editor's rows: the standard traits always, then the character's own, then blank rows to add more."""
    rows = [{"key": k, "label": label, "value": traits.get(k, ""), "fixed": True}
            for k, label in service.STANDARD_TRAITS.items()]  # fmt: skip
    rows += [{"key": k, "label": k.replace("_", " "), "value": v, "fixed": False}
             for k, v in traits.items() if k not in service.STANDARD_TRAITS]  # fmt: skip
    rows += [{"key": "", "label": "", "value": "", "fixed": False} for _ in range(BLANK_TRAIT_ROWS)]
    return rows


def _values(c: Character) -> dict[str, Any]:
    return {"name": c.name, "description": c.description, "prompt_fragment": c.prompt_fragment,
            "negative_fragment": c.negative_fragment, "seed": "" if c.seed is None else str(c.seed),
            "trait_rows": _trait_rows(dict(c.traits or {}))}  # fmt: skip


def _editor(db: Session, ctx: ProjectAccess, character: Character, **extra: Any) -> dict[str, Any]:
    latest = versions.latest_locked(db, character_ids=[character.id])
    shots = usage.shot_usage(db, character=character, latest=latest)
    behind_looks: dict[int, dict[str, Any]] = {}
    for use in shots:
        if use.look_behind and use.look_id is not None:
            entry = behind_looks.setdefault(use.look_id, {"look_id": use.look_id, "name": use.look_name, "codes": [],
                                                          "version": latest.get((character.id, use.look_id))})  # fmt: skip
            entry["codes"].append(use.code)
    return {
        "ctx": ctx, "project": ctx.project, "character": character, "latest": latest, "shots": shots,
        "behind_character": [u.code for u in shots if u.character_behind],
        "behind_looks": list(behind_looks.values()),
        "history": service.list_versions(db, character=character),
        "draft_changes": service.draft_changes(db, subject=character),
        "editable": ctx.can(Action.character_edit), "can_lock": ctx.can(Action.character_lock),
        "values": _values(character), "STANDARD_TRAITS": service.STANDARD_TRAITS, "max_upload_mb": get_settings().upload_max_bytes // (1024 * 1024),
        **extra,
    }  # fmt: skip


def _library(db: Session, ctx: ProjectAccess, **extra: Any) -> dict[str, Any]:
    characters = service.list_characters(db, project_id=ctx.project.id)
    return {"ctx": ctx, "project": ctx.project, "characters": characters,
            "latest": versions.latest_locked(db, character_ids=[c.id for c in characters]),
            "editable": ctx.can(Action.character_edit), "values": {}, **extra}  # fmt: skip


# ---- library ---------------------------------------------------------------------------------


@router.get("/projects/{project_id}/characters")
def library_page(request: Request, db: DB, ctx: View):
    return render(request, "characters/library.html", _library(db, ctx))


@router.post("/projects/{project_id}/characters")
def create_character(request: Request, db: DB, ctx: Edit, name: Annotated[str, Form(max_length=500)] = "",
                     description: Text = "", prompt_fragment: Text = ""):  # fmt: skip
    values = {"name": name, "description": description, "prompt_fragment": prompt_fragment}
    try:
        character = service.create_character(db, actor=ctx.user, project=ctx.project, **values)
    except DomainError as exc:
        db.rollback()
        return render(request, "characters/library.html", _library(db, ctx, values=values, error=exc.detail,
                      field=exc.field), exc.status_code)  # fmt: skip
    return redirect(f"/characters/{character.id}", flash=f"“{character.name}” joined the cast.", request=request)


# ---- the character editor -----------------------------------------------------------------------


@router.get("/characters/{character_id}")
def character_page(request: Request, db: DB, ctx: CharacterView):
    return render(request, "characters/character.html", _editor(db, ctx, ctx.obj))


@router.post("/characters/{character_id}")
def save_character(
    request: Request, db: DB, ctx: CharacterEdit,
    name: Annotated[str, Form(max_length=500)] = "",
    description: Text = "", prompt_fragment: Text = "", negative_fragment: Text = "",
    seed: Annotated[str, Form(max_length=40)] = "",
    trait_key: Annotated[list[str], Form(max_length=200)] = [],  # noqa: B006 (FastAPI copies defaults)
    trait_value: Annotated[list[str], Form(max_length=2000)] = [],  # noqa: B006
):  # fmt: skip
    character: Character = ctx.obj
    rows = list(zip(trait_key, trait_value, strict=False))
    changes: dict[str, Any] = {"name": name, "description": description, "prompt_fragment": prompt_fragment,
                               "negative_fragment": negative_fragment}  # fmt: skip
    if seed.strip():
        changes["seed"] = seed
    version_before = character.version
    try:
        if len(trait_key) != len(trait_value):
            raise Invalid("every trait needs a name and a value", field="traits")
        changes["traits"] = service.traits_from_rows(rows)
        service.update_character(db, actor=ctx.user, character=character, changes=changes)
    except DomainError as exc:
        db.rollback()
        values = {**changes, "seed": seed, "trait_rows": [
            {"key": k, "label": service.STANDARD_TRAITS.get(k, k), "value": v, "fixed": k in service.STANDARD_TRAITS}
            for k, v in rows]}  # fmt: skip
        return render(request, "characters/character.html", {**_editor(db, ctx, character), "values": values,
                      "error": exc.detail, "field": exc.field}, exc.status_code)  # fmt: skip
    note = f" Version {character.version} started; version {version_before} stays locked." \
        if character.version != version_before else ""  # fmt: skip
    return redirect(f"/characters/{character.id}", flash=f"Saved.{note}", request=request)


@router.post("/characters/{character_id}/lock")
def lock_character(request: Request, db: DB, ctx: CharacterLock):
    snap = service.lock_character(db, actor=ctx.user, character=ctx.obj)
    return redirect(f"/characters/{ctx.obj.id}", flash=f"“{ctx.obj.name}” is locked at version {snap.number}.",
                    request=request)  # fmt: skip


@router.post("/characters/{character_id}/delete")
def delete_character(request: Request, db: DB, ctx: CharacterEdit):
    name = ctx.obj.name
    usage.delete_character(db, actor=ctx.user, character=ctx.obj)
    return redirect(f"/projects/{ctx.project.id}/characters", flash=f"“{name}” deleted.", request=request)


@router.post("/characters/{character_id}/advance-shots")
def advance_shots(request: Request, db: DB, ctx: CharacterEdit, look_id: Annotated[str, Form(max_length=20)] = ""):
    character: Character = ctx.obj
    look = None
    if look_id.strip():
        look = next((lk for lk in character.looks if str(lk.id) == look_id.strip()), None)
        if look is None:
            raise Invalid("that look is not one of this character's", field="look_id")
    result = usage.advance_shots(db, actor=ctx.user, character=character, look=look)
    what = f"{look.name} v{result.version}" if look else f"v{result.version}"
    text = (f"Moved {len(result.codes)} shot{'s' if len(result.codes) != 1 else ''} to {what}."
            if result.codes else "No shot was on an older version.")  # fmt: skip
    return redirect(f"/characters/{character.id}#shots", flash=text, request=request)


# ---- reference pictures (htmx: the block updates in place) --------------------------------------------------


def _refs_fragment(request: Request, ctx: ProjectAccess, character: Character, look: Look | None):
    subject = look or character
    return render(request, "characters/_references.html", {
        "ctx": ctx, "project": ctx.project, "subject": subject, "kind": "look" if look else "character",
        "character": character, "editable": True, "oob_status": True,
        "max_upload_mb": get_settings().upload_max_bytes // (1024 * 1024),
    })  # fmt: skip


def _after_refs(request: Request, ctx: ProjectAccess, character: Character, look: Look | None, flash: str):
    if is_htmx(request):
        return _refs_fragment(request, ctx, character, look)
    anchor = f"#look-{look.id}" if look else "#references"
    return redirect(f"/characters/{character.id}{anchor}", flash=flash, request=request)


def _upload_refs(db: Session, ctx: ProjectAccess, character: Character, look: Look | None,
                 files: list[UploadFile], caption: str) -> int:  # fmt: skip
    files = [f for f in files if is_chosen(f)]
    if not files:
        raise Invalid("choose a picture to upload (PNG, JPEG or WebP)", field="file")
    limit = get_settings().upload_max_bytes
    for upload in files:
        try:
            data = read_upload(upload, limit=limit, what="the picture").read()
            service.add_reference(db, actor=ctx.user, character=character, look=look, data=data,
                                  filename=upload.filename or "", caption=caption)  # fmt: skip
        except DomainError as exc:
            if len(files) == 1:
                raise
            raise type(exc)(f"{upload.filename or 'a file'}: {exc.detail}", field=exc.field) from None
    return len(files)


@router.post("/characters/{character_id}/references")
def upload_character_references(request: Request, db: DB, ctx: CharacterEdit,
                                file: Annotated[list[UploadFile], File()],
                                caption: Annotated[str, Form(max_length=2000)] = ""):  # fmt: skip
    character: Character = ctx.obj
    n = _upload_refs(db, ctx, character, None, file, caption)
    return _after_refs(request, ctx, character, None, f"{n} reference picture{'s' if n != 1 else ''} added.")


@router.post("/looks/{look_id}/references")
def upload_look_references(request: Request, db: DB, ctx: LookEdit, file: Annotated[list[UploadFile], File()],
                           caption: Annotated[str, Form(max_length=2000)] = ""):  # fmt: skip
    look: Look = ctx.obj
    n = _upload_refs(db, ctx, look.character, look, file, caption)
    return _after_refs(request, ctx, look.character, look, f"{n} reference picture{'s' if n != 1 else ''} added.")


@router.post("/references/{reference_id}")
def caption_reference(request: Request, db: DB, ctx: ReferenceEdit, caption: Annotated[str, Form(max_length=2000)]):
    character, look = service.reference_subject(db, reference=ctx.obj)
    service.update_reference(db, actor=ctx.user, reference=ctx.obj, caption=caption)
    return _after_refs(request, ctx, character, look, "Caption saved.")


@router.post("/references/{reference_id}/move")
def move_reference(request: Request, db: DB, ctx: ReferenceEdit, direction: Annotated[str, Form(max_length=10)]):
    character, look = service.reference_subject(db, reference=ctx.obj)
    service.move_reference(db, actor=ctx.user, reference=ctx.obj, direction=direction)
    return _after_refs(request, ctx, character, look, "Moved.")


@router.post("/references/{reference_id}/delete")
def delete_reference(request: Request, db: DB, ctx: ReferenceEdit):
    character, look = service.reference_subject(db, reference=ctx.obj)
    service.delete_reference(db, actor=ctx.user, reference=ctx.obj)
    return _after_refs(request, ctx, character, look, "Reference picture removed.")


# ---- LoRA ------------------------------------------------------------------------------------------


@router.post("/characters/{character_id}/lora")
def upload_lora(request: Request, db: DB, ctx: CharacterEdit, file: Annotated[UploadFile, File()]):
    character: Character = ctx.obj
    if not is_chosen(file):
        raise Invalid("choose a .safetensors file to upload", field="file")
    upload = read_upload(file, limit=get_settings().lora_max_bytes, what="the LoRA file")
    service.set_lora_file(db, actor=ctx.user, character=character, data=upload.file, filename=upload.filename)
    return redirect(f"/characters/{character.id}#lora", flash="LoRA uploaded.", request=request)


@router.post("/characters/{character_id}/lora/settings")
def lora_settings(request: Request, db: DB, ctx: CharacterEdit, lora_path: Annotated[str, Form(max_length=2000)] = "",
                  lora_weight: Annotated[str, Form(max_length=20)] = ""):  # fmt: skip
    character: Character = ctx.obj
    changes: dict[str, Any] = {}
    if lora_weight.strip():
        changes["lora_weight"] = lora_weight
    if lora_path.strip() or character.lora_path:
        changes["lora_path"] = lora_path
    service.update_character(db, actor=ctx.user, character=character, changes=changes)
    return redirect(f"/characters/{character.id}#lora", flash="LoRA settings saved.", request=request)


@router.post("/characters/{character_id}/lora/remove")
def remove_lora(request: Request, db: DB, ctx: CharacterEdit):
    service.remove_lora(db, actor=ctx.user, character=ctx.obj)
    return redirect(f"/characters/{ctx.obj.id}#lora", flash="LoRA removed.", request=request)


# ---- looks (htmx: the looks block updates in place) -------------------------------------------------------


def _looks_fragment(request: Request, db: Session, ctx: ProjectAccess, character: Character, **extra: Any):
    return render(request, "characters/_looks.html", {
        "ctx": ctx, "project": ctx.project, "character": character, "editable": True,
        "can_lock": ctx.can(Action.character_lock), "max_upload_mb": get_settings().upload_max_bytes // (1024 * 1024),
        **extra,
    })  # fmt: skip


def _after_looks(request: Request, db: Session, ctx: ProjectAccess, character: Character, anchor: str, flash: str):
    if is_htmx(request):
        db.expire(character, ["looks"])
        return _looks_fragment(request, db, ctx, character)
    return redirect(f"/characters/{character.id}{anchor}", flash=flash, request=request)


@router.post("/characters/{character_id}/looks")
def create_look(request: Request, db: DB, ctx: CharacterEdit, name: Annotated[str, Form(max_length=500)] = "",
                description: Text = "", prompt_fragment: Text = "", negative_fragment: Text = ""):  # fmt: skip
    character: Character = ctx.obj
    look = service.create_look(db, actor=ctx.user, character=character, name=name, description=description,
                               prompt_fragment=prompt_fragment, negative_fragment=negative_fragment)  # fmt: skip
    return _after_looks(request, db, ctx, character, f"#look-{look.id}", f"Look “{look.name}” added.")


@router.post("/looks/{look_id}")
def save_look(request: Request, db: DB, ctx: LookEdit, name: Annotated[str, Form(max_length=500)] = "",
              description: Text = "", prompt_fragment: Text = "", negative_fragment: Text = ""):  # fmt: skip
    look: Look = ctx.obj
    service.update_look(db, actor=ctx.user, look=look, changes={
        "name": name, "description": description, "prompt_fragment": prompt_fragment,
        "negative_fragment": negative_fragment})  # fmt: skip
    return _after_looks(request, db, ctx, look.character, f"#look-{look.id}", f"Look “{look.name}” saved.")


@router.post("/looks/{look_id}/delete")
def delete_look(request: Request, db: DB, ctx: LookEdit):
    look: Look = ctx.obj
    character, name = look.character, look.name
    usage.delete_look(db, actor=ctx.user, look=look)
    return _after_looks(request, db, ctx, character, "#looks", f"Look “{name}” deleted.")


@router.post("/looks/{look_id}/lock")
def lock_look(request: Request, db: DB, ctx: LookLock):
    look: Look = ctx.obj
    snap = service.lock_look(db, actor=ctx.user, look=look)
    return redirect(f"/characters/{look.character_id}#look-{look.id}",
                    flash=f"Look “{look.name}” is locked at version {snap.number}.", request=request)  # fmt: skip
