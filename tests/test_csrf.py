"""Every state-changing request made with browser credentials must carry the CSRF token."""


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


def test_error_fragment_for_htmx(sign_in, make_user, make_project):
    owner = make_user()
    p = make_project(owner)
    b = sign_in(owner)
    r = b.client.post(f"/projects/{p.id}/invitations", data={"role": "gaffer"},
                      headers={"HX-Request": "true", "X-CSRF-Token": b.csrf})  # fmt: skip
    assert r.status_code == 422
    assert r.headers["HX-Retarget"] == "#flash"
    assert "unknown role" in r.text and "<html" not in r.text


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
