import pytest
from sqlalchemy import func, select

from app.activity.models import ActivityEvent
from app.characters.models import ReferenceImage
from app.design.models import Location, StylePreset
from app.media.models import MediaAsset
from app.media.store import get_store
from app.storyboard.models import Scene, Shot
from tests.images import TEXT_AS_PNG, png_bytes


def _count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _files() -> set[str]:
    root = get_store().root
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def setup(make_user, make_project, api_token):
    owner = make_user(name="Owner")
    project = make_project(owner)
    return owner, project, api_token(owner)


def _shots(db, project, n, **fields):
    scene = Scene(project_id=project.id, number="1", heading="INT. LAMP ROOM - NIGHT")
    db.add(scene)
    db.flush()
    db.add_all([Shot(project_id=project.id, scene_id=scene.id, code=f"1{chr(65 + i)}", **fields) for i in range(n)])
    db.commit()


def test_location_crud(client, setup):
    owner, p, h = setup
    r = client.post(f"/api/v1/projects/{p.id}/locations", json={"name": "Lamp room", "description": "Top.",
                    "prompt_fragment": "huge Fresnel lens", "negative_fragment": "people"}, headers=h)  # fmt: skip
    assert r.status_code == 201, r.text
    loc = r.json()
    assert loc["name"] == "Lamp room" and loc["references"] == [] and loc["thumb_url"] is None
    assert loc["shot_count"] == 0 and loc["project_id"] == p.id
    r = client.patch(f"/api/v1/locations/{loc['id']}", json={"prompt_fragment": "Fresnel lens, rain"}, headers=h)
    assert r.status_code == 200 and r.json()["prompt_fragment"] == "Fresnel lens, rain"
    assert r.json()["name"] == "Lamp room"
    assert client.get(f"/api/v1/locations/{loc['id']}", headers=h).json()["prompt_fragment"] == "Fresnel lens, rain"
    client.post(f"/api/v1/projects/{p.id}/locations", json={"name": "Beach"}, headers=h)
    names = [x["name"] for x in client.get(f"/api/v1/projects/{p.id}/locations", headers=h).json()]
    assert names == ["Beach", "Lamp room"]
    assert client.delete(f"/api/v1/locations/{loc['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/locations/{loc['id']}", headers=h).status_code == 404
    verbs = [e["verb"] for e in client.get(f"/api/v1/projects/{p.id}/activity", headers=h).json()]
    assert verbs[:4] == ["location.deleted", "location.created", "location.updated", "location.created"]


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "x" * 121}, {"name": "ok", "prompt_fragment": "p" * 2001},
     {"name": "ok", "kind": "int"}, {"name": 5}, {"name": "ok", "description": ["a"]}],
)
def test_bad_location_input_is_422_and_writes_nothing(client, db, setup, body):
    _, p, h = setup
    r = client.post(f"/api/v1/projects/{p.id}/locations", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]
    assert _count(db, Location, Location.project_id == p.id) == 0


