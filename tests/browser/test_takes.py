"""Takes in the browser: generate from the shot page of the demo on an embedded Slate (SQLite, in-process
worker, animatic engine), watch the take arrive through live events, and play it in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.studio import embedded_demo, sign_up

pytestmark = pytest.mark.browser


@pytest.fixture
def embedded(tmp_path):
    with embedded_demo(tmp_path) as (base, _settings):
        yield base


def test_generate_a_take_and_play_it(browser, embedded):
    context = browser.new_context(base_url=embedded, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    sign_up(page)
    page.get_by_role("link", name="The Lighthouse Keeper").click()
    page.get_by_role("link", name="Storyboard").click()
    page.locator("a.shot-code", has_text="1B").click()
    expect(page.get_by_role("heading", name="Takes")).to_be_visible()
    form = page.locator("form.generate-form")
    form.get_by_label("Takes").fill("1")
    form.get_by_label("Seed").fill("42")
    form.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("status").filter(has_text="Queued 1 take")).to_be_visible()
    video = page.locator("figure.take video").first
    expect(video).to_be_visible(timeout=90_000)  # rendered and encoded by the in-process worker, pushed live
    expect(page.locator("figure.take")).to_contain_text("seed 42")
    duration = video.evaluate(
        """v => new Promise((resolve, reject) => {
             if (v.readyState >= 1) return resolve(v.duration);
             v.addEventListener('loadedmetadata', () => resolve(v.duration));
             v.addEventListener('error', () => reject(new Error('the video did not load')));
             v.load();
           })"""
    )
    assert duration == pytest.approx(4.0, abs=0.1)  # the shot's 4 s at 24 fps, H.264 that Chromium plays
    played = video.evaluate("v => v.play().then(() => new Promise(r => setTimeout(() => r(v.currentTime), 500)))")
    assert played > 0
    context.close()
