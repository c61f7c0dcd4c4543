import datetime as dt

import pytest
from sqlalchemy import func, select

from app.activity.models import ActivityEvent
from app.activity.service import list_events
from app.db import utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.projects import service
from app.projects.models import Invitation, Membership, Project


def _count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_create_project_makes_the_creator_owner_and_logs_it(db, make_user):
    owner = make_user()
    p = service.create_project(db, actor=owner, name="  Night   Shift ", fps=25, width=1920, height=1080,
                               default_model="ltx", gpu_budget_s=7200)  # fmt: skip
    assert (p.name, p.fps, p.width, p.height, p.default_model, p.gpu_budget_s) == ("Night Shift", 25.0, 1920, 1080,
                                                                                     "ltx", 7200)  # fmt: skip
    assert service.get_membership(db, project_id=p.id, user_id=owner.id).role == "owner"
    assert [e.verb for e in list_events(db, project_id=p.id)] == ["project.created"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "ok", "description": "d" * 5001}, "description"),
        ({"name": "ok", "fps": 17}, "fps"),
        ({"name": "ok", "width": 1921}, "width"),
        ({"name": "ok", "height": 10}, "height"),
        ({"name": "ok", "default_model": "sora"}, "default_model"),
        ({"name": "ok", "gpu_budget_s": -1}, "gpu_budget_s"),
    ],
)
def test_bad_project_input_writes_nothing(db, make_user, fields, field):
    owner = make_user()
    before = _count(db, Project)
    with pytest.raises(Invalid) as err:
        service.create_project(db, actor=owner, **fields)
    assert err.value.field == field
    assert _count(db, Project) == before


def test_list_projects_shows_only_mine(db, make_user, make_project):
    a, b = make_user(), make_user()
    pa = make_project(a, name="Mine")
    make_project(b, name="Theirs")
    assert [(p.id, role) for p, role in service.list_projects(db, user=a)] == [(pa.id, "owner")]


def test_update_records_what_changed(db, make_user, make_project):
    owner = make_user()
    p = make_project(owner)
    service.update_project(db, actor=owner, project=p, changes={"name": "Day Shift", "fps": 24})
    event = list_events(db, project_id=p.id)[0]
    assert event.verb == "project.updated" and event.data == {"name": "Day Shift"}


def test_members_roles_and_the_last_owner(db, make_user, make_project):
    owner, ann, bob = make_user(), make_user(name="Ann"), make_user(name="Bob")
    p = make_project(owner)
    service.add_member(db, actor=owner, actor_role="owner", project=p, email=ann.email, role="producer")
    with pytest.raises(Conflict, match="already a member"):
        service.add_member(db, actor=owner, actor_role="owner", project=p, email=ann.email, role="viewer")
    with pytest.raises(NotFound, match="invitation"):
        service.add_member(db, actor=owner, actor_role="owner", project=p, email="ghost@example.com", role="viewer")
    with pytest.raises(Invalid, match="unknown role"):
        service.add_member(db, actor=owner, actor_role="owner", project=p, email=bob.email, role="gaffer")
    # a producer manages members but cannot make owners
    with pytest.raises(Forbidden):
        service.add_member(db, actor=ann, actor_role="producer", project=p, email=bob.email, role="owner")
    service.add_member(db, actor=ann, actor_role="producer", project=p, email=bob.email, role="artist")
    service.change_role(db, actor=owner, actor_role="owner", project=p, user_id=bob.id, role="editor")
    with pytest.raises(Forbidden, match="own role"):
        service.change_role(db, actor=owner, actor_role="owner", project=p, user_id=owner.id, role="viewer")
    with pytest.raises(Conflict, match="at least one owner"):
        service.remove_member(db, actor=owner, actor_role="owner", project=p, user_id=owner.id)
    with pytest.raises(Forbidden):
        service.remove_member(db, actor=ann, actor_role="producer", project=p, user_id=owner.id)
    service.remove_member(db, actor=bob, actor_role="editor", project=p, user_id=bob.id)  # leaving
    assert {m.user.display_name: m.role for m in service.list_members(db, project=p)} == {
        "Test Person": "owner", "Ann": "producer"}  # fmt: skip
    verbs = [e.verb for e in list_events(db, project_id=p.id)]
    assert verbs[:4] == ["member.left", "member.role_changed", "member.added", "member.added"]


