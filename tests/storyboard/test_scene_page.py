"""The scene page lists its shots as the storyboard's cards, in order, draggable for those who edit the story."""

from __future__ import annotations

import re

from app.storyboard import service


def _cards(html: str) -> list[str]:
    return re.findall(r'<li class="shot-card[^"]*" id="shot-(\d+)"', html)


def _scene(db, make_user, make_project):
    owner = make_user(name="Director")
    project = make_project(owner, name="Lighthouse")
    scene = service.create_scene(db, actor=owner, project=project, heading="EXT. ROCKS - NIGHT", synopsis="The storm.")
    other = service.create_scene(db, actor=owner, project=project, heading="INT. LAMP ROOM - NIGHT")
    shots = [
        service.create_shot(db, actor=owner, scene=scene, values={"action": text, "camera": {"framing": fr}})
        for text, fr in (("Mara fights the wind.", "WS"), ("The girl slips.", "CU"), ("A wave.", "EWS"))
    ]
    elsewhere = service.create_shot(db, actor=owner, scene=other, values={"action": "The lamp turns."})
    db.commit()
    return owner, project, scene, shots, elsewhere


def test_the_scene_page_lists_its_shots_in_order_and_only_its_own(db, make_user, make_project, sign_in):
    owner, _, scene, shots, elsewhere = _scene(db, make_user, make_project)
    r = sign_in(owner).get(f"/scenes/{scene.id}")
    assert r.status_code == 200
    page = r.text
    assert _cards(page) == [str(s.id) for s in shots]
    assert str(elsewhere.id) not in _cards(page) and "The lamp turns." not in page
    assert "Mara fights the wind." in page and f'href="/shots/{shots[1].id}"' in page
    assert "3 shots" in page
    # the board's drag and drop, on the same move endpoint
    assert f'id="shots-{scene.id}"' in page and "data-sortable" in page and 'class="drag-handle"' in page
    assert 'src="/static/vendor/Sortable.min.js"' in page and 'src="/static/js/storyboard.js"' in page
    assert 'id="bulk-form"' in page and 'form="bulk-form"' in page
    assert 'value="EXT. ROCKS - NIGHT"' in page  # the scene's own form is still there


def test_a_drop_on_the_scene_page_moves_the_shot_and_the_page_follows(db, make_user, make_project, sign_in):
    owner, _, scene, shots, _ = _scene(db, make_user, make_project)
    b = sign_in(owner)
    r = b.post(f"/shots/{shots[2].id}/move", data={"scene_id": str(scene.id), "index": "0"},
               headers={"HX-Request": "true"})  # fmt: skip
    assert r.status_code == 200 and f'id="shots-{scene.id}"' in r.text
    assert _cards(b.get(f"/scenes/{scene.id}").text) == [str(shots[2].id), str(shots[0].id), str(shots[1].id)]


def test_viewers_see_the_shots_without_drag_and_drop(db, make_user, make_project, add_member, sign_in):
    _, project, scene, shots, _ = _scene(db, make_user, make_project)
    viewer = make_user(name="Client")
    add_member(project, viewer, "viewer")
    page = sign_in(viewer).get(f"/scenes/{scene.id}").text
    assert _cards(page) == [str(s.id) for s in shots]
    assert "data-sortable" not in page and "drag-handle" not in page and "Sortable.min.js" not in page
    assert 'name="heading"' not in page and "bulk-form" not in page


def test_an_empty_scene_says_so_and_outsiders_get_404(db, make_user, make_project, sign_in):
    owner, project, _, _, _ = _scene(db, make_user, make_project)
    empty = service.create_scene(db, actor=owner, project=project, heading="EXT. PIER - DAY")
    db.commit()
    page = sign_in(owner).get(f"/scenes/{empty.id}").text
    assert _cards(page) == [] and "0 shots" in page and 'id="bulk-form"' not in page
    outsider = sign_in(make_user(name="Outsider"))
    assert outsider.get(f"/scenes/{empty.id}").status_code == 404
