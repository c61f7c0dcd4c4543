"""Pages: project list, creation, overview with the activity feed, settings, members, invitations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from app.activity.service import list_events
from app.deps import DB, CurrentUser, OptionalPrincipal, ProjectAccess, access
from app.errors import DomainError, Forbidden, Invalid
from app.frames import service as frames
from app.permissions import Action, grantable_roles, may_manage
from app.projects import service
from app.projects.api import invitation_url
from app.web import redirect, render

router = APIRouter(tags=["pages"], include_in_schema=False)

View = Annotated[ProjectAccess, access(Action.project_view)]
Edit = Annotated[ProjectAccess, access(Action.project_edit)]
Delete = Annotated[ProjectAccess, access(Action.project_delete)]
MembersView = Annotated[ProjectAccess, access(Action.members_view)]
MembersManage = Annotated[ProjectAccess, access(Action.members_manage)]

FEED_PAGE = 30


def _form_values(name, description, fps, width, height, default_model, gpu_budget_s) -> dict:
    def num(v: str, kind):
        v = (v or "").strip()
        if not v:
            return None
        try:
            return kind(v)
        except ValueError:
            return v  # the service names the field that is wrong

    return {"name": name, "description": description, "fps": num(fps, float), "width": num(width, int),
            "height": num(height, int), "default_model": default_model or None,
            "gpu_budget_s": num(gpu_budget_s, int)}  # fmt: skip


def _check_numbers(values: dict) -> None:
    for key in ("fps", "width", "height", "gpu_budget_s"):
        if isinstance(values.get(key), str):
            raise Invalid(f"{key.replace('_', ' ')} must be a number", field=key)



@router.get("/")
def home(principal: OptionalPrincipal):
    return redirect("/projects" if principal else "/login")


@router.get("/projects")
def projects_page(request: Request, db: DB, user: CurrentUser):
    projects = service.list_projects(db, user=user)
    pictures = frames.project_frames(db, project_ids=[p.id for p, _role in projects])
    return render(request, "projects/list.html", {"projects": projects, "frames": pictures})


def _budget_ctx(db: DB, project=None) -> dict:
    """The budget field's default and ceiling (the instance quota decides both)."""
    return {"default_budget": service.default_budget(db), "budget_ceiling": service.budget_ceiling(db, project=project)}


@router.get("/projects/new")
def new_project_page(request: Request, db: DB, user: CurrentUser):
    return render(request, "projects/new.html", {"values": {}, "models": service.MODEL_CHOICES,
                  "fps_choices": service.FPS_CHOICES, **_budget_ctx(db)})  # fmt: skip


@router.post("/projects")
def create_project(
    request: Request, db: DB, user: CurrentUser,
    name: Annotated[str, Form(max_length=500)] = "",
    description: Annotated[str, Form(max_length=20000)] = "",
    fps: Annotated[str, Form(max_length=10)] = "",
    width: Annotated[str, Form(max_length=10)] = "",
    height: Annotated[str, Form(max_length=10)] = "",
    default_model: Annotated[str, Form(max_length=64)] = "",
    gpu_budget_s: Annotated[str, Form(max_length=12)] = "",
):  # fmt: skip
    values = _form_values(name, description, fps, width, height, default_model, gpu_budget_s)
    try:
        _check_numbers(values)
        project = service.create_project(db, actor=user, **values)
    except DomainError as exc:
        db.rollback()
        return render(request, "projects/new.html", {"values": values, "error": exc.detail, "field": exc.field,
                      "models": service.MODEL_CHOICES, "fps_choices": service.FPS_CHOICES, **_budget_ctx(db)},
                      exc.status_code)  # fmt: skip
    return redirect(f"/projects/{project.id}", flash=f"Project “{project.name}” created.", request=request)


@router.get("/projects/{project_id}")
def project_page(request: Request, db: DB, ctx: View):
    events = list_events(db, project_id=ctx.project.id, limit=FEED_PAGE)
    members = service.list_members(db, project=ctx.project)
    return render(request, "projects/overview.html", {"ctx": ctx, "project": ctx.project, "events": events,
                  "members": members, "feed_page": FEED_PAGE})  # fmt: skip


