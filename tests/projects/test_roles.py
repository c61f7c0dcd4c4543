"""Who may give whom which role: the escalation matrix, the last owner under concurrency, invitation links.

The expectations below are written by hand from the rule as the team would state it, not computed
with `app.permissions`: a member gives roles only at or below their own rank, only owners make owners
and directors, nobody changes their own role, nobody changes or removes someone ranked above them.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.activity.models import ActivityEvent
from app.auth.models import User
from app.errors import Conflict, DomainError, NotFound
from app.projects import service
from app.projects.models import Invitation, Membership, Project
from tests.conftest import unique_email

ROLES = ("owner", "director", "producer", "editor", "artist", "viewer")
LETTER = {"O": "owner", "D": "director", "P": "producer", "E": "editor", "A": "artist", "V": "viewer"}

# PATCH /members/{other}: actor's role -> {the other member's role now: the roles the actor may give them}.
# Anything not listed is 403 and changes nothing. (O owner, D director, P producer, E editor, A artist, V viewer.)
CHANGE = {
    "owner": {"O": "ODPEAV", "D": "ODPEAV", "P": "ODPEAV", "E": "ODPEAV", "A": "ODPEAV", "V": "ODPEAV"},
    "director": {"O": "", "D": "PEAV", "P": "PEAV", "E": "PEAV", "A": "PEAV", "V": "PEAV"},
    "producer": {"O": "", "D": "", "P": "PEAV", "E": "PEAV", "A": "PEAV", "V": "PEAV"},
    "editor": {"O": "", "D": "", "P": "", "E": "", "A": "", "V": ""},
    "artist": {"O": "", "D": "", "P": "", "E": "", "A": "", "V": ""},
    "viewer": {"O": "", "D": "", "P": "", "E": "", "A": "", "V": ""},
}
# PATCH /members/{self}: the roles one may give oneself. Nobody, whatever their role.
SELF = {"owner": "", "director": "", "producer": "", "editor": "", "artist": "", "viewer": ""}
# DELETE /members/{other}: the roles of the members the actor may remove.
REMOVE = {"owner": "ODPEAV", "director": "DPEAV", "producer": "PEAV", "editor": "", "artist": "", "viewer": ""}
# POST /members (an existing account) and POST /invitations: the roles the actor may give a newcomer.
ADD = {"owner": "ODPEAV", "director": "PEAV", "producer": "PEAV", "editor": "", "artist": "", "viewer": ""}


def _roles(letters: str) -> set[str]:
    return {LETTER[c] for c in letters}


def _team(db: Session, project_id: int) -> dict[int, str]:
    rows = db.execute(select(Membership.user_id, Membership.role).where(Membership.project_id == project_id))
    return {user_id: role for user_id, role in rows}


def _counts(db: Session, project_id: int) -> tuple[int, int]:
    events = db.scalar(select(func.count()).select_from(ActivityEvent).where(ActivityEvent.project_id == project_id))
    invites = db.scalar(select(func.count()).select_from(Invitation).where(Invitation.project_id == project_id))
    return events, invites


@pytest.mark.parametrize("actor_role", ROLES)
def test_escalation_matrix_through_the_api(actor_role, client, db, make_user, make_project, add_member, api_token):
    founder = make_user(name="Founder")
    p = make_project(founder)
    actor = make_user(name=f"Actor {actor_role}")
    add_member(p, actor, actor_role)
    targets = {role: make_user(name=f"Target {role}") for role in ROLES}
    for role, user in targets.items():
        add_member(p, user, role)
    h = api_token(actor)
    wrong: list[str] = []

    def set_role(user_id: int, role: str) -> None:
        db.execute(update(Membership).where(Membership.project_id == p.id, Membership.user_id == user_id)
                   .values(role=role))  # fmt: skip
        db.commit()

    def check(what: str, r, allowed: bool, ok_status: int, team_after: dict[int, str], before) -> None:
        expected = ok_status if allowed else 403
        if r.status_code != expected:
            wrong.append(f"{actor_role} {what}: {r.status_code} (expected {expected}) {r.text[:120]}")
        if _team(db, p.id) != team_after:
            wrong.append(f"{actor_role} {what}: the team became {_team(db, p.id)}")
        if not allowed and _counts(db, p.id) != before:
            wrong.append(f"{actor_role} {what}: refused, yet something was recorded")

    # give each role to a member of each role, and to oneself
    for target_role, user in targets.items():
        for wanted in ROLES:
            set_role(user.id, target_role)
            team, before = _team(db, p.id), _counts(db, p.id)
            allowed = wanted in _roles(CHANGE[actor_role][target_role[0].upper()])
            r = client.patch(f"/api/v1/projects/{p.id}/members/{user.id}", json={"role": wanted}, headers=h)
            check(f"makes the {target_role} {wanted}", r, allowed, 200, {**team, user.id: wanted} if allowed else team,
                  before)  # fmt: skip
    for wanted in ROLES:
        team, before = _team(db, p.id), _counts(db, p.id)
        allowed = wanted in _roles(SELF[actor_role])
        r = client.patch(f"/api/v1/projects/{p.id}/members/{actor.id}", json={"role": wanted}, headers=h)
        check(f"makes itself {wanted}", r, allowed, 200, {**team, actor.id: wanted} if allowed else team, before)
        set_role(actor.id, actor_role)

    # remove a member of each role
    for target_role, user in targets.items():
        set_role(user.id, target_role)
        team, before = _team(db, p.id), _counts(db, p.id)
        allowed = target_role in _roles(REMOVE[actor_role])
        r = client.delete(f"/api/v1/projects/{p.id}/members/{user.id}", headers=h)
        check(f"removes the {target_role}", r, allowed, 204,
              {k: v for k, v in team.items() if k != user.id} if allowed else team, before)  # fmt: skip
        if allowed:
            add_member(p, user, target_role)

    # give each role to a newcomer: an existing account, and an invitation link
    for wanted in ROLES:
        allowed = wanted in _roles(ADD[actor_role])
        newcomer = make_user(name="Newcomer")
        team, before = _team(db, p.id), _counts(db, p.id)
        r = client.post(f"/api/v1/projects/{p.id}/members", json={"email": newcomer.email, "role": wanted}, headers=h)
        check(f"adds a {wanted}", r, allowed, 201, {**team, newcomer.id: wanted} if allowed else team, before)
        team, before = _team(db, p.id), _counts(db, p.id)
        r = client.post(f"/api/v1/projects/{p.id}/invitations", json={"role": wanted}, headers=h)
        check(f"invites a {wanted}", r, allowed, 201, team, before)
        if allowed:
            assert _counts(db, p.id)[1] == before[1] + 1

    assert not wrong, "\n".join(wrong)


def test_a_producer_cannot_make_itself_or_anyone_a_director(client, db, make_user, make_project, add_member,
                                                            api_token):  # fmt: skip
    owner, producer, artist = make_user(), make_user(name="Pat"), make_user(name="Art")
    p = make_project(owner)
    add_member(p, producer, "producer")
    add_member(p, artist, "artist")
    h = api_token(producer)
    r = client.patch(f"/api/v1/projects/{p.id}/members/{producer.id}", json={"role": "director"}, headers=h)
    assert r.status_code == 403 and "own role" in r.json()["detail"]
    r = client.patch(f"/api/v1/projects/{p.id}/members/{artist.id}", json={"role": "director"}, headers=h)
    assert r.status_code == 403 and "only an owner" in r.json()["detail"]
    r = client.patch(f"/api/v1/projects/{p.id}/members/{owner.id}", json={"role": "viewer"}, headers=h)
    assert r.status_code == 403 and "cannot change the role of an owner" in r.json()["detail"]
    assert _team(db, p.id) == {owner.id: "owner", producer.id: "producer", artist.id: "artist"}


def test_an_owner_hands_over_through_another_owner(client, db, make_user, make_project, add_member, api_token):
    ada, ben = make_user(name="Ada"), make_user(name="Ben")
    p = make_project(ada)
    add_member(p, ben, "owner")
    r = client.patch(f"/api/v1/projects/{p.id}/members/{ada.id}", json={"role": "director"}, headers=api_token(ada))
    assert r.status_code == 403 and "ask another owner" in r.json()["detail"]
    r = client.patch(f"/api/v1/projects/{p.id}/members/{ada.id}", json={"role": "director"}, headers=api_token(ben))
    assert r.status_code == 200 and r.json()["role"] == "director"
    # with one owner left, that owner can leave only after making someone else owner
    r = client.post(f"/api/v1/projects/{p.id}/leave", headers=api_token(ben))
    assert r.status_code == 409 and "at least one owner" in r.json()["detail"]


def test_members_page_offers_only_grantable_roles(sign_in, make_user, make_project, add_member):
    owner, producer, director, editor = make_user(), make_user(name="Pat"), make_user(name="Dee"), make_user(name="Ed")
    p = make_project(owner)
    add_member(p, producer, "producer")
    add_member(p, director, "director")
    add_member(p, editor, "editor")
    page = sign_in(producer).get(f"/projects/{p.id}/members").text
    menus = dict(re.findall(r'aria-label="Role of ([^"]+)" data-autosubmit>(.*?)</select>', page, re.S))
    assert set(menus) == {"Ed"}  # not the owner, not the director, not oneself
    assert re.findall(r'<option value="(\w+)"', menus["Ed"]) == ["producer", "editor", "artist", "viewer"]
    add_form = re.search(r'action="/projects/\d+/members" class="row-form"[^>]*>(.*?)</form>', page, re.S).group(1)
    assert re.findall(r'<option value="(\w+)"', add_form) == ["producer", "editor", "artist", "viewer"]
    invite_form = re.search(r'action="/projects/\d+/invitations" class="stack"[^>]*>(.*?)</form>', page, re.S).group(1)
    assert re.findall(r'<option value="(\w+)"', invite_form) == ["producer", "editor", "artist", "viewer"]
    assert f"/members/{owner.id}/remove" not in page and f"/members/{director.id}/remove" not in page
    assert f"/members/{editor.id}/remove" in page
    page = sign_in(owner).get(f"/projects/{p.id}/members").text
    menus = dict(re.findall(r'aria-label="Role of ([^"]+)" data-autosubmit>(.*?)</select>', page, re.S))
    assert set(menus) == {"Pat", "Dee", "Ed"}
    assert re.findall(r'<option value="(\w+)"', menus["Dee"]) == list(ROLES)


# ---- the last owner, with two real sessions -----------------------------------------------------------


def _waiting_on_a_lock(engine: sa.Engine, thread: threading.Thread, seconds: float = 5.0) -> bool:
    """Whether another backend of this database waits on a lock while `thread` runs (False once it finished)."""
    deadline = time.monotonic() + seconds
    with engine.connect() as conn:
        while thread.is_alive() and time.monotonic() < deadline:
            waiting = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )).scalar()  # fmt: skip
            conn.rollback()
            if waiting:
                return True
            time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["demote", "remove"])
def test_two_owners_turning_on_each_other_leave_one_owner(how, pg_engine, password_hash):
    with Session(pg_engine) as setup:
        a = User(email=unique_email("ann"), display_name="Ann", password_hash=password_hash)
        b = User(email=unique_email("bob"), display_name="Bob", password_hash=password_hash)
        setup.add_all([a, b])
        setup.flush()
        project = service.create_project(setup, actor=a, name="Two Owners")
        setup.add(Membership(project_id=project.id, user_id=b.id, role="owner"))
        setup.commit()
        pid, a_id, b_id = project.id, a.id, b.id

    def act(db: Session, actor_id: int, other_id: int) -> None:
        actor, proj = db.get(User, actor_id), db.get(Project, pid)
        if how == "demote":
            service.change_role(db, actor=actor, actor_role="owner", project=proj, user_id=other_id, role="director")
        else:
            service.remove_member(db, actor=actor, actor_role="owner", project=proj, user_id=other_id)

    sa_, sb = Session(pg_engine), Session(pg_engine)
    outcome: dict[str, object] = {}

    def bob_side() -> None:
        try:
            act(sb, b_id, a_id)
            sb.commit()
            outcome["bob"] = "done"
        except DomainError as exc:
            sb.rollback()
            outcome["bob"] = exc

    try:
        act(sa_, a_id, b_id)  # Ann's change is made, not yet committed: she holds the team
        bob = threading.Thread(target=bob_side)
        bob.start()
        waited = _waiting_on_a_lock(pg_engine, bob)
        sa_.commit()
        bob.join(10)
        assert not bob.is_alive()
        with Session(pg_engine) as check:
            owners = check.scalars(
                select(Membership.user_id).where(Membership.project_id == pid, Membership.role == "owner")
            ).all()  # fmt: skip
        assert owners == [a_id], f"owners left: {owners}; Bob's side: {outcome.get('bob')!r}"
        assert waited, "Bob's change did not wait for Ann's"
        assert isinstance(outcome["bob"], Conflict if how == "demote" else NotFound), outcome["bob"]
    finally:
        sa_.close()
        sb.close()
        with Session(pg_engine) as cleanup:
            cleanup.execute(delete(Project).where(Project.id == pid))
            cleanup.execute(delete(User).where(User.id.in_([a_id, b_id])))
            cleanup.commit()


# ---- invitation links ------------------------------------------------------------------------------


def test_invitation_links_use_the_base_url_not_the_host_header(client, sign_in, make_user, make_project, api_token,
                                                               settings):  # fmt: skip
    owner = make_user()
    p = make_project(owner)
    base = settings.base_url.rstrip("/")
    assert "evil.example" not in base
    r = client.post(f"/api/v1/projects/{p.id}/invitations", json={"role": "viewer"},
                    headers={**api_token(owner), "Host": "evil.example"})  # fmt: skip
    assert r.status_code == 201
    assert r.json()["url"].startswith(f"{base}/invite/"), r.json()["url"]
    r = sign_in(owner).post(f"/projects/{p.id}/invitations", data={"role": "editor"}, headers={"Host": "evil.example"})
    assert r.status_code == 201
    link = re.search(r'id="invite-link" class="token" value="([^"]+)"', r.text).group(1)
    assert link.startswith(f"{base}/invite/") and "evil.example" not in r.text
