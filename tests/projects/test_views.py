import re

import pytest
from sqlalchemy import func as sa_func
from sqlalchemy import select

from app.projects.models import Project
from tests.forms import message_for, shown_form


def test_create_project_from_the_form(sign_in, make_user, db):
    b = sign_in(make_user())
    assert b.get("/projects/new").status_code == 200
    r = b.post("/projects", data={"name": "Storm Light", "description": "Sea.", "fps": "25", "width": "1920",
                                  "height": "1080", "default_model": "wan", "gpu_budget_s": "600"})  # fmt: skip
    assert r.status_code == 303
    project = db.scalar(select(Project).where(Project.name == "Storm Light"))
    assert (project.fps, project.width, project.default_model) == (25.0, 1920, "wan")
    page = b.get(r.headers["location"])
    assert "Storm Light" in page.text and "created the project" in page.text


def test_form_errors_keep_the_values(sign_in, make_user):
    b = sign_in(make_user())
    r = b.post("/projects", data={"name": "Odd", "width": "1921", "height": "1080"})
    assert r.status_code == 422 and "even number" in r.text and 'value="Odd"' in r.text
    r = b.post("/projects", data={"name": "Odd", "width": "wide"})
    assert r.status_code == 422 and "Width must be a number." in r.text


def test_projects_page_lists_only_mine(sign_in, make_user, make_project):
    me, other = make_user(), make_user()
    make_project(me, name="Mine")
    make_project(other, name="Hidden Film")
    page = sign_in(me).get("/projects").text
    assert "Mine" in page and "Hidden Film" not in page


def test_invitation_link_flow_through_pages(sign_in, make_user, make_project, client):
    owner, guest = make_user(), make_user(name="Guest")
    p = make_project(owner)
    b = sign_in(owner)
    r = b.post(f"/projects/{p.id}/invitations", data={"role": "editor"})
    assert r.status_code == 201
    link = re.search(r'id="invite-link" class="token" value="([^"]+)"', r.text).group(1)
    path = link.replace("http://testserver", "")
    assert "Create an account" in client.get(path).text  # signed out
    g = sign_in(guest)
    assert "Join" in g.get(path).text
    r = g.post(path)
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{p.id}"
    assert "editor" in g.get(f"/projects/{p.id}").text
    assert "already been used" in g.get(path).text
    feed = b.get(f"/projects/{p.id}").text
    assert "joined as Editor" in feed


def test_activity_feed_pages(sign_in, make_user, make_project, db):
    from app.activity.service import record

    owner = make_user()
    p = make_project(owner)
    for i in range(40):
        record(db, project_id=p.id, actor=owner, verb="note", object_type="project", object_id=p.id, summary=f"note {i}")
    db.commit()
    b = sign_in(owner)
    page = b.get(f"/projects/{p.id}").text
    assert "note 39" in page and "note 5" not in page and "Older activity" in page
    older = re.search(r'hx-get="(/projects/\d+/activity\?before=\d+)"', page).group(1)
    more = b.get(older, headers={"HX-Request": "true"}).text
    assert "note 5" in more and "<html" not in more


def test_delete_needs_the_name(sign_in, make_user, make_project, db):
    owner = make_user()
    p = make_project(owner, name="Doomed")
    b = sign_in(owner)
    assert b.post(f"/projects/{p.id}/delete", data={"confirm_name": "nope"}).status_code == 422
    assert b.post(f"/projects/{p.id}/delete", data={"confirm_name": "Doomed"}).status_code == 303
    db.expunge_all()
    assert db.get(Project, p.id) is None


# ---- forms that keep what was typed ---------------------------------------------------------------------------


