import re

from sqlalchemy import select

from app.projects.models import Project


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
    assert r.status_code == 422 and "width must be a number" in r.text


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
