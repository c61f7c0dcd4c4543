"""A failed render in the browser: the model raises a tensor shape error (as Wan did at 1280x720) on an embedded Slate
(SQLite, in-process worker); the takes panel says in one sentence what happened and what to try, the exception only
behind the "details" toggle, the green "Queued" note goes, and the activity feed shows no exception either. Screens at
1440x900 and 390x844 are saved under tests/browser/screens/ for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.db import engine_for, session_factory
from app.storyboard.models import Shot
from tests.browser.studio import embedded_demo, sign_up
from workers.engines.animatic import AnimaticEngine

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).parent / "screens"
SHAPE = "shape '[1, 47, 1, -1]' is invalid for input of size 128"


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    def broken(self, spec, **kwargs):
        raise RuntimeError(SHAPE)

    monkeypatch.setattr(AnimaticEngine, "stream", broken)  # the in-process worker renders with it
    with embedded_demo(tmp_path) as (base, settings):
        with session_factory(engine_for(settings.database_url))() as db:
            shot_id, project_id = db.execute(select(Shot.id, Shot.project_id).where(Shot.code == "1B")).one()
        yield base, shot_id, project_id


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)])
def test_a_failed_render_says_what_happened_in_one_sentence(browser, embedded, viewport):
    base, shot_id, project_id = embedded
    context = browser.new_context(base_url=base, viewport={"width": viewport[0], "height": viewport[1]})
    context.set_default_timeout(20_000)
    page = context.new_page()
    sign_up(page)
    page.goto(f"/shots/{shot_id}")
    form = page.locator("form.generate-form")
    form.locator("select[name=model]").select_option("animatic")
    form.get_by_label("Takes").fill("1")
    form.get_by_role("button", name="Generate").click()
    failure = page.locator(".job-failure .field-error").first
    expect(failure).to_be_visible(timeout=60_000)  # failed on the in-process worker, pushed live
    expect(failure).to_contain_text("failed while rendering take 1 of 1")
    expect(failure).to_contain_text("try another frame size, fewer frames or another model")
    expect(page.locator(".flash.ok").filter(has_text="Queued")).to_have_count(0)  # the note went with the job
    panel = page.locator("#takes-panel")
    assert "RuntimeError" not in panel.inner_text() and "shape '[" not in panel.inner_text()
    detail = page.locator(".job-detail").first
    expect(detail.locator("pre")).to_be_hidden()
    detail.locator("summary", has_text="details").click()
    expect(detail.locator("pre")).to_contain_text(f"RuntimeError: {SHAPE}")
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / f"job-failed-{viewport[0]}x{viewport[1]}.png"), full_page=True)
    page.goto(f"/projects/{project_id}")  # the overview's activity feed
    feed = page.locator(".feed-item").filter(has_text="failed").first
    expect(feed).to_contain_text("generating 1B failed:")
    assert "RuntimeError" not in page.locator("body").inner_text()
    context.close()
