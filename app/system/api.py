"""JSON API: instance administration and the worker round trip (admins only)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from app.deps import DB, AdminUser
from app.system import service

router = APIRouter(prefix="/api/v1/system", tags=["system"])


class ProbeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    queue: str
    queued_at: dt.datetime
    finished_at: dt.datetime | None
    worker: str | None
    latency_ms: float | None


class SignupMode(BaseModel):
    signup_mode: str


class QuotasBody(BaseModel):
    """The instance quotas (every field: PUT replaces them all)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    project_gpu_s_month: int
    user_gpu_s_day: int
    rush: Literal["admins", "owners", "everyone"]
    count_cpu: bool


class QuotasRead(QuotasBody):
    defaults: dict[str, int | str | bool]  # the SLATE_QUOTA_* values, in force where the admin has not chosen


def _quotas_read(db) -> QuotasRead:
    return QuotasRead(**asdict(service.quotas(db)), defaults=asdict(service.quota_defaults()))


@router.get("/quotas", response_model=QuotasRead)
def get_quotas(db: DB, admin: AdminUser):
    return _quotas_read(db)


@router.put("/quotas", response_model=QuotasRead)
def put_quotas(body: QuotasBody, db: DB, admin: AdminUser):
    service.set_quotas(db, **body.model_dump())
    return _quotas_read(db)


@router.post("/probes", status_code=202, response_model=ProbeRead)
def create_probe(db: DB, admin: AdminUser):
    return service.request_probe(db, actor=admin)


@router.get("/probes/{probe_id}", response_model=ProbeRead)
def get_probe(probe_id: int, db: DB, admin: AdminUser):
    return service.get_probe(db, probe_id=probe_id)


@router.get("/signup-mode", response_model=SignupMode)
def get_signup_mode(db: DB, admin: AdminUser):
    return SignupMode(signup_mode=service.signup_mode(db))


@router.put("/signup-mode", response_model=SignupMode)
def put_signup_mode(body: SignupMode, db: DB, admin: AdminUser):
    service.set_signup_mode(db, mode=body.signup_mode)
    return SignupMode(signup_mode=service.signup_mode(db))
