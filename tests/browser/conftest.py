"""Browser fixtures: a live Slate on a free port (real PostgreSQL, committed data) and Debian's Chromium.

The root conftest's `app`/`db` fixtures run each test inside a rolled-back
transaction, which a browser talking to a real server cannot see; these build
their own app on their own database (`slate_browser`) and empty it between tests.
"""

from __future__ import annotations

import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import recreate_database  # noqa: I001  (sets the SLATE_* environment first)

from app.config import Settings, use_settings
from app.db import Base, engine_for
from app.main import create_app
from app.migrate import upgrade

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
DEFAULT_TIMEOUT_MS = 10_000


@pytest.fixture(autouse=True, scope="session")
def _require_chromium() -> None:
    """Skip the browser tests, with the reason, where Debian's Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); browser tests need it")


# ---- the live server ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    database_url: str
    engine: sa.Engine = field(repr=False)
    settings: Settings = field(repr=False, default=None)

    def truncate(self) -> None:
        tables = [t for t in Base.metadata.sorted_tables if t.name != "alembic_version"]
        names = ", ".join(f'"{t.name}"' for t in tables)
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def live_server(_require_chromium) -> Iterator[LiveServer]:
    """Slate served by uvicorn in a daemon thread, on a freshly migrated database."""
    import uvicorn

    url = recreate_database("slate_browser")
    upgrade(url)
    port = _free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="slate-browser-"))
    settings = Settings(
        database_url=url,
        broker_url="memory://",
        embedded_worker=False,
        data_dir=data_dir,
        secret_key="browser-test-secret-key-long-enough-0123456789abcdef",
        env="test",
        base_url=f"http://127.0.0.1:{port}",
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="slate-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the live Slate server stopped while starting (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the live Slate server did not start within 15 s")
        time.sleep(0.02)
    engine = sa.create_engine(url)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", database_url=url, engine=engine, settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()
        engine_for(url).dispose()


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    """The live server with every table emptied: each test starts on a Slate with no accounts.

    The process-wide settings are the server's while the test runs (the server lives in this process, and
    services read `get_settings()`: invitation links, event channels)."""
    live_server.truncate()
    use_settings(live_server.settings)
    return live_server


# ---- the browser ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(_require_chromium):
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def new_context(browser, server: LiveServer, request) -> Iterator[Callable[..., object]]:
    """`new_context()`: a fresh browser context (its own cookies: one per user) on the live server.

    On failure every open page is saved under test-results/ as a screenshot.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    contexts = []

    def _new(**kw):
        kw.setdefault("viewport", {"width": 1280, "height": 800})
        ctx = browser.new_context(base_url=server.url, **kw)
        ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(ctx)
        return ctx

    yield _new

    failed = any(getattr(getattr(request.node, f"rep_{w}", None), "failed", False) for w in ("setup", "call"))
    if failed:
        RESULTS.mkdir(exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::")[-1])
        for i, ctx in enumerate(contexts):
            for j, page in enumerate(ctx.pages):
                try:
                    page.screenshot(path=str(RESULTS / f"{stem}-ctx{i}-page{j}.png"), full_page=True)
                except Exception:  # noqa: BLE001  (a closed or crashed page must not hide the real failure)
                    pass
    for ctx in contexts:
        ctx.close()
