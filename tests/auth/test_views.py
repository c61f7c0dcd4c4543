import re

from sqlalchemy import select

from app.auth.models import User
from app.deps import CSRF_COOKIE, SESSION_COOKIE
from app.system.service import set_signup_mode
from tests.conftest import PASSWORD, unique_email


def _form_csrf(client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_signup_page_creates_account_and_signs_in(client, db):
    token = _form_csrf(client, "/signup")
    email = unique_email("page")
    r = client.post("/signup", data={"csrf_token": token, "email": email, "password": PASSWORD, "display_name": "Pat"})
    assert r.status_code == 303 and r.headers["location"] == "/projects"
    assert SESSION_COOKIE in r.cookies
    page = client.get("/projects")
    assert page.status_code == 200 and "Pat" in page.text
    assert db.scalar(select(User).where(User.email == email)) is not None


def test_signup_errors_keep_what_was_typed(client, make_user):
    taken = make_user().email
    token = _form_csrf(client, "/signup")
    r = client.post("/signup", data={"csrf_token": token, "email": taken, "password": PASSWORD, "display_name": "Pat"})
    assert r.status_code == 409 and "already exists" in r.text and 'value="Pat"' in r.text
    r = client.post("/signup", data={"csrf_token": token, "email": unique_email(), "password": "short",
                                     "display_name": "Pat"})  # fmt: skip
    assert r.status_code == 422 and "at least 10 characters" in r.text


def test_signup_without_csrf_is_refused(client):
    client.get("/signup")
    r = client.post("/signup", data={"email": unique_email(), "password": PASSWORD, "display_name": "Pat"})
    assert r.status_code == 403 and "CSRF" in r.text
    client.cookies.set(CSRF_COOKIE, "abc")
    r = client.post("/signup", data={"csrf_token": "xyz", "email": unique_email(), "password": PASSWORD,
                                     "display_name": "Pat"})  # fmt: skip
    assert r.status_code == 403


def test_invitation_only_sign_up(client, db, make_user):
    make_user()  # not the first account any more
    set_signup_mode(db, mode="invite")
    db.commit()
    token = _form_csrf(client, "/signup")
    r = client.post("/signup", data={"csrf_token": token, "email": unique_email(), "password": PASSWORD,
                                     "display_name": "Gate"})  # fmt: skip
    assert r.status_code == 403 and "invitation only" in r.text


def test_login_logout(client, make_user):
    user = make_user(name="Lou")
    token = _form_csrf(client, "/login")
    bad = client.post("/login", data={"csrf_token": token, "email": user.email, "password": "nope nope nope"})
    assert bad.status_code == 401 and "Wrong e-mail or password" in bad.text
    ok = client.post("/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD,
                                     "next": "/account"})  # fmt: skip
    assert ok.status_code == 303 and ok.headers["location"] == "/account"
    account = client.get("/account")
    assert "Lou" in account.text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', account.text).group(1)
    out = client.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert client.get("/account").status_code == 303


def test_login_next_cannot_leave_the_site(client, make_user):
    user = make_user()
    token = _form_csrf(client, "/login")
    r = client.post("/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD,
                                    "next": "//evil.example.com/"})  # fmt: skip
    assert r.headers["location"] == "/projects"


def test_signed_out_pages_redirect_to_sign_in(client):
    r = client.get("/projects")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/projects"


def test_tokens_page_shows_a_new_token_once(sign_in, make_user):
    b = sign_in(make_user())
    r = b.post("/account/tokens", data={"name": "render farm", "expires_days": "30"})
    assert r.status_code == 201
    token = re.search(r"(slt_[A-Za-z0-9_\-]+)", r.text).group(1)
    again = b.get("/account")
    assert "render farm" in again.text and token not in again.text
    assert b.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_unknown_page_still_shows_who_is_signed_in(sign_in, make_user):
    b = sign_in(make_user(name="Nadia"))
    r = b.get("/no-such-page")
    assert r.status_code == 404 and "Nadia" in r.text and "Nothing here" in r.text


# ---- forms that keep what was typed ---------------------------------------------------------------------------


def test_sign_up_with_a_blank_name_keeps_the_email_and_creates_no_account(client, db):
    from sqlalchemy import func

    from tests.forms import message_for, shown_form

    token = _form_csrf(client, "/signup")
    email = unique_email()
    before = db.scalar(select(func.count()).select_from(User))
    r = client.post("/signup", data={"csrf_token": token, "email": email, "password": PASSWORD, "display_name": "  "})
    assert r.status_code == 422 and "Field required" not in r.text
    assert message_for(r.text, "/signup", "display_name")
    assert shown_form(r.text, "/signup")[0].values["email"] == email
    assert db.scalar(select(func.count()).select_from(User)) == before


def test_login_with_an_empty_password_asks_for_it_and_keeps_the_email(client, make_user):
    from tests.forms import shown_form

    user = make_user()
    token = _form_csrf(client, "/login")
    r = client.post("/login", data={"csrf_token": token, "email": user.email, "password": ""})
    assert r.status_code == 422 and "Enter your e-mail address and password." in r.text
    form, _ = shown_form(r.text, "/login")
    assert form.values["email"] == user.email and "password" in form.invalid
    assert SESSION_COOKIE not in r.cookies


def test_a_token_without_a_name_keeps_the_expiry_and_is_not_created(sign_in, make_user, db):
    from sqlalchemy import func

    from app.auth.models import ApiToken
    from tests.forms import message_for, shown_form

    user = make_user()
    b = sign_in(user)
    for data, field, words in [({"name": " ", "expires_days": "30"}, "name", "Give the token a name"),
                               ({"name": "farm", "expires_days": "soon"}, "expires_days", "A token expires after")]:
        r = b.post("/account/tokens", data=data)
        assert r.status_code == 422 and 'id="new-token"' not in r.text
        assert message_for(r.text, "/account/tokens", field).startswith(words)
        assert shown_form(r.text, "/account/tokens")[0].values["expires_days"] == data["expires_days"]
    assert db.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id)) == 0
