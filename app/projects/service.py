"""Projects, members and invitations."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.activity.service import record
from app.auth import security
from app.auth.models import User
from app.auth.service import create_user, get_user_by_email, normalize_email, user_count
from app.config import get_settings
from app.db import utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.permissions import ROLE_LABELS, Role, grant_refusal, removal_refusal, role_change_refusal
from app.projects.models import Invitation, Membership, Project
from app.system.service import quotas as instance_quotas

# The generation registry (workers/engines) owns the real list; these are the ids it ships with.
MODEL_CHOICES = ("animatic", "ltx", "wan")
FPS_CHOICES = (23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0)
MAX_SIDE = 4096
MAX_BUDGET_S = 10_000_000
DEFAULT_BUDGET_S = 3600  # a new project's budget, where the instance quota allows it
PROJECT_FIELDS = ("name", "description", "fps", "width", "height", "default_model", "gpu_budget_s")


def _clean_project_fields(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in values:
        name = " ".join(str(values["name"] or "").split())
        if not name:
            raise Invalid("the project needs a name", field="name")
        if len(name) > 120:
            raise Invalid("the project name is too long (120 characters at most)", field="name")
        out["name"] = name
    if "description" in values:
        desc = str(values["description"] or "").strip()
        if len(desc) > 5000:
            raise Invalid("the description is too long (5000 characters at most)", field="description")
        out["description"] = desc
    if "fps" in values and values["fps"] is not None:
        fps = float(values["fps"])
        if not any(abs(fps - c) < 0.001 for c in FPS_CHOICES):
            raise Invalid(f"frame rate must be one of {', '.join(f'{c:g}' for c in FPS_CHOICES)}", field="fps")
        out["fps"] = fps
    for side in ("width", "height"):
        if side in values and values[side] is not None:
            px = int(values[side])
            if not 64 <= px <= MAX_SIDE or px % 2:
                raise Invalid(f"{side} must be an even number of pixels between 64 and {MAX_SIDE}", field=side)
            out[side] = px
    if "default_model" in values and values["default_model"] is not None:
        model = str(values["default_model"])
        if model not in MODEL_CHOICES:
            raise Invalid(f"unknown model {model!r}; choose one of {', '.join(MODEL_CHOICES)}", field="default_model")
        out["default_model"] = model
    if "gpu_budget_s" in values and values["gpu_budget_s"] is not None:
        budget = int(values["gpu_budget_s"])
        if not 0 <= budget <= MAX_BUDGET_S:
            raise Invalid(f"the GPU budget must be between 0 and {MAX_BUDGET_S} seconds", field="gpu_budget_s")
        out["gpu_budget_s"] = budget
    return out


def default_budget(db: Session) -> int:
    """A new project's GPU budget: DEFAULT_BUDGET_S, or the instance's monthly project quota if that is less."""
    return min(DEFAULT_BUDGET_S, instance_quotas(db).project_gpu_s_month)


def budget_ceiling(db: Session, *, project: Project | None) -> int:
    """The most a budget may be raised to: what the project has used plus one month of the instance quota.

    The budget is the project's own brake over its life; the quota is the admin's per month. A budget
    never promises more than the quota can give in a month, and it can follow the project month by month.
    """
    used = math.ceil(project.gpu_used_s or 0) if project is not None else 0
    return used + instance_quotas(db).project_gpu_s_month


def _check_budget_raise(db: Session, *, project: Project | None, budget: int) -> None:
    """Lowering a budget is always allowed; raising it stops at `budget_ceiling` (422 naming the quota)."""
    if project is not None and budget <= project.gpu_budget_s:
        return
    ceiling = budget_ceiling(db, project=project)
    if budget > ceiling:
        quota = instance_quotas(db).project_gpu_s_month
        used = f"what the project has used ({ceiling - quota:,} s) plus " if ceiling > quota else ""
        raise Invalid(f"the GPU budget can be at most {ceiling:,} s: {used}this Slate's quota of {quota:,} "
                      f"GPU-seconds a project a month (the admin sets it)", field="gpu_budget_s")  # fmt: skip


def create_project(db: Session, *, actor: User, name: str, **fields: Any) -> Project:
    """Create a project; its creator becomes the owner."""
    unknown = set(fields) - set(PROJECT_FIELDS)
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(sorted(unknown))}")
    values = _clean_project_fields({"name": name, **{k: v for k, v in fields.items() if v is not None}})
    if "gpu_budget_s" in values:
        _check_budget_raise(db, project=None, budget=values["gpu_budget_s"])
    else:
        values["gpu_budget_s"] = default_budget(db)
    project = Project(created_by_id=actor.id, **values)
    db.add(project)
    db.flush()
    db.add(Membership(project_id=project.id, user_id=actor.id, role=Role.owner))
    db.flush()
    record(db, project_id=project.id, actor=actor, verb="project.created", object_type="project",
           object_id=project.id, summary=f"created the project “{project.name}”")  # fmt: skip
    return project


def list_projects(db: Session, *, user: User) -> list[tuple[Project, str]]:
    """The user's projects with their role, most recently changed first."""
    rows = db.execute(
        select(Project, Membership.role)
        .join(Membership, Membership.project_id == Project.id)
        .where(Membership.user_id == user.id)
        .order_by(Project.updated_at.desc(), Project.id.desc())
    )
    return [(p, r) for p, r in rows]