@router.get("/projects/{project_id}/settings")
def settings_page(request: Request, db: DB, ctx: Edit):
    p = ctx.project
    values = {k: getattr(p, k) for k in service.PROJECT_FIELDS}
    return render(request, "projects/settings.html", {"ctx": ctx, "project": p, "values": values,
                  "models": service.MODEL_CHOICES, "fps_choices": service.FPS_CHOICES,
                  **_budget_ctx(db, p)})  # fmt: skip


@router.post("/projects/{project_id}/settings")
def save_settings(
    request: Request, db: DB, ctx: Edit,
    name: Annotated[str, Form(max_length=500)] = "",
    description: Annotated[str, Form(max_length=20000)] = "",
    fps: Annotated[str, Form(max_length=10)] = "",
    width: Annotated[str, Form(max_length=10)] = "",
    height: Annotated[str, Form(max_length=10)] = "",
    default_model: Annotated[str, Form(max_length=64)] = "",
    gpu_budget_s: Annotated[str, Form(max_length=12)] = "",
):  # fmt: skip
    values = _form_values(name, description, fps, width, height, default_model, gpu_budget_s)
    changes = {k: v for k, v in values.items() if v is not None or k == "description"}
    try:
        _check_numbers(changes)
        if "gpu_budget_s" in changes and changes["gpu_budget_s"] != ctx.project.gpu_budget_s \
                and not ctx.can(Action.budget_manage):  # fmt: skip
            raise Forbidden("your role cannot change the GPU budget")
        service.update_project(db, actor=ctx.user, project=ctx.project, changes=changes)
    except DomainError as exc:
        db.rollback()
        return render(request, "projects/settings.html", {"ctx": ctx, "project": ctx.project, "values": values,
                      "error": exc.detail, "field": exc.field, "models": service.MODEL_CHOICES,
                      "fps_choices": service.FPS_CHOICES, **_budget_ctx(db, ctx.project)}, exc.status_code)  # fmt: skip
    return redirect(f"/projects/{ctx.project.id}", flash="Settings saved.", request=request)


@router.post("/projects/{project_id}/delete")
def delete_project(request: Request, db: DB, ctx: Delete, confirm_name: Annotated[str, Form(max_length=500)] = ""):
    name = ctx.project.name
    service.delete_project(db, actor=ctx.user, project=ctx.project, confirm_name=confirm_name)
    return redirect("/projects", flash=f"Project “{name}” deleted.", request=request)


# ---- members --------------------------------------------------------------------


def _members_ctx(request: Request, db: DB, ctx: ProjectAccess, **extra) -> dict:
    manage = ctx.can(Action.members_manage)
    members = service.list_members(db, project=ctx.project)
    return {
        "ctx": ctx,
        "project": ctx.project,
        "members": members,
        "invitations": service.pending_invitations(db, project=ctx.project) if manage else [],
        "grantable": grantable_roles(ctx.role),  # the menus offer only what the rule allows
        "manageable": {m.user_id for m in members if m.user_id != ctx.user.id and may_manage(ctx.role, m.role)},
        **extra,
    }


@router.get("/projects/{project_id}/members")
def members_page(request: Request, db: DB, ctx: MembersView):
    return render(request, "projects/members.html", _members_ctx(request, db, ctx))


@router.post("/projects/{project_id}/members")
def add_member(
    request: Request, db: DB, ctx: MembersManage,
    email: Annotated[str, Form(max_length=254)] = "", role: Annotated[str, Form(max_length=20)] = "",
):  # fmt: skip
    try:
        if not email.strip():
            raise Invalid("enter the e-mail address of the person to add", field="email")
        member = service.add_member(db, actor=ctx.user, actor_role=ctx.role, project=ctx.project, email=email,
                                    role=role)  # fmt: skip
    except DomainError as exc:
        db.rollback()
        return render(request, "projects/members.html", _members_ctx(request, db, ctx, error=exc.detail,
                      field=exc.field, error_form="add", values={"email": email, "role": role}), exc.status_code)  # fmt: skip
    return redirect(f"/projects/{ctx.project.id}/members", flash=f"{member.user.display_name} added.", request=request)


