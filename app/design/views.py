"""Pages of the design domain: the locations-and-style page, the location editor, the style editor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import row_id
from app.deps import DB, ProjectAccess, access
from app.design import service
from app.design.models import Location, StylePreset
from app.errors import DomainError, Invalid, is_htmx
from app.media.uploads import is_chosen, read_upload
from app.permissions import Action
from app.storyboard import usage
from app.web import redirect, render

router = APIRouter(tags=["pages"], include_in_schema=False)

View = Annotated[ProjectAccess, access(Action.project_view)]
Edit = Annotated[ProjectAccess, access(Action.story_edit)]
LocationView = Annotated[ProjectAccess, access(Action.project_view, model=Location, param="location_id")]
LocationEdit = Annotated[ProjectAccess, access(Action.story_edit, model=Location, param="location_id")]
StyleView = Annotated[ProjectAccess, access(Action.project_view, model=StylePreset, param="style_id")]
StyleEdit = Annotated[ProjectAccess, access(Action.story_edit, model=StylePreset, param="style_id")]

TextField = Annotated[str, Form(max_length=20000)]
FragmentField = Annotated[str, Form(max_length=8000)]


def _fields(name: str, description: str, prompt_fragment: str, negative_fragment: str) -> dict[str, str]:
    return {"name": name, "description": description, "prompt_fragment": prompt_fragment,
            "negative_fragment": negative_fragment}  # fmt: skip


def _reference_id(raw: str) -> int:
    ident = row_id(raw)
    if ident is None:
        raise Invalid("say which reference picture (reference_id)", field="reference_id")
    return ident


def _design_ctx(db: Session, ctx: ProjectAccess, **extra: Any) -> dict[str, Any]:
    pid = ctx.project.id
    return {
        "ctx": ctx,
        "project": ctx.project,
        "locations": service.list_locations(db, project_id=pid),
        "location_shots": usage.location_shot_counts(db, project_id=pid),
        "styles": service.list_styles(db, project_id=pid),
        "style_shots": usage.style_shot_counts(db, project_id=pid),
        "presets": service.STYLE_PRESETS,
        "presets_added": service.presets_added(db, project_id=pid),
        "values": {},
        **extra,
    }


def _design_page(request: Request, db: Session, ctx: ProjectAccess, status: int = 200, **extra: Any):
    return render(request, "design/index.html", _design_ctx(db, ctx, **extra), status)


def _styles_panel(request: Request, db: Session, ctx: ProjectAccess):
    """The styles panel alone (htmx), or a redirect back to the page."""
    if is_htmx(request):
        return render(request, "design/_styles.html", _design_ctx(db, ctx))
    return redirect(f"/projects/{ctx.project.id}/design#styles")


@router.get("/projects/{project_id}/design")
def design_page(request: Request, db: DB, ctx: View):
    return _design_page(request, db, ctx)


@router.post("/projects/{project_id}/locations")
def create_location(
    request: Request, db: DB, ctx: Edit,
    name: Annotated[str, Form(max_length=500)] = "", description: TextField = "",
    prompt_fragment: FragmentField = "", negative_fragment: FragmentField = "",
):  # fmt: skip
    values = _fields(name, description, prompt_fragment, negative_fragment)
    try:
        loc = service.create_location(db, actor=ctx.user, project_id=ctx.project.id, **values)
    except DomainError as exc:
        db.rollback()
        return _design_page(request, db, ctx, exc.status_code, form="location", values=values, error=exc.detail,
                            field=exc.field)  # fmt: skip
    return redirect(f"/locations/{loc.id}", flash=f"Location “{loc.name}” added. Give it reference pictures.",
                    request=request)  # fmt: skip


@router.post("/projects/{project_id}/styles")
def create_style(
    request: Request, db: DB, ctx: Edit,
    name: Annotated[str, Form(max_length=500)] = "", description: TextField = "",
    prompt_fragment: FragmentField = "", negative_fragment: FragmentField = "",
    is_default: Annotated[str, Form(max_length=10)] = "",
):  # fmt: skip
    values = _fields(name, description, prompt_fragment, negative_fragment)
    try:
        style = service.create_style(db, actor=ctx.user, project_id=ctx.project.id, is_default=bool(is_default),
                                     **values)  # fmt: skip
    except DomainError as exc:
        db.rollback()
        return _design_page(request, db, ctx, exc.status_code, form="style", values=values, error=exc.detail,
                            field=exc.field)  # fmt: skip
    note = " It is the project's default." if style.is_default else ""
    return redirect(f"/projects/{ctx.project.id}/design#styles", flash=f"Style “{style.name}” added.{note}",
                    request=request)  # fmt: skip


@router.post("/projects/{project_id}/styles/presets")
def add_preset(request: Request, db: DB, ctx: Edit, preset: Annotated[str, Form(max_length=80)] = ""):
    try:
        style = service.add_preset_style(db, actor=ctx.user, project_id=ctx.project.id, key=preset)
    except DomainError as exc:
        db.rollback()
        if is_htmx(request):
            raise
        return _design_page(request, db, ctx, exc.status_code, form="preset", error=exc.detail, field="preset")
    if is_htmx(request):
        return render(request, "design/_styles.html", _design_ctx(db, ctx, added_style=style))
    return redirect(f"/projects/{ctx.project.id}/design#styles", flash=f"Style “{style.name}” added.", request=request)


# ---- the location editor --------------------------------------------------------------------


def _location_ctx(db: Session, ctx: ProjectAccess, **extra: Any) -> dict[str, Any]:
    loc: Location = ctx.obj
    db.refresh(loc, ["references"])
    values = {k: getattr(loc, k) for k in service.LOCATION_FIELDS}
    return {"ctx": ctx, "project": ctx.project, "location": loc, "values": values,
            "shots": usage.shots_using_location(db, location_id=loc.id), **extra}  # fmt: skip


@router.get("/locations/{location_id}")
def location_page(request: Request, db: DB, ctx: LocationView):
    return render(request, "design/location.html", _location_ctx(db, ctx))


@router.post("/locations/{location_id}")
def save_location(
    request: Request, db: DB, ctx: LocationEdit,
    name: Annotated[str, Form(max_length=500)] = "", description: TextField = "",
    prompt_fragment: FragmentField = "", negative_fragment: FragmentField = "",
):  # fmt: skip
    values = _fields(name, description, prompt_fragment, negative_fragment)
    try:
        service.update_location(db, actor=ctx.user, location=ctx.obj, changes=values)
    except DomainError as exc:
        db.rollback()
        page = _location_ctx(db, ctx, error=exc.detail, field=exc.field)
        page["values"] = values
        return render(request, "design/location.html", page, exc.status_code)
    return redirect(f"/locations/{ctx.obj.id}", flash="Location saved.", request=request)


@router.post("/locations/{location_id}/references")
def upload_location_references(
    request: Request, db: DB, ctx: LocationEdit,
    file: Annotated[list[UploadFile] | None, File()] = None,
    caption: Annotated[str, Form(max_length=2000)] = "",
):  # fmt: skip
    uploads = [f for f in file or [] if is_chosen(f)]
    limit = get_settings().upload_max_bytes
    try:
        if not uploads:
            raise Invalid("choose a picture to upload (PNG, JPEG or WebP)", field="file")
        for upload in uploads:
            try:
                data = read_upload(upload, limit=limit, what="the picture").read()
                service.add_location_reference(db, actor=ctx.user, location=ctx.obj, data=data,
                                               filename=upload.filename or "", caption=caption)  # fmt: skip
            except DomainError as exc:
                if len(uploads) > 1:
                    exc.detail = f"{upload.filename}: {exc.detail}"
                raise
    except DomainError as exc:
        db.rollback()
        page = _location_ctx(db, ctx, upload_error=exc.detail, caption=caption)
        return render(request, "design/location.html", page, exc.status_code)
    added = "Reference picture added." if len(uploads) == 1 else f"{len(uploads)} reference pictures added."
    return redirect(f"/locations/{ctx.obj.id}#references", flash=added, request=request)


def _references_answer(request: Request, db: Session, ctx: ProjectAccess, flash: str):
    if is_htmx(request):
        return render(request, "design/_references.html", _location_ctx(db, ctx))
    return redirect(f"/locations/{ctx.obj.id}#references", flash=flash, request=request)


@router.post("/locations/{location_id}/references/caption")
def caption_location_reference(
    request: Request, db: DB, ctx: LocationEdit,
    reference_id: Annotated[str, Form(max_length=20)] = "", caption: Annotated[str, Form(max_length=2000)] = "",
):  # fmt: skip
    service.caption_location_reference(db, actor=ctx.user, location=ctx.obj, reference_id=_reference_id(reference_id),
                                       caption=caption)  # fmt: skip
    return _references_answer(request, db, ctx, "Caption saved.")


@router.post("/locations/{location_id}/references/delete")
def delete_location_reference(
    request: Request, db: DB, ctx: LocationEdit, reference_id: Annotated[str, Form(max_length=20)] = ""
):
    service.remove_location_reference(db, actor=ctx.user, location=ctx.obj, reference_id=_reference_id(reference_id))
    return _references_answer(request, db, ctx, "Reference picture removed.")


@router.post("/locations/{location_id}/delete")
def delete_location(
    request: Request, db: DB, ctx: LocationEdit, confirm_shots: Annotated[str, Form(max_length=12)] = ""
):
    loc: Location = ctx.obj
    shots = usage.shots_using_location(db, location_id=loc.id)
    if shots and confirm_shots.strip() != str(shots):
        return render(request, "design/confirm_delete.html", {"ctx": ctx, "project": ctx.project, "kind": "location",
                      "name": loc.name, "action": f"/locations/{loc.id}/delete", "back": f"/locations/{loc.id}",
                      "shots": shots}, 409)  # fmt: skip
    name, pid = loc.name, loc.project_id
    usage.delete_location(db, actor=ctx.user, location=loc)
    note = f" {shots} shot{'s' if shots != 1 else ''} no longer have a location." if shots else ""
    return redirect(f"/projects/{pid}/design", flash=f"Location “{name}” deleted.{note}", request=request)


# ---- the style editor -----------------------------------------------------------------------


def _style_ctx(db: Session, ctx: ProjectAccess, **extra: Any) -> dict[str, Any]:
    style: StylePreset = ctx.obj
    values = {k: getattr(style, k) for k in service.STYLE_FIELDS}
    return {"ctx": ctx, "project": ctx.project, "style": style, "values": values,
            "shots": usage.shots_using_style(db, style_id=style.id), **extra}  # fmt: skip


@router.get("/styles/{style_id}")
def style_page(request: Request, db: DB, ctx: StyleView):
    return render(request, "design/style.html", _style_ctx(db, ctx))


@router.post("/styles/{style_id}")
def save_style(
    request: Request, db: DB, ctx: StyleEdit,
    name: Annotated[str, Form(max_length=500)] = "", description: TextField = "",
    prompt_fragment: FragmentField = "", negative_fragment: FragmentField = "",
):  # fmt: skip
    values = _fields(name, description, prompt_fragment, negative_fragment)
    try:
        service.update_style(db, actor=ctx.user, style=ctx.obj, changes=values)
    except DomainError as exc:
        db.rollback()
        page = _style_ctx(db, ctx, error=exc.detail, field=exc.field)
        page["values"] = values
        return render(request, "design/style.html", page, exc.status_code)
    return redirect(f"/styles/{ctx.obj.id}", flash="Style saved.", request=request)


@router.post("/styles/{style_id}/default")
def make_default(request: Request, db: DB, ctx: StyleEdit, next: Annotated[str, Form(max_length=20)] = ""):
    service.set_default_style(db, actor=ctx.user, style=ctx.obj)
    if next == "style":
        return redirect(f"/styles/{ctx.obj.id}", flash=f"“{ctx.obj.name}” is now the default style.", request=request)
    return _styles_panel(request, db, ctx)


@router.post("/styles/{style_id}/delete")
def delete_style(request: Request, db: DB, ctx: StyleEdit, confirm_shots: Annotated[str, Form(max_length=12)] = ""):
    style: StylePreset = ctx.obj
    shots = usage.shots_using_style(db, style_id=style.id)
    if shots and confirm_shots.strip() != str(shots):
        return render(request, "design/confirm_delete.html", {"ctx": ctx, "project": ctx.project, "kind": "style",
                      "name": style.name, "action": f"/styles/{style.id}/delete", "back": f"/styles/{style.id}",
                      "shots": shots}, 409)  # fmt: skip
    name, pid, was_default = style.name, style.project_id, style.is_default
    usage.delete_style(db, actor=ctx.user, style=style)
    note = f" {shots} shot{'s' if shots != 1 else ''} no longer have a style of their own." if shots else ""
    heir = service.default_style(db, project_id=pid) if was_default else None
    if heir is not None:
        note += f" “{heir.name}” is now the default."
    return redirect(f"/projects/{pid}/design#styles", flash=f"Style “{name}” deleted.{note}", request=request)
