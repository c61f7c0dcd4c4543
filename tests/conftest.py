"""Test fixtures: real PostgreSQL (each test in a rolled-back transaction), real HTTP through the app.

Settings come from the environment set here, before the app reads them.
`SLATE_TEST_PG` points at the server (default: local PostgreSQL, trust auth).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

_DATA = Path(tempfile.mkdtemp(prefix="slate-test-"))
PG_SERVER = os.environ.get("SLATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
# Each test run gets databases of its own (suffix: the process id), so runs side by side never collide.
DB_SUFFIX = f"_{os.getpid()}"
PG_URL = f"{PG_SERVER}/slate_test{DB_SUFFIX}"
_created: list[str] = []
os.environ.update(
    SLATE_ENV="test",
    SLATE_DATA_DIR=str(_DATA),
    SLATE_DATABASE_URL=PG_URL,
    SLATE_BROKER_URL="memory://",
    SLATE_EMBEDDED_WORKER="false",
    SLATE_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789",
    SLATE_BASE_URL="http://testserver",
    SLATE_SIGNUP_MAX_PER_HOUR="1000",  # every TestClient is one address ("testclient"); tests of the limit set it
)

from fastapi.testclient import TestClient  # noqa: E402

from app import models  # noqa: E402, F401
from app.auth import service as auth_service  # noqa: E402
from app.auth.models import User  # noqa: E402
from app.config import Settings, get_settings, use_settings  # noqa: E402
from app.deps import SESSION_COOKIE  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.projects import service as project_service  # noqa: E402
from app.projects.models import Project  # noqa: E402

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def _admin(sql: str) -> None:
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(sql))
    admin.dispose()


def recreate_database(name: str) -> str:
    """Drop and create this run's database `name` on the test server (dropped again at the end); returns its URL."""
    name = f"{name}{DB_SUFFIX}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    if name not in _created:
        _created.append(name)
    return f"{PG_SERVER}/{name}"


@pytest.fixture(scope="session", autouse=True)
def _drop_run_databases():
    yield
    from app.db import engine_for

    engine_for.cache_clear()
    for name in _created:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[sa.Engine]:
    """The test database, freshly migrated with Alembic (the migrations are under test too)."""
    use_settings(None)
    url = recreate_database("slate_test")
    upgrade(url)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(pg_engine: sa.Engine) -> Iterator[sa.Connection]:
    conn = pg_engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def db(connection: sa.Connection) -> Iterator[Session]:
    """A session inside the test's transaction; commits become savepoints, all rolled back after."""
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()


@pytest.fixture(autouse=True)
def _env_settings() -> None:
    """Every test starts from the environment's settings (an app built with other settings replaces them)."""
    use_settings(None)


@pytest.fixture
def settings() -> Settings:
    use_settings(None)
    return get_settings()


@pytest.fixture
def app(connection: sa.Connection, settings: Settings):
    application = create_app(settings)
    application.state.sessionmaker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as c:
        yield c


# ---- factories ------------------------------------------------------------------------


def unique_email(stem: str = "user") -> str:
    return f"{stem}{next(_seq)}@example.com"


@pytest.fixture(scope="session")
def password_hash() -> str:
    from app.auth.security import hash_password

    return hash_password(PASSWORD)


@pytest.fixture
def make_user(db: Session, password_hash: str):
    """A user with PASSWORD (hashed once per run: argon2 is slow on purpose). The first is admin, as in the app."""

    def _make(email: str | None = None, name: str = "Test Person", admin: bool = False) -> User:
        first = auth_service.user_count(db) == 0
        user = User(email=email or unique_email(), display_name=name, password_hash=password_hash,
                    is_admin=admin or first)  # fmt: skip
        db.add(user)
        db.commit()
        return user

    return _make


@pytest.fixture
def make_project(db: Session):
    def _make(owner: User, name: str = "Night Shift", **fields) -> Project:
        project = project_service.create_project(db, actor=owner, name=name, **fields)
        db.commit()
        return project

    return _make


@pytest.fixture
def add_member(db: Session):
    def _add(project: Project, user: User, role: str):
        from app.projects.models import Membership

        m = Membership(project_id=project.id, user_id=user.id, role=role)
        db.add(m)
        db.commit()
        return m

    return _add


@dataclass
class Browser:
    """A TestClient signed in as one user through a real session cookie, sending its CSRF token."""

    client: TestClient
    user: User
    csrf: str

    def request(self, method: str, url: str, **kw):
        headers = kw.pop("headers", {}) or {}
        if method.upper() not in ("GET", "HEAD", "OPTIONS"):
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.client.request(method, url, headers=headers, **kw)

    def get(self, url: str, **kw):
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw):
        return self.request("POST", url, **kw)


@pytest.fixture
def sign_in(app, db: Session):
    """Sign a user in without a password round trip: a real session row and cookie."""
    clients: list[TestClient] = []

    def _sign_in(user: User) -> Browser:
        token, sess = auth_service.start_session(db, user=user)
        db.commit()
        c = TestClient(app, follow_redirects=False)
        c.cookies.set(SESSION_COOKIE, token)
        clients.append(c)
        return Browser(client=c, user=user, csrf=sess.csrf_token)

    yield _sign_in
    for c in clients:
        c.close()


@pytest.fixture
def api_token(db: Session):
    def _token(user: User) -> dict[str, str]:
        token, _ = auth_service.create_api_token(db, user=user, name="tests")
        db.commit()
        return {"Authorization": f"Bearer {token}"}

    return _token