def get_project(db: Session, *, project_id: int) -> Project:
    project = db.get(Project, project_id)
    if project is None:
        raise NotFound("no such project")
    return project


def get_membership(db: Session, *, project_id: int, user_id: int) -> Membership | None:
    return db.scalar(select(Membership).where(Membership.project_id == project_id, Membership.user_id == user_id))


def update_project(db: Session, *, actor: User, project: Project, changes: dict[str, Any]) -> Project:
    """Change project settings; records what changed."""
    unknown = set(changes) - set(PROJECT_FIELDS)
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(sorted(unknown))}")
    values = _clean_project_fields(changes)
    if "gpu_budget_s" in values:
        _check_budget_raise(db, project=project, budget=values["gpu_budget_s"])
    diff = {k: v for k, v in values.items() if getattr(project, k) != v}
    for key, value in diff.items():
        setattr(project, key, value)
    if diff:
        project.updated_at = utcnow()
        db.flush()
        record(db, project_id=project.id, actor=actor, verb="project.updated", object_type="project",
               object_id=project.id, summary=f"changed {', '.join(k.replace('_', ' ') for k in diff)}",
               data={k: v for k, v in diff.items() if k != "description"})  # fmt: skip
    return project


def delete_project(db: Session, *, actor: User, project: Project, confirm_name: str | None = None) -> None:
    """Delete a project and everything in it."""
    if confirm_name is not None and confirm_name.strip() != project.name:
        raise Invalid("type the project's exact name to confirm", field="confirm_name")
    db.delete(project)
    db.flush()


def touch(db: Session, *, project: Project) -> None:
    project.updated_at = utcnow()


# ---- members ----------------------------------------------------------------


def list_members(db: Session, *, project: Project) -> list[Membership]:
    return list(
        db.scalars(
            select(Membership).where(Membership.project_id == project.id).order_by(Membership.created_at, Membership.id)
        )
    )


def _check_role(role: str, *, actor_role: str) -> Role:
    """The role asked for, if a member with `actor_role` may give it (the rule lives in app.permissions)."""
    wanted = _parse_role(role)
    if reason := grant_refusal(actor_role, wanted):
        raise Forbidden(reason)
    return wanted


def _parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid(f"unknown role {role!r}; roles are {', '.join(r.value for r in Role)}", field="role") from None


def _lock_team(db: Session, *, project: Project, actor: User, actor_role: str) -> Role:
    """Hold the project's team until the transaction ends; the actor's role, re-read under the lock.

    `FOR NO KEY UPDATE` on the project row queues concurrent team changes of one project: two owners
    demoting or removing each other run one after the other, and the second counts the owners the
    first left (READ COMMITTED reads them fresh). Rows that merely reference the project (shots,
    takes) take KEY SHARE and do not wait. SQLite has no row locks and one writer at a time.
    A request that saw an older role (demoted or removed meanwhile) is refused rather than acting on it.
    """
    db.execute(select(Project.id).where(Project.id == project.id).with_for_update(key_share=True))
    stored = db.scalar(
        select(Membership.role).where(Membership.project_id == project.id, Membership.user_id == actor.id)
    )  # fmt: skip
    if stored is None:
        raise NotFound("no such project")
    if stored != actor_role:
        raise Conflict(f"your role in this project changed meanwhile (you are now {stored}); reload the page")
    return Role(stored)


def _member_now(db: Session, *, project_id: int, user_id: int) -> Membership:
    """The member as stored now (not as loaded earlier in this session)."""
    member = db.scalar(
        select(Membership).where(Membership.project_id == project_id, Membership.user_id == user_id)
        .execution_options(populate_existing=True)
    )  # fmt: skip
    if member is None:
        raise NotFound("that person is not a member of this project")
    return member


def _owner_count(db: Session, *, project_id: int) -> int:
    return db.scalar(
        select(func.count()).select_from(Membership).where(
            Membership.project_id == project_id, Membership.role == Role.owner
        )
    ) or 0  # fmt: skip


