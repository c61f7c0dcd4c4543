import datetime as dt

import pytest
from sqlalchemy import func, select

from app.auth import service
from app.auth.models import ApiToken, LoginFailure, User
from app.db import utcnow
from app.errors import Conflict, Invalid, TooMany, Unauthenticated
from tests.conftest import PASSWORD, unique_email


def test_first_account_is_admin_later_ones_are_not(db, make_user):
    first = make_user()
    second = make_user()
    assert first.is_admin and not second.is_admin


def test_password_is_hashed_with_argon2(db, make_user):
    user = make_user()
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    ("email", "password", "name", "field"),
    [
        ("not-an-email", PASSWORD, "Ann", "email"),
        ("a" * 250 + "@example.com", PASSWORD, "Ann", "email"),
        (None, "short", "Ann", "password"),
        (None, "password123", "Ann", "password"),
        (None, "aaaaaaaaaaaa", "Ann", "password"),
        (None, PASSWORD, "   ", "display_name"),
        (None, PASSWORD, "N" * 81, "display_name"),
    ],
)
def test_bad_sign_up_input_is_refused_and_nothing_written(db, email, password, name, field):
    before = db.scalar(select(func.count()).select_from(User))
    with pytest.raises(Invalid) as err:
        service.create_user(db, email=email or unique_email(), password=password, display_name=name)
    assert err.value.field == field
    assert db.scalar(select(func.count()).select_from(User)) == before


def test_duplicate_email_is_a_conflict_whatever_the_case(db, make_user):
    user = make_user()
    with pytest.raises(Conflict, match="already exists"):
        service.create_user(db, email=user.email.upper(), password=PASSWORD, display_name="Twin")


def test_authenticate_gives_one_generic_error(db, make_user):
    user = make_user()
    assert service.authenticate(db, email=user.email, password=PASSWORD, client="t1").id == user.id
    with pytest.raises(Unauthenticated) as wrong_pw:
        service.authenticate(db, email=user.email, password="wrong password!", client="t1")
    with pytest.raises(Unauthenticated) as no_user:
        service.authenticate(db, email="nobody@example.com", password="wrong password!", client="t1")
    assert wrong_pw.value.detail == no_user.value.detail == "wrong e-mail or password"


def test_login_is_rate_limited_per_email_and_client(db, make_user, settings):
    user = make_user()
    client = f"rl-{user.id}"
    try:
        for _ in range(settings.login_max_failures):
            with pytest.raises(Unauthenticated):
                service.authenticate(db, email=user.email, password="not the password", client=client)
        with pytest.raises(TooMany):
            service.authenticate(db, email=user.email, password=PASSWORD, client=client)
        # another client address is not blocked
        assert service.authenticate(db, email=user.email, password=PASSWORD, client=client + "-other")
    finally:  # failures are written on their own connection (they must survive the request's rollback)
        with db.get_bind().engine.begin() as conn:
            conn.execute(LoginFailure.__table__.delete().where(LoginFailure.key.like(f"%|{client}%")))


def test_disabled_account_cannot_sign_in(db, make_user):
    user = make_user()
    user.is_active = False
    db.flush()
    with pytest.raises(Unauthenticated):
        service.authenticate(db, email=user.email, password=PASSWORD, client=f"dis-{user.id}")
    with db.get_bind().engine.begin() as conn:
        conn.execute(LoginFailure.__table__.delete().where(LoginFailure.key.like(f"%|dis-{user.id}")))


def test_sessions_expire(db, make_user):
    user = make_user()
    token, row = service.start_session(db, user=user)
    assert service.session_for_token(db, token=token).user_id == user.id
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.flush()
    assert service.session_for_token(db, token=token) is None
    assert service.session_for_token(db, token="made-up") is None


def test_api_tokens_are_hashed_at_rest_revocable_and_expire(db, make_user):
    user = make_user()
    token, row = service.create_api_token(db, user=user, name="farm script", expires_days=30)
    assert token.startswith("slt_") and token not in (row.token_hash, row.prefix)
    assert db.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.token_hash == token)) == 0
    assert service.user_for_api_token(db, token=token).id == user.id
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    assert service.user_for_api_token(db, token=token) is None
    row.expires_at = None
    service.revoke_api_token(db, user=user, token_id=row.id)
    assert service.user_for_api_token(db, token=token) is None
    with pytest.raises(Invalid):
        service.create_api_token(db, user=user, name="  ")
