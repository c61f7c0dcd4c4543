"""Pictures in the browser, on an embedded Slate (SQLite, in-process worker on the default and media queues) with
the demo: every shot card of the storyboard shows a real picture (the sketches are drawn by the worker after the
board asks for them and arrive through live events), and hovering a frame that has a take scrubs its filmstrip."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.studio import embedded_demo, sign_up

pytestmark = pytest.mark.browser

# Whether an <img> is drawn and not one flat colour: its pixels through a canvas (same origin: readable).
PIXELS = """img => {
  if (!img.complete || img.naturalWidth === 0) return null;
  const c = document.createElement('canvas');
  c.width = 64; c.height = 36;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0, 64, 36);
  const d = g.getImageData(0, 0, 64, 36).data;
  const seen = new Set();
  for (let i = 0; i < d.length; i += 4) seen.add((d[i] >> 3) + ',' + (d[i + 1] >> 3) + ',' + (d[i + 2] >> 3));
  return {width: img.naturalWidth, colours: seen.size};
}"""


@pytest.fixture
def embedded(tmp_path):
    with embedded_demo(tmp_path) as (base, _settings):
        yield base



def test_every_shot_card_of_the_demo_shows_a_picture_and_a_take_scrubs(browser, embedded):
    context = browser.new_context(base_url=embedded, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    sign_up(page)
    page.get_by_role("link", name="The Lighthouse Keeper").click()
    page.get_by_role("link", name="Storyboard").click()
    cards = page.locator(".shot-card")
    count = cards.count()
    assert count >= 3
    # The board queued the missing sketches; the worker draws them and each card swaps its picture in, live.
    expect(page.locator(".shot-card .shot-frame img")).to_have_count(count, timeout=60_000)
    for i in range(count):
        img = cards.nth(i).locator(".shot-frame img")
        img.scroll_into_view_if_needed()
        expect(img).to_have_attribute("src", re.compile(r"^/shots/\d+/frame(\?v=\w+)?$"))  # live, or asked for
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        seen = img.evaluate(PIXELS)
        assert seen["width"] > 0 and seen["colours"] > 20, (i, seen)  # a picture, not a flat box
    page.screenshot(path=str(_screens() / "storyboard-1440.png"))

    # A take for shot 1B, rendered by the embedded worker, then hover-scrub its filmstrip on the board.
    page.locator("a.shot-code", has_text="1B").click()
    form = page.locator("form.generate-form")
    form.get_by_label("Takes").fill("1")
    form.get_by_role("button", name="Generate").click()
    expect(page.locator("figure.take video").first).to_be_visible(timeout=90_000)
    page.get_by_role("link", name="Storyboard").first.click()
    frame = page.locator(".shot-card", has=page.locator("a.shot-code", has_text="1B")).locator(".shot-frame")
    expect(frame).to_have_attribute("data-take", re.compile(r"^\d+$"))
    expect(frame).to_have_attribute("data-tiles", "10")
    frame.scroll_into_view_if_needed()
    box = frame.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.05, box["y"] + box["height"] / 2)
    strip = frame.locator(".frame-strip")
    expect(strip).to_be_visible()
    expect(strip).to_have_attribute("data-tile", "0")
    page.wait_for_timeout(300)  # the sprite loads
    first = np.asarray(Image.open(io.BytesIO(frame.screenshot())).convert("RGB"), dtype=np.int16)
    page.mouse.move(box["x"] + box["width"] * 0.95, box["y"] + box["height"] / 2)
    expect(strip).to_have_attribute("data-tile", "9")
    last = np.asarray(Image.open(io.BytesIO(frame.screenshot())).convert("RGB"), dtype=np.int16)
    assert np.abs(first - last).mean() > 2  # the displayed frame changed
    frame.click()  # plays the take in place
    expect(frame.locator("video")).to_have_attribute("src", re.compile(r"^/api/v1/takes/\d+/video$"))
    context.close()


def _screens():
    from pathlib import Path

    out = Path(__file__).resolve().parent / "screens"
    out.mkdir(exist_ok=True)
    return out
