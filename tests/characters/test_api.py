import pytest
from sqlalchemy import func, select

from app.characters import service
from app.characters.models import Character, CharacterVersion, Look, ReferenceImage
from app.media.models import MediaAsset
from app.media.store import get_store
from app.storyboard.models import Scene, Shot, ShotCharacter
from tests.images import SVG, TEXT_AS_PNG, huge_png_header, jpeg_bytes, png_bytes, safetensors_bytes, truncated_jpeg


@pytest.fixture
def team(db, make_user, make_project, add_member, api_token):
    owner = make_user(name="Olga Owner")
    project = make_project(owner, name="Keeper")
    people = {"owner": owner}
    for role in ("director", "artist", "viewer"):
        people[role] = make_user(name=role.title())
        add_member(project, people[role], role)
    people["outsider"] = make_user(name="Outsider")
    headers = {k: api_token(u) for k, u in people.items()}
    return project, people, headers


def _files() -> set[str]:
    root = get_store().root
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _count(db, model, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return db.scalar(stmt)


def _create(client, project, h, **body):
    r = client.post(f"/api/v1/projects/{project.id}/characters", json={"name": "Mara", **body}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def _shot(db, project, character_id, code="1A", version=1, look_id=None, look_version=None):
    scene = Scene(project_id=project.id, number=code[:-1], heading="INT. LAMP ROOM - NIGHT")
    db.add(scene)
    db.flush()
    shot = Shot(project_id=project.id, scene_id=scene.id, code=code)
    db.add(shot)
    db.flush()
    db.add(ShotCharacter(shot_id=shot.id, character_id=character_id, character_version=version, look_id=look_id,
                         look_version=look_version))  # fmt: skip
    db.commit()
    return shot


def test_character_crud(client, team, db):
    project, _people, h = team
    body = _create(client, project, h["artist"], description="Keeper of the light.",
                   traits={"age": 62, "hair": "silver braid", "scar": "left cheek"}, prompt_fragment="a keeper",
                   negative_fragment="young", seed=42)  # fmt: skip
    assert body["name"] == "Mara" and body["traits"] == {"age": "62", "hair": "silver braid", "scar": "left cheek"}
    assert (body["seed"], body["version"], body["locked"], body["latest_locked_version"]) == (42, 1, False, None)
    assert (body["looks"], body["references"], body["lora"], body["thumb_url"]) == ([], [], None, None)
    cid = body["id"]
    random_seed = _create(client, project, h["artist"], name="Ines")["seed"]
    assert 0 <= random_seed < 2**32
    listed = client.get(f"/api/v1/projects/{project.id}/characters", headers=h["viewer"]).json()
    assert [c["name"] for c in listed] == ["Ines", "Mara"]
    r = client.patch(f"/api/v1/characters/{cid}", json={"description": "Older.", "traits": {"hair": "white"}},
                     headers=h["artist"])  # fmt: skip
    assert r.status_code == 200 and r.json()["description"] == "Older." and r.json()["traits"] == {"hair": "white"}
    assert client.get(f"/api/v1/characters/{cid}", headers=h["viewer"]).json()["description"] == "Older."
    r = client.post(f"/api/v1/projects/{project.id}/characters", json={"name": "mara"}, headers=h["artist"])
    assert r.status_code == 409 and r.json()["field"] == "name"
    assert client.delete(f"/api/v1/characters/{cid}", headers=h["artist"]).status_code == 204
    assert client.get(f"/api/v1/characters/{cid}", headers=h["owner"]).status_code == 404


@pytest.mark.parametrize(
    "body",
    [{"name": ""}, {"name": "x" * 121}, {}, {"name": "ok", "seed": -1}, {"name": "ok", "seed": 2**32},
     {"name": "ok", "seed": "lucky"}, {"name": "ok", "traits": {"hair": ["a", "b"]}},
     {"name": "ok", "traits": {"hair": "x" * 201}}, {"name": "ok", "traits": "tall"}, {"name": "ok", "mood": "sad"},
     {"name": "ok", "lora_path": "../x.safetensors"}, {"name": "ok", "lora_weight": 3},
     {"name": "ok", "prompt_fragment": "x" * 2001}],
)  # fmt: skip
def test_bad_character_input_is_422_and_writes_nothing(client, team, db, body):
    project, _people, h = team
    r = client.post(f"/api/v1/projects/{project.id}/characters", json=body, headers=h["owner"])
    assert r.status_code == 422, (body, r.text)
    assert r.json()["detail"]
    assert _count(db, Character, project_id=project.id) == 0


def test_bad_patches_are_422(client, team, db):
    project, _people, h = team
    cid = _create(client, project, h["owner"])["id"]
    for body in ({"name": None}, {"seed": None}, {"lora_weight": None}, {"owner": 1}, {"traits": {"": "x"}},
                 {"lora_path": "/etc/../shadow.safetensors"}):  # fmt: skip
        r = client.patch(f"/api/v1/characters/{cid}", json=body, headers=h["owner"])
        assert r.status_code == 422, (body, r.text)
    assert client.get(f"/api/v1/characters/{cid}", headers=h["owner"]).json()["version"] == 1


def test_non_members_get_404_everywhere(client, team, db):
    project, _people, h = team
    c = _create(client, project, h["owner"])
    look = client.post(f"/api/v1/characters/{c['id']}/looks", json={"name": "Storm"}, headers=h["owner"]).json()
    ref = client.post(f"/api/v1/characters/{c['id']}/references", files={"file": ("a.png", png_bytes(), "image/png")},
                      headers=h["owner"]).json()  # fmt: skip
    version = client.post(f"/api/v1/characters/{c['id']}/lock", headers=h["owner"]).json()
    vid = db.scalar(select(CharacterVersion.id).where(CharacterVersion.character_id == c["id"]))
    assert version["locked"]
    cid, lid, rid = c["id"], look["id"], ref["id"]
    calls = [("GET", f"/api/v1/projects/{project.id}/characters"), ("POST", f"/api/v1/projects/{project.id}/characters"),
             ("GET", f"/api/v1/characters/{cid}"), ("PATCH", f"/api/v1/characters/{cid}"),
             ("DELETE", f"/api/v1/characters/{cid}"), ("POST", f"/api/v1/characters/{cid}/references"),
             ("POST", f"/api/v1/characters/{cid}/lock"), ("GET", f"/api/v1/characters/{cid}/versions"),
             ("GET", f"/api/v1/characters/{cid}/shots"), ("POST", f"/api/v1/characters/{cid}/advance-shots"),
             ("POST", f"/api/v1/characters/{cid}/looks"), ("POST", f"/api/v1/characters/{cid}/lora"),
             ("DELETE", f"/api/v1/characters/{cid}/lora"), ("GET", f"/api/v1/looks/{lid}"),
             ("PATCH", f"/api/v1/looks/{lid}"), ("DELETE", f"/api/v1/looks/{lid}"), ("POST", f"/api/v1/looks/{lid}/lock"),
             ("POST", f"/api/v1/looks/{lid}/references"), ("PATCH", f"/api/v1/references/{rid}"),
             ("DELETE", f"/api/v1/references/{rid}"), ("GET", f"/api/v1/character-versions/{vid}"),
             ("GET", "/api/v1/characters/99999999"), ("GET", f"/media/{ref['asset_id']}")]  # fmt: skip
    for method, url in calls:
        r = client.request(method, url, headers=h["outsider"], json={})
        assert r.status_code == 404, (method, url, r.status_code)
    assert _count(db, Character, project_id=project.id) == 1 and _count(db, Look, character_id=cid) == 1


def test_viewer_reads_but_cannot_write_and_artist_cannot_lock(client, team, db):
    project, _people, h = team
    c = _create(client, project, h["artist"])
    cid = c["id"]
    look = client.post(f"/api/v1/characters/{cid}/looks", json={"name": "Storm"}, headers=h["artist"]).json()
    ref = client.post(f"/api/v1/characters/{cid}/references", files={"file": ("a.png", png_bytes(), "image/png")},
                      headers=h["artist"]).json()  # fmt: skip
    assert client.get(f"/api/v1/characters/{cid}", headers=h["viewer"]).status_code == 200
    assert client.get(f"/api/v1/characters/{cid}/versions", headers=h["viewer"]).json() == []
    assert client.get(ref["thumb_url"], headers=h["viewer"]).status_code == 200
    writes = [("POST", f"/api/v1/projects/{project.id}/characters", {"json": {"name": "Ines"}}),
              ("PATCH", f"/api/v1/characters/{cid}", {"json": {"description": "x"}}),
              ("DELETE", f"/api/v1/characters/{cid}", {}),
              ("POST", f"/api/v1/characters/{cid}/references", {"files": {"file": ("b.png", png_bytes(9, 9), "image/png")}}),
              ("POST", f"/api/v1/characters/{cid}/looks", {"json": {"name": "Coat"}}),
              ("PATCH", f"/api/v1/looks/{look['id']}", {"json": {"name": "Coat"}}),
              ("DELETE", f"/api/v1/looks/{look['id']}", {}),
              ("PATCH", f"/api/v1/references/{ref['id']}", {"json": {"caption": "x"}}),
              ("DELETE", f"/api/v1/references/{ref['id']}", {}),
              ("POST", f"/api/v1/characters/{cid}/lora", {"files": {"file": ("m.safetensors", safetensors_bytes())}}),
              ("POST", f"/api/v1/characters/{cid}/advance-shots", {"json": {}}),
              ("POST", f"/api/v1/characters/{cid}/lock", {}), ("POST", f"/api/v1/looks/{look['id']}/lock", {})]  # fmt: skip
    for method, url, kw in writes:
        r = client.request(method, url, headers=h["viewer"], **kw)
        assert r.status_code == 403, (method, url, r.status_code)
    for url in (f"/api/v1/characters/{cid}/lock", f"/api/v1/looks/{look['id']}/lock"):
        r = client.post(url, headers=h["artist"])
        assert r.status_code == 403 and "character.lock" in r.json()["detail"]
    assert _count(db, CharacterVersion, character_id=cid) == 0
    assert client.post(f"/api/v1/characters/{cid}/lock", headers=h["director"]).json()["locked"] is True


def test_references_upload_caption_order_delete(client, team, db):
    project, _people, h = team
    cid = _create(client, project, h["artist"])["id"]
    r = client.post(f"/api/v1/characters/{cid}/references", files={"file": ("front.png", png_bytes(200, 100), "image/png")},
                    data={"caption": "front"}, headers=h["artist"])  # fmt: skip
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["url"] == f"/media/{first['asset_id']}" and first["thumb_url"].endswith("/thumb")
    assert (first["caption"], first["width"], first["height"], first["position"]) == ("front", 200, 100, 0)
    assert client.get(first["url"], headers=h["viewer"]).headers["content-type"] == "image/png"
    second = client.post(f"/api/v1/characters/{cid}/references",
                         files={"file": ("side.jpg", jpeg_bytes(80, 80), "image/jpeg")}, headers=h["artist"]).json()  # fmt: skip
    again = client.post(f"/api/v1/characters/{cid}/references", files={"file": ("f.png", png_bytes(200, 100))},
                        headers=h["artist"])  # fmt: skip
    assert again.status_code == 409
    r = client.patch(f"/api/v1/references/{second['id']}", json={"position": 0, "caption": "side"}, headers=h["artist"])
    assert r.status_code == 200 and (r.json()["position"], r.json()["caption"]) == (0, "side")
    body = client.get(f"/api/v1/characters/{cid}", headers=h["artist"]).json()
    assert [x["id"] for x in body["references"]] == [second["id"], first["id"]]
    assert body["thumb_url"] == second["thumb_url"]
    assert client.patch(f"/api/v1/references/{second['id']}", json={"position": -1}, headers=h["artist"]).status_code == 422
    assert client.patch(f"/api/v1/references/{second['id']}", json={"caption": "x" * 301},
                        headers=h["artist"]).status_code == 422  # fmt: skip
    assert client.delete(f"/api/v1/references/{second['id']}", headers=h["artist"]).status_code == 204
    assert [x["id"] for x in client.get(f"/api/v1/characters/{cid}", headers=h["artist"]).json()["references"]] == [first["id"]]


def test_a_location_reference_is_not_a_character_reference(client, team, db):
    from app.design.models import Location

    project, people, h = team
    loc = Location(project_id=project.id, name="Lighthouse", name_key="lighthouse")
    db.add(loc)
    db.flush()
    asset = service.media.store_image(db, project_id=project.id, data=png_bytes(), filename="l.png", actor=people["owner"])
    ref = ReferenceImage(project_id=project.id, asset_id=asset.id, location_id=loc.id)
    db.add(ref)
    db.commit()
    assert client.delete(f"/api/v1/references/{ref.id}", headers=h["owner"]).status_code == 404
    assert db.get(ReferenceImage, ref.id) is not None


BAD_UPLOADS = [
    ("notes.png", TEXT_AS_PNG, 415, "only PNG, JPEG and WebP"),
    ("bomb.png", huge_png_header(20000, 20000), 413, "too many pixels"),
    ("half.jpg", truncated_jpeg(), 422, "damaged or incomplete"),
    ("logo.svg", SVG, 415, "only PNG, JPEG and WebP"),
    ("huge.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (30 * 1024 * 1024), 413, "larger than 25 MB"),
    ("empty.png", b"", 422, "empty"),
]


@pytest.mark.parametrize(("filename", "data", "status", "text"), BAD_UPLOADS,
                         ids=["text-named-png", "20000x20000-png", "truncated-jpeg", "svg", "30MB", "empty"])  # fmt: skip
def test_upload_abuse_is_refused_and_leaves_nothing(client, team, db, filename, data, status, text):
    project, _people, h = team
    c = _create(client, project, h["owner"])
    client.post(f"/api/v1/characters/{c['id']}/lock", headers=h["owner"])
    look = client.post(f"/api/v1/characters/{c['id']}/looks", json={"name": "Storm"}, headers=h["owner"]).json()
    files_before, assets_before = _files(), _count(db, MediaAsset, project_id=project.id)
    for url in (f"/api/v1/characters/{c['id']}/references", f"/api/v1/looks/{look['id']}/references"):
        r = client.post(url, files={"file": (filename, data, "image/png")}, headers=h["owner"])
        assert r.status_code == status, r.text
        assert text in r.json()["detail"]
    assert _files() == files_before
    assert _count(db, MediaAsset, project_id=project.id) == assets_before == 0
    assert _count(db, ReferenceImage, project_id=project.id) == 0
    after = client.get(f"/api/v1/characters/{c['id']}", headers=h["owner"]).json()
    assert (after["version"], after["locked"]) == (1, True)  # a refused file starts no new version


def test_upload_needs_a_file(client, team):
    project, _people, h = team
    cid = _create(client, project, h["owner"])["id"]
    r = client.post(f"/api/v1/characters/{cid}/references", data={"caption": "x"}, headers=h["owner"])
    assert r.status_code == 422 and "file" in r.json()["detail"]


def test_lock_versions_and_edits_through_the_api(client, team, db):
    project, _people, h = team
    cid = _create(client, project, h["artist"], prompt_fragment="silver braid")["id"]
    r = client.post(f"/api/v1/characters/{cid}/lock", headers=h["director"])
    assert r.status_code == 200 and (r.json()["locked"], r.json()["latest_locked_version"]) == (True, 1)
    r = client.patch(f"/api/v1/characters/{cid}", json={"prompt_fragment": "white braid"}, headers=h["artist"])
    assert (r.json()["version"], r.json()["locked"], r.json()["latest_locked_version"]) == (2, False, 1)
    client.post(f"/api/v1/characters/{cid}/lock", headers=h["owner"])
    versions = client.get(f"/api/v1/characters/{cid}/versions", headers=h["viewer"]).json()
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["locked_by"] == "Olga Owner" and versions[1]["locked_by"] == "Director"
    assert versions[0]["changes"] == [{"field": "prompt fragment", "before": "silver braid", "after": "white braid"}]
    assert versions[1]["data"]["prompt_fragment"] == "silver braid"
    one = client.get(f"/api/v1/character-versions/{versions[1]['id']}", headers=h["viewer"]).json()
    assert one["number"] == 1 and one["changes"] == []


def test_looks_through_the_api(client, team, db):
    project, _people, h = team
    cid = _create(client, project, h["artist"])["id"]
    r = client.post(f"/api/v1/characters/{cid}/looks", json={"name": "Storm gear", "prompt_fragment": "oilskin"},
                    headers=h["artist"])  # fmt: skip
    assert r.status_code == 201, r.text
    look = r.json()
    assert (look["version"], look["locked"], look["references"]) == (1, False, [])
    assert client.post(f"/api/v1/characters/{cid}/looks", json={"name": "STORM GEAR"}, headers=h["artist"]).status_code == 409
    assert client.post(f"/api/v1/characters/{cid}/looks", json={"name": ""}, headers=h["artist"]).status_code == 422
    assert client.post(f"/api/v1/characters/{cid}/looks", json={"name": "x", "hat": 1}, headers=h["artist"]).status_code == 422
    r = client.post(f"/api/v1/looks/{look['id']}/references", files={"file": ("s.webp", png_bytes(50, 50))},
                    headers=h["artist"])  # fmt: skip
    assert r.status_code == 201 and r.json()["look_id"] == look["id"]
    locked = client.post(f"/api/v1/looks/{look['id']}/lock", headers=h["director"]).json()
    assert (locked["locked"], locked["latest_locked_version"]) == (True, 1)
    r = client.patch(f"/api/v1/looks/{look['id']}", json={"prompt_fragment": "oilskin, soaked"}, headers=h["artist"])
    assert (r.json()["version"], r.json()["locked"], r.json()["latest_locked_version"]) == (2, False, 1)
    assert client.patch(f"/api/v1/looks/{look['id']}", json={"name": "y" * 81}, headers=h["artist"]).status_code == 422
    body = client.get(f"/api/v1/characters/{cid}", headers=h["viewer"]).json()
    assert [lk["name"] for lk in body["looks"]] == ["Storm gear"] and len(body["looks"][0]["references"]) == 1
    assert body["references"] == []  # a look's pictures are not the character's
    assert client.get(f"/api/v1/looks/{look['id']}", headers=h["viewer"]).json()["version"] == 2
    assert client.delete(f"/api/v1/looks/{look['id']}", headers=h["artist"]).status_code == 204
    assert client.get(f"/api/v1/characters/{cid}", headers=h["viewer"]).json()["looks"] == []


def test_lora_upload_path_weight_and_removal(client, team, db, lora_dir):
    project, _people, h = team
    cid = _create(client, project, h["artist"])["id"]
    client.post(f"/api/v1/characters/{cid}/lock", headers=h["owner"])
    r = client.post(f"/api/v1/characters/{cid}/lora", files={"file": ("mara.safetensors", safetensors_bytes())},
                    data={"weight": "0.8"}, headers=h["artist"])  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["lora"]["filename"] == "mara.safetensors" and body["lora"]["weight"] == 0.8 and body["version"] == 2
    files_before = _files()
    r = client.post(f"/api/v1/characters/{cid}/lora", files={"file": ("evil.safetensors", b"\x80\x04\x95" + b"\x00" * 64)},
                    headers=h["artist"])  # fmt: skip
    assert r.status_code == 415 and _files() == files_before
    r = client.patch(f"/api/v1/characters/{cid}", json={"lora_path": "loras/mara.safetensors", "lora_weight": 1.2},
                     headers=h["artist"])  # fmt: skip
    assert r.json()["lora"] == {"asset_id": None, "url": None, "filename": None, "bytes": None,
                                "path": "loras/mara.safetensors", "weight": 1.2}  # fmt: skip
    for bad in ({"lora_path": "../../x.safetensors"}, {"lora_path": "/x/y.bin"}, {"lora_weight": -0.1}):
        assert client.patch(f"/api/v1/characters/{cid}", json=bad, headers=h["artist"]).status_code == 422
    r = client.delete(f"/api/v1/characters/{cid}/lora", headers=h["artist"])
    assert r.status_code == 200 and r.json()["lora"] is None


def test_delete_refused_while_shots_use_it_and_advance_shots(client, team, db):
    project, _people, h = team
    cid = _create(client, project, h["artist"])["id"]
    look = client.post(f"/api/v1/characters/{cid}/looks", json={"name": "Storm gear"}, headers=h["artist"]).json()
    r = client.post(f"/api/v1/characters/{cid}/advance-shots", headers=h["artist"])
    assert r.status_code == 409 and "lock it first" in r.json()["detail"]
    client.post(f"/api/v1/characters/{cid}/lock", headers=h["owner"])
    client.post(f"/api/v1/looks/{look['id']}/lock", headers=h["owner"])
    _shot(db, project, cid, "7A", version=1, look_id=look["id"], look_version=1)
    r = client.delete(f"/api/v1/characters/{cid}", headers=h["artist"])
    assert r.status_code == 409 and "7A" in r.json()["detail"]
    r = client.delete(f"/api/v1/looks/{look['id']}", headers=h["artist"])
    assert r.status_code == 409 and "7A" in r.json()["detail"]
    client.patch(f"/api/v1/characters/{cid}", json={"description": "Later."}, headers=h["artist"])
    client.post(f"/api/v1/characters/{cid}/lock", headers=h["owner"])
    client.patch(f"/api/v1/looks/{look['id']}", json={"description": "Wet."}, headers=h["artist"])
    client.post(f"/api/v1/looks/{look['id']}/lock", headers=h["owner"])
    shots = client.get(f"/api/v1/characters/{cid}/shots", headers=h["viewer"]).json()
    assert [(s["code"], s["character_version"], s["look_version"], s["behind"]) for s in shots] == [("7A", 1, 1, True)]
    r = client.post(f"/api/v1/characters/{cid}/advance-shots", json={}, headers=h["artist"])
    assert r.json() == {"version": 2, "moved": 1, "shots": ["7A"]}
    r = client.post(f"/api/v1/characters/{cid}/advance-shots", json={"look_id": look["id"]}, headers=h["artist"])
    assert r.json() == {"version": 2, "moved": 1, "shots": ["7A"]}
    shots = client.get(f"/api/v1/characters/{cid}/shots", headers=h["viewer"]).json()
    assert [(s["character_version"], s["look_version"], s["behind"]) for s in shots] == [(2, 2, False)]
    assert client.post(f"/api/v1/characters/{cid}/advance-shots", json={"look_id": 999999},
                       headers=h["artist"]).status_code == 422  # fmt: skip
    assert client.post(f"/api/v1/characters/{cid}/advance-shots", json={"look_id": "x"},
                       headers=h["artist"]).status_code == 422  # fmt: skip
