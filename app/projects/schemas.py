from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class ProjectCreate(BaseModel):
    name: str = Field(max_length=120)
    description: str | None = Field(default=None, max_length=5000)
    fps: float | None = Field(default=None, gt=0, le=240, strict=True)
    width: int | None = Field(default=None, ge=64, le=4096, strict=True)
    height: int | None = Field(default=None, ge=64, le=4096, strict=True)
    default_model: str | None = Field(default=None, max_length=64)
    gpu_budget_s: int | None = Field(default=None, ge=0, strict=True)  # at most what the instance quota allows


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=120)
    description: str | None = Field(default=None, max_length=5000)
    fps: float | None = Field(default=None, gt=0, le=240, strict=True)
    width: int | None = Field(default=None, ge=64, le=4096, strict=True)
    height: int | None = Field(default=None, ge=64, le=4096, strict=True)
    default_model: str | None = Field(default=None, max_length=64)
    gpu_budget_s: int | None = Field(default=None, ge=0, strict=True)  # at most what the instance quota allows


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    fps: float
    width: int
    height: int
    default_model: str
    gpu_budget_s: int
    gpu_used_s: float
    created_at: dt.datetime
    updated_at: dt.datetime
    role: str | None = None


class MemberAdd(BaseModel):
    email: str = Field(max_length=254)
    role: str = Field(max_length=20)


class MemberUpdate(BaseModel):
    role: str = Field(max_length=20)


class MemberRead(BaseModel):
    user_id: int
    email: str
    display_name: str
    role: str
    joined_at: dt.datetime


class InvitationCreate(BaseModel):
    role: str = Field(max_length=20)
    email: str | None = Field(default=None, max_length=254)
    days: int | None = Field(default=None, ge=1, le=90, strict=True)


class InvitationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    role: str
    email: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    accepted_at: dt.datetime | None
    url: str | None = None


class ActivityRead(BaseModel):
    id: int
    verb: str
    object_type: str
    object_id: str | None
    summary: str
    data: dict
    at: dt.datetime
    actor: str | None
