from sqlalchemy import func, select

from app.projects.models import Project


def test_project_crud_through_the_api(client, make_user, api_token):
    owner = make_user()
    h = api_token(owner)
    r = client.post("/api/v1/projects", json={"name": "Night Shift", "fps": 25, "width": 1920, "height": 1080},
                    headers=h)  # fmt: skip
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.json()["role"] == "owner"
    assert [p["id"] for p in client.get("/api/v1/projects", headers=h).json()] == [pid]
    r = client.patch(f"/api/v1/projects/{pid}", json={"description": "A keeper and a girl."}, headers=h)
    assert r.status_code == 200 and r.json()["description"] == "A keeper and a girl."
    feed = client.get(f"/api/v1/projects/{pid}/activity", headers=h).json()
    assert [e["verb"] for e in feed] == ["project.updated", "project.created"]
    assert client.delete(f"/api/v1/projects/{pid}", headers=h).status_code == 204
    assert client.get(f"/api/v1/projects/{pid}", headers=h).status_code == 404


def test_bad_project_input_is_422_and_writes_nothing(client, db, make_user, api_token):
    h = api_token(make_user())
    before = db.scalar(select(func.count()).select_from(Project))
    for body in ({"name": ""}, {"name": "x" * 121}, {"name": "ok", "fps": 17}, {"name": "ok", "width": 999},
                 {"name": "ok", "default_model": "sora"}, {"fps": 24}, {"name": "ok", "width": "wide"}):  # fmt: skip
        r = client.post("/api/v1/projects", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"]
    assert db.scalar(select(func.count()).select_from(Project)) == before


def test_patch_unknown_field_is_422(client, make_user, make_project, api_token):
    owner = make_user()
    p = make_project(owner)
    r = client.patch(f"/api/v1/projects/{p.id}", json={"owner": "me"}, headers=api_token(owner))
    assert r.status_code == 422


def test_non_member_gets_404_everywhere(client, make_user, make_project, api_token):
    p = make_project(make_user())
    h = api_token(make_user())
    for method, url in [("GET", f"/api/v1/projects/{p.id}"), ("PATCH", f"/api/v1/projects/{p.id}"),
                        ("DELETE", f"/api/v1/projects/{p.id}"), ("GET", f"/api/v1/projects/{p.id}/members"),
                        ("GET", f"/api/v1/projects/{p.id}/activity"), ("GET", "/api/v1/projects/99999999")]:  # fmt: skip
        r = client.request(method, url, headers=h, json={})
        assert r.status_code == 404, (method, url, r.status_code)


def test_members_and_invitations_api(client, make_user, make_project, api_token):
    owner, ann, bob = make_user(), make_user(name="Ann"), make_user(name="Bob")
    p = make_project(owner)
    h = api_token(owner)
    r = client.post(f"/api/v1/projects/{p.id}/members", json={"email": ann.email, "role": "director"}, headers=h)
    assert r.status_code == 201 and r.json()["role"] == "director"
    assert client.post(f"/api/v1/projects/{p.id}/members", json={"email": bob.email, "role": "gaffer"},
                       headers=h).status_code == 422  # fmt: skip
    r = client.post(f"/api/v1/projects/{p.id}/invitations", json={"role": "viewer"}, headers=h)
    assert r.status_code == 201
    token = r.json()["url"].rsplit("/", 1)[1]
    hb = api_token(bob)
    r = client.post(f"/api/v1/invitations/{token}/accept", headers=hb)
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    assert client.post(f"/api/v1/invitations/{token}/accept", headers=hb).status_code == 409
    # a viewer can see the team but not change it, and may leave
    assert client.get(f"/api/v1/projects/{p.id}/members", headers=hb).status_code == 200
    assert client.patch(f"/api/v1/projects/{p.id}/members/{ann.id}", json={"role": "viewer"},
                        headers=hb).status_code == 403  # fmt: skip
    assert client.delete(f"/api/v1/projects/{p.id}/members/{ann.id}", headers=hb).status_code == 403
    assert client.delete(f"/api/v1/projects/{p.id}/members/{bob.id}", headers=hb).status_code == 403
    assert client.post(f"/api/v1/projects/{p.id}/leave", headers=hb).status_code == 204
    assert client.get(f"/api/v1/projects/{p.id}", headers=hb).status_code == 404
    # nobody changes their own role, the last owner included; the last owner cannot leave either
    r = client.patch(f"/api/v1/projects/{p.id}/members/{owner.id}", json={"role": "viewer"}, headers=h)
    assert r.status_code == 403 and "ask another owner" in r.json()["detail"]
    r = client.post(f"/api/v1/projects/{p.id}/leave", headers=h)
    assert r.status_code == 409 and "at least one owner" in r.json()["detail"]


def test_producer_and_director_change_the_budget(client, make_user, make_project, add_member, api_token):
    owner, director, producer = make_user(), make_user(), make_user()
    p = make_project(owner)
    add_member(p, director, "director")
    add_member(p, producer, "producer")
    assert client.patch(f"/api/v1/projects/{p.id}", json={"gpu_budget_s": 10},
                        headers=api_token(producer)).status_code == 200  # fmt: skip
    r = client.patch(f"/api/v1/projects/{p.id}", json={"gpu_budget_s": 20}, headers=api_token(director))
    assert r.status_code == 200 and r.json()["gpu_budget_s"] == 20
