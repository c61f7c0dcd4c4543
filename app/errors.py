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
           "Unauthenticated", "Unsupported", "describe_error", "describe_errors", "error_response", "field_label",
           "install_error_handlers"]  # fmt: skip

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


# ---- validation in words: what a form shows when the framework rejects a field ------------------------------

# How a field is named in a sentence, where its parameter name is not already the word a person would use.
FIELD_LABELS = {
    "gpu_budget_s": "GPU budget", "duration_s": "duration", "fps": "frame rate", "display_name": "display name",
    "lens_mm": "lens", "expires_days": "expiry", "days": "number of days", "prompt_fragment": "prompt fragment",
    "negative_fragment": "negative fragment", "negative_prompt": "negative prompt", "lora_weight": "LoRA weight",
    "lora_path": "LoRA path", "csrf_token": "security token", "confirm_name": "confirmation", "takes": "number of takes",
    "email": "e-mail address", "file": "file", "index": "position",
}  # fmt: skip


def field_label(name: str) -> str:
    """The words for a form field: `gpu_budget_s` -> "GPU budget", `display_name` -> "display name"."""
    return FIELD_LABELS.get(name, name.replace("_", " ").strip() or "value")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _number(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def describe_error(err: dict[str, Any], bounds: tuple[Any, Any] | None = None) -> tuple[str | None, str]:
    """One pydantic/FastAPI validation error as (field, a sentence a film team reads), e.g. "Name is required.".

    `bounds` are the field's (lowest, highest) allowed values where known, so that a number out of range reads
    "Takes must be between 1 and 16." whichever side it crossed."""
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header", "cookie")]
    field = next((p for p in reversed(loc) if not p.isdigit()), None)
    label = field_label(field) if field else "value"
    kind = str(err.get("type", ""))
    c = err.get("ctx") or {}
    lo, hi = bounds or (None, None)
    if kind == "missing":
        return field, f"{_cap(label)} is required."
    if kind == "string_too_long":
        return field, f"The {label} is at most {_plural(c.get('max_length'), 'character')}."
    if kind == "string_too_short":
        return field, f"The {label} needs at least {_plural(c.get('min_length'), 'character')}."
    if kind in ("too_long", "too_short"):
        side = "at most" if kind == "too_long" else "at least"
        return field, f"Give {side} {_plural(c.get('max_length', c.get('min_length')), 'value')} for the {label}."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return field, f"Enter a whole number for the {label}."
    if kind in ("float_parsing", "float_type", "decimal_parsing", "finite_number"):
        return field, f"Enter a number for the {label}."
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        if lo is not None and hi is not None:
            return field, f"{_cap(label)} must be between {_number(lo)} and {_number(hi)}."
        limit = _number(next(iter(c.values()), "?"))
        words = {"greater_than_equal": "at least", "greater_than": "more than", "less_than_equal": "at most",
                 "less_than": "less than"}  # fmt: skip
        return field, f"{_cap(label)} must be {words[kind]} {limit}."
    if kind == "bool_parsing" or kind == "bool_type":
        return field, f"Choose yes or no for the {label}."
    if kind in ("literal_error", "enum"):
        return field, f"Choose one of {c.get('expected', 'the listed values')} for the {label}."
    if kind in ("string_type", "list_type", "dict_type", "model_type", "model_attributes_type"):
        return field, f"The {label} is not in the form Slate expects."
    if kind == "value_error":
        msg = str(err.get("msg", "")).removeprefix("Value error, ").strip()
        return field, _cap(msg.rstrip(".")) + "." if msg else f"The {label} is not valid."
    if kind == "json_invalid":
        return None, "The request is not valid JSON."
    if kind == "extra_forbidden":
        return field, f"Slate does not know the field “{label}”."
    return field, f"The {label} is not valid."


def _route_bounds(request: Request) -> dict[str, tuple[Any, Any]]:
    """The (lowest, highest) bounds the route declares on its plain parameters, by name."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return {}
    out: dict[str, tuple[Any, Any]] = {}
    for param in [*dependant.query_params, *dependant.path_params, *dependant.body_params]:
        lo = hi = None
        for m in getattr(param.field_info, "metadata", ()):
            lo = getattr(m, "ge", getattr(m, "gt", lo))
            hi = getattr(m, "le", getattr(m, "lt", hi))
        if lo is not None and hi is not None:
            out[param.alias or param.name] = (lo, hi)
    return out


def describe_errors(request: Request, errors: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    """Every validation error of a request as (field, sentence), without repeats, at most eight."""
    bounds = _route_bounds(request)
    seen: list[tuple[str | None, str]] = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        item = describe_error(err, bounds.get(loc[-1]) if loc else None)
        if item not in seen:
            seen.append(item)
    return seen[:8]


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
        # A browser gets the sentences; the page drawer shows them with a way back to the typed form.
        request.state.form_errors = describe_errors(request, errors)
        return error_response(request, 422, " ".join(sentence for _, sentence in request.state.form_errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        resp = error_response(request, exc.status_code, detail)
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp
