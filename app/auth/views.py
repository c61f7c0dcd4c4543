"""Pages: sign up, sign in, sign out, account and access tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.auth import service
from app.auth.signup import register
from app.config import get_settings
from app.db import commit
from app.deps import DB, SESSION_COOKIE, CurrentUser, OptionalPrincipal, client_key
from app.errors import DomainError, Invalid, TooMany, Unauthenticated
from app.projects.service import invitation_for_token, unclaimed_demo
from app.system.service import signup_mode
from app.web import redirect, render, safe_next

router = APIRouter(tags=["pages"], include_in_schema=False)


def _signed_in(request: Request, db: DB, user, target: str) -> Response:
    token, _ = service.start_session(db, user=user, user_agent=request.headers.get("user-agent", ""))
    resp = redirect(target, request=request)
    settings = get_settings()
    resp.set_cookie(SESSION_COOKIE, token, max_age=settings.session_days * 86400, httponly=True, samesite="lax",
                    secure=settings.secure_cookies, path="/")  # fmt: skip
    return resp


def _retry_after(exc: DomainError, resp: Response) -> Response:
    """A throttled form says when to come back, as the JSON API does."""
    if isinstance(exc, TooMany) and exc.retry_after:
        resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


@router.get("/login")
def login_page(request: Request, principal: OptionalPrincipal, next: str | None = None):
    if principal is not None:
        return redirect(safe_next(next))
    return render(request, "auth/login.html", {"next": safe_next(next, ""), "email": ""})


@router.post("/login")
def login(
    request: Request,
    db: DB,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
):
    if not email.strip() or not password:
        field = "email" if not email.strip() else "password"
        ctx = {"error": "enter your e-mail address and password", "field": field, "email": email, "next": next}
        return render(request, "auth/login.html", ctx, 422)
    try:
        user = service.authenticate(db, email=email, password=password, client=client_key(request))
    except (Unauthenticated, DomainError) as exc:
        status = 401 if isinstance(exc, Unauthenticated) else exc.status_code
        ctx = {"error": exc.detail, "email": email, "next": next}
        return _retry_after(exc, render(request, "auth/login.html", ctx, status))
    return _signed_in(request, db, user, safe_next(next))


@router.get("/signup")
def signup_page(request: Request, db: DB, principal: OptionalPrincipal, invite: str | None = None):
    if principal is not None:
        return redirect(f"/invite/{invite}" if invite else "/projects")
    first = service.user_count(db) == 0
    ctx = {"invite": invite or "", "mode": signup_mode(db), "first": first, "values": {},
           "demo": first and unclaimed_demo(db)}  # fmt: skip
    if invite:
        try:
            ctx["invitation"] = invitation_for_token(db, token=invite)
        except DomainError as exc:
            ctx["error"] = exc.detail
    return render(request, "auth/signup.html", ctx)


@router.post("/signup")
def signup(
    request: Request,
    db: DB,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    display_name: Annotated[str, Form(max_length=80)] = "",
    invite: Annotated[str, Form(max_length=200)] = "",
):
    try:
        user = register(db, email=email, password=password, display_name=display_name, invitation=invite or None,
                        client=client_key(request))  # fmt: skip
    except DomainError as exc:
        db.rollback()  # nothing half-written: the page is shown again with what was typed
        ctx = {"invite": invite, "mode": signup_mode(db), "first": service.user_count(db) == 0, "error": exc.detail,
               "field": exc.field, "values": {"email": email, "display_name": display_name}}  # fmt: skip
        return _retry_after(exc, render(request, "auth/signup.html", ctx, exc.status_code))
    target = "/projects"
    if invite:
        from app.projects.models import Membership
        from sqlalchemy import select

        pid = db.scalar(select(Membership.project_id).where(Membership.user_id == user.id).order_by(Membership.id.desc()))
        target = f"/projects/{pid}" if pid else target
    return _signed_in(request, db, user, target)


@router.post("/logout")
def logout(request: Request, db: DB, user: CurrentUser):
    service.end_session(db, token=request.cookies.get(SESSION_COOKIE, ""))
    resp = redirect("/login", flash="You are signed out.", kind="info", request=request)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/account")
def account_page(request: Request, db: DB, user: CurrentUser):
    return render(request, "auth/account.html", {"tokens": service.list_api_tokens(db, user=user)})


@router.post("/account/tokens")
def create_token(
    request: Request,
    db: DB,
    user: CurrentUser,
    name: Annotated[str, Form(max_length=80)] = "",
    expires_days: Annotated[str, Form(max_length=5)] = "",
):
    try:
        if expires_days.strip() and not expires_days.strip().isdigit():
            raise Invalid("a token expires after a whole number of days, or leave it empty for never",
                          field="expires_days")  # fmt: skip
        days = int(expires_days) if expires_days.strip() else None
        token, row = service.create_api_token(db, user=user, name=name, expires_days=days)
    except DomainError as exc:
        db.rollback()
        ctx = {"tokens": service.list_api_tokens(db, user=user), "error": exc.detail, "field": exc.field,
               "values": {"name": name, "expires_days": expires_days}}  # fmt: skip
        return render(request, "auth/account.html", ctx, exc.status_code)
    commit(db)
    ctx = {"tokens": service.list_api_tokens(db, user=user), "new_token": token, "new_token_name": row.name}
    return render(request, "auth/account.html", ctx, 201)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, db: DB, user: CurrentUser):
    row = service.revoke_api_token(db, user=user, token_id=token_id)
    return redirect("/account", flash=f"Token “{row.name}” revoked.", request=request)
