"""Answers go out gzipped where it pays (pages, JSON, CSS, JS) and untouched where it would hurt: the live
event stream (nothing may be held back) and pictures or video (already compressed)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.media import service as media_service

GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}


def _gzipped(response) -> bool:
    return response.headers.get("content-encoding") == "gzip"


@pytest.fixture
def owner_page(make_user, make_project, sign_in):
    owner = make_user(name="Ada")
    project = make_project(owner, name="Storm Season", description="A keeper, a storm, a light that must not go out.")
    return sign_in(owner), project


def test_pages_are_gzipped_for_browsers_that_ask(owner_page):
    browser, project = owner_page
    zipped = browser.get(f"/projects/{project.id}/storyboard", headers=GZIP)
    assert zipped.status_code == 200 and _gzipped(zipped)
    assert "accept-encoding" in zipped.headers["vary"].lower()  # caches keep both forms apart
    wire = int(zipped.headers["content-length"])
    plain = browser.get(f"/projects/{project.id}/storyboard", headers=PLAIN)
    assert plain.status_code == 200 and not _gzipped(plain)
    assert zipped.text == plain.text  # the client unzips to the same page
    assert wire < len(plain.content) / 2
    assert zipped.headers["content-security-policy"] == plain.headers["content-security-policy"]


def test_json_css_and_js_are_gzipped(owner_page):
    browser, project = owner_page
    for url in ("/openapi.json", f"/api/v1/projects/{project.id}", "/static/css/slate.css", "/static/js/slate.js",
                "/static/vendor/htmx.min.js"):  # fmt: skip
        r = browser.get(url, headers=GZIP)
        assert r.status_code == 200, url
        if len(browser.get(url, headers=PLAIN).content) >= 1024:
            assert _gzipped(r), url


def test_small_answers_are_left_alone(client):
    r = client.get("/healthz", headers=GZIP)
    assert r.status_code == 200 and not _gzipped(r)


def test_the_event_stream_is_never_gzipped(owner_page):
    browser, project = owner_page
    with browser.client.stream("GET", f"/projects/{project.id}/events?once=1", headers=GZIP) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in r.headers
        assert "event: ready" in "".join(r.iter_text())


def _noisy_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((800, 600), 64).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_pictures_are_sent_as_they_are(db, owner_page):
    browser, project = owner_page
    asset = media_service.store_image(db, project_id=project.id, data=_noisy_jpeg(), filename="x.jpg",
                                      actor=browser.user)  # fmt: skip
    db.commit()
    for url in (f"/media/{asset.id}", f"/media/{asset.id}/thumb"):
        r = browser.get(url, headers=GZIP)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/"), url
        assert len(r.content) > 1024 and not _gzipped(r), url
    part = browser.get(f"/media/{asset.id}", headers={**GZIP, "Range": "bytes=0-99"})
    assert part.status_code == 206 and not _gzipped(part) and len(part.content) == 100
