"""What the generation API takes and answers."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator


class GenerateRequest(BaseModel):
    """POST /api/v1/shots/{shot_id}/generate.

    Strict: a count is a JSON number and a switch is true or false, never a string ("5") or a boolean
    for a number (true is not 1); a model, when given, is named (an empty name is a mistake, not "the default").
    """

    model_config = ConfigDict(extra="forbid")

    takes: StrictInt = Field(default=1, description="takes to render (1-16), one seed each")  # range: the service
    model: str | None = Field(default=None, max_length=64,
                              description="registry id; leave it out for the shot's, else the project's")
    seed: StrictInt | None = Field(default=None,
                                   description="seed of take 1, then seed+1, ... (default: the shot's, else random)")
    priority: Literal["normal", "rush"] = "normal"
    continuity: StrictBool = Field(default=False,
                                   description="start from the last frame of the previous shot's approved take")

    @field_validator("model")
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("name a model (e.g. \"animatic\"), or leave model out for the shot's default")
        return value


class TakeRead(BaseModel):
    id: int
    project_id: int
    shot_id: int
    job_id: int
    index: int
    number: int
    seed: int
    compiled_prompt: str
    negative_prompt: str
    model: str
    spec_hash: str
    frames: int
    fps: float
    width: int
    height: int
    duration_s: float
    review_status: str
    decided_by_id: int | None
    decided_at: dt.datetime | None
    video_url: str
    poster_url: str
    filmstrip_url: str
    filmstrip: dict[str, Any]
    conditioning: dict[str, Any]
    timings: dict[str, Any]
    gpu_seconds: float
    created_at: dt.datetime


class JobRead(BaseModel):
    id: int
    project_id: int
    shot_id: int
    requested_by_id: int | None
    model: str
    priority: str
    status: str
    take_count: int = Field(description="takes requested")
    takes_done: int
    seeds: list[int]
    progress: float
    step: int
    total_steps: int
    cancel_requested: bool
    attempts: int
    deaths: int
    error: str | None = Field(description="why it failed, in one sentence with what to try (never an exception's text)")
    error_detail: str | None = Field(default=None, description="the failure's technical detail, for engineers")
    phase: str = Field(default="", description="queued, starting, loading, rendering, encoding, stopping, ready, "
                                               "stopped or failed")
    phase_take: int | None = Field(default=None, description="the take (1..n of this job) the phase is about")
    encoding_take: int | None = Field(default=None, description="a take being encoded while the next one renders")
    progress_text: str = Field(default="", description="where the job is, in words: \"Rendering take 2 of 4, "
                                                       "step 12 of 40 · encoding take 1\"")
    note: str
    snap_note: str
    worker: str | None
    queued_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    estimate_s: float
    gpu_seconds: float
    timings: dict[str, Any]
    spec_hash: str
    spec: dict[str, Any]
    retry_of_id: int | None
    takes: list[TakeRead]


class QueueItem(BaseModel):
    job_id: int
    shot_id: int
    shot_code: str
    model: str
    priority: str
    status: str
    position: int = Field(description="0: running; 1, 2 ...: place in its model's queue")
    progress: float
    take_count: int
    starts_in_s: float
    eta_s: float
    queued_at: dt.datetime
    progress_text: str = ""


class JobUpdate(BaseModel):
    """PATCH /api/v1/jobs/{job_id}: a queued job's priority (rush follows the instance's rush policy)."""

    model_config = ConfigDict(extra="forbid")

    priority: Literal["normal", "rush"]
