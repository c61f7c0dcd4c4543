"""End to end in Chromium: the writers' room — a character with a reference picture and locked versions,
a storyboard scene whose shots are reordered by dragging, the live compiled prompt, and screenplay import."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_team_flow import create_project, sign_up, submit
from tests.images import png_bytes

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parents[1] / "screenplay" / "samples" / "last_ferry.fountain"
LAST_FERRY_SCENES = [
    "EXT. FERRY LANDING - DAWN",
    "INT. FERRY WHEELHOUSE - CONTINUOUS",
    "EXT. OPEN WATER - DAY",
    "INT./EXT. FERRY CAR DECK - DAY",
    "FLASHBACK - THE HARBOUR, 1987",
    "EST. TIDEWATER ISLAND - DUSK",
    "INT. ELSIE'S COTTAGE - NIGHT",
]


def owner_with_project(new_context) -> tuple[Page, str]:
    """The first account (the owner) and its project 'Night Shift', all through the pages."""
    alice = sign_up(new_context, "Alice Director", "alice@example.com")
    return alice.page, create_project(alice.page)


def open_tab(page: Page, project: str, name: str, path: str) -> None:
    """Follow one of the project's tabs (Storyboard, Characters, Import script...)."""
    page.goto(project)
    page.get_by_role("navigation", name="Project").get_by_role("link", name=name).click()
    expect(page).to_have_url(re.compile(rf"{project}/{path}$"))


def flash(page: Page) -> Locator:
    return page.locator("#flash").get_by_role("status")


# ---- characters ---------------------------------------------------------------------------------


def test_character_with_reference_and_lock(new_context) -> None:
    page, project = owner_with_project(new_context)
    open_tab(page, project, "Characters", "characters")
    expect(page.get_by_role("heading", name="No characters yet")).to_be_visible()

    form = page.locator("section.new-character")
    form.get_by_label("Name", exact=True).fill("Mara")
    form.get_by_label("Prompt fragment").fill("a weathered ferry captain in her sixties, silver braid")
    submit(page, form.get_by_role("button", name="Create character").click)
    expect(page).to_have_url(re.compile(r"/characters/\d+$"))
    expect(page.get_by_role("heading", name="Mara", exact=True)).to_be_visible()
    expect(flash(page)).to_contain_text("“Mara” joined the cast.")
    character_id = page.url.rsplit("/", 1)[1]
    badge = page.locator(f"#status-character-{character_id} .lock-badge")
    expect(badge).to_have_text("v1 · draft")

    # A reference picture through the dropzone form's file input (htmx swaps the block in place).
    refs = page.locator("#references")
    expect(refs).to_contain_text("No reference pictures yet.")
    dropzone = refs.locator("form.dropzone")
    dropzone.get_by_label("Pictures").set_input_files(
        {"name": "mara.png", "mimeType": "image/png", "buffer": png_bytes(96, 64)})
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(
            f"/characters/{character_id}/references")) as upload:  # fmt: skip
        dropzone.get_by_role("button", name="Upload").click()
    assert upload.value.status == 200, upload.value.text()[:300]
    thumb = refs.locator(".ref-grid img")
    expect(thumb).to_have_count(1)
    expect(thumb).to_have_attribute("src", re.compile(r"^/media/\d+/thumb$"))
    expect(refs).not_to_contain_text("No reference pictures yet.")
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())

    # Lock: the badge says v1 · locked and v1 is in the history.
    submit(page, page.get_by_role("button", name="Lock version 1").click)
    expect(flash(page)).to_contain_text("“Mara” is locked at version 1.")
    expect(badge).to_have_text("v1 · locked")
    expect(page.get_by_role("button", name=re.compile(r"^Lock version"))).to_have_count(0)
    history = page.locator("#versions .version-list .version")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("Mara v1")
    expect(history.first).to_contain_text("First locked version.")
    # The picture survived the full page load, in the header too.
    expect(page.locator(".character-head .portrait img")).to_have_attribute("src", re.compile(r"^/media/\d+/thumb$"))

    # Editing the locked character starts a draft of v2; v1 stays locked in the history.
    details = page.locator("#details")
    edited = "a weathered ferry captain, silver braid, oilskin coat"
    details.get_by_label("Prompt fragment").fill(edited)
    submit(page, details.get_by_role("button", name="Save as version 2").click)
    expect(flash(page)).to_contain_text("Version 2 started; version 1 stays locked.")
    expect(badge).to_have_text("v2 · draft")
    expect(page.locator(f"#status-character-{character_id}")).to_contain_text("v1 locked")
    expect(page.get_by_role("button", name="Lock version 2")).to_be_visible()
    expect(details.get_by_label("Prompt fragment")).to_have_value(edited)
    draft = page.locator("#versions .draft-changes")
    expect(draft).to_contain_text("Draft v2")
    expect(draft).to_contain_text("oilskin coat")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("Mara v1")

    # The library grid agrees.
    open_tab(page, project, "Characters", "characters")
    card = page.locator(".character-card").filter(has_text="Mara")
    expect(card.locator(".lock-badge")).to_have_text("v2 · draft")
    expect(card).to_contain_text("1 reference")
    expect(card.locator(".portrait img")).to_have_attribute("src", re.compile(r"^/media/\d+/thumb$"))


