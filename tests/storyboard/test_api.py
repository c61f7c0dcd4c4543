import pytest
from sqlalchemy import func, select

from app.activity.models import ActivityEvent
from app.storyboard.models import Scene, Shot, ShotCharacter
from tests.storyboard import factories as f


def _counts(db):
    return tuple(db.scalar(select(func.count()).select_from(m)) for m in (Scene, Shot, ShotCharacter, ActivityEvent))


@pytest.fixture
def setup(db, client, make_user, make_project, api_token):
    owner = make_user(name="Director")
    project = make_project(owner, name="Lighthouse")
    h = api_token(owner)
    return owner, project, h


def _scene(client, project, h, heading="EXT. LIGHTHOUSE - NIGHT", **extra):
    r = client.post(f"/api/v1/projects/{project.id}/scenes", json={"heading": heading, **extra}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def _shot(client, scene, h, **body):
    r = client.post(f"/api/v1/scenes/{scene['id']}/shots", json={"prompt": "", **body}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def test_camera_vocabulary_needs_only_a_signed_in_user(client, make_user, api_token):
    assert client.get("/api/v1/camera").status_code == 401
    r = client.get("/api/v1/camera", headers=api_token(make_user()))
    assert r.status_code == 200
    body = r.json()
    assert {m["value"] for m in body["moves"]} >= {"static", "dolly_in", "dolly_zoom", "arc_180", "handheld"}
    assert [x["value"] for x in body["framings"]] == ["EWS", "WS", "MS", "MCU", "CU", "ECU", "OTS", "POV"]
    assert [x["value"] for x in body["angles"]] == ["eye", "high", "low", "overhead", "dutch"]
    assert {x["value"] for x in body["lighting"]["keys"]} == {"high_key", "low_key", "silhouette", "practical"}
    assert {x["value"] for x in body["lighting"]["colors"]} >= {"golden_hour", "blue_hour", "neon", "candlelit"}
    assert body["lens_mm"]["min"] == 8


def test_scene_routes(client, db, setup):
    owner, project, h = setup
    a = _scene(client, project, h, synopsis="A storm.")
    b = _scene(client, project, h, "INT. KITCHEN - DAY", number="7b")
    assert (a["number"], a["synopsis"], b["number"], b["position"]) == ("1", "A storm.", "7B", 1)
    listed = client.get(f"/api/v1/projects/{project.id}/scenes", headers=h).json()
    assert [(s["id"], s["shot_count"]) for s in listed] == [(a["id"], 0), (b["id"], 0)]
    _shot(client, b, h, action="Kettle.")
    assert client.get(f"/api/v1/scenes/{b['id']}", headers=h).json()["shot_count"] == 1
    r = client.patch(f"/api/v1/scenes/{a['id']}", json={"heading": "EXT. CLIFF - NIGHT", "synopsis": None}, headers=h)
    assert r.status_code == 200 and (r.json()["heading"], r.json()["synopsis"]) == ("EXT. CLIFF - NIGHT", "")
    r = client.post(f"/api/v1/scenes/{b['id']}/move", json={"index": 0}, headers=h)
    assert r.status_code == 200 and r.json()["position"] == 0
    r = client.post(f"/api/v1/projects/{project.id}/scenes/renumber", json={"shots": True}, headers=h)
    assert [(s["id"], s["number"]) for s in r.json()] == [(b["id"], "1"), (a["id"], "2")]
    assert [s["code"] for s in client.get(f"/api/v1/scenes/{b['id']}/shots", headers=h).json()] == ["1A"]
    assert client.delete(f"/api/v1/scenes/{b['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/scenes/{b['id']}", headers=h).status_code == 404
    assert db.scalar(select(func.count()).select_from(Shot).where(Shot.project_id == project.id)) == 0


def test_shot_routes_and_compiled_prompt(client, db, setup):
    owner, project, h = setup
    style = f.style(db, project, "Vision3", "35mm film grain")
    mara = f.character(db, project, "Mara", "an old keeper")
    coat = f.look(db, mara, "Storm gear", "yellow oilskin")
    loc = f.location(db, project, "Rocks", "black wet rocks")
    ref = f.reference(db, project, look=coat)
    db.commit()
    scene = _scene(client, project, h)
    shot = _shot(client, scene, h, action="Mara runs.", prompt="Mara runs along the rocks", character_ids=[mara.id],
                 looks={str(mara.id): coat.id}, camera={"move": "truck_left", "framing": "WS"},
                 lighting={"color": "blue_hour", "mood": "urgent"}, duration_s=3, location_id=loc.id)  # fmt: skip
    assert (shot["code"], shot["style_id"], shot["location_id"], shot["status"]) == ("1A", style.id, loc.id, "draft")
    assert shot["character_ids"] == [mara.id] and shot["looks"] == {str(mara.id): coat.id}
    assert shot["camera"] == {"move": "truck_left", "speed": "medium", "framing": "WS"}
    assert shot["thumbnail_url"] == f"/media/{ref.asset_id}/thumb"
    assert shot["compiled_prompt"].startswith("Mara runs along the rocks. Mara: an old keeper. yellow oilskin. black")
    assert shot["compiled_prompt"].endswith("35mm film grain.")
    assert [p["source"] for p in shot["compiled"]["parts"]] == ["shot", "character:Mara", "look:Mara/Storm gear",
                                                                "location", "lighting", "camera", "style"]  # fmt: skip
    assert shot["cast"][0]["locked"] is False and shot["warnings"]
    got = client.get(f"/api/v1/shots/{shot['id']}", headers=h).json()
    assert got["compiled_prompt"] == shot["compiled_prompt"]
    change = {"camera": {"move": "static", "framing": "CU"}, "seed": 9, "status": "ready", "fps": None,
              "style_id": None}
    r = client.patch(f"/api/v1/shots/{shot['id']}", json=change, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["seed"], body["status"], body["style_id"]) == (9, "ready", None)
    assert "close-up, locked-off static camera." in body["compiled_prompt"]
    assert body["character_ids"] == [mara.id]  # untouched fields stay
    second = _shot(client, scene, h, action="Wave.")
    first = _shot(client, scene, h, action="Before everything.", index=0)
    assert (first["code"], first["position"]) == ("1C", 0)
    listed = client.get(f"/api/v1/scenes/{scene['id']}/shots", headers=h).json()
    assert [s["code"] for s in listed] == ["1C", "1A", "1B"] and all("compiled_prompt" in s for s in listed)
    assert [s["position"] for s in listed] == [0, 1, 2]
    assert client.delete(f"/api/v1/shots/{second['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/shots/{second['id']}", headers=h).status_code == 404


def test_move_duplicate_coverage_and_bulk_status(client, db, setup):
    owner, project, h = setup
    s1, s2 = _scene(client, project, h), _scene(client, project, h, "INT. STAIRS")
    a, b = _shot(client, s1, h, action="a"), _shot(client, s1, h, action="b")
    r = client.post(f"/api/v1/shots/{a['id']}/move", json={"scene_id": s2["id"], "index": 0}, headers=h)
    moved = r.json()
    assert r.status_code == 200 and (moved["scene_id"], moved["code"], moved["position"]) == (s2["id"], "1A", 0)
    assert client.get(f"/api/v1/shots/{b['id']}", headers=h).json()["position"] == 0
    r = client.post(f"/api/v1/shots/{b['id']}/duplicate", headers=h)
    assert r.status_code == 201 and (r.json()["code"], r.json()["position"]) == ("1C", 1)
    r = client.post(f"/api/v1/shots/{b['id']}/coverage", headers=h)
    assert r.status_code == 201
    cov = r.json()
    assert [s["coverage_label"] for s in cov] == ["WS", "MS", "CU", "OTS reverse"]
    assert {s["coverage_group"] for s in cov} == {b["id"]} and len({s["seed"] for s in cov}) == 1
    assert [s["code"] for s in client.get(f"/api/v1/scenes/{s1['id']}/shots", headers=h).json()] == [
        "1B", "1D", "1E", "1F", "1G", "1C"]  # fmt: skip
    r = client.post(f"/api/v1/shots/{b['id']}/coverage", json={"setups": [{"framing": "POV", "label": "her view"}]},
                    headers=h)  # fmt: skip
    assert [(s["coverage_label"], s["camera"]["framing"]) for s in r.json()] == [("her view", "POV")]
    r = client.post(f"/api/v1/projects/{project.id}/shots/status", json={"shot_ids": [a["id"], b["id"]],
                                                                         "status": "ready"}, headers=h)  # fmt: skip
    assert r.status_code == 200 and r.json() == {"status": "ready", "changed": [a["id"], b["id"]], "skipped": []}
    r = client.post(f"/api/v1/scenes/{s1['id']}/renumber", headers=h)
    assert [s["code"] for s in r.json()] == ["1A", "1B", "1C", "1D", "1E", "1F", "1G"]
    r = client.post(f"/api/v1/shots/{b['id']}/cast/refresh", headers=h)
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/projects/{pid}/scenes", {"heading": ""}, "heading"),
        ("POST", "/api/v1/projects/{pid}/scenes", {"heading": "X" * 201}, "heading"),
        ("POST", "/api/v1/projects/{pid}/scenes", {}, None),
        ("POST", "/api/v1/projects/{pid}/scenes", {"heading": "INT. A", "colour": "red"}, None),
        ("PATCH", "/api/v1/scenes/{scene}", {"heading": "   "}, "heading"),
        ("POST", "/api/v1/scenes/{scene}/shots", {"prompt": "x", "camera": {"move": "moonwalk"}}, "camera.move"),
        ("POST", "/api/v1/scenes/{scene}/shots", {"prompt": "x", "camera": {"framing": "XXL"}}, "camera.framing"),
        ("POST", "/api/v1/scenes/{scene}/shots", {"prompt": "x", "camera": {"spin": 1}}, None),
        ("POST", "/api/v1/scenes/{scene}/shots", {"prompt": "x", "character_ids": ["{foreign_char}"]}, "character_ids"),
        ("POST", "/api/v1/scenes/{scene}/shots", {"prompt": "x", "location_id": "{foreign_loc}"}, "location_id"),
        ("POST", "/api/v1/scenes/{scene}/shots", {"prompt": "x", "duration_s": 90}, "duration_s"),
        ("POST", "/api/v1/scenes/{scene}/shots", {"prompt": "x", "duration_s": "long"}, None),
        ("POST", "/api/v1/scenes/{scene}/shots", {"prompt": "x", "width": 1001}, "width"),
        ("POST", "/api/v1/scenes/{scene}/shots", {"prompt": "x", "status": "approved"}, "status"),
        ("PATCH", "/api/v1/shots/{shot}", {"lighting": {"key": "moody"}}, "lighting.key"),
        ("PATCH", "/api/v1/shots/{shot}", {"model": "sora"}, "model"),
        ("PATCH", "/api/v1/shots/{shot}", {"status": "generating"}, "status"),
        ("POST", "/api/v1/shots/{shot}/move", {"scene_id": "{foreign_scene}", "index": 0}, "scene_id"),
        ("POST", "/api/v1/shots/{shot}/move", {"scene_id": "{scene}"}, None),
        ("POST", "/api/v1/shots/{shot}/coverage", {"setups": [{"framing": "HUGE"}]}, "camera.framing"),
        ("POST", "/api/v1/projects/{pid}/shots/status", {"shot_ids": ["{shot}"], "status": "approved"}, "status"),
        ("POST", "/api/v1/projects/{pid}/shots/status", {"shot_ids": ["{foreign_shot}"], "status": "ready"},
         "shot_ids"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(client, db, setup, make_user, make_project, method,
                                                              path, body, field):  # fmt: skip
    owner, project, h = setup
    scene = _scene(client, project, h)
    shot = _shot(client, scene, h, action="a")
    other = make_project(owner, name="Other")
    foreign_scene = _scene(client, other, h, "INT. ELSEWHERE")
    ids = {"pid": project.id, "scene": scene["id"], "shot": shot["id"], "foreign_scene": foreign_scene["id"],
           "foreign_shot": _shot(client, foreign_scene, h)["id"],
           "foreign_char": f.character(db, other, "Stranger").id,
           "foreign_loc": f.location(db, other, "Away").id}  # fmt: skip
    db.commit()

    def fill(value):
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            return ids[value[1:-1]]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    before = _counts(db)
    r = client.request(method, path.format(**ids), json=fill(body), headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]
    if field:
        assert r.json().get("field") == field, r.json()
    if "character" in (field or ""):
        assert r.json()["detail"] == "unknown character"
    db.expire_all()
    assert _counts(db) == before
    assert client.get(f"/api/v1/shots/{shot['id']}", headers=h).json()["status"] == "draft"


def test_non_members_get_404_and_viewers_403_on_writes(client, db, setup, make_user, add_member, api_token):
    owner, project, h = setup
    scene = _scene(client, project, h)
    shot = _shot(client, scene, h, action="a")
    viewer = make_user(name="Client")
    add_member(project, viewer, "viewer")
    vh, oh = api_token(viewer), api_token(make_user(name="Outsider"))
    reads = [("GET", f"/api/v1/projects/{project.id}/scenes"), ("GET", f"/api/v1/scenes/{scene['id']}"),
             ("GET", f"/api/v1/scenes/{scene['id']}/shots"), ("GET", f"/api/v1/shots/{shot['id']}")]  # fmt: skip
    writes = [("POST", f"/api/v1/projects/{project.id}/scenes", {"heading": "INT. X"}),
              ("POST", f"/api/v1/projects/{project.id}/scenes/renumber", {}),
              ("PATCH", f"/api/v1/scenes/{scene['id']}", {"heading": "INT. Y"}),
              ("POST", f"/api/v1/scenes/{scene['id']}/move", {"index": 0}),
              ("POST", f"/api/v1/scenes/{scene['id']}/renumber", {}),
              ("POST", f"/api/v1/scenes/{scene['id']}/shots", {"prompt": "p"}),
              ("PATCH", f"/api/v1/shots/{shot['id']}", {"action": "b"}),
              ("POST", f"/api/v1/shots/{shot['id']}/move", {"scene_id": scene["id"], "index": 0}),
              ("POST", f"/api/v1/shots/{shot['id']}/duplicate", {}),
              ("POST", f"/api/v1/shots/{shot['id']}/coverage", {}),
              ("POST", f"/api/v1/shots/{shot['id']}/cast/refresh", {}),
              ("POST", f"/api/v1/projects/{project.id}/shots/status", {"shot_ids": [shot["id"]], "status": "ready"}),
              ("DELETE", f"/api/v1/shots/{shot['id']}", None),
              ("DELETE", f"/api/v1/scenes/{scene['id']}", None)]  # fmt: skip
    before = _counts(db)
    for method, url in reads:
        assert client.request(method, url, headers=vh).status_code == 200, url
        assert client.request(method, url, headers=oh).status_code == 404, url
    for method, url, body in writes:
        assert client.request(method, url, headers=vh, json=body).status_code == 403, url
        assert client.request(method, url, headers=oh, json=body).status_code == 404, url
    db.expire_all()
    assert _counts(db) == before


def test_artist_can_edit_the_storyboard(client, db, setup, make_user, add_member, api_token):
    owner, project, h = setup
    artist = make_user(name="Artist")
    add_member(project, artist, "artist")
    ah = api_token(artist)
    scene = _scene(client, project, ah)
    assert _shot(client, scene, ah, action="by the artist")["code"] == "1A"
