"""Live updates reach open browsers through Server-Sent Events: in-process (embedded) and through Redis.

Each installation has its own channels on a shared Redis server, and a stream ends for a reader who
may no longer see the project.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx
import pytest
import redis
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.models import User, UserSession
from app.config import Settings
from app.db import engine_for
from app.deps import SESSION_COOKIE
from app.main import create_app
from app.migrate import upgrade
from app.projects import service as project_service
from app.projects.models import Membership
from tests.conftest import PASSWORD, recreate_database
from tests.live import LiveServer, clean_env


@pytest.fixture
def live(tmp_path):
    """A migrated database with Ada (owner of a project) and an outsider; returns (url, ids, tokens)."""
    url = recreate_database("slate_test_events")
    upgrade(url)
    with Session(engine_for(url)) as db:
        ada = auth_service.create_user(db, email="ada@example.com", password=PASSWORD, display_name="Ada")
        out = auth_service.create_user(db, email="out@example.com", password=PASSWORD, display_name="Out")
        project = project_service.create_project(db, actor=ada, name="Live")
        cookie, _ = auth_service.start_session(db, user=ada)
        out_cookie, _ = auth_service.start_session(db, user=out)
        token, _ = auth_service.create_api_token(db, user=ada, name="t")
        db.commit()
        return url, project.id, cookie, out_cookie, token


def _settings(url: str, tmp_path, redis_url: str = "", **extra) -> Settings:
    return Settings(database_url=url, broker_url="memory://", embedded_worker=False, data_dir=tmp_path,
                    secret_key="x" * 40, env="test", redis_url=redis_url, _env_file=None, **extra)  # fmt: skip


def _read_events(base: str, path: str, cookie: str, trigger, want: str, timeout: float = 15) -> list[tuple[str, str]]:
    """Open the stream, run `trigger` once it is ready, return (event, data) pairs up to the first `want` event."""
    seen: list[tuple[str, str]] = []
    with httpx.Client(base_url=base, cookies={SESSION_COOKIE: cookie}, timeout=timeout) as client:
        with client.stream("GET", path) as resp:
            assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in resp.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event:
                    seen.append((event, line.split(":", 1)[1].strip()))
                    if event == "ready":
                        threading.Thread(target=trigger, daemon=True).start()
                    if event == want:
                        return seen
    raise AssertionError(f"stream ended without {want!r}: {seen}")


def test_activity_reaches_open_pages_in_process(live, tmp_path):
    url, pid, cookie, out_cookie, token = live
    with LiveServer(create_app(_settings(url, tmp_path))) as base:

        def change():
            r = httpx.patch(f"{base}/api/v1/projects/{pid}", json={"description": "Storm season."},
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert r.status_code == 200

        seen = _read_events(base, f"/projects/{pid}/events", cookie, change, "activity")
        html = seen[-1][1]
        assert "changed description" in html and "Ada" in html and 'class="feed-item"' in html
        assert httpx.get(f"{base}/projects/{pid}/events?once=1", cookies={SESSION_COOKIE: out_cookie}).status_code == 404
        assert httpx.get(f"{base}/projects/{pid}/events?once=1").status_code == 303


@pytest.mark.redis
def test_events_from_another_process_arrive_through_redis(live, tmp_path):
    url, pid, cookie, _, _ = live
    redis_url = "redis://127.0.0.1:6379/13"
    redis.Redis.from_url(redis_url).ping()
    with LiveServer(create_app(_settings(url, tmp_path, redis_url))) as base:

        def publish_elsewhere():
            code = f"from app.events import publish; publish({pid}, 'job', {{'progress': 0.5}})"
            env = clean_env(SLATE_REDIS_URL=redis_url, SLATE_DATABASE_URL=url)  # a worker of the same installation
            subprocess.run([sys.executable, "-c", code], env=env, check=True)

        seen = _read_events(base, f"/projects/{pid}/events", cookie, publish_elsewhere, "job")
        assert seen[-1] == ("job", '{"progress": 0.5}')


def test_the_default_channel_prefix_follows_the_database():
    def prefix(url: str) -> str:
        return Settings(database_url=url, _env_file=None).events_prefix

    here = prefix("postgresql+psycopg://postgres@127.0.0.1:5432/slate")
    assert here.startswith("slate:") and here.endswith(":project:")
    assert prefix("postgresql://slate:secret@127.0.0.1:5432/slate") == here  # driver and password do not matter
    assert prefix("postgresql+psycopg://postgres@127.0.0.1:5432/other") != here
    assert prefix("postgresql+psycopg://postgres@db.internal:5432/slate") != here
    assert Settings(database_url="sqlite:///x.db", events_prefix="studio-a:", _env_file=None).events_prefix == "studio-a:"


@pytest.mark.redis
def test_installations_sharing_one_redis_do_not_see_each_others_events(live, tmp_path):
    url, pid, cookie, _, _ = live
    redis_url = "redis://127.0.0.1:6379/13"
    redis.Redis.from_url(redis_url).ping()
    with LiveServer(create_app(_settings(url, tmp_path, redis_url, events_prefix="slate:studio-a:project:"))) as base:

        def publish_from_both():  # the other installation first, on the same connection: order is kept
            code = (f"from app.config import Settings, use_settings\n"
                    f"from app.events import publish\n"
                    f"for prefix, who in (('slate:studio-b:project:', 'b'), ('slate:studio-a:project:', 'a')):\n"
                    f"    use_settings(Settings(redis_url={redis_url!r}, events_prefix=prefix))\n"
                    f"    publish({pid}, 'job', {{'from': who}})\n")  # fmt: skip
            subprocess.run([sys.executable, "-c", code], env=clean_env(), check=True)

        seen = _read_events(base, f"/projects/{pid}/events", cookie, publish_from_both, "job")
        assert [e for e in seen if e[0] == "job"] == [("job", '{"from": "a"}')]

    # by default, two installations (two databases) on one Redis differ too
    other = _settings(url.rsplit("/", 1)[0] + "/another_studio", tmp_path, redis_url)
    assert other.events_prefix != _settings(url, tmp_path, redis_url).events_prefix


def _stream_until_closed(base: str, path: str, cookie: str, trigger, engine, timeout: float = 10) -> list[str]:
    """Open the stream, check it holds no database connection, run `trigger`, return the events up to its end.

    Pings come every 15 s, so a stream that stays open fails with a read timeout.
    """
    seen: list[str] = []
    with httpx.Client(base_url=base, cookies={SESSION_COOKIE: cookie}, timeout=timeout) as client:
        with client.stream("GET", path) as resp:
            assert resp.status_code == 200
            for line in resp.iter_lines():
                if line.startswith("event:"):
                    seen.append(line.split(":", 1)[1].strip())
                    if seen[-1] == "ready":
                        time.sleep(0.3)  # a recheck or two: each opens a session and gives it back
                        assert engine.pool.checkedout() == 0, "the open stream holds a database connection"
                        trigger()
    return seen


@pytest.mark.parametrize("what", ["removed", "deactivated", "signed out"])
def test_the_stream_ends_for_a_reader_who_may_no_longer_see_the_project(what, live, tmp_path):
    url, pid, _, _, token = live
    engine = engine_for(url)
    with Session(engine) as db:
        bob = auth_service.create_user(db, email="bob@example.com", password=PASSWORD, display_name="Bob")
        db.add(Membership(project_id=pid, user_id=bob.id, role="viewer"))
        bob_cookie, bob_session = auth_service.start_session(db, user=bob)
        db.commit()
        bob_id, bob_session_id = bob.id, bob_session.id
    with LiveServer(create_app(_settings(url, tmp_path, events_recheck_s=0.1))) as base:

        def lose_access():
            if what == "removed":  # by the owner, through the API
                r = httpx.delete(f"{base}/api/v1/projects/{pid}/members/{bob_id}",
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                assert r.status_code == 204, r.text
                return
            with Session(engine) as db:
                if what == "deactivated":
                    db.execute(update(User).where(User.id == bob_id).values(is_active=False))
                else:
                    db.execute(delete(UserSession).where(UserSession.id == bob_session_id))
                db.commit()

        started = time.monotonic()
        seen = _stream_until_closed(base, f"/projects/{pid}/events", bob_cookie, lose_access, engine)
        assert seen[0] == "ready" and time.monotonic() - started < 5
        assert httpx.get(f"{base}/projects/{pid}/events?once=1", cookies={SESSION_COOKIE: bob_cookie}).status_code in (
            303, 404)  # fmt: skip


def test_a_member_keeps_the_stream_while_rechecks_pass(live, tmp_path):
    url, pid, cookie, _, token = live
    with LiveServer(create_app(_settings(url, tmp_path, events_recheck_s=0.05))) as base:

        def change_later():
            time.sleep(0.5)  # ten rechecks, all passing
            r = httpx.patch(f"{base}/api/v1/projects/{pid}", json={"description": "Still here."},
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert r.status_code == 200

        seen = _read_events(base, f"/projects/{pid}/events", cookie, change_later, "activity")
        assert "changed description" in seen[-1][1]
        r = httpx.get(f"{base}/projects/{pid}/events?once=1", cookies={SESSION_COOKIE: cookie})
        assert r.status_code == 200 and "event: ready" in r.text
