"""Cookie names and the signed-out CSRF token, shared by the request dependencies (app/deps.py), the
templates (app/web.py) and the body limit (app/bodies.py), none of which needs the others for them."""

from __future__ import annotations

from app.auth import security
from app.config import get_settings

SESSION_COOKIE = "slate_session"
CSRF_COOKIE = "slate_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_PURPOSE = "signed-out-csrf"


def new_signed_out_csrf() -> str:
    """A signed-out browser's double-submit token (the `slate_csrf` cookie and the form field), signed with the
    instance secret: a value an attacker plants in the cookie is refused. Tests of anonymous forms use it too."""
    return security.signed_token(secret=get_settings().resolved_secret_key(), purpose=CSRF_PURPOSE)


def signed_out_csrf_ok(token: str) -> bool:
    return security.signed_token_ok(token, secret=get_settings().resolved_secret_key(), purpose=CSRF_PURPOSE)
