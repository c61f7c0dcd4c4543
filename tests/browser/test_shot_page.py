"""The shot page in Chromium: built around the picture, Generate above the fold at desktop and phone sizes, and a
generate form that keeps the model it was sent with. Screenshots land in tests/browser/screens/ (ignored by git)
for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.db import commit, engine_for, session_factory
from app.projects.service import seed_demo
from tests.browser.studio import sign_up

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parent / "screens"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


@pytest.fixture
def demo_owner(server, new_context):
    """The demo project, claimed by the first account (signed up through the pages); returns its context."""
    with session_factory(engine_for(server.database_url))() as db:
        seed_demo(db)
        commit(db)

    def _open(width: int, height: int):
        context = new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        sign_up(page)
        return page

    return _open


def _open_shot(page: Page, code: str) -> None:
    page.get_by_role("link", name="The Lighthouse Keeper").first.click()
    page.get_by_role("link", name="Storyboard").click()
    page.locator("a.shot-code", has_text=code).click()
    expect(page).to_have_url(re.compile(r"/shots/\d+$"))
    page.wait_for_load_state("load")


@pytest.mark.parametrize("size", list(SIZES))
def test_generate_is_above_the_fold(demo_owner, size):
    width, height = SIZES[size]
    page = demo_owner(width, height)
    _open_shot(page, "1B")
    generate = page.get_by_role("button", name="Generate", exact=True)
    expect(generate).to_be_visible()
    box = generate.bounding_box()
    assert box is not None and box["y"] + box["height"] <= height, (size, box)
    model = page.locator("form.generate-form select[name=model]")
    assert box["y"] >= model.bounding_box()["y"] - 1  # the model is chosen next to (or above) the button
    # the player comes before the story at every size; the story, camera and light fold away
    player = page.locator(".player").bounding_box()
    story = page.locator("details.fold", has=page.locator("summary", has_text="Story")).bounding_box()
    assert player["y"] < box["y"]
    if size == "desktop":
        assert story["x"] > player["x"] + player["width"] - 1  # two columns: the story beside the picture
    else:
        assert story["y"] > box["y"]  # one column: player and Generate first
    assert page.locator("select[name=model]").count() == 1  # one model control on the page
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / f"shot-{width}x{height}.png"))
    page.screenshot(path=str(SCREENS / f"shot-{width}x{height}-full.png"), full_page=True)


def test_the_model_menu_keeps_the_model_after_queueing(demo_owner):
    page = demo_owner(*SIZES["desktop"])
    _open_shot(page, "1B")
    form = page.locator("form.generate-form")
    menu = form.locator("select[name=model]")
    default = menu.input_value()
    assert default == "animatic"  # the shot's model: the demo's default
    menu.select_option("ltx")
    form.get_by_label("Takes").fill("1")
    form.get_by_label("Priority").select_option("rush")
    form.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("status").filter(has_text="Queued 1 take")).to_be_visible()
    expect(page.locator("form.generate-form select[name=model]")).to_have_value("ltx")
    expect(page.locator("form.generate-form input[name=takes]")).to_have_value("1")
    expect(page.locator("form.generate-form select[name=priority]")).to_have_value("rush")
    # a second click queues the same model again, not the shot's default
    page.locator("form.generate-form").get_by_role("button", name="Generate").click()
    jobs = page.locator("[id^=jobs-] .job")
    expect(jobs).to_have_count(2)
    for i in range(2):
        expect(jobs.nth(i)).to_contain_text(re.compile(r"\bLTX|\bltx\b"))
    # the shot's own model did not change: a fresh page opens on it
    page.reload()
    expect(page.locator("form.generate-form select[name=model]")).to_have_value(default)
