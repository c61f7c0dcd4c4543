"""Sign-up rules shared by the page and the API (they span accounts, instance settings and projects)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.auth import service
from app.auth.models import User
from app.errors import Forbidden
from app.projects.service import accept_invitation, create_account, invitation_for_token
from app.system.service import signup_mode


def register(
    db: Session, *, email: str, password: str, display_name: str, invitation: str | None = None, client: str
) -> User:
    """Create an account if sign-up is open (or the invitation is good), then accept the invitation.

    Every attempt counts against the client address's hourly sign-up limit, kept or refused.
    """
    service.throttle_signup(db, client=client)
    first = service.user_count(db) == 0
    if not first and signup_mode(db) == "invite":
        if not invitation:
            raise Forbidden("sign-up on this Slate is by invitation only; ask a project owner for a link")
    if invitation:
        invitation_for_token(db, token=invitation)  # says clearly why a link cannot be used, before anything is written
    user = create_account(db, email=email, password=password, display_name=display_name)
    if invitation:
        accept_invitation(db, user=user, token=invitation)
    return user
