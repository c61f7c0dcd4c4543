"""Accounts, sign-in, sessions and personal access tokens."""

from __future__ import annotations

import datetime as dt
import secrets

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.auth import security
from app.auth.models import ApiToken, LoginFailure, SignupAttempt, User, UserSession
from app.config import get_settings
from app.db import utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound, TooMany, Unauthenticated

TOKEN_PREFIX = "slt_"
COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "password12", "password123", "1234567890", "0123456789",
        "qwertyuiop", "123456789a", "iloveyou12", "letmein123", "welcome123", "adminadmin",
        "changeme123", "abcdefghij", "qwerty1234", "1q2w3e4r5t", "slateslate",
    }
)  # fmt: skip
SESSION_TOUCH = dt.timedelta(minutes=5)


def normalize_email(email: str) -> str:
    """A valid, lower-cased address or `Invalid`."""
    email = (email or "").strip()
    if len(email) > 254:
        raise Invalid("that e-mail address is too long", field="email")
    try:
        info = validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise Invalid(f"that is not a valid e-mail address ({exc})", field="email") from None
    return info.normalized.lower()


def check_password(password: str, *, email: str = "") -> None:
    """Refuse weak passwords with a message that says why."""
    settings = get_settings()
    if len(password) < settings.min_password_length:
        raise Invalid(f"the password needs at least {settings.min_password_length} characters", field="password")
    if len(password) > 256:
        raise Invalid("the password is too long (256 characters at most)", field="password")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        raise Invalid("that password is too easy to guess", field="password")
    if email and lowered == email.lower().split("@")[0]:
        raise Invalid("the password must not be your e-mail name", field="password")


def clean_display_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise Invalid("please give a display name", field="display_name")
    if len(name) > 80:
        raise Invalid("the display name is too long (80 characters at most)", field="display_name")
    return name


def user_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(User)) or 0


