"""Pages: instance administration (admins): who may sign up, accounts, the worker round trip."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from app.auth.service import list_users, set_user_active
from app.deps import DB, AdminUser
from app.system import service
from app.web import redirect, render

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/admin")
def admin_page(request: Request, db: DB, admin: AdminUser):
    return render(request, "system/admin.html", {"users": list_users(db), "mode": service.signup_mode(db),
                  "probes": service.recent_probes(db)})  # fmt: skip


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
