"""What several browser tests share: an embedded Slate with the demo (SQLite, in-process worker on the default and
media queues, served on a free port) and the first account signed up through the pages (it owns the demo)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, expect

from app.config import Settings
from app.db import commit, engine_for, session_factory
from app.main import create_app
from app.migrate import upgrade
from app.projects.service import seed_demo
from tests.live import LiveServer
from workers.celery_app import configure

PASSWORD = "correct horse battery"


@contextmanager
def embedded_demo(data_dir: Path) -> Iterator[tuple[str, Settings]]:
    """An embedded Slate with the demo project seeded, served until the block ends; yields (base URL, settings)."""
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir}/slate.db", broker_url="memory://",
                        embedded_worker=True, secret_key="k" * 40, env="test", _env_file=None)  # fmt: skip
    upgrade(settings.database_url)
    with session_factory(engine_for(settings.database_url))() as db:
        seed_demo(db)
        commit(db)
    try:
        with LiveServer(create_app(settings)) as base:
            yield base, settings
    finally:
        configure()  # back to the suite's broker


def sign_up(page: Page, *, name: str = "Ada Director", email: str = "ada@example.com") -> None:
    """Sign up through the pages and land on the project list."""
    page.goto("/signup")
    page.get_by_label("Name shown to your team").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/projects$"))
