"""Pages: instance administration (admins): who may sign up, generation quotas, accounts, the worker round trip."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from app.auth.service import list_users, set_user_active
from app.deps import DB, AdminUser
from app.errors import DomainError, Invalid
from app.generation.quotas import top_projects
from app.system import service
from app.web import redirect, render

router = APIRouter(tags=["pages"], include_in_schema=False)


def _admin_ctx(db: DB, **extra) -> dict:
    quota = service.quotas(db)
    return {"users": list_users(db), "mode": service.signup_mode(db), "probes": service.recent_probes(db),
            "quota": quota, "quota_defaults": service.quota_defaults(), "rush_policies": service.RUSH_POLICIES,
            "top_projects": top_projects(db, quota=quota), **extra}  # fmt: skip


@router.get("/admin")
def admin_page(request: Request, db: DB, admin: AdminUser):
    return render(request, "system/admin.html", _admin_ctx(db))


def _seconds(value: str, field: str) -> int:
    text = value.strip().replace(",", "").replace("_", "")
    if not text.isascii() or not text.isdigit():
        raise Invalid(f"{field.replace('_', ' ')} must be a whole number of seconds", field=field)
    return int(text)


@router.post("/admin/quotas")
def set_quotas(
    request: Request, db: DB, admin: AdminUser,
    project_gpu_s_month: Annotated[str, Form(max_length=20)],
    user_gpu_s_day: Annotated[str, Form(max_length=20)],
    rush: Annotated[str, Form(max_length=20)],
    count_cpu: Annotated[str, Form(max_length=5)] = "",
):  # fmt: skip
    form = {"project_gpu_s_month": project_gpu_s_month, "user_gpu_s_day": user_gpu_s_day, "rush": rush,
            "count_cpu": count_cpu == "1"}  # fmt: skip
    try:
        service.set_quotas(db, project_gpu_s_month=_seconds(project_gpu_s_month, "project_gpu_s_month"),
                           user_gpu_s_day=_seconds(user_gpu_s_day, "user_gpu_s_day"), rush=rush,
                           count_cpu=count_cpu == "1")  # fmt: skip
    except DomainError as exc:
        db.rollback()
        return render(request, "system/admin.html", _admin_ctx(db, quota_error=exc.detail, quota_field=exc.field,
                      quota_form=form), exc.status_code)  # fmt: skip
    return redirect("/admin", flash="Quotas saved.", request=request)


@router.post("/admin/signup-mode")
def set_signup_mode(request: Request, db: DB, admin: AdminUser, mode: Annotated[str, Form(max_length=20)]):
    service.set_signup_mode(db, mode=mode)
    text = "Anyone can sign up." if mode == "open" else "Sign-up is by invitation only."
    return redirect("/admin", flash=text, request=request)


@router.post("/admin/users/{user_id}/active")
def set_active(request: Request, user_id: int, db: DB, admin: AdminUser, active: Annotated[str, Form(max_length=5)]):
    user = set_user_active(db, actor=admin, user_id=user_id, active=active == "1")
    return redirect("/admin", flash=f"{user.display_name} {'enabled' if user.is_active else 'disabled'}.",
                    request=request)  # fmt: skip


@router.post("/admin/probes")
def create_probe(request: Request, db: DB, admin: AdminUser):
    probe = service.request_probe(db, actor=admin)
    return render(request, "system/_probe.html", {"probe": probe}, 202)


@router.get("/admin/probes/{probe_id}")
def probe_fragment(request: Request, probe_id: int, db: DB, admin: AdminUser):
    return render(request, "system/_probe.html", {"probe": service.get_probe(db, probe_id=probe_id)})
