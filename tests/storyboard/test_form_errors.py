"""Scene and shot forms: a rejected post shows the form as typed with the message next to the field, and no empty
scene or shot is created (htmx and plain posts alike)."""

import pytest
from sqlalchemy import func, select

from app.errors import Invalid
from app.storyboard import service
from app.storyboard.models import Scene, Shot
from tests.forms import message_for, shown_form


@pytest.fixture
def board(db, make_user, make_project, sign_in):
    owner = make_user(name="Director")
    project = make_project(owner, name="Lighthouse")
    scene = service.create_scene(db, actor=owner, project=project, heading="EXT. ROCKS - NIGHT", synopsis="Storm.")
    service.create_shot(db, actor=owner, scene=scene, values={"action": "Mara fights the wind."})
    db.commit()
    return {"owner": owner, "project": project, "scene": scene, "browser": sign_in(owner)}


def _count(db, model, **where) -> int:
    q = select(func.count()).select_from(model)
    for k, v in where.items():
        q = q.where(getattr(model, k) == v)
    return db.scalar(q)


HTMX = [pytest.param({}, id="plain"), pytest.param({"HX-Request": "true"}, id="htmx")]


@pytest.mark.parametrize("headers", HTMX)
@pytest.mark.parametrize("action", ["", "   \t "])
def test_add_shot_without_an_action_line_creates_nothing_and_asks_for_one(board, db, headers, action):
    scene = board["scene"]
    before = _count(db, Shot, scene_id=scene.id)
    r = board["browser"].post(f"/scenes/{scene.id}/shots", data={"action": action, "framing": "CU"}, headers=dict(headers))
    assert r.status_code == 422 and "HX-Retarget" not in r.headers
    url = f"/scenes/{scene.id}/shots"
    form, messages = shown_form(r.text, url)
    assert "action" in form.invalid and form.values["framing"] == "CU"
    assert messages[f"shot-{scene.id}-error"] == "Say what happens in the shot, in a line."
    assert _count(db, Shot, scene_id=scene.id) == before


def test_add_shot_form_asks_in_the_browser_too(board):
    page = board["browser"].get(f"/projects/{board['project'].id}/storyboard").text
    field = page[page.index(f'action="/scenes/{board["scene"].id}/shots"'):]
    field = field[field.index('name="action"') - 10:field.index('name="action"') + 120]
    assert " required" in field


def test_a_shot_with_a_line_is_still_added(board, db):
    scene = board["scene"]
    r = board["browser"].post(f"/scenes/{scene.id}/shots", data={"action": "  A boat arrives. "})
    assert r.status_code == 303
    assert _count(db, Shot, scene_id=scene.id) == 2


def test_the_api_may_still_create_a_shot_to_fill_in_later(db, board):
    shot = service.create_shot(db, actor=board["owner"], scene=board["scene"], values={"duration_s": 2.0})
    assert shot.action == ""
    with pytest.raises(Invalid, match="say what happens"):
        service.create_shot(db, actor=board["owner"], scene=board["scene"], values={"prompt": " "}, needs_words=True)


@pytest.mark.parametrize("headers", HTMX)
def test_a_scene_without_a_heading_is_not_created_and_keeps_the_synopsis(board, db, headers):
    pid = board["project"].id
    before = _count(db, Scene, project_id=pid)
    url = f"/projects/{pid}/scenes"
    r = board["browser"].post(url, data={"heading": "  ", "synopsis": "Dawn over the pier.", "number": "7"},
                              headers=dict(headers))  # fmt: skip
    assert r.status_code == 422
    assert message_for(r.text, url, "heading") == "The scene needs a heading, like INT. KITCHEN - NIGHT."
    form, _ = shown_form(r.text, url)
    assert form.values["synopsis"] == "Dawn over the pier." and form.values["number"] == "7"
    assert _count(db, Scene, project_id=pid) == before


@pytest.mark.parametrize("headers", HTMX)
def test_editing_a_scene_to_a_blank_heading_keeps_the_typing_and_the_scene(board, db, headers):
    scene = board["scene"]
    url = f"/scenes/{scene.id}"
    r = board["browser"].post(url, data={"heading": "", "synopsis": "Rewritten.", "number": "1"}, headers=dict(headers))
    assert r.status_code == 422
    assert message_for(r.text, url, "heading").startswith("The scene needs a heading")
    assert shown_form(r.text, url)[0].values["synopsis"] == "Rewritten."
    db.expire_all()
    assert db.get(Scene, scene.id).heading == "EXT. ROCKS - NIGHT" and db.get(Scene, scene.id).synopsis == "Storm."


def test_scene_and_shot_forms_answer_a_stranger_with_404(board, make_user, sign_in, db):
    stranger = sign_in(make_user())
    scene = board["scene"]
    assert stranger.post(f"/scenes/{scene.id}/shots", data={"action": ""}).status_code == 404
    assert stranger.post(f"/projects/{board['project'].id}/scenes", data={"heading": ""}).status_code == 404
    assert _count(db, Shot, scene_id=scene.id) == 1
