from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class UserCreate(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)
    display_name: str = Field(max_length=80)
    invitation: str | None = Field(default=None, max_length=200, description="invitation token, when sign-up is by invitation")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    is_admin: bool
    created_at: dt.datetime


class TokenCreate(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)
    name: str = Field(max_length=80)
    expires_days: int | None = Field(default=None, ge=1, le=3650, strict=True)


class TokenIssued(BaseModel):
    id: int
    name: str
    token: str
    expires_at: dt.datetime | None


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
