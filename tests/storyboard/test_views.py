import re

import pytest
from sqlalchemy import func, select

from app.activity.models import ActivityEvent
from app.storyboard import service
from app.storyboard.models import Scene, Shot
from tests.storyboard import factories as f


@pytest.fixture
def world(db, make_user, make_project, sign_in):
    owner = make_user(name="Director")
    project = make_project(owner, name="Lighthouse")
    f.style(db, project, "Vision3", "35mm film grain")
    mara = f.character(db, project, "Mara", "an old keeper")
    girl = f.character(db, project, "Girl", "a soaked child")
    coat = f.look(db, mara, "Storm gear", "yellow oilskin")
    rocks = f.location(db, project, "Rocks", "black wet rocks")
    ref = f.reference(db, project, look=coat)
    s1 = service.create_scene(db, actor=owner, project=project, heading="EXT. ROCKS - NIGHT", synopsis="The storm.")
    s2 = service.create_scene(db, actor=owner, project=project, heading="INT. LAMP ROOM - NIGHT")
    a = service.create_shot(db, actor=owner, scene=s1, values={
        "action": "Mara fights the wind.", "dialogue": "Hold on!", "character_ids": [mara.id],
        "looks": {mara.id: coat.id}, "location_id": rocks.id,
        "camera": {"framing": "WS", "move": "dolly_in", "lens_mm": 24},
        "lighting": {"color": "blue_hour"}})  # fmt: skip
    b = service.create_shot(db, actor=owner, scene=s1, values={"action": "The girl slips.",
                                                               "character_ids": [girl.id]})  # fmt: skip
    c = service.create_shot(db, actor=owner, scene=s2, values={"action": "The lamp turns.", "status": "ready"})
    db.commit()
    return {"owner": owner, "project": project, "mara": mara, "girl": girl, "coat": coat, "rocks": rocks, "ref": ref,
            "s1": s1, "s2": s2, "a": a, "b": b, "c": c, "browser": sign_in(owner)}  # fmt: skip


def _cards(html):
    return re.findall(r'<li class="shot-card[^"]*" id="shot-(\d+)"', html)


def test_storyboard_page_shows_scenes_and_cards(world):
    w = world
    r = w["browser"].get(f"/projects/{w['project'].id}/storyboard")
    assert r.status_code == 200
    page = r.text
    assert page.index("EXT. ROCKS - NIGHT") < page.index("INT. LAMP ROOM - NIGHT")
    assert _cards(page) == [str(w["a"].id), str(w["b"].id), str(w["c"].id)]
    card = page[page.index(f'id="shot-{w["a"].id}"'):page.index(f'id="shot-{w["b"].id}"')]
    assert 'class="shot-frame frame-pending"' in card  # no take, sketch not drawn yet (tests/storyboard/test_sketches.py)
    assert "1A" in card and "Mara fights the wind." in card and "WS · dolly in · 24mm" in card
    assert "Mara (Storm gear)" in card and "draft" in card
    assert "data-sortable" in page and 'src="/static/vendor/Sortable.min.js"' in page
    assert 'form="bulk-form"' in page and f'action="/projects/{w["project"].id}/shots/status"' in page
    assert "/storyboard/print" in page and "/static/css/storyboard.css" in page


def test_viewers_get_a_read_only_board(world, make_user, add_member, sign_in):
    w = world
    viewer = make_user(name="Client")
    add_member(w["project"], viewer, "viewer")
    v = sign_in(viewer)
    page = v.get(f"/projects/{w['project'].id}/storyboard").text
    assert len(_cards(page)) == 3
    assert "data-sortable" not in page and "Sortable.min.js" not in page and "drag-handle" not in page
    assert 'method="post"' not in page.split("</header>", 1)[1].replace('action="/logout"', "")
    editor = v.get(f"/shots/{w['a'].id}").text
    assert 'name="action"' not in editor and "Mara fights the wind." in editor and "Final prompt" in editor
    assert v.post(f"/shots/{w['a'].id}", data={"action": "x"}).status_code == 403
    assert v.post(f"/shots/{w['a'].id}/preview", data={"action": "x"}).status_code == 403
    assert v.post(f"/shots/{w['a'].id}/move", data={"scene_id": w["s2"].id, "index": 0}).status_code == 403
    outsider = sign_in(make_user(name="Outsider"))
    assert outsider.get(f"/projects/{w['project'].id}/storyboard").status_code == 404
    assert outsider.get(f"/shots/{w['a'].id}").status_code == 404


