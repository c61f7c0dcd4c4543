"""The import page: paste or upload, the report, errors, access."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.characters.models import Character
from app.storyboard.models import Scene

SAMPLES = Path(__file__).parent / "samples"
DRAFT1 = (SAMPLES / "last_ferry.fountain").read_text(encoding="utf-8")


@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def project(make_project, owner):
    return make_project(owner, name="Ferry")


def scene_count(db, project) -> int:
    return db.scalar(select(func.count()).select_from(Scene).where(Scene.project_id == project.id))


def test_the_page_has_a_dropzone_and_a_paste_box(sign_in, owner, project):
    page = sign_in(owner).get(f"/projects/{project.id}/import")
    assert page.status_code == 200
    html = page.text
    assert 'class="dropzone"' in html and 'enctype="multipart/form-data"' in html and 'name="file"' in html
    assert '<textarea name="text"' in html and 'name="csrf_token"' in html
    assert "/static/css/screenplay.css" in html and 'aria-current="page">Import script' in html


def test_paste_shows_the_report_with_links(sign_in, owner, project, db):
    r = sign_in(owner).post(f"/projects/{project.id}/import", data={"text": DRAFT1})
    assert r.status_code == 201
    html = r.text
    assert "Imported “THE LAST FERRY”" in html
    assert '<tr data-kind="shots"><th scope="row">Shots</th><td class="num">13</td>' in html
    assert f'href="/projects/{project.id}/storyboard"' in html
    assert "EXT. FERRY LANDING - DAWN" in html and "3 shots" in html
    mckenna = db.scalar(select(Character).where(Character.project_id == project.id, Character.name == "McKENNA"))
    assert f'<a href="/characters/{mckenna.id}">McKENNA</a>' in html
    assert "before the first scene heading" in html
    assert scene_count(db, project) == 7


def test_upload_then_the_same_file_again(sign_in, owner, project, db):
    b = sign_in(owner)
    files = {"file": ("last_ferry.fountain", DRAFT1.encode(), "application/octet-stream")}
    r = b.post(f"/projects/{project.id}/import", files=files)
    assert r.status_code == 201 and "Imported" in r.text
    r = b.post(f"/projects/{project.id}/import", files=files)
    assert r.status_code == 200 and "Already imported" in r.text and "nothing was added" in r.text
    assert scene_count(db, project) == 7
    feed = b.get(f"/projects/{project.id}").text
    assert "imported “THE LAST FERRY”: 7 new scenes, 13 new shots, 4 new characters, 7 new locations" in feed
    assert "re-imported “THE LAST FERRY”: nothing new" in feed


def test_htmx_gets_the_report_fragment(sign_in, owner, project):
    r = sign_in(owner).post(f"/projects/{project.id}/import", data={"text": DRAFT1}, headers={"HX-Request": "true"})
    assert r.status_code == 201
    assert r.text.lstrip().startswith('<div class="import-report"') and "<html" not in r.text


def test_errors_rerender_the_form_with_what_was_typed(sign_in, owner, project, db):
    b = sign_in(owner)
    r = b.post(f"/projects/{project.id}/import", data={"text": "Dear diary & friends,\n\nnothing happened."})
    assert r.status_code == 422
    assert "no scene headings found: is this a Fountain screenplay?" in r.text
    assert "Dear diary &amp; friends," in r.text and 'aria-invalid="true"' in r.text
    r = b.post(f"/projects/{project.id}/import", data={"text": ""})
    assert r.status_code == 422 and "paste a screenplay or choose a .fountain file" in r.text
    r = b.post(f"/projects/{project.id}/import", files={"file": ("x.fountain", b"", "text/plain")})
    assert r.status_code == 422 and "the screenplay is empty" in r.text
    latin1 = "INT. É".encode("latin-1")
    r = b.post(f"/projects/{project.id}/import", files={"file": ("x.fountain", latin1, "text/plain")})
    assert r.status_code == 422 and "not UTF-8" in r.text
    big = b"INT. A - DAY\n\n" + b"x" * (2 * 1024 * 1024)
    r = b.post(f"/projects/{project.id}/import", files={"file": ("big.fountain", big, "text/plain")})
    assert r.status_code == 413 and "larger than 2 MB" in r.text
    assert scene_count(db, project) == 0


def test_htmx_errors_go_to_the_flash_area(sign_in, owner, project):
    r = sign_in(owner).post(f"/projects/{project.id}/import", data={"text": "no scenes"},
                            headers={"HX-Request": "true"})  # fmt: skip
    assert r.status_code == 422 and r.headers["HX-Retarget"] == "#flash"
    assert "no scene headings found" in r.text


def test_access(sign_in, make_user, add_member, project, db):
    viewer, outsider, artist = make_user(), make_user(), make_user()
    add_member(project, viewer, "viewer")
    add_member(project, artist, "artist")
    v = sign_in(viewer)
    assert v.get(f"/projects/{project.id}/import").status_code == 403
    assert v.post(f"/projects/{project.id}/import", data={"text": DRAFT1}).status_code == 403
    assert "Import script" not in v.get(f"/projects/{project.id}").text
    o = sign_in(outsider)
    assert o.get(f"/projects/{project.id}/import").status_code == 404
    assert o.post(f"/projects/{project.id}/import", data={"text": DRAFT1}).status_code == 404
    assert scene_count(db, project) == 0
    assert sign_in(artist).post(f"/projects/{project.id}/import", data={"text": DRAFT1}).status_code == 201
