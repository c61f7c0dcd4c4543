"""POST /api/v1/projects/{project_id}/import/fountain: text, multipart and JSON bodies; refusals; access."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.characters.models import Character
from app.design.models import Location
from app.screenplay import service
from app.storyboard.models import Scene, Shot

SAMPLES = Path(__file__).parent / "samples"
DRAFT1 = (SAMPLES / "last_ferry.fountain").read_bytes()
SMALL = ("Title: Short\n\nINT. KITCHEN - NIGHT #3#\n\nRain on the window. MARA counts coins.\n\n"
         "MARA\n(quietly)\nIt's enough.\n")


def url(project) -> str:
    return f"/api/v1/projects/{project.id}/import/fountain"


def nothing_written(db, project) -> bool:
    return all(db.scalar(select(func.count()).select_from(m).where(m.project_id == project.id)) == 0
               for m in (Scene, Shot, Character, Location))  # fmt: skip


@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def project(make_project, owner):
    return make_project(owner)


def test_plain_text_body_then_reimport(client, api_token, owner, project, db):
    headers = {**api_token(owner), "Content-Type": "text/plain; charset=utf-8"}
    r = client.post(url(project), content=DRAFT1, headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["title"] == "THE LAST FERRY"
    assert body["scenes"] == {"created": 7, "updated": 0, "unchanged": 0}
    assert body["shots"] == {"created": 13, "updated": 0, "unchanged": 0}
    assert body["characters"] == {"created": 4, "updated": 0, "unchanged": 0}
    assert [c["name"] for c in body["created_characters"]] == ["MARA", "TOMAS", "ELSIE", "McKENNA"]
    assert body["created_scenes"][0] == {"id": body["created_scenes"][0]["id"], "number": "1",
                                         "heading": "EXT. FERRY LANDING - DAWN", "shots": 3}  # fmt: skip
    assert body["storyboard_url"] == f"/projects/{project.id}/storyboard"
    assert len(body["warnings"]) == 1

    r = client.post(url(project), content=DRAFT1.replace(b"\n", b"\r\n"), headers=headers)
    assert r.status_code == 200
    assert r.json()["shots"] == {"created": 0, "updated": 0, "unchanged": 13}
    assert db.scalar(select(func.count()).select_from(Shot).where(Shot.project_id == project.id)) == 13


def test_multipart_upload(client, api_token, owner, project, db):
    r = client.post(url(project), files={"file": ("ferry.fountain", DRAFT1, "application/octet-stream")},
                    headers=api_token(owner))  # fmt: skip
    assert r.status_code == 201 and r.json()["scenes"]["created"] == 7


def test_json_body(client, api_token, owner, project, db):
    r = client.post(url(project), json={"text": SMALL}, headers=api_token(owner))
    assert r.status_code == 201
    scene = db.scalar(select(Scene).where(Scene.project_id == project.id))
    assert (scene.number, scene.heading) == ("3", "INT. KITCHEN - NIGHT")
    shot = db.scalar(select(Shot).where(Shot.scene_id == scene.id))
    assert (shot.code, shot.dialogue) == ("3A", "MARA: (quietly) It's enough.")


def test_browser_session_with_csrf_header(sign_in, owner, project):
    b = sign_in(owner)
    r = b.post(url(project), content=SMALL.encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 201
    r = b.client.post(url(project), content=SMALL.encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 403  # no CSRF token


@pytest.mark.parametrize(("kw", "status", "detail", "field"), [
    ({"content": b"", "headers": {"Content-Type": "text/plain"}}, 422, "the screenplay is empty", "body"),
    ({"content": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "headers": {"Content-Type": "text/plain"}}, 422,
     "binary file", "body"),
    ({"content": "INT. CAFÉ - DAY\n\nÉclair.\n".encode("cp1252"), "headers": {"Content-Type": "text/plain"}}, 422,
     "not UTF-8", "body"),
    ({"content": b"Dear diary,\n\ntoday nothing happened.\n", "headers": {"Content-Type": "text/plain"}}, 422,
     "no scene headings found: is this a Fountain screenplay?", "body"),
    ({"json": {"script": "INT. A - DAY"}}, 422, 'send the screenplay as {"text"', "text"),
    ({"json": {"text": ""}}, 422, "the screenplay is empty", "text"),
    ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422, "not valid JSON", "text"),
    ({"files": {"file": ("ferry.pdf", b"%PDF-1.4\n\xff\xfe", "application/pdf")}}, 422, "PDF", "file"),
    ({"files": {"other": ("x.fountain", b"INT. A - DAY\n\nA.\n", "text/plain")}}, 422, "form field “file”", "file"),
])  # fmt: skip
def test_refusals_are_clear_and_write_nothing(client, api_token, owner, project, db, kw, status, detail, field):
    headers = {**api_token(owner), **kw.pop("headers", {})}
    r = client.post(url(project), headers=headers, **kw)
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"] and r.json()["field"] == field
    assert nothing_written(db, project)


def test_too_large(client, api_token, owner, project, db):
    big = b"INT. A - DAY\n\n" + b"A line of action.\n" * (service.MAX_BYTES // 18 + 10)
    r = client.post(url(project), content=big, headers={**api_token(owner), "Content-Type": "text/plain"})
    assert r.status_code == 413 and "larger than 2 MB" in r.json()["detail"]
    r = client.post(url(project), files={"file": ("big.fountain", big, "text/plain")}, headers=api_token(owner))
    assert r.status_code == 413
    assert nothing_written(db, project)


def test_access(client, api_token, make_user, add_member, owner, project, db):
    outsider, viewer, artist = make_user(), make_user(), make_user()
    add_member(project, viewer, "viewer")
    add_member(project, artist, "artist")
    send = {"content": SMALL.encode(), "headers": {"Content-Type": "text/plain"}}
    assert client.post(url(project), **send).status_code == 401
    r = client.post(url(project), content=SMALL.encode(), headers={**api_token(outsider), "Content-Type": "text/plain"})
    assert r.status_code == 404
    r = client.post(url(project), content=SMALL.encode(), headers={**api_token(viewer), "Content-Type": "text/plain"})
    assert r.status_code == 403
    assert nothing_written(db, project)
    r = client.post(url(project), content=SMALL.encode(), headers={**api_token(artist), "Content-Type": "text/plain"})
    assert r.status_code == 201


def test_non_member_gets_404_before_the_body_is_judged(client, api_token, make_user, project):
    r = client.post(url(project), content=b"", headers={**api_token(make_user()), "Content-Type": "text/plain"})
    assert r.status_code == 404


def test_openapi_describes_the_three_bodies(client):
    op = client.get("/openapi.json").json()["paths"]["/api/v1/projects/{project_id}/import/fountain"]["post"]
    assert set(op["requestBody"]["content"]) == {"text/plain", "multipart/form-data", "application/json"}
