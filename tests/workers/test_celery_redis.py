"""The queue round trip through real Redis and a real Celery worker process."""

from __future__ import annotations

import subprocess

import pytest
import redis
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.migrate import upgrade
from tests.conftest import PASSWORD, recreate_database
from tests.live import SLATE, clean_env, stop, wait_until
from workers.celery_app import configure

REDIS = "redis://127.0.0.1:6379/14"


@pytest.fixture
def live_db() -> str:
    url = recreate_database("slate_test_live")
    upgrade(url)
    return url


@pytest.fixture
def redis_broker() -> str:
    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (make services starts it)")
    client.flushdb()
    yield REDIS
    client.flushdb()


@pytest.mark.redis
def test_probe_round_trip_through_redis_and_a_worker_process(tmp_path, live_db, redis_broker):
    env = clean_env(SLATE_DATABASE_URL=live_db, SLATE_BROKER_URL=redis_broker, SLATE_DATA_DIR=str(tmp_path))
    worker = subprocess.Popen([SLATE, "worker", "--queues", "default", "--pool", "solo", "--hostname",
                               "redis-test@%h", "--loglevel", "INFO"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    settings = Settings(database_url=live_db, broker_url=redis_broker, data_dir=tmp_path, embedded_worker=False,
                        secret_key="x" * 40, env="test", _env_file=None)  # fmt: skip
    configure(settings)
    try:
        with TestClient(create_app(settings)) as api:
            api.post("/api/v1/auth/register", json={"email": "root@example.com", "password": PASSWORD,
                                                     "display_name": "Root"})  # fmt: skip
            token = api.post("/api/v1/auth/tokens", json={"email": "root@example.com", "password": PASSWORD,
                                                            "name": "t"}).json()["token"]  # fmt: skip
            h = {"Authorization": f"Bearer {token}"}
            probe = api.post("/api/v1/system/probes", headers=h).json()
            assert probe["status"] == "queued"
            state: dict = {}

            def answered() -> bool:
                state.update(api.get(f"/api/v1/system/probes/{probe['id']}", headers=h).json())
                return state["status"] == "done"

            wait_until(answered, 60, "the Redis worker to answer", worker)
            assert state["worker"].startswith("redis-test@")
            assert state["latency_ms"] > 0
    finally:
        configure()
        out = stop(worker)
    assert "slate.system.answer_probe" in out
