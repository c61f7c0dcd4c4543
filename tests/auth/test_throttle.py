"""Sign-in and sign-up throttles, and the client address they key on.

Attempts are written on a connection of their own and committed (a refused request's
rollback must not undo them), so these tests remove the rows they leave behind.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth import security, service
from app.auth.models import LoginFailure, SignupAttempt, User
from app.deps import client_key
from app.errors import TooMany, Unauthenticated
from app.main import create_app
from tests.conftest import PASSWORD, unique_email

_addr = itertools.count(10)


def _address() -> str:
    """A client address no other test uses (documentation range, RFC 5737)."""
    n = next(_addr)
    return f"198.51.{n // 250}.{n % 250 + 1}"


def _forget_attempts(engine: sa.Engine, *, login_like: str | None = None, signup_key: str | None = None) -> None:
    with engine.begin() as conn:
        if login_like is not None:
            conn.execute(sa.delete(LoginFailure).where(LoginFailure.key.like(login_like)))
        if signup_key is not None:
            conn.execute(sa.delete(SignupAttempt).where(SignupAttempt.key == signup_key))


# ---- sign-in: the attempt is counted before the password is checked ------------------------------


def test_parallel_wrong_passwords_reach_the_password_check_at_most_the_limit(pg_engine, settings, monkeypatch):
    limit = settings.login_max_failures
    parallel = limit * 3
    # One connection per attempt and one for its side transaction: nobody waits for the pool.
    engine = sa.create_engine(pg_engine.url, pool_size=2 * parallel + 2, max_overflow=0)
    email, client = unique_email("race"), f"race-{time.monotonic_ns()}"
    with Session(engine) as s:
        s.add(User(email=email, display_name="Racer", password_hash=security.hash_password(PASSWORD)))
        s.commit()

    checks = 0
    lock = threading.Lock()
    real_verify = security.verify_password

    def slow_verify(password_hash, password):
        nonlocal checks
        with lock:
            checks += 1
        time.sleep(0.3)  # every guess is in flight at once while the others are counted
        return real_verify(password_hash, password)

    monkeypatch.setattr(security, "verify_password", slow_verify)
    start = threading.Barrier(parallel)

    def guess(i: int) -> str:
        with Session(engine) as s:  # one request: its own session and connection
            start.wait()
            try:
                service.authenticate(s, email=email, password=f"wrong guess {i}", client=client)
            except (Unauthenticated, TooMany) as exc:
                s.rollback()
                return type(exc).__name__
            s.commit()
            return "signed in"

    try:
        with ThreadPoolExecutor(parallel) as pool:
            outcomes = list(pool.map(guess, range(parallel)))
        assert checks <= limit, f"{checks} of {parallel} parallel guesses reached the password check"
        assert outcomes.count("Unauthenticated") == checks
        assert outcomes.count("TooMany") == parallel - checks
        # One at a time, the guesses left in the window reach the check, then even the right password is refused.
        for i in range(limit - checks):
            with Session(engine) as s, pytest.raises(Unauthenticated):
                service.authenticate(s, email=email, password=f"one more guess {i}", client=client)
        with Session(engine) as s, pytest.raises(TooMany, match="try again in"):
            service.authenticate(s, email=email, password=PASSWORD, client=client)
        assert checks == limit
    finally:
        _forget_attempts(engine, login_like=f"%|{client}")
        with engine.begin() as conn:
            conn.execute(sa.delete(User).where(User.email == email))
        engine.dispose()


def test_success_clears_the_failures_and_refusals_do_not_extend_the_wait(db, make_user, settings):
    user = make_user()
    client = f"clear-{user.id}"
    try:
        for _ in range(settings.login_max_failures - 1):
            with pytest.raises(Unauthenticated):
                service.authenticate(db, email=user.email, password="not the password", client=client)
        assert service.authenticate(db, email=user.email, password=PASSWORD, client=client).id == user.id
        # the slate is clean again: a full set of failures before the refusal
        for _ in range(settings.login_max_failures):
            with pytest.raises(Unauthenticated):
                service.authenticate(db, email=user.email, password="not the password", client=client)
        for _ in range(3):
            with pytest.raises(TooMany):
                service.authenticate(db, email=user.email, password=PASSWORD, client=client)
        key_rows = db.scalar(sa.select(sa.func.count()).select_from(LoginFailure)
                             .where(LoginFailure.key.like(f"%|{client}")))  # fmt: skip
        assert key_rows == settings.login_max_failures  # refused attempts left nothing behind
    finally:
        db.rollback()
        _forget_attempts(db.get_bind().engine, login_like=f"%|{client}")


def test_sign_in_pages_answer_429_with_when_to_retry(client, make_user, settings, pg_engine):
    user = make_user()
    try:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        for _ in range(settings.login_max_failures):
            r = client.post("/login", data={"csrf_token": token, "email": user.email, "password": "nope nope nope"})
            assert r.status_code == 401
        r = client.post("/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD})
        assert r.status_code == 429 and "try again in" in r.text
        assert 0 < int(r.headers["Retry-After"]) <= settings.login_window_s
        r = client.post("/api/v1/auth/tokens", json={"email": user.email, "password": PASSWORD, "name": "cli"})
        assert r.status_code == 429 and "try again in" in r.json()["detail"]
        assert 0 < int(r.headers["Retry-After"]) <= settings.login_window_s
    finally:
        _forget_attempts(pg_engine, login_like=f"{user.email}|%")


# ---- sign-up: per client address -------------------------------------------------------------------


def _signup_form(c: TestClient) -> str:
    page = c.get("/signup")
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_sign_up_is_limited_per_client_address_on_the_page_and_the_api(app, settings, pg_engine):
    settings.signup_max_per_hour = 3
    address, other = _address(), _address()
    try:
        with TestClient(app, follow_redirects=False, client=(address, 40000)) as c:
            token = _signup_form(c)
            # failed attempts count too (they probe which e-mails exist)
            r = c.post("/signup", data={"csrf_token": token, "email": "not-an-address", "password": PASSWORD,
                                        "display_name": "Pat"})  # fmt: skip
            assert r.status_code == 422
            r = c.post("/api/v1/auth/register", json={"email": unique_email(), "password": PASSWORD,
                                                      "display_name": "Api"})  # fmt: skip
            assert r.status_code == 201, r.text
            c.cookies.clear()
            token = _signup_form(c)
            r = c.post("/signup", data={"csrf_token": token, "email": unique_email(), "password": PASSWORD,
                                        "display_name": "Page"})  # fmt: skip
            assert r.status_code == 303
            c.cookies.clear()
            token = _signup_form(c)
            email = unique_email("fourth")
            r = c.post("/signup", data={"csrf_token": token, "email": email, "password": PASSWORD,
                                        "display_name": "Fourth"})  # fmt: skip
            assert r.status_code == 429 and "try again in" in r.text and 'value="Fourth"' in r.text
            assert 0 < int(r.headers["Retry-After"]) <= 3600
            r = c.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "X"})
            assert r.status_code == 429 and "try again in" in r.json()["detail"]
            assert 0 < int(r.headers["Retry-After"]) <= 3600
        with TestClient(app, follow_redirects=False, client=(other, 40000)) as c:
            r = c.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Other"})
            assert r.status_code == 201  # another address is not held back
    finally:
        _forget_attempts(pg_engine, signup_key=address)
        _forget_attempts(pg_engine, signup_key=other)


def test_parallel_sign_ups_stay_within_the_limit(pg_engine, settings):
    settings.signup_max_per_hour = 4
    parallel = 12
    engine = sa.create_engine(pg_engine.url, pool_size=2 * parallel + 2, max_overflow=0)
    address = _address()
    start = threading.Barrier(parallel)

    def attempt(i: int) -> str:
        with Session(engine) as s:
            start.wait()
            try:
                service.throttle_signup(s, client=address)
            except TooMany:
                return "refused"
            return "allowed"

    try:
        with ThreadPoolExecutor(parallel) as pool:
            outcomes = list(pool.map(attempt, range(parallel)))
        allowed = outcomes.count("allowed")
        assert allowed <= 4, outcomes  # a burst may be refused whole: refusals leave no slot taken
        with Session(engine) as s:
            for _ in range(4 - allowed):
                service.throttle_signup(s, client=address)
            with pytest.raises(TooMany, match="at most 4 an hour"):
                service.throttle_signup(s, client=address)
    finally:
        _forget_attempts(engine, signup_key=address)
        engine.dispose()


# ---- the client address: X-Forwarded-For only from a trusted proxy ----------------------------------


def _request(peer: str, forwarded: list[str] | None = None):
    from starlette.requests import Request

    headers = [(b"x-forwarded-for", v.encode()) for v in forwarded or []]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 1234)})


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "expected"),
    [
        ([], "203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # no proxy named: the header is ignored
        (["10.0.0.0/8"], "203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # the peer is no proxy of ours
        (["10.0.0.0/8"], "10.0.0.2", ["1.2.3.4"], "1.2.3.4"),
        # the client wrote its own header in front: only the entry our proxy appended counts
        (["10.0.0.0/8"], "10.0.0.2", ["6.6.6.6, 1.2.3.4"], "1.2.3.4"),
        (["10.0.0.0/8"], "10.0.0.2", ["6.6.6.6", "1.2.3.4"], "1.2.3.4"),  # repeated header lines
        (["10.0.0.0/8", "192.0.2.7"], "10.0.0.2", ["6.6.6.6, 1.2.3.4, 192.0.2.7, 10.9.9.9"], "1.2.3.4"),  # chain
        (["10.0.0.0/8"], "10.0.0.2", [], "10.0.0.2"),  # the proxy itself
        (["10.0.0.0/8"], "10.0.0.2", ["10.1.1.1, 10.2.2.2"], "10.1.1.1"),  # all trusted: the farthest
        (["10.0.0.0/8"], "10.0.0.2", ["1.2.3.4, garbage"], "10.0.0.2"),  # a proxy wrote nonsense: no guessing
        (["2001:db8::/32"], "2001:db8::1", ["2001:DB8:ffff::5, 2a00::1"], "2a00::1"),
    ],
)
def test_client_address_comes_from_forwarded_for_only_behind_a_trusted_proxy(
    settings, trusted, peer, forwarded, expected
):
    settings.trusted_proxies = trusted
    assert client_key(_request(peer, forwarded)) == expected


def test_trusted_proxies_setting_takes_a_list_and_refuses_nonsense(monkeypatch):
    from pydantic import ValidationError

    from app.config import Settings

    monkeypatch.setenv("SLATE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7")
    assert Settings().trusted_proxies == ["10.0.0.0/8", "192.0.2.7"]
    monkeypatch.setenv("SLATE_TRUSTED_PROXIES", '["172.16.0.0/12"]')
    assert Settings().trusted_proxies == ["172.16.0.0/12"]
    monkeypatch.setenv("SLATE_TRUSTED_PROXIES", "")
    assert Settings().trusted_proxies == []
    monkeypatch.setenv("SLATE_TRUSTED_PROXIES", "proxy.example.com")
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings()


def test_sign_in_throttle_keys_on_the_forwarded_address_behind_a_proxy(settings, make_user, pg_engine, connection):
    """Behind a trusted proxy, one client's failures do not lock out everyone else behind it."""
    from sqlalchemy.orm import sessionmaker

    settings.trusted_proxies = ["10.0.0.0/8"]
    user = make_user()
    app = create_app(settings)
    app.state.sessionmaker = sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                                          expire_on_commit=False)  # fmt: skip
    body = {"email": user.email, "password": "wrong password!", "name": "x"}
    try:
        with TestClient(app, client=("10.0.0.2", 40000)) as proxy:
            for _ in range(settings.login_max_failures):
                r = proxy.post("/api/v1/auth/tokens", json=body, headers={"X-Forwarded-For": "203.0.113.50"})
                assert r.status_code == 401
            r = proxy.post("/api/v1/auth/tokens", json=body, headers={"X-Forwarded-For": "203.0.113.50"})
            assert r.status_code == 429
            # a forged header in front changes nothing: the proxy appended the real address
            r = proxy.post("/api/v1/auth/tokens", json=body, headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.50"})
            assert r.status_code == 429
            ok = {**body, "password": PASSWORD}
            r = proxy.post("/api/v1/auth/tokens", json=ok, headers={"X-Forwarded-For": "203.0.113.51"})
            assert r.status_code == 201
    finally:
        _forget_attempts(pg_engine, login_like=f"{user.email}|%")
