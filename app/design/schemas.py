from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    prompt_fragment: str | None = Field(default=None, max_length=8000)
    negative_fragment: str | None = Field(default=None, max_length=8000)


class LocationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    prompt_fragment: str | None = Field(default=None, max_length=8000)
    negative_fragment: str | None = Field(default=None, max_length=8000)


class ReferenceRead(BaseModel):
    id: int
    asset_id: int
    location_id: int | None
    caption: str
    position: int
    url: str
    thumb_url: str
    width: int | None
    height: int | None
    created_at: dt.datetime


class LocationRead(BaseModel):
    id: int
    project_id: int
    name: str
    description: str
    prompt_fragment: str
    negative_fragment: str
    thumb_url: str | None  # the first reference picture's thumbnail
    references: list[ReferenceRead]
    shot_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


class StyleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    prompt_fragment: str | None = Field(default=None, max_length=8000)
    negative_fragment: str | None = Field(default=None, max_length=8000)
    is_default: bool = Field(default=False, strict=True)


class StyleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    prompt_fragment: str | None = Field(default=None, max_length=8000)
    negative_fragment: str | None = Field(default=None, max_length=8000)
    is_default: bool | None = Field(default=None, strict=True)


class StyleFromPreset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: str = Field(max_length=80)


class StyleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    name: str
    description: str
    prompt_fragment: str
    negative_fragment: str
    is_default: bool
    shot_count: int = 0
    created_at: dt.datetime


class PresetRead(BaseModel):
    key: str
    name: str
    description: str
    prompt_fragment: str
    negative_fragment: str
    added: bool