def test_invitations_single_use_expiring_revocable_and_email_bound(db, make_user, make_project):
    owner, bob, carol = make_user(), make_user(), make_user()
    p = make_project(owner)
    token, inv = service.create_invitation(db, actor=owner, actor_role="owner", project=p, role="editor")
    assert token not in inv.token_hash
    member = service.accept_invitation(db, user=bob, token=token)
    assert member.role == "editor"
    with pytest.raises(Conflict, match="already been used"):
        service.accept_invitation(db, user=carol, token=token)

    token2, inv2 = service.create_invitation(db, actor=owner, actor_role="owner", project=p, role="viewer")
    inv2.expires_at = utcnow() - dt.timedelta(minutes=1)
    with pytest.raises(Conflict, match="expired"):
        service.accept_invitation(db, user=carol, token=token2)

    token3, inv3 = service.create_invitation(db, actor=owner, actor_role="owner", project=p, role="viewer")
    service.revoke_invitation(db, actor=owner, project=p, invitation_id=inv3.id)
    with pytest.raises(Conflict, match="withdrawn"):
        service.accept_invitation(db, user=carol, token=token3)

    token4, _ = service.create_invitation(db, actor=owner, actor_role="owner", project=p, role="viewer",
                                          email=bob.email)  # fmt: skip
    with pytest.raises(Forbidden, match=bob.email):
        service.accept_invitation(db, user=carol, token=token4)
    with pytest.raises(NotFound):
        service.accept_invitation(db, user=carol, token="not-a-token")
    with pytest.raises(Invalid, match="unknown role"):
        service.create_invitation(db, actor=owner, actor_role="owner", project=p, role="gaffer")
    assert service.get_membership(db, project_id=p.id, user_id=carol.id) is None
    assert _count(db, Membership, Membership.project_id == p.id) == 2
    assert _count(db, Invitation, Invitation.project_id == p.id) == 4


def test_delete_removes_everything_in_the_project(db, make_user, make_project):
    owner = make_user()
    p = make_project(owner)
    with pytest.raises(Invalid):
        service.delete_project(db, actor=owner, project=p, confirm_name="wrong")
    service.delete_project(db, actor=owner, project=p, confirm_name=p.name)
    db.expunge_all()
    assert db.get(Project, p.id) is None
    assert _count(db, ActivityEvent, ActivityEvent.project_id == p.id) == 0
    assert _count(db, Membership, Membership.project_id == p.id) == 0


def test_demo_is_seeded_once_and_claimed_by_the_first_account(db):
    # The fixture database has accounts from other tests rolled back: this transaction starts empty.
    from app.auth.service import user_count

    assert user_count(db) == 0
    demo = service.seed_demo(db)
    assert service.seed_demo(db) is None
    first = service.create_account(db, email="first@example.com", password="correct horse battery", display_name="First")
    assert service.get_membership(db, project_id=demo.id, user_id=first.id).role == "owner"


def test_demo_has_a_storyboard_ready_to_block(db):
    from sqlalchemy import select

    from app.characters.models import Character, CharacterVersion
    from app.design.models import Location, StylePreset
    from app.storyboard.camera import Camera
    from app.storyboard.models import Scene, Shot

    demo = service.seed_demo(db)
    scenes = list(db.scalars(select(Scene).where(Scene.project_id == demo.id).order_by(Scene.position)))
    shots = list(db.scalars(select(Shot).where(Shot.project_id == demo.id)))
    assert [s.heading for s in scenes][:2] == ["EXT. SKERRY ISLAND - LIGHTHOUSE - NIGHT", "INT. LIGHTHOUSE - LAMP ROOM - NIGHT"]
    assert len(scenes) == 6 and len(shots) >= 10
    assert all(Camera.parse(s.camera) and s.location_id for s in shots)
    cast = {c.name: c for c in db.scalars(select(Character).where(Character.project_id == demo.id))}
    assert set(cast) == {"ELIAS", "WREN"} and all(c.prompt_fragment for c in cast.values())
    assert {lk.name for lk in cast["WREN"].looks} == {"Yellow raincoat", "Grey blanket"}
    assert db.scalar(select(StylePreset).where(StylePreset.project_id == demo.id, StylePreset.is_default.is_(True)))
    assert len(list(db.scalars(select(Location).where(Location.project_id == demo.id)))) == 5
    assert not any(c.locked for c in cast.values())
    first = service.create_account(db, email="first@example.com", password="correct horse battery", display_name="First")
    assert all(c.locked for c in cast.values())  # the first owner locks the cast: generation can start
    versions = db.scalars(select(CharacterVersion).where(CharacterVersion.project_id == demo.id)).all()
    assert len(versions) == 5 and all(v.locked_by_id == first.id for v in versions)