# ---- storyboard ----------------------------------------------------------------------------------


def drag(page: Page, source: Locator, target: Locator) -> None:
    """A real pointer drag from `source` onto the left part of `target`, in small steps (SortableJS).

    The short pauses let Sortable's 150 ms swap animation finish: it ignores a card while it is moving."""
    source.scroll_into_view_if_needed()
    source.hover()
    page.mouse.down()
    start, box = source.bounding_box(), target.bounding_box()
    assert start is not None and box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(start["x"] + start["width"] / 2 - 8, start["y"] + start["height"] / 2, steps=4)
    for x in (box["x"] + box["width"] * 0.6, box["x"] + box["width"] * 0.3, box["x"] + box["width"] * 0.15):
        page.mouse.move(x, y, steps=10)
        page.wait_for_timeout(200)
    page.mouse.up()


def test_scene_with_three_shots_reorder_and_live_prompt(new_context) -> None:
    page, project = owner_with_project(new_context)
    open_tab(page, project, "Storyboard", "storyboard")
    expect(page.get_by_role("heading", name="No scenes yet")).to_be_visible()

    add_scene = page.locator("#add-scene")
    add_scene.get_by_label("Heading").fill("INT. LAMP ROOM - NIGHT")
    submit(page, add_scene.get_by_role("button", name="Add scene").click)
    expect(flash(page)).to_contain_text("Scene 1 added.")
    scene = page.locator("section.scene").filter(has=page.get_by_role("heading", name="INT. LAMP ROOM - NIGHT"))
    expect(scene).to_have_count(1)

    for action in ("First", "Second", "Third"):
        scene.get_by_label("New shot").fill(action)
        submit(page, scene.get_by_role("button", name="Add shot", exact=True).click)
        expect(flash(page)).to_contain_text(re.compile(r"Shot 1[ABC] added\."))
    cards = scene.locator(".shot-card")
    expect(cards.locator(".shot-action")).to_have_text(["First", "Second", "Third"])
    expect(cards.locator("a.shot-code")).to_have_text(["1A", "1B", "1C"])
    expect(scene.locator(".scene-head .meta")).to_have_text("3 shots")

    # Drag the third card above the first by its handle, with real mouse moves.
    page.wait_for_function("() => !!document.querySelector('.shot-list[data-sortable]')._sortable")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/move")) as moved:
        drag(page, cards.nth(2).locator(".drag-handle"), cards.nth(0))
    assert moved.value.status == 200, moved.value.text()[:300]
    expect(cards.locator(".shot-action")).to_have_text(["Third", "First", "Second"])

    page.reload()
    expect(cards.locator(".shot-action")).to_have_text(["Third", "First", "Second"])
    expect(cards.locator("a.shot-code")).to_have_text(["1C", "1A", "1B"])  # codes never change silently

    # The shot editor: the compiled prompt follows the unsaved fields live.
    scene.get_by_role("link", name="1A", exact=True).click()
    expect(page).to_have_url(re.compile(r"/shots/\d+$"))
    expect(page.get_by_role("heading", name=re.compile(r"^Shot 1A"))).to_be_visible()
    editor = page.locator("#shot-form")
    final = page.locator("#final-prompt")
    expect(final).to_contain_text("First")
    expect(final).not_to_contain_text("close-up")
    live = page.locator("#compiled .badge.live")
    expect(live).to_have_count(0)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads or navigates

    prompt = editor.locator("textarea[name=prompt]")
    prompt.click()
    prompt.press_sequentially("lamp keeper trims the wick")
    expect(final).to_contain_text("lamp keeper trims the wick")
    expect(live).to_have_text("unsaved")

    editor.locator("summary", has_text="Camera").click()  # the camera section opens on demand
    editor.get_by_role("combobox", name=re.compile(r"^Framing")).select_option("CU")
    expect(final).to_contain_text("close-up")
    editor.get_by_role("combobox", name=re.compile(r"^Move")).select_option("dolly_in")
    expect(final).to_contain_text(re.compile(r"doll(y|ies) in"))
    expect(final).to_contain_text("lamp keeper trims the wick")
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded while typing"
    expect(page).to_have_url(re.compile(r"/shots/\d+$"))

    # Saved, the storyboard card shows the camera and the order still holds.
    submit(page, editor.get_by_role("button", name="Save shot").click)
    expect(flash(page)).to_contain_text("Shot 1A saved.")
    expect(live).to_have_count(0)
    expect(final).to_contain_text("lamp keeper trims the wick")
    expect(final).to_contain_text("close-up")
    open_tab(page, project, "Storyboard", "storyboard")
    expect(cards.locator(".shot-action")).to_have_text(["Third", "First", "Second"])
    expect(cards.nth(1).locator(".cam-badge")).to_have_text("CU · dolly in")