def _project_count(db) -> int:
    return db.scalar(select(sa_func.count()).select_from(Project))


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("name", ["", "   "])
def test_a_project_without_a_name_is_not_created_and_the_form_keeps_the_rest(sign_in, make_user, db, htmx, name):
    b = sign_in(make_user())
    before = _project_count(db)
    headers = {"HX-Request": "true"} if htmx else {}
    r = b.post("/projects", data={"name": name, "description": "A lighthouse keeper's last night.", "fps": "25",
                                  "width": "1920", "height": "1080", "default_model": "wan"}, headers=headers)  # fmt: skip
    assert r.status_code == 422
    assert message_for(r.text, "/projects", "name") == "The project needs a name."
    form, _ = shown_form(r.text, "/projects")
    assert form.values["description"] == "A lighthouse keeper's last night."
    assert (form.values["fps"], form.values["width"], form.values["height"], form.values["default_model"]) == (
        "25.0", "1920", "1080", "wan")  # fmt: skip
    assert "Field required" not in r.text and "HX-Retarget" not in r.headers
    assert _project_count(db) == before


def test_settings_rejected_keep_the_typed_values(sign_in, make_user, make_project, db):
    owner = make_user()
    p = make_project(owner, name="Harbour")
    r = sign_in(owner).post(f"/projects/{p.id}/settings", data={"name": " ", "description": "New words.",
                                                                 "width": "1281"})  # fmt: skip
    assert r.status_code == 422
    action = f"/projects/{p.id}/settings"
    assert message_for(r.text, action, "name") == "The project needs a name."
    form, _ = shown_form(r.text, action)
    assert form.values["description"] == "New words." and form.values["width"] == "1281"
    db.refresh(p)
    assert p.name == "Harbour" and p.description != "New words."


def test_add_member_with_an_unknown_email_keeps_it_next_to_the_message(sign_in, make_user, make_project, db):
    from app.projects.models import Membership

    owner = make_user()
    p = make_project(owner)
    b = sign_in(owner)
    action = f"/projects/{p.id}/members"
    count = db.scalar(select(sa_func.count()).select_from(Membership).where(Membership.project_id == p.id))
    for email, words in [("", "Enter the e-mail address of the person to add."), ("nobody@example.org", "No account")]:
        r = b.post(action, data={"email": email, "role": "editor"})
        assert r.status_code in (404, 422)
        assert message_for(r.text, action, "email").startswith(words)
        form, _ = shown_form(r.text, action)
        assert form.values["email"] == email and form.values["role"] == "editor"
    assert db.scalar(select(sa_func.count()).select_from(Membership).where(Membership.project_id == p.id)) == count


def test_an_invitation_with_a_bad_length_says_so_next_to_the_form(sign_in, make_user, make_project):
    owner = make_user()
    p = make_project(owner)
    action = f"/projects/{p.id}/invitations"
    r = sign_in(owner).post(action, data={"role": "editor", "email": "kit@example.org", "days": "400"})
    assert r.status_code == 422
    assert message_for(r.text, action, "days") == "An invitation lasts between 1 and 90 days."
    form, _ = shown_form(r.text, action)
    assert form.values["email"] == "kit@example.org" and form.values["role"] == "editor"
    assert 'id="invite-link"' not in r.text


def test_a_field_the_framework_rejects_answers_a_styled_page_in_words_with_a_way_back(sign_in, make_user, make_project,
                                                                                     db):  # fmt: skip
    owner = make_user()
    p = make_project(owner)
    b = sign_in(owner)
    before = _project_count(db)
    r = b.post("/projects", data={"name": "N" * 501}, headers={"Referer": "http://testserver/projects/new"})
    assert r.status_code == 422
    assert "The name is at most 500 characters." in r.text
    assert "data-history-back" in r.text and 'href="/projects/new"' in r.text
    assert "<nav" in r.text or "site-header" in r.text or "<header" in r.text  # the whole page, not a bare fragment
    assert "string_too_long" not in r.text and "String should have" not in r.text
    assert _project_count(db) == before
    # htmx: the message goes to the flash area; the form on the page stays as typed.
    r = b.post("/projects", data={"name": "N" * 501}, headers={"HX-Request": "true"})
    assert r.status_code == 422 and r.headers["HX-Retarget"] == "#flash"
    assert "The name is at most 500 characters." in r.text and "<html" not in r.text
    # JSON keeps its 422 body.
    r = b.post(f"/projects/{p.id}/scenes/renumber", data={"shots": "x" * 11}, headers={"Accept": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "string_too_long"
