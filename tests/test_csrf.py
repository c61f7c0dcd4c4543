"""Every state-changing request made with browser credentials must carry the CSRF token."""

import re


def test_page_write_without_token_is_refused_and_changes_nothing(sign_in, make_user, make_project, db):
    owner = make_user()
    p = make_project(owner, name="Before")
    b = sign_in(owner)
    r = b.client.post(f"/projects/{p.id}/settings", data={"name": "After"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = b.client.post(f"/projects/{p.id}/settings", data={"name": "After", "csrf_token": "forged"})
    assert r.status_code == 403
    db.refresh(p)
    assert p.name == "Before"
    ok = b.client.post(f"/projects/{p.id}/settings", data={"name": "After", "csrf_token": b.csrf})
    assert ok.status_code == 303
    db.refresh(p)
    assert p.name == "After"


def test_htmx_header_carries_the_token(sign_in, make_user, make_project):
    owner = make_user()
    p = make_project(owner)
    b = sign_in(owner)
    r = b.client.post(f"/projects/{p.id}/invitations", data={"role": "viewer"},
                      headers={"HX-Request": "true", "X-CSRF-Token": b.csrf})  # fmt: skip
    assert r.status_code == 201


def test_api_with_session_cookie_needs_the_token_but_bearer_does_not(sign_in, make_user, client, api_token):
    user = make_user()
    b = sign_in(user)
    assert b.client.post("/api/v1/projects", json={"name": "Cookie"}).status_code == 403
    assert b.client.post("/api/v1/projects", json={"name": "Cookie"}, headers={"X-CSRF-Token": b.csrf}).status_code == 201
    assert client.post("/api/v1/projects", json={"name": "Script"}, headers=api_token(user)).status_code == 201


def test_error_fragment_for_htmx(sign_in, make_user, make_project, add_member):
    """A domain error on an htmx request that no form answers itself goes to the flash area as a fragment."""
    owner, ed = make_user(), make_user(name="Ed")
    p = make_project(owner)
    add_member(p, ed, "editor")
    b = sign_in(owner)
    r = b.client.post(f"/projects/{p.id}/members/{ed.id}/role", data={"role": "gaffer"},
                      headers={"HX-Request": "true", "X-CSRF-Token": b.csrf})  # fmt: skip
    assert r.status_code == 422
    assert r.headers["HX-Retarget"] == "#flash"
    assert "unknown role" in r.text.lower() and "<html" not in r.text


def test_every_form_on_every_page_carries_the_session_token(sign_in, make_user, make_project):
    import re

    owner = make_user(admin=True)
    p = make_project(owner)
    b = sign_in(owner)
    b.post(f"/projects/{p.id}/invitations", data={"role": "viewer"})  # so the page lists a revocable invitation
    pages = ["/projects", "/projects/new", f"/projects/{p.id}", f"/projects/{p.id}/members",
             f"/projects/{p.id}/settings", "/account", "/admin"]  # fmt: skip
    checked = 0
    for url in pages:
        html = b.get(url).text
        for form in re.findall(r'<form[^>]*method="post".*?</form>', html, flags=re.S):
            tokens = re.findall(r'name="csrf_token" value="([^"]*)"', form)
            assert tokens == [b.csrf], (url, form[:200])
            checked += 1
        assert f'"X-CSRF-Token": "{b.csrf}"' in html  # htmx requests send it as a header
    assert checked >= 10


# ---- signed-out forms: the double-submit cookie is signed with the instance secret --------------------


def _sign_in_form(client, email: str, token: str):
    return client.post("/login", data={"csrf_token": token, "email": email, "password": "wrong password!"})


def test_a_csrf_cookie_the_server_did_not_sign_is_refused(client, make_user):
    """An attacker who can plant a cookie (a sibling subdomain, plain http) chooses its value: it must not pass."""
    from app.auth import security
    from app.deps import CSRF_COOKIE, CSRF_PURPOSE

    email = make_user().email
    forged = ["abc", "abc.def", security.signed_token(secret="another-instance-secret-0123456789abcdef",
                                                         purpose=CSRF_PURPOSE)]  # fmt: skip
    for value in forged:
        client.cookies.set(CSRF_COOKIE, value)
        r = _sign_in_form(client, email, value)
        assert r.status_code == 403 and "CSRF" in r.text, value
        r = client.post("/signup", data={"csrf_token": value, "email": "x@example.com", "password": "p" * 12,
                                         "display_name": "X"})  # fmt: skip
        assert r.status_code == 403, value
    client.cookies.clear()


def test_a_page_replaces_an_unsigned_cookie_and_its_token_then_works(client, make_user):
    from app.deps import CSRF_COOKIE, signed_out_csrf_ok

    email = make_user().email
    client.cookies.set(CSRF_COOKIE, "planted")
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert token != "planted" and signed_out_csrf_ok(token)
    assert page.cookies[CSRF_COOKIE] == token
    client.cookies.set(CSRF_COOKIE, token)
    assert _sign_in_form(client, email, token).status_code == 401  # past the CSRF check: a wrong password
    assert _sign_in_form(client, email, token + "x").status_code == 403  # the form must match the cookie


def test_an_anonymous_client_made_token_passes(client, make_user):
    """What a test (or a script driving the sign-in form) sends: a token from `new_signed_out_csrf()`."""
    from app.deps import CSRF_COOKIE, new_signed_out_csrf

    token = new_signed_out_csrf()
    client.cookies.set(CSRF_COOKIE, token)
    assert _sign_in_form(client, make_user().email, token).status_code == 401
    r = client.post("/login", data={"email": "a@example.com", "password": "x" * 12},
                    headers={"X-CSRF-Token": token})  # fmt: skip
    assert r.status_code == 401


def test_a_token_with_odd_characters_is_refused_not_an_error(client, sign_in, make_user, make_project):
    from app.deps import CSRF_COOKIE, new_signed_out_csrf, signed_out_csrf_ok

    token = new_signed_out_csrf()
    client.cookies.set(CSRF_COOKIE, token)
    assert _sign_in_form(client, "a@example.com", "é" + token).status_code == 403
    assert not signed_out_csrf_ok("é" + token) and not signed_out_csrf_ok(token[:-1] + "é")
    owner = make_user()
    p = make_project(owner)
    b = sign_in(owner)
    assert b.client.post(f"/projects/{p.id}/settings", data={"name": "X", "csrf_token": "é"}).status_code == 403