def get_user_by_email(db: Session, *, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(db: Session, *, email: str, password: str, display_name: str, is_admin: bool = False) -> User:
    """Create an account; the very first account on an instance is its admin."""
    email = normalize_email(email)
    check_password(password, email=email)
    display_name = clean_display_name(display_name)
    if get_user_by_email(db, email=email) is not None:
        raise Conflict("an account with that e-mail already exists", field="email")
    first = user_count(db) == 0
    user = User(
        email=email,
        display_name=display_name,
        password_hash=security.hash_password(password),
        is_admin=is_admin or first,
    )
    db.add(user)
    db.flush()
    return user


def _failure_key(email: str, client: str) -> str:
    return f"{email.strip().lower()[:254]}|{client[:40]}"


def _wait_text(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return f"{seconds} seconds" if seconds < 60 else ("1 minute" if minutes == 1 else f"{minutes} minutes")


def _take_slot(db: Session, *, model: type[LoginFailure] | type[SignupAttempt], key: str, limit: int,
               window_s: int) -> int | None:  # fmt: skip
    """Record one attempt for `key`, then count the window's attempts including it.

    The row is committed on a connection of its own before it is counted, so each of
    several parallel attempts sees at least every attempt committed before its own:
    at most `limit` of them get a slot, however they interleave. Returns None when
    the attempt got a slot; otherwise removes it again (a refusal does not extend the
    wait) and returns the seconds until the oldest attempt leaves the window.
    """
    now = utcnow()
    since = now - dt.timedelta(seconds=window_s)
    engine = db.get_bind().engine  # a connection of its own: the request's rollback must not undo the attempt
    with Session(bind=engine) as side:
        row = model(key=key, at=now)
        side.add(row)
        side.execute(delete(model).where(model.at < now - dt.timedelta(seconds=max(window_s, 86400))))
        side.commit()
        count = side.scalar(select(func.count()).select_from(model).where(model.key == key, model.at >= since))
        if (count or 0) <= limit:
            return None
        oldest = side.scalar(select(func.min(model.at)).where(model.key == key, model.at >= since, model.id != row.id))
        side.delete(row)
        side.commit()
    return max(1, int(((oldest or now) + dt.timedelta(seconds=window_s) - utcnow()).total_seconds()) + 1)


def _clear_slots(db: Session, *, model: type[LoginFailure], key: str) -> None:
    """Forget `key`'s attempts, on the same side connection that wrote them (no lock held by the request)."""
    with Session(bind=db.get_bind().engine) as side:
        side.execute(delete(model).where(model.key == key))
        side.commit()


def authenticate(db: Session, *, email: str, password: str, client: str = "") -> User:
    """The user for these credentials; one generic error for every kind of failure.

    The attempt is counted before the password is checked (see `_take_slot`), so at
    most `login_max_failures` guesses per e-mail and address reach the check in a window.
    """
    settings = get_settings()
    key = _failure_key(email, client)
    wait = _take_slot(db, model=LoginFailure, key=key, limit=settings.login_max_failures,
                      window_s=settings.login_window_s)  # fmt: skip
    if wait is not None:
        raise TooMany(f"too many failed sign-ins; try again in {_wait_text(wait)}", retry_after=wait)
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    ok = security.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise Unauthenticated("wrong e-mail or password")  # the attempt stays recorded as a failure
    _clear_slots(db, model=LoginFailure, key=key)
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    user.last_login_at = utcnow()
    db.flush()
    return user


def throttle_signup(db: Session, *, client: str) -> None:
    """Count one sign-up attempt from `client`; `TooMany` past `signup_max_per_hour` (not racy, see `_take_slot`)."""
    limit = get_settings().signup_max_per_hour
    wait = _take_slot(db, model=SignupAttempt, key=client[:64], limit=limit, window_s=3600)
    if wait is not None:
        raise TooMany(f"too many sign-ups from this address (at most {limit} an hour); try again in "
                      f"{_wait_text(wait)}", retry_after=wait)  # fmt: skip


# ---- browser sessions -----------------------------------------------------


def start_session(db: Session, *, user: User, user_agent: str = "") -> tuple[str, UserSession]:
    """A new signed-in session; returns the cookie value (only its hash is stored)."""
    token = security.new_token()
    row = UserSession(
        token_hash=security.token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + dt.timedelta(days=get_settings().session_days),
        user_agent=user_agent[:300],
    )
    db.add(row)
    db.flush()
    return token, row


def session_for_token(db: Session, *, token: str) -> UserSession | None:
    """The live session behind a cookie value, or None."""
    if not token or len(token) > 200:
        return None
    row = db.scalar(select(UserSession).where(UserSession.token_hash == security.token_hash(token)))
    now = utcnow()
    if row is None or row.expires_at <= now or not row.user.is_active:
        return None
    if now - row.last_seen_at > SESSION_TOUCH:
        row.last_seen_at = now
    return row


def end_session(db: Session, *, token: str) -> None:
    db.execute(delete(UserSession).where(UserSession.token_hash == security.token_hash(token)))


# ---- personal access tokens ------------------------------------------------


def create_api_token(
    db: Session, *, user: User, name: str, expires_days: int | None = None
) -> tuple[str, ApiToken]:
    """A new personal access token; the secret is returned once and never stored."""
    name = " ".join((name or "").split())
    if not name:
        raise Invalid("give the token a name, e.g. the script that will use it", field="name")
    if len(name) > 80:
        raise Invalid("the token name is too long (80 characters at most)", field="name")
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise Invalid("expiry must be between 1 and 3650 days", field="expires_days")
    token = security.new_token(TOKEN_PREFIX)
    row = ApiToken(
        user_id=user.id,
        name=name,
        prefix=token[: len(TOKEN_PREFIX) + 6],
        token_hash=security.token_hash(token),
        expires_at=utcnow() + dt.timedelta(days=expires_days) if expires_days else None,
    )
    db.add(row)
    db.flush()
    return token, row


def user_for_api_token(db: Session, *, token: str) -> User | None:
    """The active user behind a bearer token, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == security.token_hash(token)))
    now = utcnow()
    if row is None or row.revoked_at or (row.expires_at and row.expires_at <= now) or not row.user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > SESSION_TOUCH:
        row.last_used_at = now
    return row.user


def list_api_tokens(db: Session, *, user: User) -> list[ApiToken]:
    return list(
        db.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)
        )
    )


def revoke_api_token(db: Session, *, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens."""
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at:
        raise NotFound("no such token")
    row.revoked_at = utcnow()
    db.flush()
    return row


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.id)))


def set_user_active(db: Session, *, actor: User, user_id: int, active: bool) -> User:
    """Admin: disable or re-enable an account (its sessions and tokens stop working)."""
    if not actor.is_admin:
        raise Forbidden("only an instance admin can do that")
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    if user.id == actor.id and not active:
        raise Conflict("you cannot disable your own account")
    user.is_active = active
    db.flush()
    return user