def test_filters_are_server_side(world):
    w = world
    b, pid = w["browser"], w["project"].id
    page = b.get(f"/projects/{pid}/storyboard?character={w['girl'].id}").text
    assert _cards(page) == [str(w["b"].id)] and "INT. LAMP ROOM" not in page and "data-sortable" not in page
    assert _cards(b.get(f"/projects/{pid}/storyboard?location={w['rocks'].id}").text) == [str(w["a"].id)]
    assert _cards(b.get(f"/projects/{pid}/storyboard?status=ready").text) == [str(w["c"].id)]
    assert len(_cards(b.get(f"/projects/{pid}/storyboard?status=bogus&character=x").text)) == 3


def test_add_scene_and_shot_from_the_board(world, db):
    w = world
    b, pid = w["browser"], w["project"].id
    r = b.post(f"/projects/{pid}/scenes", data={"heading": "EXT. PIER - DAWN", "synopsis": "Boats."})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/projects/{pid}/storyboard#scene-")
    scene = db.scalar(select(Scene).where(Scene.heading == "EXT. PIER - DAWN"))
    assert scene.number == "3"
    r = b.post(f"/projects/{pid}/scenes", data={"heading": "", "synopsis": "kept text"})
    assert r.status_code == 422 and "needs a heading" in r.text and "kept text" in r.text
    r = b.post(f"/projects/{pid}/scenes", data={"heading": "INT. X", "number": "1"})
    assert r.status_code == 409 and "Scene 1 already exists" in r.text
    r = b.post(f"/scenes/{scene.id}/shots", data={"action": "A boat arrives.", "framing": "EWS"})
    assert r.status_code == 303
    shot = db.scalar(select(Shot).where(Shot.scene_id == scene.id))
    assert (shot.code, shot.camera["framing"]) == ("3A", "EWS")
    r = b.post(f"/scenes/{scene.id}/shots", data={"action": "edit me", "edit": "1"})
    assert r.status_code == 303 and re.fullmatch(r"/shots/\d+", r.headers["location"])
    r = b.post(f"/scenes/{scene.id}/shots", data={"action": "x", "framing": "HUGE"})
    assert r.status_code == 422 and "Unknown framing" in r.text


def test_shot_editor_saves_and_keeps_typed_values_on_error(world, db):
    w = world
    b, shot = w["browser"], w["a"]
    page = b.get(f"/shots/{shot.id}").text
    assert 'hx-post="/shots/%d/preview"' % shot.id in page
    assert 'hx-trigger="input changed delay:250ms from:closest form"' in page
    assert "Mara: an old keeper. yellow oilskin. black wet rocks" in page
    assert "not locked" in page  # version warning
    assert 'value="dolly_in" title="the camera dollies in toward the subject" selected' in page
    form = {"action": "Mara holds the rail.", "dialogue": "", "prompt": "", "negative_prompt": "blur",
            "character_ids": [str(w["mara"].id), str(w["girl"].id)], f"look_{w['mara'].id}": str(w["coat"].id),
            "location_id": "", "style_id": "", "camera_framing": "CU", "camera_angle": "low", "camera_lens_mm": "85",
            "camera_move": "static", "camera_speed": "medium", "light_key": "low_key", "light_color": "",
            "light_time_of_day": "night", "light_mood": "grim", "duration_s": "2.5", "fps": "", "model": "",
            "width": "", "height": "", "seed": "11", "status": "ready"}  # fmt: skip
    r = b.post(f"/shots/{shot.id}", data=form)
    assert r.status_code == 303, r.text
    db.expire_all()
    saved = db.get(Shot, shot.id)
    assert (saved.action, saved.camera, saved.lighting, saved.duration_s, saved.seed, saved.status) == (
        "Mara holds the rail.", {"move": "static", "speed": "medium", "lens_mm": 85, "framing": "CU", "angle": "low"},
        {"key": "low_key", "time_of_day": "night", "mood": "grim"}, 2.5, 11, "ready")  # fmt: skip
    assert [e.character_id for e in saved.cast] == [w["mara"].id, w["girl"].id]
    assert (saved.location_id, saved.style_id) == (None, None)
    bad = dict(form, action="typed but not saved", camera_move="moonwalk")
    r = b.post(f"/shots/{shot.id}", data=bad)
    assert r.status_code == 422 and "unknown move" in r.text and "typed but not saved" in r.text
    db.expire_all()
    assert db.get(Shot, shot.id).action == "Mara holds the rail."


