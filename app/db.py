"""Database engine, sessions and the declarative base.

The request owns the transaction (see `deps.get_db`): services only `flush()`.
Work for the queue is recorded on the session with `queue_after_commit` and
sent only once the commit has succeeded, so a worker never sees a row that
does not exist yet.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


ID_MAX = 2**31 - 1  # every id column is a PostgreSQL `integer`
_ID_TEXT = re.compile(r"[0-9]{1,10}")


def row_id(value: Any) -> int | None:
    """`value` (an int or its decimal text) as an id a row can have, 1 .. ID_MAX; None for anything else.

    Callers treat None as an unknown id (404 or 422), so an id past the column's range never reaches SQL.
    """
    if isinstance(value, str) and _ID_TEXT.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= ID_MAX else None


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Stores UTC; always returns timezone-aware UTC, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON()}


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


@lru_cache
def engine_for(url: str) -> Engine:
    """One engine per URL per process."""
    return make_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


# ---- queue after commit -------------------------------------------------

Dispatch = Callable[[], None]


def queue_after_commit(db: Session, dispatch: Dispatch) -> None:
    """Run `dispatch` (send a Celery message) once this session's transaction commits."""
    db.info.setdefault("after_commit", []).append(dispatch)


def commit(db: Session) -> None:
    """Commit, then send the messages queued during the transaction."""
    db.commit()
    pending: list[Dispatch] = db.info.pop("after_commit", [])
    for dispatch in pending:
        dispatch()


def discard_pending(db: Session) -> None:
    db.info.pop("after_commit", None)


def undo_on_rollback(db: Session, undo: Dispatch) -> None:
    """Run `undo` if this session's transaction rolls back (e.g. delete a file written for a row that never was)."""
    db.info.setdefault("on_rollback", []).append(undo)


@event.listens_for(Session, "after_commit")
def _forget_undo(session: Session) -> None:
    session.info.pop("on_rollback", None)


@event.listens_for(Session, "after_rollback")
def _run_undo(session: Session) -> None:
    for undo in session.info.pop("on_rollback", []):
        undo()