# ---- screenplay import ------------------------------------------------------------------------------


def tally(page: Page, kind: str) -> Locator:
    return page.locator(f"#import-report tr[data-kind={kind}] td.num")


def test_import_screenplay(new_context) -> None:
    page, project = owner_with_project(new_context)
    open_tab(page, project, "Import script", "import")
    expect(page.get_by_role("heading", name="Import a screenplay")).to_be_visible()

    # Choosing the file submits the dropzone form by itself (htmx puts the report beside it).
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/import")) as first:
        page.get_by_label("Fountain file").set_input_files(str(SAMPLE))
    assert first.value.status == 201, first.value.text()[:300]
    report = page.locator("#import-report")
    expect(report.get_by_role("heading", level=2)).to_have_text("Imported “THE LAST FERRY”")
    expect(tally(page, "scenes")).to_have_text(["7", "0", "0"])
    expect(tally(page, "shots")).to_have_text(["13", "0", "0"])
    expect(tally(page, "characters")).to_have_text(["4", "0", "0"])
    expect(report.locator(".import-scenes li .heading")).to_have_text(LAST_FERRY_SCENES)
    expect(report.locator(".import-characters li")).to_have_count(4)
    expect(report.locator(".import-characters")).to_contain_text("MARA")
    expect(report.locator(".import-warnings")).to_contain_text("before the first scene heading")

    report.get_by_role("link", name="Open the storyboard").click()
    expect(page).to_have_url(re.compile(rf"{project}/storyboard$"))
    expect(page.locator("section.scene h2")).to_have_text(LAST_FERRY_SCENES)
    expect(page.locator(".shot-card")).to_have_count(13)
    landing = page.locator("section.scene").filter(has=page.get_by_role("heading", name=LAST_FERRY_SCENES[0]))
    expect(landing.locator("a.shot-code")).to_have_text(["1A", "1B", "1C"])
    expect(landing.locator(".shot-action").first).to_contain_text("Fog sits on the water.")

    # The same script again, pasted this time: nothing new.
    open_tab(page, project, "Import script", "import")
    page.get_by_label("Fountain text").fill(SAMPLE.read_text(encoding="utf-8"))
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/import")) as second:
        page.get_by_role("button", name="Import", exact=True).click()
    assert second.value.status == 200, second.value.text()[:300]
    expect(report.get_by_role("heading", level=2)).to_have_text("Already imported “THE LAST FERRY”")
    expect(report).to_contain_text("nothing was added")
    expect(tally(page, "scenes")).to_have_text(["0", "0", "7"])
    expect(tally(page, "shots")).to_have_text(["0", "0", "13"])
    expect(tally(page, "characters")).to_have_text(["0", "0", "4"])
    expect(report.locator(".import-scenes")).to_have_count(0)
    expect(report.locator(".import-characters")).to_have_count(0)

    report.get_by_role("link", name="Open the storyboard").click()
    expect(page.locator("section.scene h2")).to_have_text(LAST_FERRY_SCENES)
    expect(page.locator(".shot-card")).to_have_count(13)
    open_tab(page, project, "Characters", "characters")
    expect(page.locator(".character-card")).to_have_count(4)
