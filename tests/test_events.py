"""Live updates reach open browsers through Server-Sent Events: in-process (embedded) and through Redis."""

from __future__ import annotations

import subprocess
import sys
import threading

import httpx
import pytest
import redis
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.config import Settings
from app.db import engine_for
from app.deps import SESSION_COOKIE
from app.main import create_app
from app.migrate import upgrade
from app.projects import service as project_service
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


def _settings(url: str, tmp_path, redis_url: str = "") -> Settings:
    return Settings(database_url=url, broker_url="memory://", embedded_worker=False, data_dir=tmp_path,
                    secret_key="x" * 40, env="test", redis_url=redis_url, _env_file=None)  # fmt: skip


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
            subprocess.run([sys.executable, "-c", code], env=clean_env(SLATE_REDIS_URL=redis_url), check=True)

        seen = _read_events(base, f"/projects/{pid}/events", cookie, publish_elsewhere, "job")
        assert seen[-1] == ("job", '{"progress": 0.5}')