def test_bad_patch_is_422_and_duplicates_409(client, setup):
    _, p, h = setup
    a = client.post(f"/api/v1/projects/{p.id}/locations", json={"name": "Harbour"}, headers=h).json()
    r = client.post(f"/api/v1/projects/{p.id}/locations", json={"name": "harbour"}, headers=h)
    assert r.status_code == 409 and "already a location called “Harbour”" in r.json()["detail"]
    assert r.json()["field"] == "name"
    for body in ({"name": None}, {"name": " "}, {"owner": 1}, {"description": "d" * 5001}):
        r = client.patch(f"/api/v1/locations/{a['id']}", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
    assert client.get(f"/api/v1/locations/{a['id']}", headers=h).json()["name"] == "Harbour"


def test_reference_upload(client, db, setup):
    _, p, h = setup
    loc = client.post(f"/api/v1/projects/{p.id}/locations", json={"name": "Lamp room"}, headers=h).json()
    r = client.post(f"/api/v1/locations/{loc['id']}/references", files={"file": ("dusk.png", png_bytes(320, 180),
                    "image/png")}, data={"caption": "dusk"}, headers=h)  # fmt: skip
    assert r.status_code == 201, r.text
    ref = r.json()
    assert ref["thumb_url"] == f"/media/{ref['asset_id']}/thumb" and ref["caption"] == "dusk"
    assert (ref["width"], ref["height"], ref["location_id"]) == (320, 180, loc["id"])
    thumb = client.get(ref["thumb_url"], headers=h)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    row = db.get(ReferenceImage, ref["id"])
    assert (row.location_id, row.character_id, row.look_id) == (loc["id"], None, None)
    got = client.get(f"/api/v1/locations/{loc['id']}", headers=h).json()
    assert got["thumb_url"] == ref["thumb_url"] and [x["id"] for x in got["references"]] == [ref["id"]]
    listed = client.get(f"/api/v1/projects/{p.id}/locations", headers=h).json()
    assert listed[0]["thumb_url"] == ref["thumb_url"]


def test_text_named_png_is_415_and_stores_nothing(client, db, setup):
    _, p, h = setup
    loc = client.post(f"/api/v1/projects/{p.id}/locations", json={"name": "Lamp room"}, headers=h).json()
    files = _files()
    events = _count(db, ActivityEvent, ActivityEvent.project_id == p.id)
    r = client.post(f"/api/v1/locations/{loc['id']}/references", files={"file": ("evil.png", TEXT_AS_PNG, "image/png")},
                    headers=h)  # fmt: skip
    assert r.status_code == 415 and "only PNG, JPEG and WebP" in r.json()["detail"]
    assert _files() == files
    assert _count(db, ReferenceImage, ReferenceImage.location_id == loc["id"]) == 0
    assert _count(db, MediaAsset, MediaAsset.project_id == p.id) == 0
    assert _count(db, ActivityEvent, ActivityEvent.project_id == p.id) == events


def test_upload_needs_a_file(client, setup):
    _, p, h = setup
    loc = client.post(f"/api/v1/projects/{p.id}/locations", json={"name": "Lamp room"}, headers=h).json()
    r = client.post(f"/api/v1/locations/{loc['id']}/references", data={"caption": "x"}, headers=h)
    assert r.status_code == 422 and "file" in r.json()["detail"]


def test_deleting_a_used_location_is_allowed_and_logged(client, db, setup):
    _, p, h = setup
    loc = client.post(f"/api/v1/projects/{p.id}/locations", json={"name": "Lamp room"}, headers=h).json()
    _shots(db, p, 2, location_id=loc["id"])
    assert client.get(f"/api/v1/locations/{loc['id']}", headers=h).json()["shot_count"] == 2
    assert client.delete(f"/api/v1/locations/{loc['id']}", headers=h).status_code == 204
    feed = client.get(f"/api/v1/projects/{p.id}/activity", headers=h).json()
    assert feed[0]["verb"] == "location.deleted" and feed[0]["data"]["shots"] == 2
    assert "2 shots" in feed[0]["summary"]
    assert _count(db, Shot, Shot.project_id == p.id, Shot.location_id.is_(None)) == 2


def test_style_crud_and_default_rules(client, db, setup):
    _, p, h = setup
    a = client.post(f"/api/v1/projects/{p.id}/styles", json={"name": "Vision3", "prompt_fragment": "35mm"}, headers=h)
    assert a.status_code == 201 and a.json()["is_default"] is True
    b = client.post(f"/api/v1/projects/{p.id}/styles", json={"name": "Alexa"}, headers=h).json()
    assert b["is_default"] is False
    r = client.post(f"/api/v1/styles/{b['id']}/default", headers=h)
    assert r.status_code == 200 and r.json()["is_default"] is True
    listed = client.get(f"/api/v1/projects/{p.id}/styles", headers=h).json()
    assert [(s["name"], s["is_default"]) for s in listed] == [("Alexa", True), ("Vision3", False)]
    r = client.patch(f"/api/v1/styles/{b['id']}", json={"is_default": False}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "is_default"
    r = client.patch(f"/api/v1/styles/{a.json()['id']}", json={"is_default": True, "name": "Vision3 500T"}, headers=h)
    assert r.status_code == 200 and r.json()["is_default"] and r.json()["name"] == "Vision3 500T"
    assert client.get(f"/api/v1/styles/{b['id']}", headers=h).json()["is_default"] is False
    assert client.delete(f"/api/v1/styles/{a.json()['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/styles/{b['id']}", headers=h).json()["is_default"] is True
    r = client.post(f"/api/v1/projects/{p.id}/styles", json={"name": "ALEXA"}, headers=h)
    assert r.status_code == 409 and "already a style" in r.json()["detail"]
    for body in ({}, {"name": ""}, {"name": "x" * 81}, {"name": "ok", "grain": "fine"},
                 {"name": "ok", "is_default": "maybe"}):
        assert client.post(f"/api/v1/projects/{p.id}/styles", json=body, headers=h).status_code == 422, body
    assert _count(db, StylePreset, StylePreset.project_id == p.id) == 1


def test_style_shot_count_and_delete_used_style(client, db, setup):
    _, p, h = setup
    client.post(f"/api/v1/projects/{p.id}/styles", json={"name": "Base"}, headers=h)
    s = client.post(f"/api/v1/projects/{p.id}/styles", json={"name": "Noir"}, headers=h).json()
    _shots(db, p, 3, style_id=s["id"])
    assert client.get(f"/api/v1/styles/{s['id']}", headers=h).json()["shot_count"] == 3
    assert client.delete(f"/api/v1/styles/{s['id']}", headers=h).status_code == 204
    feed = client.get(f"/api/v1/projects/{p.id}/activity", headers=h).json()
    assert feed[0]["verb"] == "style.deleted" and feed[0]["data"]["shots"] == 3


def test_presets_through_the_api(client, setup):
    _, p, h = setup
    presets = client.get(f"/api/v1/projects/{p.id}/style-presets", headers=h).json()
    assert len(presets) >= 5 and not any(x["added"] for x in presets)
    key = next(x["key"] for x in presets if "noir" in x["name"].lower())
    r = client.post(f"/api/v1/projects/{p.id}/style-presets", json={"preset": key}, headers=h)
    assert r.status_code == 201 and r.json()["is_default"] and r.json()["negative_fragment"]
    assert client.post(f"/api/v1/projects/{p.id}/style-presets", json={"preset": key}, headers=h).status_code == 409
    assert client.post(f"/api/v1/projects/{p.id}/style-presets", json={"preset": "nope"}, headers=h).status_code == 422
    added = {x["key"] for x in client.get(f"/api/v1/projects/{p.id}/style-presets", headers=h).json() if x["added"]}
    assert added == {key}


def _routes(p, loc, style):
    return [
        ("GET", f"/api/v1/projects/{p.id}/locations", None),
        ("POST", f"/api/v1/projects/{p.id}/locations", {"name": "X"}),
        ("GET", f"/api/v1/locations/{loc.id}", None), ("PATCH", f"/api/v1/locations/{loc.id}", {"name": "Y"}),
        ("DELETE", f"/api/v1/locations/{loc.id}", None), ("POST", f"/api/v1/locations/{loc.id}/references", "file"),
        ("GET", f"/api/v1/projects/{p.id}/styles", None), ("POST", f"/api/v1/projects/{p.id}/styles", {"name": "X"}),
        ("GET", f"/api/v1/projects/{p.id}/style-presets", None),
        ("POST", f"/api/v1/projects/{p.id}/style-presets", {"preset": "noir-bw"}),
        ("GET", f"/api/v1/styles/{style.id}", None), ("PATCH", f"/api/v1/styles/{style.id}", {"name": "Y"}),
        ("DELETE", f"/api/v1/styles/{style.id}", None), ("POST", f"/api/v1/styles/{style.id}/default", None),
    ]  # fmt: skip


def _call(client, method, url, body, h):
    if body == "file":
        return client.post(url, files={"file": ("a.png", png_bytes(), "image/png")}, headers=h)
    return client.request(method, url, json=body, headers=h)


def test_non_members_get_404_and_viewers_cannot_write(client, db, setup, make_user, add_member, api_token):
    owner, p, h = setup
    loc = Location(project_id=p.id, name="Lamp room", name_key="lamp room")
    style = StylePreset(project_id=p.id, name="Noir", is_default=True)
    db.add_all([loc, style])
    db.commit()
    stranger = api_token(make_user(name="Stranger"))
    viewer = make_user(name="Viewer")
    add_member(p, viewer, "viewer")
    vh = api_token(viewer)
    for method, url, body in _routes(p, loc, style):
        assert _call(client, method, url, body, stranger).status_code == 404, (method, url)
        got = _call(client, method, url, body, vh).status_code
        assert got == (200 if method == "GET" else 403), (method, url, got)
    assert client.get("/api/v1/locations/99999999", headers=h).status_code == 404
    assert client.get("/api/v1/styles/99999999", headers=h).status_code == 404


def test_artists_may_edit_locations_and_styles(client, setup, make_user, add_member, api_token):
    _, p, _ = setup
    artist = make_user(name="Artist")
    add_member(p, artist, "artist")
    h = api_token(artist)
    assert client.post(f"/api/v1/projects/{p.id}/locations", json={"name": "Cliff"}, headers=h).status_code == 201
    assert client.post(f"/api/v1/projects/{p.id}/styles", json={"name": "Noir"}, headers=h).status_code == 201
