"""In Chromium: a rejected form comes back with what was typed still in its fields and the message next to the
field that is wrong, for a plain post (New project) and for the board's Add shot; a field the framework rejects
gets a Slate page in words whose Back link returns to the form as typed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_team_flow import sign_up

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).parent / "screens"


def _shot(page: Page, name: str) -> None:
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / f"forms-{name}.png"), full_page=True)


def test_a_rejected_form_keeps_the_typed_values(new_context):
    person = sign_up(new_context, "Ada Director", "ada@example.org")
    page = person.page
    for width, height in [(1440, 900), (390, 844)]:
        page.set_viewport_size({"width": width, "height": height})
        page.goto("/projects/new")
        page.get_by_label("Name", exact=True).fill("   ")  # blank-only passes the browser's `required`
        page.get_by_label("Description").fill("A courier works the graveyard shift.")
        page.get_by_label("Frame rate").select_option(label="25 fps")
        page.get_by_label("Width (px)").fill("1920")
        page.get_by_role("button", name="Create project").click()
        expect(page.locator("#name-error")).to_have_text("The project needs a name.")
        expect(page.locator("#name-error")).to_be_visible()
        expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Name", exact=True)).to_be_focused()
        expect(page.get_by_label("Description")).to_have_value("A courier works the graveyard shift.")
        expect(page.get_by_label("Frame rate")).to_have_value("25.0")
        expect(page.get_by_label("Width (px)")).to_have_value("1920")
        _shot(page, f"new-project-{width}")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/projects")
    expect(page.get_by_role("heading", name="No projects yet")).to_be_visible()
    assert "graveyard" not in page.content()  # nothing was created


def test_add_shot_without_a_line_asks_for_one_in_place(new_context):
    person = sign_up(new_context, "Ada Director", "ada@example.org")
    page = person.page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/projects/new")
    page.get_by_label("Name", exact=True).fill("Night Shift")
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(r"/projects/\d+$"))
    board = page.url + "/storyboard"
    page.goto(board)
    page.get_by_label("Heading").fill("EXT. PIER - DAWN")
    page.get_by_role("button", name="Add scene").click()
    expect(page.locator(".add-shot")).to_have_count(1)
    form = page.locator(".add-shot")
    form.get_by_label("New shot").fill("  ")
    form.get_by_label("Framing").select_option("CU")
    form.get_by_role("button", name="Add shot", exact=True).click()
    message = page.locator(".add-shot + .field-error")
    expect(message).to_have_text("Say what happens in the shot, in a line.")
    expect(message).to_be_in_viewport()
    form = page.locator(".add-shot")
    expect(form.get_by_label("Framing")).to_have_value("CU")
    expect(form.get_by_label("New shot")).to_be_focused()
    expect(page.locator(".shot-card")).to_have_count(0)
    _shot(page, "add-shot-1440")


def test_a_framework_refusal_reads_in_words_and_back_keeps_the_typing(new_context):
    person = sign_up(new_context, "Ada Director", "ada@example.org")
    page = person.page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/projects/new")
    name = page.get_by_label("Name", exact=True)
    name.evaluate("el => el.removeAttribute('maxlength')")  # what an old browser or a script might send
    name.fill("N" * 501)
    page.get_by_label("Description").fill("Typed before the refusal.")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Check the form")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("The name is at most 500 characters.")
    _shot(page, "refused-1440")
    page.get_by_role("link", name="Back to the form").click()
    expect(page).to_have_url(re.compile(r"/projects/new$"))
    expect(page.get_by_label("Description")).to_have_value("Typed before the refusal.")
