"""Templating: one `render()` for pages and htmx fragments, flash messages, redirects."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.auth.service import session_for_token
from app.config import get_settings
from app.csrf import CSRF_COOKIE, SESSION_COOKIE, new_signed_out_csrf, signed_out_csrf_ok
from app.deps import Principal
from app.errors import is_htmx
from app.permissions import ROLE_LABELS, Action, Role, can

ROOT = Path(__file__).resolve().parent.parent
FLASH_COOKIE = "slate_flash"

templates = Jinja2Templates(directory=str(ROOT / "templates"))
templates.env.globals.update(
    can=can,
    Action=Action,
    Role=Role,
    ROLE_LABELS=ROLE_LABELS,
    roles=list(Role),
)


def _fmt_duration(seconds: float | int | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h} h {m:02d} min" if h else (f"{m} min {s:02d} s" if m else f"{s} s")


templates.env.filters["duration"] = _fmt_duration


def _sentence(text: str | None) -> str:
    """A service's message as a sentence for a page: "the project needs a name" -> "The project needs a name."."""
    text = (text or "").strip()
    if not text:
        return ""
    text = text[:1].upper() + text[1:]
    return text if text[-1] in '.!?…)”"' else text + "."


templates.env.filters["sentence"] = _sentence


def csrf_token(request: Request) -> str:
    """The token forms and htmx send back: the session's, or the signed-out double-submit cookie."""
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal.csrf_token is not None:
        return principal.csrf_token
    token = request.cookies.get(CSRF_COOKIE)
    if not token or not signed_out_csrf_ok(token):  # none yet, or one this server did not sign: a new one
        token = getattr(request.state, "new_csrf", None)
    if not token:
        token = new_signed_out_csrf()
        request.state.new_csrf = token
    return token


def render(request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    """Render a page, or the fragment an htmx request asked for."""
    principal = getattr(request.state, "principal", None)
    flash = request.cookies.get(FLASH_COOKIE)
    ctx = {
        "request": request,
        "user": principal.me if principal else None,
        "csrf_token": csrf_token(request),
        "flash": _decode_flash(flash) if flash else None,
        "settings": get_settings(),
    }
    ctx.update(context or {})
    resp = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    if flash:
        resp.delete_cookie(FLASH_COOKIE, path="/")
    _set_csrf_cookie(request, resp)
    return resp


def error_page(request: Request, status: int, detail: str) -> Response:
    """An error for a browser: the error page, or for htmx a fragment shown in the flash area."""
    _identify(request)
    if is_htmx(request):
        # htmx ignores 4xx swaps by default; tell it to show the fragment in the flash area.
        resp = render(request, "_error.html", {"status": status, "detail": detail}, status_code=status)
        resp.headers["HX-Retarget"] = "#flash"
        resp.headers["HX-Reswap"] = "innerHTML"
        return resp
    rejected = getattr(request.state, "form_errors", None)
    if rejected is not None and request.method == "POST":
        return render(request, "form_rejected.html", {"status": status, "detail": detail, "errors": rejected,
                      "back": safe_referer(request)}, status_code=status)  # fmt: skip
    return render(request, "error.html", {"status": status, "detail": detail}, status_code=status)


def safe_referer(request: Request) -> str | None:
    """The page a form was posted from, when it is one of this site's own pages."""
    ref = urllib.parse.urlsplit(request.headers.get("referer", ""))
    if ref.netloc and ref.netloc != request.url.netloc:
        return None
    path = ref.path + (f"?{ref.query}" if ref.query else "")
    return safe_next(path, "") or None


def _identify(request: Request) -> None:
    """Errors raised before any route ran (an unknown URL) still show who is signed in."""
    if hasattr(request.state, "principal"):
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return
    with request.app.state.sessionmaker() as db:
        sess = session_for_token(db, token=cookie)
        request.state.principal = Principal(user=sess.user, session=sess) if sess else None
        db.rollback()


def _set_csrf_cookie(request: Request, resp: Response) -> None:
    new = getattr(request.state, "new_csrf", None)
    if new:
        resp.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="lax", secure=get_settings().secure_cookies, path="/")


def _decode_flash(raw: str) -> dict[str, str] | None:
    kind, _, text = urllib.parse.unquote(raw).partition("|")
    return {"kind": kind if kind in ("ok", "error", "info") else "info", "text": text[:500]} if text else None


def redirect(url: str, *, flash: str | None = None, kind: str = "ok", request: Request | None = None) -> Response:
    """303 to `url` (an htmx request gets HX-Redirect), with an optional flash message."""
    if request is not None and request.headers.get("hx-request") == "true":
        resp: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        resp = RedirectResponse(url, status_code=303)
    if flash:
        resp.set_cookie(FLASH_COOKIE, urllib.parse.quote(f"{kind}|{flash}"), max_age=60, path="/", samesite="lax")
    return resp


def safe_next(url: str | None, default: str = "/projects") -> str:
    """Only same-site paths may be redirect targets."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url
