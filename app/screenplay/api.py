"""JSON API of the screenplay domain: Fountain import."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.deps import DB, ProjectAccess, access
from app.errors import Invalid, TooLarge
from app.media.uploads import read_upload
from app.permissions import Action
from app.screenplay import service
from app.screenplay.schemas import ImportReportRead

router = APIRouter(prefix="/api/v1", tags=["screenplay"])

Edit = Annotated[ProjectAccess, access(Action.story_edit)]

_LIMIT_MB = service.MAX_BYTES // (1024 * 1024)
_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "description": f"The screenplay (UTF-8, at most {_LIMIT_MB} MB): the Fountain text itself, a multipart "
        "upload in the field `file`, or JSON `{\"text\": \"...\"}`.",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                           "required": ["file"]},
            },
            "application/json": {
                "schema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
            },
        },
    }
}  # fmt: skip


async def _read_body(request: Request, *, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the screenplay is larger than {_LIMIT_MB} MB", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


async def fountain_source(request: Request) -> tuple[str, str]:
    """The screenplay text from the request body, in whichever form it came, and the field it came in.

    The whole body is capped before this runs (app/bodies.py: twice the screenplay limit on this route)."""
    json_limit = 2 * service.MAX_BYTES + 64 * 1024  # JSON escapes may double the size of the text
    ctype = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form()
        upload = form.get("file")
        if upload is not None and not isinstance(upload, str):
            screenplay = read_upload(upload, limit=service.MAX_BYTES, what="the screenplay")
            return service.decode_fountain(screenplay.read(), field="file"), "file"
        text = form.get("text")
        if isinstance(text, str):
            return text, "text"
        raise Invalid("send the screenplay as a file in the form field “file” (or as text in “text”)", field="file")
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            payload = json.loads(await _read_body(request, limit=json_limit))
        except (ValueError, UnicodeDecodeError):
            raise Invalid('the body is not valid JSON; send {"text": "<the screenplay>"}', field="text") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
            raise Invalid('send the screenplay as {"text": "<the screenplay>"}', field="text")
        return payload["text"], "text"
    data = await _read_body(request, limit=service.MAX_BYTES + 1)
    return service.decode_fountain(data, field="body"), "body"


@router.post("/projects/{project_id}/import/fountain", response_model=ImportReportRead, openapi_extra=_OPENAPI_BODY,
             responses={201: {"model": ImportReportRead, "description": "something was created"}})  # fmt: skip
def import_fountain(
    response: Response, db: DB, ctx: Edit, source: Annotated[tuple[str, str], Depends(fountain_source)]
):
    """Import a Fountain screenplay: 201 when it created scenes, shots or characters, 200 when nothing was new."""
    text, field = source
    report = service.import_fountain(db, actor=ctx.user, project=ctx.project, text=text, field=field)
    response.status_code = 201 if report.created_anything else 200
    return ImportReportRead.model_validate(report)
