"""JSON API: projects, members, invitations and the activity feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.activity.service import list_events
from app.config import get_settings
from app.db import ID_MAX
from app.deps import DB, CurrentUser, ProjectAccess, access
from app.errors import Forbidden
from app.permissions import Action
from app.projects import service
from app.projects.models import Invitation, Membership, Project
from app.projects.schemas import (
    ActivityRead,
    InvitationCreate,
    InvitationRead,
    MemberAdd,
    MemberRead,
    MemberUpdate,
    ProjectCreate,
    ProjectRead,
    ProjectUpdate,
)
router = APIRouter(prefix="/api/v1", tags=["projects"])

View = Annotated[ProjectAccess, access(Action.project_view)]
Edit = Annotated[ProjectAccess, access(Action.project_edit)]
Delete = Annotated[ProjectAccess, access(Action.project_delete)]
MembersView = Annotated[ProjectAccess, access(Action.members_view)]
MembersManage = Annotated[ProjectAccess, access(Action.members_manage)]


def _project(p: Project, role: str | None) -> ProjectRead:
    out = ProjectRead.model_validate(p)
    out.role = role
    return out


def _member(m: Membership) -> MemberRead:
    return MemberRead(user_id=m.user_id, email=m.user.email, display_name=m.user.display_name, role=m.role,
                      joined_at=m.created_at)  # fmt: skip


def invitation_url(token: str) -> str:
    """The link to hand out: always on SLATE_BASE_URL, never on the Host header the request happened to carry."""
    return f"{get_settings().base_url.rstrip('/')}/invite/{token}"


def _invitation(inv: Invitation, url: str | None = None) -> InvitationRead:
    out = InvitationRead.model_validate(inv)
    out.url = url
    return out


@router.get("/projects", response_model=list[ProjectRead])
def list_projects(db: DB, user: CurrentUser):
    return [_project(p, role) for p, role in service.list_projects(db, user=user)]


@router.post("/projects", status_code=201, response_model=ProjectRead)
def create_project(body: ProjectCreate, db: DB, user: CurrentUser):
    project = service.create_project(db, actor=user, **body.model_dump())
    return _project(project, "owner")


@router.get("/projects/{project_id}", response_model=ProjectRead)
def get_project(ctx: View):
    return _project(ctx.project, ctx.role)


@router.patch("/projects/{project_id}", response_model=ProjectRead)
def update_project(body: ProjectUpdate, db: DB, ctx: Edit):
    changes = body.model_dump(exclude_unset=True)
    if "gpu_budget_s" in changes and not ctx.can(Action.budget_manage):
        raise Forbidden("your role cannot change the GPU budget")
    service.update_project(db, actor=ctx.user, project=ctx.project, changes=changes)
    return _project(ctx.project, ctx.role)


@router.delete("/projects/{project_id}", status_code=204)
def delete_project(db: DB, ctx: Delete):
    service.delete_project(db, actor=ctx.user, project=ctx.project)
    return Response(status_code=204)


@router.get("/projects/{project_id}/members", response_model=list[MemberRead])
def list_members(db: DB, ctx: MembersView):
    return [_member(m) for m in service.list_members(db, project=ctx.project)]


@router.post("/projects/{project_id}/members", status_code=201, response_model=MemberRead)
def add_member(body: MemberAdd, db: DB, ctx: MembersManage):
    """Add an existing account with `{email, role}`: only roles at or below your own; only owners make owners
    and directors (403 otherwise)."""
    member = service.add_member(db, actor=ctx.user, actor_role=ctx.role, project=ctx.project, email=body.email,
                                role=body.role)  # fmt: skip
    return _member(member)


@router.patch("/projects/{project_id}/members/{user_id}", response_model=MemberRead)
def change_member_role(user_id: int, body: MemberUpdate, db: DB, ctx: MembersManage):
    """Give a member `{role}`: only roles at or below your own, never your own role (ask another owner), never
    to someone ranked above you; only owners make owners and directors (403). The last owner stays (409)."""
    member = service.change_role(db, actor=ctx.user, actor_role=ctx.role, project=ctx.project, user_id=user_id,
                                 role=body.role)  # fmt: skip
    return _member(member)


@router.delete("/projects/{project_id}/members/{user_id}", status_code=204)
def remove_member(user_id: int, db: DB, ctx: MembersManage):
    """Remove a member ranked at or below you (403 above); removing yourself is leaving. The last owner stays (409)."""
    service.remove_member(db, actor=ctx.user, actor_role=ctx.role, project=ctx.project, user_id=user_id)
    return Response(status_code=204)


@router.post("/projects/{project_id}/leave", status_code=204)
def leave_project(db: DB, ctx: View):
    """Any member may leave (the last owner must hand over first)."""
    service.remove_member(db, actor=ctx.user, actor_role=ctx.role, project=ctx.project, user_id=ctx.user.id)
    return Response(status_code=204)


@router.get("/projects/{project_id}/invitations", response_model=list[InvitationRead])
def list_invitations(db: DB, ctx: MembersManage):
    return [_invitation(i) for i in service.pending_invitations(db, project=ctx.project)]


@router.post("/projects/{project_id}/invitations", status_code=201, response_model=InvitationRead)
def create_invitation(body: InvitationCreate, db: DB, ctx: MembersManage):
    """A single-use link on SLATE_BASE_URL for `{role}`: the same roles you may give by adding someone."""
    token, inv = service.create_invitation(db, actor=ctx.user, actor_role=ctx.role, project=ctx.project,
                                           role=body.role, email=body.email, days=body.days)  # fmt: skip
    return _invitation(inv, invitation_url(token))


@router.delete("/projects/{project_id}/invitations/{invitation_id}", status_code=204)
def revoke_invitation(invitation_id: int, db: DB, ctx: MembersManage):
    service.revoke_invitation(db, actor=ctx.user, project=ctx.project, invitation_id=invitation_id)
    return Response(status_code=204)


@router.post("/invitations/{token}/accept", response_model=ProjectRead)
def accept_invitation(token: str, db: DB, user: CurrentUser):
    member = service.accept_invitation(db, user=user, token=token)
    return _project(member.project, member.role)


@router.get("/projects/{project_id}/activity", response_model=list[ActivityRead])
def activity(db: DB, ctx: View, before: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
             limit: Annotated[int, Query(ge=1, le=200)] = 50):  # fmt: skip
    events = list_events(db, project_id=ctx.project.id, before_id=before, limit=limit)
    return [ActivityRead(id=e.id, verb=e.verb, object_type=e.object_type, object_id=e.object_id, summary=e.summary,
                         data=e.data, at=e.at, actor=e.actor.display_name if e.actor else None) for e in events]  # fmt: skip
