from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SceneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heading: str = Field(max_length=1000)
    synopsis: str | None = Field(default=None, max_length=20000)
    number: str | None = Field(default=None, max_length=40)


class SceneUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heading: str | None = Field(default=None, max_length=1000)
    synopsis: str | None = Field(default=None, max_length=20000)
    number: str | None = Field(default=None, max_length=40)


class SceneRead(BaseModel):
    id: int
    project_id: int
    number: str
    heading: str
    synopsis: str
    position: int
    shot_count: int | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class SceneMove(BaseModel):
    index: int = Field(ge=0, le=100_000, strict=True)


class RenumberScenes(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shots: bool = Field(default=False, strict=True)  # also recode every scene's shots (12A, 12B ...)


class CameraIn(BaseModel):
    """Words from GET /api/v1/camera; an unknown word is a 422 naming the field."""

    model_config = ConfigDict(extra="forbid")

    move: str | None = Field(default=None, max_length=40)
    speed: str | None = Field(default=None, max_length=40)
    lens_mm: int | None = Field(default=None, strict=True)
    framing: str | None = Field(default=None, max_length=40)
    angle: str | None = Field(default=None, max_length=40)


class LightingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, max_length=40)
    time_of_day: str | None = Field(default=None, max_length=40)
    color: str | None = Field(default=None, max_length=40)
    mood: str | None = Field(default=None, max_length=200)


class _ShotFields(BaseModel):
    """Shot fields as clients send them; see GET /api/v1/camera for the camera and lighting words."""

    model_config = ConfigDict(extra="forbid")

    action: str | None = Field(default=None, max_length=20000)
    dialogue: str | None = Field(default=None, max_length=20000)
    prompt: str | None = Field(default=None, max_length=20000)
    negative_prompt: str | None = Field(default=None, max_length=20000)
    character_ids: list[int] | None = Field(default=None, max_length=100)
    looks: dict[int, int | None] | None = None  # {character_id: look_id}
    location_id: int | None = None
    style_id: int | None = None  # left out on create: the project's default style
    camera: CameraIn | None = None
    lighting: LightingIn | None = None
    duration_s: float | None = Field(default=None, strict=True)
    fps: float | None = Field(default=None, strict=True)  # null: the project's
    width: int | None = Field(default=None, strict=True)
    height: int | None = Field(default=None, strict=True)
    model: str | None = Field(default=None, max_length=64)
    seed: int | None = Field(default=None, strict=True)
    status: str | None = Field(default=None, max_length=20)  # draft or ready

    def changes(self) -> dict[str, Any]:
        """The fields the client sent (null texts become empty; camera/lighting as plain dicts)."""
        out = self.model_dump(exclude_unset=True, exclude={"index"})
        for key in ("camera", "lighting"):
            if key in self.model_fields_set:
                value = getattr(self, key)
                out[key] = value.model_dump(exclude_none=True) if value is not None else None
        for key in ("action", "dialogue", "prompt", "negative_prompt"):
            if key in out and out[key] is None:
                out[key] = ""
        if out.get("character_ids", ...) is None:
            out["character_ids"] = []
        if "looks" in out and out["looks"] is None:
            del out["looks"]
        if "status" in out and out["status"] is None:
            del out["status"]
        return out


class ShotCreate(_ShotFields):
    index: int | None = Field(default=None, ge=0, le=100_000, strict=True)  # position in the scene; default: the end


class ShotUpdate(_ShotFields):
    """A partial update: only the fields sent change."""


class CastRead(BaseModel):
    character_id: int
    name: str
    look_id: int | None
    look_name: str
    character_version: int
    look_version: int | None
    locked: bool
    latest_locked_version: int | None
    latest_locked_look_version: int | None
    outdated: bool


class PromptPart(BaseModel):
    source: str
    text: str


class CompiledRead(BaseModel):
    prompt: str
    negative: str
    parts: list[PromptPart]
    negative_parts: list[PromptPart]


class ShotRead(BaseModel):
    id: int
    project_id: int
    scene_id: int
    code: str
    position: int
    action: str
    dialogue: str
    prompt: str
    negative_prompt: str
    character_ids: list[int]
    looks: dict[int, int | None]
    cast: list[CastRead]
    location_id: int | None
    style_id: int | None
    camera: dict[str, Any]
    lighting: dict[str, Any]
    duration_s: float
    fps: float | None
    width: int | None
    height: int | None
    model: str | None
    seed: int | None
    status: str
    coverage_group: int | None
    coverage_label: str
    thumbnail_url: str | None
    compiled_prompt: str
    compiled_negative: str
    compiled: CompiledRead
    warnings: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime


class ShotMove(BaseModel):
    scene_id: int
    index: int = Field(ge=0, le=100_000, strict=True)


class CoverageSetup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    framing: str = Field(max_length=40)
    angle: str | None = Field(default=None, max_length=40)
    lens_mm: int | None = Field(default=None, strict=True)
    move: str | None = Field(default=None, max_length=40)
    speed: str | None = Field(default=None, max_length=40)
    label: str | None = Field(default=None, max_length=100)


class CoverageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    setups: list[CoverageSetup] | None = Field(default=None, max_length=20)  # default: WS, MS, CU, OTS reverse


class BulkStatus(BaseModel):
    shot_ids: list[int] = Field(max_length=5000)
    status: str = Field(max_length=20)


class BulkStatusRead(BaseModel):
    status: str
    changed: list[int]
    skipped: list[int]  # shots whose status follows their takes (generating, in review, approved)
