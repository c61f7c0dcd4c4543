"""Request and answer bodies of the characters API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TraitValue = str | int | float


class CharacterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    traits: dict[str, TraitValue | None] | None = None
    prompt_fragment: str | None = Field(default=None, max_length=20000)
    negative_fragment: str | None = Field(default=None, max_length=20000)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1, strict=True)
    lora_path: str | None = Field(default=None, max_length=2000)
    lora_weight: float | None = Field(default=None, ge=0, le=2, strict=True)


class CharacterUpdate(BaseModel):
    """Fields to change. `lora_path` (a .safetensors file on the workers) replaces an uploaded LoRA; "" or null
    clears the path (DELETE .../lora removes any LoRA)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    traits: dict[str, TraitValue | None] | None = None
    prompt_fragment: str | None = Field(default=None, max_length=20000)
    negative_fragment: str | None = Field(default=None, max_length=20000)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1, strict=True)
    lora_path: str | None = Field(default=None, max_length=2000)
    lora_weight: float | None = Field(default=None, ge=0, le=2, strict=True)


class LookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    prompt_fragment: str | None = Field(default=None, max_length=20000)
    negative_fragment: str | None = Field(default=None, max_length=20000)


class LookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=20000)
    prompt_fragment: str | None = Field(default=None, max_length=20000)
    negative_fragment: str | None = Field(default=None, max_length=20000)


class ReferenceUpdate(BaseModel):
    """A new caption and/or a new place among the subject's pictures (0 = first)."""

    model_config = ConfigDict(extra="forbid")

    caption: str | None = Field(default=None, max_length=2000)
    position: int | None = Field(default=None, ge=0, le=1000, strict=True)


class AdvanceRequest(BaseModel):
    """Without `look_id`: move shots to the character's latest locked version; with it: to that look's."""

    model_config = ConfigDict(extra="forbid")

    look_id: int | None = None


class ReferenceRead(BaseModel):
    id: int
    asset_id: int
    character_id: int | None
    look_id: int | None
    caption: str
    position: int
    url: str
    thumb_url: str
    width: int | None
    height: int | None


class LoraRead(BaseModel):
    asset_id: int | None = None
    url: str | None = None
    filename: str | None = None
    bytes: int | None = None
    path: str | None = None
    weight: float


class LookRead(BaseModel):
    id: int
    character_id: int
    name: str
    description: str
    prompt_fragment: str
    negative_fragment: str
    position: int
    version: int
    locked: bool
    latest_locked_version: int | None
    references: list[ReferenceRead]


class CharacterRead(BaseModel):
    id: int
    project_id: int
    name: str
    description: str
    traits: dict[str, str]
    prompt_fragment: str
    negative_fragment: str
    seed: int | None
    version: int
    locked: bool
    latest_locked_version: int | None
    lora: LoraRead | None
    lora_weight: float
    looks: list[LookRead]
    references: list[ReferenceRead]
    thumb_url: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ChangeRead(BaseModel):
    field: str
    before: str
    after: str


class VersionRead(BaseModel):
    id: int
    character_id: int
    look_id: int | None
    look_name: str | None
    number: int
    locked_by_id: int | None
    locked_by: str | None
    locked_at: dt.datetime
    data: dict[str, Any]
    changes: list[ChangeRead]


class ShotUseRead(BaseModel):
    shot_id: int
    code: str
    character_version: int
    look_id: int | None
    look_name: str | None
    look_version: int | None
    behind: bool


class AdvanceRead(BaseModel):
    version: int
    moved: int
    shots: list[str]
