"""Request bodies are bounded before anything reads them: a pure ASGI middleware, `BodyLimit`.

Guarantees:
- Every request body has a cap, chosen from the route and the content type before the app runs
  (`body_cap`): JSON, urlencoded forms and any other body `SLATE_MAX_BODY_BYTES` (1 MiB); multipart
  bodies to the routes that take files (`UPLOAD_ROUTES`) `SLATE_UPLOAD_MAX_BYTES` (25 MiB), or
  `SLATE_LORA_MAX_BYTES` on the LoRA routes, plus `MULTIPART_OVERHEAD` for boundaries and the small
  fields beside the file (multipart to any other route: the 1 MiB cap); the Fountain import twice the
  screenplay limit (a 2 MB screenplay sent as JSON is up to twice as long once escaped), in any form.
  A new route that takes a file must be added to `UPLOAD_ROUTES` (tests/test_bodies.py checks it).
- A Content-Length over the cap is answered 413 without calling the app. A body without one (chunked) is
  counted as it streams: the chunk that passes the cap is never handed to the app, the read ends with 413,
  and whatever the app was going to answer is replaced by that 413. Every such 413 says
  `Connection: close`, so the server stops reading the rest instead of draining it (endlessly, for a
  chunked body that never ends).
- A caller without credentials (no session cookie, no bearer header) may send a body only to the
  sign-in and sign-up routes (`SIGN_IN_ROUTES`), at most `ANONYMOUS_MAX_BYTES`. Any other anonymous
  request that carries a body is answered 401 (a redirect to the sign-in page for browsers) before a
  byte of it is read: FastAPI parses a route's form before its dependencies run, so this cannot be
  left to the authentication dependency.
Refusals are rendered by `app.errors.error_response`: JSON `{"detail": ...}` under /api/, an error
page or htmx fragment otherwise. Files inside a multipart body are then checked one by one by
`app.media.uploads.read_upload`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.csrf import SESSION_COOKIE
from app.errors import error_response

KIB = 1024
MIB = 1024 * KIB
ANONYMOUS_MAX_BYTES = 16 * KIB  # an email, a password, a name, an invitation token and a CSRF token
MULTIPART_OVERHEAD = 64 * KIB  # boundaries, part headers, caption, weight and csrf_token beside a file
# The largest screenplay an import reads (app.screenplay.service checks it again on the text): defined here,
# beside the other caps, so that the body limit needs nothing of the screenplay domain.
SCREENPLAY_MAX_BYTES = 2 * MIB
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The only routes that read a body from a caller who is not signed in.
SIGN_IN_ROUTES = re.compile(r"/login|/signup|/invite/[^/]+|/api/v1/auth/register|/api/v1/auth/tokens")
UPLOAD_ROUTES = re.compile(r"(?:/api/v1)?/(?:characters|looks|locations)/[^/]+/references")
LORA_ROUTES = re.compile(r"(?:/api/v1)?/characters/[^/]+/lora")
FOUNTAIN_ROUTES = re.compile(r"/api/v1/projects/[^/]+/import/fountain|/projects/[^/]+/import")


def is_sign_in_route(path: str) -> bool:
    """Whether a caller without credentials may send a body to `path`."""
    return SIGN_IN_ROUTES.fullmatch(path) is not None


def size_text(n: int) -> str:
    """25 MB, 16 KB, 1 GB: sizes as people read them (binary units, as the settings are written)."""
    for unit, name in ((1024 * MIB, "GB"), (MIB, "MB"), (KIB, "KB")):
        if n >= unit:
            return f"{round(n / unit, 1):g} {name}"
    return f"{n} bytes"


@dataclass(frozen=True)
class Cap:
    limit: int  # bytes the app may read
    detail: str  # the 413's message


def body_cap(*, method: str, path: str, content_type: str, anonymous: bool, settings: Settings) -> Cap | None:
    """The cap on this request's body; None when an anonymous caller may not send one here at all."""
    if anonymous:
        if method in SAFE_METHODS or is_sign_in_route(path):
            return Cap(ANONYMOUS_MAX_BYTES, f"the form is larger than {size_text(ANONYMOUS_MAX_BYTES)}")
        return None
    if FOUNTAIN_ROUTES.fullmatch(path):
        cap = 2 * SCREENPLAY_MAX_BYTES + MULTIPART_OVERHEAD
        return Cap(cap, f"the screenplay is larger than {size_text(SCREENPLAY_MAX_BYTES)}")
    if content_type == "multipart/form-data" and (UPLOAD_ROUTES.fullmatch(path) or LORA_ROUTES.fullmatch(path)):
        upload = settings.lora_max_bytes if LORA_ROUTES.fullmatch(path) else settings.upload_max_bytes
        return Cap(upload + MULTIPART_OVERHEAD, f"the upload is larger than {size_text(upload)}")
    return Cap(settings.max_body_bytes, f"the request body is larger than {size_text(settings.max_body_bytes)}")


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body passes its cap. An HTTPException, so that FastAPI's body
    reading passes it on unchanged and the app's error handler renders it (413)."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=413, detail=detail)


def _has_credentials(headers: Headers, session_cookie: str) -> bool:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return True
    return bool(cookie_parser(headers.get("cookie", "")).get(session_cookie))


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return max(int(value), 0)
    except ValueError:
        return None


class BodyLimit:
    """Pure ASGI middleware: caps request bodies (see the module docstring); responses pass through untouched."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.session_cookie = SESSION_COOKIE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        method = scope["method"].upper()
        declared = _declared_length(headers)
        has_body = bool(declared) or "transfer-encoding" in headers
        cap = body_cap(method=method, path=scope["path"],
                       content_type=headers.get("content-type", "").partition(";")[0].strip().lower(),
                       anonymous=not _has_credentials(headers, self.session_cookie), settings=self.settings)  # fmt: skip
        if cap is None:
            if has_body:
                return await self._answer(scope, send, 401, "sign in first")
            cap = Cap(0, "sign in first")  # nothing was announced, so nothing may arrive
        if declared is not None and declared > cap.limit:
            return await self._answer(scope, send, 413, cap.detail)

        received = 0
        over = False
        started = False
        replaced = False

        async def capped_receive() -> Message:
            nonlocal received, over
            if over:
                raise BodyTooLarge(cap.detail)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap.limit:
                    over = True
                    raise BodyTooLarge(cap.detail)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the app's own answer, after its body read was cut short: dropped
            if message["type"] == "http.response.start":
                if over and message["status"] != 413:
                    replaced = True
                    return await self._answer(scope, send, 413, cap.detail)
                if over:  # the app's own 413: the server must not go on reading the rest of the body
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
                started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except BodyTooLarge:
            if started or replaced:
                raise
            await self._answer(scope, send, 413, cap.detail)

    async def _answer(self, scope: Scope, send: Send, status: int, detail: str) -> None:
        """Refuse the request without reading its body, in the form its caller reads errors."""

        async def no_body() -> Message:
            return {"type": "http.disconnect"}

        request = Request(scope, no_body)
        response = await run_in_threadpool(error_response, request, status, detail)
        response.headers["connection"] = "close"  # the unread body must not be taken for the next request
        await response(scope, no_body, send)