def add_member(db: Session, *, actor: User, actor_role: str, project: Project, email: str, role: str) -> Membership:
    """Add an existing account to the project with a role the actor may give."""
    actor_role = _lock_team(db, project=project, actor=actor, actor_role=actor_role)
    wanted = _check_role(role, actor_role=actor_role)
    email = normalize_email(email)
    user = get_user_by_email(db, email=email)
    if user is None:
        raise NotFound("no account uses that e-mail; send them an invitation link instead", field="email")
    if get_membership(db, project_id=project.id, user_id=user.id) is not None:
        raise Conflict(f"{user.display_name} is already a member", field="email")
    member = Membership(project_id=project.id, user_id=user.id, role=wanted)
    db.add(member)
    db.flush()
    record(db, project_id=project.id, actor=actor, verb="member.added", object_type="user", object_id=user.id,
           summary=f"added {user.display_name} as {ROLE_LABELS[wanted]}", data={"role": wanted.value})  # fmt: skip
    return member


def change_role(
    db: Session, *, actor: User, actor_role: str, project: Project, user_id: int, role: str
) -> Membership:
    """Give another member a role the actor may give; the project keeps at least one owner."""
    wanted = _parse_role(role)
    actor_role = _lock_team(db, project=project, actor=actor, actor_role=actor_role)
    member = _member_now(db, project_id=project.id, user_id=user_id)
    if reason := role_change_refusal(actor_role, member.role, wanted, own=user_id == actor.id):
        raise Forbidden(reason)
    if member.role == wanted:
        return member
    if member.role == Role.owner and _owner_count(db, project_id=project.id) <= 1:
        raise Conflict("a project needs at least one owner; make someone else owner first")
    old = member.role
    member.role = wanted
    db.flush()
    record(db, project_id=project.id, actor=actor, verb="member.role_changed", object_type="user",
           object_id=user_id, summary=f"made {member.user.display_name} {ROLE_LABELS[wanted]}",
           data={"from": old, "to": wanted.value})  # fmt: skip
    return member


def remove_member(db: Session, *, actor: User, actor_role: str, project: Project, user_id: int) -> None:
    """Remove a member ranked at or below the actor (anyone may leave); the last owner cannot go."""
    actor_role = _lock_team(db, project=project, actor=actor, actor_role=actor_role)
    member = _member_now(db, project_id=project.id, user_id=user_id)
    leaving = user_id == actor.id
    if reason := removal_refusal(actor_role, member.role, own=leaving):
        raise Forbidden(reason)
    if member.role == Role.owner and _owner_count(db, project_id=project.id) <= 1:
        raise Conflict("a project needs at least one owner; make someone else owner first")
    name = member.user.display_name
    db.delete(member)
    db.flush()
    record(db, project_id=project.id, actor=actor, verb="member.left" if leaving else "member.removed",
           object_type="user", object_id=user_id,
           summary="left the project" if leaving else f"removed {name}")  # fmt: skip


# ---- invitations --------------------------------------------------------------


def create_invitation(
    db: Session, *, actor: User, actor_role: str, project: Project, role: str, email: str | None = None,
    days: int | None = None,
) -> tuple[str, Invitation]:
    """A single-use link for a role the actor may give; the token is returned once (only its hash is kept)."""
    actor_role = _lock_team(db, project=project, actor=actor, actor_role=actor_role)
    wanted = _check_role(role, actor_role=actor_role)
    email = normalize_email(email) if email else None
    days = days or get_settings().invitation_days
    if not 1 <= days <= 90:
        raise Invalid("an invitation lasts between 1 and 90 days", field="days")
    token = security.new_token()
    inv = Invitation(
        project_id=project.id, role=wanted, token_hash=security.token_hash(token), email=email,
        created_by_id=actor.id, expires_at=utcnow() + dt.timedelta(days=days),
    )  # fmt: skip
    db.add(inv)
    db.flush()
    record(db, project_id=project.id, actor=actor, verb="invitation.created", object_type="invitation",
           object_id=inv.id, summary=f"created an invitation link for a {ROLE_LABELS[wanted]}"
           + (f" ({email})" if email else ""), data={"role": wanted.value})  # fmt: skip
    return token, inv


