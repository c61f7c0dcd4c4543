"""The embedded default: SQLite file, in-process broker and worker, exactly as `slate up` runs it."""

from __future__ import annotations

import subprocess
import time

import httpx
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.migrate import upgrade
from tests.conftest import PASSWORD
from tests.live import ROOT, SLATE, clean_env, free_port, stop, wait_until
from workers.celery_app import configure


def _flow(api: httpx.Client | TestClient) -> tuple[dict, dict]:
    """Register the first account, take a token, create a project, invite a second person who joins."""
    r = api.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PASSWORD,
                                                 "display_name": "Ada"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["is_admin"] is True
    token = api.post("/api/v1/auth/tokens", json={"email": "ada@example.com", "password": PASSWORD,
                                                    "name": "t"}).json()["token"]  # fmt: skip
    h = {"Authorization": f"Bearer {token}"}
    project = api.post("/api/v1/projects", json={"name": "Embedded"}, headers=h).json()
    inv = api.post(f"/api/v1/projects/{project['id']}/invitations", json={"role": "artist"}, headers=h).json()
    r = api.post("/api/v1/auth/register", json={"email": "bo@example.com", "password": PASSWORD,
                                                 "display_name": "Bo", "invitation": inv["url"].rsplit("/", 1)[1]})  # fmt: skip
    assert r.status_code == 201, r.text
    return h, project


def _probe_round_trip(api, h) -> dict:
    probe = api.post("/api/v1/system/probes", headers=h)
    assert probe.status_code == 202, probe.text
    url = f"/api/v1/system/probes/{probe.json()['id']}"
    result: dict = {}

    def answered() -> bool:
        result.update(api.get(url, headers=h).json())
        return result["status"] == "done"

    wait_until(answered, 30, "the worker to answer the probe")
    return result


def test_sqlite_with_in_process_worker(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/slate.db", broker_url="memory://",
                        embedded_worker=True, secret_key="", env="development", _env_file=None)  # fmt: skip
    upgrade(settings.database_url)
    try:
        with TestClient(create_app(settings)) as api:
            h, project = _flow(api)
            members = api.get(f"/api/v1/projects/{project['id']}/members", headers=h).json()
            assert sorted((m["display_name"], m["role"]) for m in members) == [("Ada", "owner"), ("Bo", "artist")]
            result = _probe_round_trip(api, h)
            assert result["worker"]  # answered: the only worker on a memory broker is the in-process one
    finally:
        configure()  # back to the suite's settings


def test_slate_up_serves_the_demo_from_a_fresh_folder(tmp_path):
    port = free_port()
    env = clean_env(SLATE_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen([SLATE, "up", "--port", str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200, 90, "slate up to serve", proc)
        with httpx.Client(base_url=base) as api:
            assert "own the demo project" in api.get("/signup").text
            h, _ = _flow(api)
            names = [p["name"] for p in api.get("/api/v1/projects", headers=h).json()]
            assert "The Lighthouse Keeper" in names  # the seeded demo now belongs to the first account
            assert _probe_round_trip(api, h)["worker"]
        print(f"slate up answered after {time.monotonic() - started:.1f} s")
    finally:
        out = stop(proc)
    assert proc.returncode == 0, out
    assert (tmp_path / "data" / "slate.db").exists() and (tmp_path / "data" / "secret_key").exists()
    assert "migrating the database" in out and "seeding the demo project" in out
    assert (tmp_path / "data" / "models" / "ltx-tiny" / "model_index.json").exists()  # LTX and Wan try-outs
    assert str(ROOT) not in str(tmp_path)
