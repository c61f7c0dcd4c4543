"""Domain errors, and the one place where they become HTTP answers.

Services raise these; views and API routes never build error responses by hand.
API callers get JSON `{"detail": ...}`; htmx requests get an error fragment;
page requests get an error page. The page and the fragment are drawn by the `page` function
the app factory passes to `install_error_handlers` (app/web.py's `error_page`): this module
imports nothing of the app, so every other module may import it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

# The base error and Invalid (422) are shared with the workers: the camera vocabulary raises Invalid.
from workers.vocabulary import DomainError, Invalid

__all__ = ["Conflict", "DomainError", "ErrorPage", "Forbidden", "Invalid", "NotFound", "TooLarge", "TooMany",
           "Unauthenticated", "Unsupported", "error_response", "install_error_handlers"]  # fmt: skip

ErrorPage = Callable[[Request, int, str], Response]  # (request, status, detail) -> a page or an htmx fragment


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class Unauthenticated(DomainError):
    status_code = 401


class TooMany(DomainError):
    status_code = 429

    def __init__(self, detail: str, *, field: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(detail, field=field)
        self.retry_after = retry_after  # seconds; sent as Retry-After


class TooLarge(DomainError):
    status_code = 413


class Unsupported(DomainError):
    status_code = 415


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        msg = err.get("msg", "invalid value")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid input"


def error_response(request: Request, status: int, detail: str, extra: dict | None = None) -> Response:
    """Render one error for whoever asked: JSON, an htmx fragment or a page."""
    if wants_json(request):
        body: dict[str, Any] = {"detail": detail}
        if extra:
            body.update(extra)
        return JSONResponse(body, status_code=status)
    if status == 401:
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": f"/login?next={nxt}"})
        return RedirectResponse(f"/login?next={nxt}", status_code=303)
    page: ErrorPage | None = getattr(request.app.state, "error_page", None)
    if page is None:  # an app without templates (install_error_handlers without `page`)
        return PlainTextResponse(detail, status_code=status)
    return page(request, status, detail)


def install_error_handlers(app: FastAPI, *, page: ErrorPage | None = None) -> None:
    """Map domain errors and framework errors to answers, in one place; `page` draws them for browsers."""
    app.state.error_page = page

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        extra = {"field": exc.field} if exc.field else None
        resp = error_response(request, exc.status_code, exc.detail, extra)
        if isinstance(exc, TooMany) and exc.retry_after:
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        return error_response(request, 409, "that conflicts with something that already exists")

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:
        # Ids are range-checked before SQL (deps.known_ids, db.row_id); this catches any other number past its
        # column's range (PostgreSQL SQLSTATE 22003) as bad input. Other data errors stay server errors.
        if getattr(exc.orig, "sqlstate", None) == "22003":
            return error_response(request, 422, "a number is out of range")
        raise exc

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if wants_json(request):
            safe = [{"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
            return JSONResponse({"detail": _validation_message(errors), "errors": safe}, status_code=422)
        return error_response(request, 422, _validation_message(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        resp = error_response(request, exc.status_code, detail)
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp
