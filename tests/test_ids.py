"""Ids no row can have (past PostgreSQL's integer range, not whole numbers) are unknown ids: 404 in the path and
the query, 422 in a body, never a server error."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import ID_MAX, row_id
from app.deps import DB
from app.storyboard import service as storyboard

PAST = str(ID_MAX + 1)


@pytest.fixture
def owner(make_user):
    return make_user(name="Director")


@pytest.fixture
def shot(db, owner, make_project):
    project = make_project(owner)
    scene = storyboard.create_scene(db, actor=owner, project=project, heading="EXT. PIER - DAY")
    shot = storyboard.create_shot(db, actor=owner, scene=scene, values={"action": "Gulls."})
    db.commit()
    return shot


@pytest.mark.parametrize("value", [1, "1", " 42 ", ID_MAX, str(ID_MAX)])
def test_row_id_takes_ids_a_row_can_have(value):
    assert row_id(value) == int(str(value).strip())


@pytest.mark.parametrize("value", [0, -1, ID_MAX + 1, PAST, "1e3", "5_0", "+5", "0x10", "", None, True, 1.0, "٣"])
def test_row_id_refuses_the_rest(value):
    assert row_id(value) is None


@pytest.mark.parametrize("path", [
    "/api/v1/shots/{past}", "/api/v1/jobs/{past}", "/api/v1/takes/{past}/video", "/api/v1/projects/{past}",
    "/api/v1/characters/{past}", "/projects/{past}/events?once=1", "/projects/{past}/storyboard", "/shots/{past}",
    "/api/v1/shots/-1", "/api/v1/shots/1e3", "/api/v1/projects/{pid}/members/{past}",
    "/api/v1/auth/tokens/{past}",
])  # fmt: skip
def test_ids_past_the_range_in_the_path_are_not_found(client, api_token, owner, shot, path):
    url = path.format(past=PAST, pid=shot.project_id)
    method = "DELETE" if "/members/" in url or "/auth/tokens/" in url else "GET"
    r = client.request(method, url, headers=api_token(owner))
    assert r.status_code == 404, (url, r.status_code, r.text[:200])


def test_an_id_past_the_range_in_the_query_is_not_found(client, api_token, owner, shot):
    h = api_token(owner)
    assert client.get(f"/api/v1/projects/{shot.project_id}/activity?before={PAST}", headers=h).status_code == 422
    assert client.get(f"/api/v1/projects/{shot.project_id}/activity?project_id={PAST}", headers=h).status_code == 404
    r = client.get(f"/projects/{shot.project_id}/storyboard?character={PAST}", headers=h)
    assert r.status_code == 200  # an unknown filter value filters nothing


@pytest.mark.parametrize("body", [
    {"location_id": ID_MAX + 1}, {"style_id": ID_MAX + 1}, {"character_ids": [ID_MAX + 1]},
    {"looks": {str(ID_MAX + 1): None}},
])  # fmt: skip
def test_ids_past_the_range_in_a_body_are_refused_and_nothing_changes(client, db, api_token, owner, shot, body):
    h = api_token(owner)
    before = client.get(f"/api/v1/shots/{shot.id}", headers=h).json()
    r = client.patch(f"/api/v1/shots/{shot.id}", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert client.get(f"/api/v1/shots/{shot.id}", headers=h).json() == before


def test_moving_a_shot_to_a_scene_past_the_range_is_refused(client, api_token, owner, shot):
    r = client.post(f"/api/v1/shots/{shot.id}/move", json={"scene_id": ID_MAX + 1, "index": 0},
                    headers=api_token(owner))  # fmt: skip
    assert r.status_code == 422, r.text


def test_any_other_number_past_its_column_is_bad_input_not_a_server_error(app, client):
    @app.get("/api/v1/_overflow")
    def overflow(db: DB):
        db.execute(sa.text("SELECT CAST(:n AS integer)"), {"n": ID_MAX + 1})

    r = client.get("/api/v1/_overflow")
    assert (r.status_code, r.json()["detail"]) == (422, "a number is out of range")