def test_preview_fragment_follows_unsaved_text(world, db):
    w = world
    b, shot = w["browser"], w["a"]
    events = db.scalar(select(func.count()).select_from(ActivityEvent))
    r = b.post(f"/shots/{shot.id}/preview", headers={"HX-Request": "true"}, data={
        "prompt": "Lightning splits the sky", "action": "", "character_ids": [str(w["girl"].id)],
        "camera_framing": "ECU", "camera_move": "static", "duration_s": "4", "style_id": "",
        "location_id": str(w["rocks"].id), "light_mood": "awe"})  # fmt: skip
    assert r.status_code == 200 and "<html" not in r.text
    assert "Lightning splits the sky. Girl: a soaked child. black wet rocks. awe mood. extreme close-up" in r.text
    assert "character:Girl" in r.text and "unsaved" in r.text
    r = b.post(f"/shots/{shot.id}/preview", headers={"HX-Request": "true"}, data={"camera_move": "moonwalk",
                                                                                  "duration_s": "4"})  # fmt: skip
    assert r.status_code == 200 and "unknown move" in r.text
    db.expire_all()
    saved = db.get(Shot, shot.id)
    assert saved.prompt == "" and saved.action == "Mara fights the wind." and saved.camera["framing"] == "WS"
    assert db.scalar(select(func.count()).select_from(ActivityEvent)) == events


def test_drag_and_drop_move_answers_the_refreshed_lists(world, db):
    w = world
    b = w["browser"]
    r = b.post(f"/shots/{w['a'].id}/move", headers={"HX-Request": "true"},
               data={"scene_id": str(w["s2"].id), "index": "1"})  # fmt: skip
    assert r.status_code == 200
    assert f'id="shots-{w["s1"].id}"' in r.text and f'id="shots-{w["s2"].id}"' in r.text
    assert _cards(r.text) == [str(w["b"].id), str(w["c"].id), str(w["a"].id)]
    db.expire_all()
    assert [(s.code, s.position) for s in db.scalars(select(Shot).where(Shot.scene_id == w["s2"].id)
                                                     .order_by(Shot.position))] == [("2A", 0), ("1A", 1)]  # fmt: skip
    r = b.post(f"/shots/{w['a'].id}/move", headers={"HX-Request": "true"}, data={"scene_id": "nope", "index": "0"})
    assert r.status_code == 422 and r.headers["HX-Retarget"] == "#flash"
    r = b.post(f"/shots/{w['a'].id}/move", data={"scene_id": str(w["s1"].id), "position": "1"})
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Shot, w["a"].id).scene_id == w["s1"].id and db.get(Shot, w["a"].id).position == 0


