"""The storyboard page and GET of a scene's shots cost the same number of SQL statements for 10 shots as
for 300 (counted with a `before_cursor_execute` listener)."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event

from app.characters.models import ReferenceImage
from app.storyboard.models import Scene, Shot, ShotCharacter
from tests.storyboard import factories as f

CAMERAS = [{"framing": "WS", "move": "dolly_in", "lens_mm": 24}, {"framing": "CU", "move": "static"},
           {"framing": "OTS", "move": "pan_left", "angle": "low"}]  # fmt: skip


def _seed(db, project, *, shots: int, scenes: int) -> Scene:
    """A project whose shots have cast (with looks), locations, a style and references everywhere.

    Bigger projects also have more characters and locations, so a lazy load per character, look or
    location would show up in the count as well as one per shot.
    """
    characters, places = (4, 3) if shots <= 10 else (30, 20)
    f.style(db, project, "House style", "35mm film")
    chars = [f.character(db, project, f"Person {i}", f"person {i}") for i in range(characters)]
    looks = [f.look(db, c, "Coat", "a coat") for c in chars]
    locs = [f.location(db, project, f"Place {i}", f"place {i}") for i in range(places)]
    asset = f.reference(db, project, location=locs[0]).asset_id
    db.add_all([ReferenceImage(project_id=project.id, asset_id=asset, character_id=c.id) for c in chars[1:]]
               + [ReferenceImage(project_id=project.id, asset_id=asset, character_id=lk.character_id, look_id=lk.id)
                  for lk in looks[::2]] + [ReferenceImage(project_id=project.id, asset_id=asset, location_id=loc.id)
                                           for loc in locs[1:]])  # fmt: skip
    scene_rows = [Scene(project_id=project.id, number=str(i + 1), heading=f"INT. ROOM {i} - DAY", position=i)
                  for i in range(scenes)]  # fmt: skip
    db.add_all(scene_rows)
    db.flush()
    rows = []
    for i in range(shots):
        sc = scene_rows[i % scenes]
        rows.append(Shot(project_id=project.id, scene_id=sc.id, code=f"{sc.number}{chr(65 + (i // scenes) % 26)}{i}",
                         position=i // scenes, action=f"Shot {i}: something happens.", camera=CAMERAS[i % 3],
                         lighting={"key": "low_key"}, location_id=locs[i % places].id, status="draft"))  # fmt: skip
    db.add_all(rows)
    db.flush()
    cast = []
    for i, shot in enumerate(rows):
        if i % 5 == 4:
            continue  # no cast: the card shows the location's reference
        a, b = chars[i % characters], chars[(i + 1) % characters]
        cast.append(ShotCharacter(shot_id=shot.id, character_id=a.id, character_version=1,
                                  look_id=looks[i % characters].id, look_version=1, position=0))
        if i % 2:
            cast.append(ShotCharacter(shot_id=shot.id, character_id=b.id, character_version=1, position=1))
    db.add_all(cast)
    db.commit()
    return scene_rows[0]


@contextlib.contextmanager
def counting(engine):
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


@pytest.fixture
def two_projects(db, make_user, make_project, sign_in):
    owner = make_user(name="Director")
    small, big = make_project(owner, name="Short"), make_project(owner, name="Feature")
    small_scene = _seed(db, small, shots=10, scenes=2)
    big_scene = _seed(db, big, shots=300, scenes=10)
    return owner, (small, small_scene), (big, big_scene), sign_in(owner)


def test_storyboard_page_statements_do_not_grow_with_shots(two_projects, pg_engine):
    _, (small, _), (big, _), browser = two_projects
    counts = []
    for project, cards in ((small, 10), (big, 300)):
        browser.get(f"/projects/{project.id}/storyboard")  # warm: first-request work is not what we count
        with counting(pg_engine) as statements:
            page = browser.get(f"/projects/{project.id}/storyboard")
        assert page.status_code == 200
        assert page.text.count('class="shot-card') == cards
        assert page.text.count('class="shot-frame') == cards  # every card has its frame (or its sketch on the way)
        counts.append(len(statements))
    print(f"storyboard page: {counts[0]} statements for 10 shots, {counts[1]} for 300 shots")
    assert counts[0] == counts[1], counts


def test_scene_shots_api_statements_do_not_grow_with_shots(db, make_user, make_project, client, api_token,
                                                           pg_engine):  # fmt: skip
    owner = make_user(name="Director")
    small = _seed(db, make_project(owner, name="Short"), shots=10, scenes=1)
    big = _seed(db, make_project(owner, name="Feature"), shots=300, scenes=1)
    h = api_token(owner)
    counts = []
    for scene, n in ((small, 10), (big, 300)):
        client.get(f"/api/v1/scenes/{scene.id}/shots", headers=h)
        with counting(pg_engine) as statements:
            r = client.get(f"/api/v1/scenes/{scene.id}/shots", headers=h)
        assert r.status_code == 200
        body = r.json()
        assert len(body) == n and all(s["compiled_prompt"] and s["thumbnail_url"] for s in body)
        counts.append(len(statements))
    print(f"GET scene shots: {counts[0]} statements for 10 shots, {counts[1]} for 300 shots")
    assert counts[0] == counts[1], counts
