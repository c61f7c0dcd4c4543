"""Pages of the screenplay domain: import a Fountain screenplay by pasting or uploading it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from app.deps import DB, ProjectAccess, access
from app.errors import DomainError, Invalid, is_htmx
from app.media.uploads import is_chosen, read_upload
from app.permissions import Action
from app.screenplay import service
from app.web import render

router = APIRouter(tags=["pages"], include_in_schema=False)

Edit = Annotated[ProjectAccess, access(Action.story_edit)]


def _page(ctx: ProjectAccess, **extra) -> dict:
    return {"ctx": ctx, "project": ctx.project, "max_mb": service.MAX_BYTES // (1024 * 1024), "text": "", **extra}


@router.get("/projects/{project_id}/import")
def import_page(request: Request, ctx: Edit):
    return render(request, "screenplay/import.html", _page(ctx))


@router.post("/projects/{project_id}/import")
def run_import(
    request: Request, db: DB, ctx: Edit,
    text: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
):  # fmt: skip
    try:
        if is_chosen(file):
            upload = read_upload(file, limit=service.MAX_BYTES, what="the screenplay")
            source, field = service.decode_fountain(upload.read(), field="file"), "file"
        elif text.strip():
            source, field = text, "text"
        else:
            raise Invalid("paste a screenplay or choose a .fountain file", field="text")
        report = service.import_fountain(db, actor=ctx.user, project=ctx.project, text=source, field=field)
    except DomainError as exc:
        if is_htmx(request):
            raise
        db.rollback()
        return render(request, "screenplay/import.html", _page(ctx, text=text, error=exc.detail, field=exc.field),
                      exc.status_code)  # fmt: skip
    status = 201 if report.created_anything else 200
    if is_htmx(request):
        return render(request, "screenplay/_report.html", _page(ctx, report=report), status)
    return render(request, "screenplay/import.html", _page(ctx, text=text, report=report), status)
