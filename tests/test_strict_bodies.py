"""Counts, sizes and switches in JSON bodies take their own type only: "5" or true for a number is a mistake
(422, nothing changed), not something to guess at. Ids stay lenient: clients may send them as text."""

from __future__ import annotations

import pytest

from app.storyboard import service as storyboard


@pytest.fixture
def owner(make_user):
    return make_user(name="Director")


@pytest.fixture
def project(make_project, owner):
    return make_project(owner)


@pytest.fixture
def shot(db, owner, project):
    scene = storyboard.create_scene(db, actor=owner, project=project, heading="INT. CABIN - NIGHT")
    shot = storyboard.create_shot(db, actor=owner, scene=scene, values={"action": "A lamp flickers."})
    db.commit()
    return shot


@pytest.mark.parametrize("field", ["width", "height", "seed", "fps", "duration_s"])
@pytest.mark.parametrize("value", ["5", True])
def test_shot_numbers_are_numbers(client, api_token, owner, shot, field, value):
    h = api_token(owner)
    before = client.get(f"/api/v1/shots/{shot.id}", headers=h).json()
    r = client.patch(f"/api/v1/shots/{shot.id}", json={field: value}, headers=h)
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"]
    assert client.get(f"/api/v1/shots/{shot.id}", headers=h).json() == before


def test_camera_lens_and_position_are_numbers(client, api_token, owner, shot):
    h = api_token(owner)
    assert client.patch(f"/api/v1/shots/{shot.id}", json={"camera": {"lens_mm": "35"}}, headers=h).status_code == 422
    r = client.post(f"/api/v1/shots/{shot.id}/move", json={"scene_id": shot.scene_id, "index": "0"}, headers=h)
    assert r.status_code == 422
    r = client.post(f"/api/v1/shots/{shot.id}/move", json={"scene_id": str(shot.scene_id), "index": 0}, headers=h)
    assert r.status_code == 200, r.text  # an id as text is still an id


@pytest.mark.parametrize("body", [{"width": "1280"}, {"fps": True}, {"height": 720.0 + 0.5}])
def test_project_sizes_are_numbers(client, api_token, owner, project, body):
    h = api_token(owner)
    before = client.get(f"/api/v1/projects/{project.id}", headers=h).json()
    assert client.patch(f"/api/v1/projects/{project.id}", json=body, headers=h).status_code == 422
    assert client.get(f"/api/v1/projects/{project.id}", headers=h).json() == before


def test_character_seed_is_a_number(client, api_token, owner, project):
    h = api_token(owner)
    r = client.post(f"/api/v1/projects/{project.id}/characters", json={"name": "Ines", "seed": "7"}, headers=h)
    assert r.status_code == 422
    assert client.get(f"/api/v1/projects/{project.id}/characters", headers=h).json() == []