@router.post("/projects/{project_id}/members/{user_id}/role")
def change_role(request: Request, user_id: int, db: DB, ctx: MembersManage, role: Annotated[str, Form(max_length=20)]):
    member = service.change_role(db, actor=ctx.user, actor_role=ctx.role, project=ctx.project, user_id=user_id,
                                 role=role)  # fmt: skip
    return redirect(f"/projects/{ctx.project.id}/members", flash=f"{member.user.display_name} is now {member.role}.",
                    request=request)  # fmt: skip


@router.post("/projects/{project_id}/members/{user_id}/remove")
def remove_member(request: Request, user_id: int, db: DB, ctx: MembersManage):
    service.remove_member(db, actor=ctx.user, actor_role=ctx.role, project=ctx.project, user_id=user_id)
    if user_id == ctx.user.id:
        return redirect("/projects", flash=f"You left “{ctx.project.name}”.", request=request)
    return redirect(f"/projects/{ctx.project.id}/members", flash="Member removed.", request=request)


@router.post("/projects/{project_id}/leave")
def leave_project(request: Request, db: DB, ctx: View):
    service.remove_member(db, actor=ctx.user, actor_role=ctx.role, project=ctx.project, user_id=ctx.user.id)
    return redirect("/projects", flash=f"You left “{ctx.project.name}”.", request=request)


@router.post("/projects/{project_id}/invitations")
def create_invitation(
    request: Request, db: DB, ctx: MembersManage,
    role: Annotated[str, Form(max_length=20)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    days: Annotated[str, Form(max_length=3)] = "",
):  # fmt: skip
    try:
        if days.strip() and not days.strip().isdigit():
            raise Invalid("an invitation lasts a whole number of days", field="days")
        token, inv = service.create_invitation(db, actor=ctx.user, actor_role=ctx.role, project=ctx.project,
                                               role=role, email=email.strip() or None,
                                               days=int(days) if days.strip() else None)  # fmt: skip
    except DomainError as exc:
        db.rollback()
        return render(request, "projects/members.html", _members_ctx(request, db, ctx, error=exc.detail,
                      field=exc.field, error_form="invite", values={"email": email, "role": role, "days": days}),
                      exc.status_code)  # fmt: skip
    link = invitation_url(token)
    return render(request, "projects/members.html", _members_ctx(request, db, ctx, new_link=link, new_role=inv.role),
                  201)  # fmt: skip


@router.post("/projects/{project_id}/invitations/{invitation_id}/revoke")
def revoke_invitation(request: Request, invitation_id: int, db: DB, ctx: MembersManage):
    service.revoke_invitation(db, actor=ctx.user, project=ctx.project, invitation_id=invitation_id)
    return redirect(f"/projects/{ctx.project.id}/members", flash="Invitation withdrawn.", request=request)


# ---- accepting an invitation ---------------------------------------------------------


@router.get("/invite/{token}")
def invitation_page(request: Request, token: str, db: DB, principal: OptionalPrincipal):
    try:
        inv = service.invitation_for_token(db, token=token)
    except DomainError as exc:
        return render(request, "projects/invite.html", {"error": exc.detail, "token": token}, exc.status_code)
    if principal is None:
        return render(request, "projects/invite.html", {"invitation": inv, "token": token, "anonymous": True})
    member = service.get_membership(db, project_id=inv.project_id, user_id=principal.user.id)
    return render(request, "projects/invite.html", {"invitation": inv, "token": token, "already": member is not None})


@router.post("/invite/{token}")
def accept_invitation(request: Request, token: str, db: DB, user: CurrentUser):
    member = service.accept_invitation(db, user=user, token=token)
    return redirect(f"/projects/{member.project_id}", flash=f"Welcome to “{member.project.name}”.", request=request)