def test_bulk_ready_duplicate_coverage_and_delete_pages(world, db):
    w = world
    b, pid = w["browser"], w["project"].id
    form = {"shot_ids": [str(w["a"].id), str(w["b"].id)], "status": "ready", "back": f"/projects/{pid}/storyboard?x=1"}
    r = b.post(f"/projects/{pid}/shots/status", data=form)
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{pid}/storyboard?x=1"
    db.expire_all()
    assert {db.get(Shot, w["a"].id).status, db.get(Shot, w["b"].id).status} == {"ready"}
    r = b.post(f"/projects/{pid}/shots/status", data={"status": "ready"})
    assert r.status_code == 422
    r = b.post(f"/shots/{w['a'].id}/duplicate")
    assert r.status_code == 303
    r = b.post(f"/shots/{w['a'].id}/coverage", data={"framings": ["CU", "OTS"], "angle": "high"})
    assert r.status_code == 303
    db.expire_all()
    codes = [s.code for s in db.scalars(select(Shot).where(Shot.scene_id == w["s1"].id).order_by(Shot.position))]
    assert codes == ["1A", "1D", "1E", "1C", "1B"]
    page = b.get(f"/projects/{pid}/storyboard").text
    assert page.count("set-start") == 1 and page.count('data-set="%d"' % w["a"].id) == 3
    assert "OTS reverse" in page
    editor = b.get(f"/shots/{w['a'].id}").text
    assert "Coverage set:" in editor and "1E (OTS reverse)" in editor
    gone = w["b"].id
    r = b.post(f"/shots/{gone}/delete")
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Shot, gone) is None


def test_scene_page_edit_move_renumber_delete(world, db):
    w = world
    b, s1, s2 = w["browser"], w["s1"], w["s2"]
    page = b.get(f"/scenes/{s1.id}").text
    assert 'value="EXT. ROCKS - NIGHT"' in page and "Renumber shots" in page
    r = b.post(f"/scenes/{s1.id}", data={"heading": "EXT. CLIFFS - NIGHT", "synopsis": "Wind.", "number": "1"})
    assert r.status_code == 303
    r = b.post(f"/scenes/{s1.id}", data={"heading": "EXT. CLIFFS - NIGHT", "number": "2"})
    assert r.status_code == 409 and "already exists" in r.text
    assert b.post(f"/scenes/{s2.id}/move", data={"index": "0"}).status_code == 303
    assert b.post(f"/scenes/{s1.id}/renumber").status_code == 303
    assert b.post(f"/projects/{w['project'].id}/scenes/renumber", data={"shots": "1"}).status_code == 303
    db.expire_all()
    assert (db.get(Scene, s2.id).number, db.get(Scene, s1.id).number) == ("1", "2")
    assert db.get(Shot, w["c"].id).code == "1A" and db.get(Shot, w["a"].id).code == "2A"
    scene_id, shot_id = s1.id, w["a"].id
    assert b.post(f"/scenes/{scene_id}/delete").status_code == 303
    db.expire_all()
    assert db.get(Scene, scene_id) is None and db.get(Shot, shot_id) is None


def test_print_sheet(world, db):
    w = world
    b, pid = w["browser"], w["project"].id
    for i in range(5):
        service.create_shot(db, actor=w["owner"], scene=w["s1"], values={"action": f"extra {i}"})
    db.commit()
    page = b.get(f"/projects/{pid}/storyboard/print").text
    assert "size: A4 landscape" in page and page.count('class="sheet"') == 3  # 7 shots: 6+1, then scene 2
    page3 = b.get(f"/projects/{pid}/storyboard/print?per_page=3&paper=letter").text
    assert "size: letter landscape" in page3 and page3.count('class="sheet"') == 4  # 7 shots: 3+3+1, then scene 2
    assert page3.count('class="sheet-panel"') == 8
    assert f'src="/shots/{w["a"].id}/frame"' in page3  # drawn when the sheet asks for it
    assert "Hold on!" in page3 and "wide shot, 24mm, dolly in" in page3 and "blue hour" in page3
    assert "@media print" not in page3 and "/static/css/storyboard.css" in page3