def pending_invitations(db: Session, *, project: Project) -> list[Invitation]:
    now = utcnow()
    return list(
        db.scalars(
            select(Invitation)
            .where(
                Invitation.project_id == project.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .order_by(Invitation.id.desc())
        )
    )


def revoke_invitation(db: Session, *, actor: User, project: Project, invitation_id: int) -> Invitation:
    inv = db.get(Invitation, invitation_id)
    if inv is None or inv.project_id != project.id:
        raise NotFound("no such invitation")
    if inv.accepted_at:
        raise Conflict("that invitation was already used")
    if inv.revoked_at is None:
        inv.revoked_at = utcnow()
        record(db, project_id=project.id, actor=actor, verb="invitation.revoked", object_type="invitation",
               object_id=inv.id, summary="revoked an invitation link")  # fmt: skip
    db.flush()
    return inv


def invitation_for_token(db: Session, *, token: str) -> Invitation:
    """The usable invitation behind a link, or a clear reason why it cannot be used."""
    inv = db.scalar(select(Invitation).where(Invitation.token_hash == security.token_hash(token or "")))
    if inv is None:
        raise NotFound("this invitation link is not valid")
    if inv.revoked_at:
        raise Conflict("this invitation was withdrawn; ask for a new link")
    if inv.accepted_at:
        raise Conflict("this invitation has already been used; ask for a new link")
    if inv.expires_at <= utcnow():
        raise Conflict("this invitation has expired; ask for a new link")
    return inv


def accept_invitation(db: Session, *, user: User, token: str) -> Membership:
    """Join the invitation's project with its role; the link then stops working."""
    inv = invitation_for_token(db, token=token)
    if inv.email and inv.email != user.email:
        raise Forbidden(f"this invitation is for {inv.email}; sign in with that account")
    member = get_membership(db, project_id=inv.project_id, user_id=user.id)
    if member is not None:
        raise Conflict("you are already a member of this project")
    member = Membership(project_id=inv.project_id, user_id=user.id, role=inv.role)
    db.add(member)
    inv.accepted_at = utcnow()
    inv.accepted_by_id = user.id
    db.flush()
    record(db, project_id=inv.project_id, actor=user, verb="member.joined", object_type="user", object_id=user.id,
           summary=f"joined as {ROLE_LABELS[Role(inv.role)]}", data={"role": inv.role})  # fmt: skip
    return member


# ---- demo -----------------------------------------------------------------------

DEMO_NAME = "The Lighthouse Keeper"
DEMO_DESCRIPTION = (
    "A four-minute short. On a storm-beaten island, an old keeper who has not spoken in years "
    "finds a stranded girl on the rocks and has to decide whether to signal the mainland."
)


def seed_demo(db: Session, *, owner: User | None = None) -> Project | None:
    """Create the demo project once (owned by `owner`, or by the first account when it signs up)."""
    existing = db.scalar(select(Project).where(Project.is_demo.is_(True)))
    if existing is not None:
        return None
    project = Project(name=DEMO_NAME, description=DEMO_DESCRIPTION, fps=24.0, width=1280, height=720,
                      default_model="animatic", gpu_budget_s=default_budget(db), is_demo=True,
                      created_by_id=owner.id if owner else None)  # fmt: skip
    db.add(project)
    db.flush()
    record(db, project_id=project.id, actor=owner, verb="project.created", object_type="project",
           object_id=project.id, summary="set up the demo project")  # fmt: skip
    if owner is not None:
        db.add(Membership(project_id=project.id, user_id=owner.id, role=Role.owner))
        db.flush()
    from app.projects.demo import fill_demo, lock_demo_cast

    fill_demo(db, project=project, actor=owner)
    if owner is not None:
        lock_demo_cast(db, project=project, actor=owner)
    return project


def unclaimed_demo(db: Session) -> bool:
    """Whether a seeded demo project waits for its first owner."""
    return db.scalar(select(Project.id).where(Project.is_demo.is_(True), ~Project.memberships.any())) is not None


def create_account(db: Session, *, email: str, password: str, display_name: str, is_admin: bool = False) -> User:
    """Create an account; the instance's first one owns the projects nobody belongs to (the seeded demo)."""
    first = user_count(db) == 0
    user = create_user(db, email=email, password=password, display_name=display_name, is_admin=is_admin)
    if first:
        claim_orphan_projects(db, owner=user)
    return user


def claim_orphan_projects(db: Session, *, owner: User) -> list[Project]:
    """Give projects that nobody belongs to (the seeded demo) to `owner`."""
    from app.projects.demo import lock_demo_cast

    orphans = list(db.scalars(select(Project).where(~Project.memberships.any())))
    for project in orphans:
        db.add(Membership(project_id=project.id, user_id=owner.id, role=Role.owner))
        record(db, project_id=project.id, actor=owner, verb="member.joined", object_type="user",
               object_id=owner.id, summary="became the owner")  # fmt: skip
        if project.is_demo:
            lock_demo_cast(db, project=project, actor=owner)
    db.flush()
    return orphans
