from tests.conftest import PASSWORD, unique_email


def test_register_then_token_then_me(client):
    email = unique_email("api")
    r = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Api Ann"})
    assert r.status_code == 201, r.text
    assert r.json()["email"] == email and "password" not in r.text
    r = client.post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD, "name": "cli"})
    assert r.status_code == 201
    token = r.json()["token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["email"] == email
    listed = client.get("/api/v1/auth/tokens", headers={"Authorization": f"Bearer {token}"}).json()
    assert [t["name"] for t in listed] == ["cli"] and "token" not in listed[0]


def test_register_bad_input_is_clear(client, make_user):
    taken = make_user().email
    cases = [
        ({"email": taken, "password": PASSWORD, "display_name": "Dup"}, 409, "already exists"),
        ({"email": unique_email(), "password": "short", "display_name": "Weak"}, 422, "at least"),
        ({"email": unique_email(), "password": PASSWORD, "display_name": "N" * 200}, 422, "display_name"),
        ({"email": "nope", "password": PASSWORD, "display_name": "X"}, 422, "e-mail"),
        ({"password": PASSWORD}, 422, "email"),
    ]
    for body, status, text in cases:
        r = client.post("/api/v1/auth/register", json=body)
        assert r.status_code == status, (body, r.text)
        assert text in r.json()["detail"]


def test_bad_credentials_and_bad_tokens_are_401(client, make_user):
    user = make_user()
    r = client.post("/api/v1/auth/tokens", json={"email": user.email, "password": "wrong password!", "name": "x"})
    assert r.status_code == 401 and r.json()["detail"] == "wrong e-mail or password"
    assert client.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer slt_forged"}).status_code == 401


def test_revoked_token_stops_working(client, make_user, api_token):
    user = make_user()
    headers = api_token(user)
    tid = client.get("/api/v1/auth/tokens", headers=headers).json()[0]["id"]
    assert client.delete(f"/api/v1/auth/tokens/{tid}", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
