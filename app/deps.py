"""Typed dependencies: the request's database session, who is calling, CSRF, and project access.

`access(action)` is the one authorization check: it finds the project behind the
route (from `project_id`, or from an object that carries `project_id`), answers
404 to non-members and 403 to members whose role lacks the action.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.auth.models import User, UserSession
from app.auth.service import session_for_token, user_for_api_token
from app.bodies import is_sign_in_route
from app.config import get_settings
from app.csrf import (  # re-exported: routes and tests import them from here
    CSRF_COOKIE,
    CSRF_HEADER,
    CSRF_PURPOSE,
    SAFE_METHODS,
    SESSION_COOKIE,
    new_signed_out_csrf,
    signed_out_csrf_ok,
)
from app.db import commit, discard_pending, row_id
from app.errors import Forbidden, NotFound, Unauthenticated
from app.permissions import Action, Role, can
from app.projects.models import Membership, Project
from app.projects.service import get_membership


def get_db(request: Request) -> Iterator[Session]:
    """One session per request, committed once when the handler returns (then queued tasks are sent)."""
    db: Session = request.app.state.sessionmaker()
    try:
        yield db
        commit(db)
    except BaseException:
        db.rollback()
        discard_pending(db)
        raise
    finally:
        db.close()


DB = Annotated[Session, Depends(get_db, scope="function")]


@dataclass(frozen=True)
class Me:
    """Who is signed in, as plain values: error pages render it after the request's rollback."""

    id: int
    email: str
    display_name: str
    is_admin: bool


@dataclass
class Principal:
    user: User
    session: UserSession | None  # None when the caller used a bearer token
    me: Me | None = None
    csrf_token: str | None = None

    def __post_init__(self) -> None:
        u = self.user
        self.me = Me(id=u.id, email=u.email, display_name=u.display_name, is_admin=u.is_admin)
        self.csrf_token = self.session.csrf_token if self.session is not None else None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def get_principal(request: Request, db: DB) -> Principal | None:
    """Who is calling: a bearer token wins over the session cookie."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    principal: Principal | None = None
    token = _bearer(request)
    if token is not None:
        user = user_for_api_token(db, token=token)
        if user is None:
            raise Unauthenticated("that access token is not valid")
        principal = Principal(user=user, session=None)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        sess = session_for_token(db, token=cookie)
        if sess is not None:
            principal = Principal(user=sess.user, session=sess)
    request.state.principal = principal
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(get_principal)]


async def csrf_protect(request: Request, principal: OptionalPrincipal) -> None:
    """Every state-changing request made with browser credentials carries the CSRF token.

    Signed-in browsers send the session's token (htmx as the X-CSRF-Token header,
    forms as a `csrf_token` field); signed-out forms (sign in, sign up) use a
    double-submit cookie. Bearer-token calls carry no ambient credentials and are exempt.
    """
    if request.method in SAFE_METHODS:
        return
    if principal is not None and principal.session is None:
        return
    if principal is None and not is_sign_in_route(request.url.path):
        # Nothing of an anonymous body is read outside sign-in and sign-up (app/bodies.py refuses most
        # before they get here): the answer is "sign in", whatever the form holds.
        raise Unauthenticated("sign in first")
    if principal is not None:
        expected = principal.csrf_token
    elif request.url.path.startswith("/api/") and SESSION_COOKIE not in request.cookies:
        return  # anonymous API call from a script: nothing ambient to protect
    else:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        expected = cookie if signed_out_csrf_ok(cookie) else ""  # a value this server did not sign is no token
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        sent = str(form.get("csrf_token", ""))
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise Forbidden("the form expired or came from another site (CSRF check failed); reload the page and try again")


def _names_an_id(name: str) -> bool:
    return name == "id" or name.endswith("_id")


def known_ids(request: Request) -> None:
    """Ids in the path or the query that no row can have (not a whole number, or past the column's range) are
    unknown ids: 404, like any other, before anything reaches SQL. An empty query value is left to the route."""
    for name, raw in request.path_params.items():
        if _names_an_id(name) and row_id(raw) is None:
            raise NotFound("not found")
    for name, raw in request.query_params.multi_items():
        if _names_an_id(name) and raw.strip() and row_id(raw) is None:
            raise NotFound("not found")


def require_user(principal: OptionalPrincipal) -> User:
    if principal is None:
        raise Unauthenticated("sign in first")
    return principal.user


CurrentUser = Annotated[User, Depends(require_user)]


def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("only an instance admin can do that")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


@dataclass
class ProjectAccess:
    """What a project-scoped route gets: the caller, the project, their role and the object addressed."""

    user: User
    project: Project
    membership: Membership
    obj: Any = None

    @property
    def role(self) -> Role:
        return Role(self.membership.role)

    def can(self, action: Action | str) -> bool:
        return can(self.role, action)


class Access:
    """Dependency: the caller must be a member of the route's project with a role allowed `action`.

    `model`/`param`: for routes addressed by another object (`/shots/{shot_id}`), the
    model whose row carries `project_id`. The route walker in the tests finds these.
    """

    def __init__(self, action: Action, *, model: type | None = None, param: str = "project_id") -> None:
        self.action = Action(action)
        self.model = model
        self.param = param

    def __call__(self, request: Request, db: DB, user: CurrentUser) -> ProjectAccess:
        ident = row_id(request.path_params.get(self.param, ""))
        if ident is None:
            raise NotFound("no such project" if self.model is None else "not found")
        obj = None
        if self.model is None:
            project_id = ident
        else:
            obj = db.get(self.model, ident)
            if obj is None:
                raise NotFound("not found")
            project_id = obj.project_id
        membership = get_membership(db, project_id=project_id, user_id=user.id)
        if membership is None:
            raise NotFound("no such project" if self.model is None else "not found")
        if not can(membership.role, self.action):
            raise Forbidden(f"a {membership.role} cannot do that here ({self.action.value})")
        return ProjectAccess(user=user, project=membership.project, membership=membership, obj=obj)


def access(action: Action, *, model: type | None = None, param: str = "project_id") -> Any:
    """`Annotated[ProjectAccess, access(Action.x)]` on a route."""
    return Depends(Access(action, model=model, param=param))


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_key(request: Request) -> str:
    """The caller's address, the one the sign-in and sign-up throttles count against.

    The TCP peer, unless the peer is one of `SLATE_TRUSTED_PROXIES`: then the
    right-most `X-Forwarded-For` entry that is not itself a trusted proxy (each proxy
    appends the address it saw; anything to the left of that was written by the
    client). An entry that is not an address stops the walk at the last trusted hop.
    """
    peer = request.client.host if request.client else "unknown"
    networks = _networks(tuple(get_settings().trusted_proxies))
    if not networks:
        return peer

    def trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return addr is not None and any(addr in net for net in networks)

    current = _address(peer)
    if not trusted(current):
        return peer
    hops = [h for line in request.headers.getlist("x-forwarded-for") for h in line.split(",") if h.strip()]
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:
            break
        current = addr
        if not trusted(addr):
            break
    return str(current)
