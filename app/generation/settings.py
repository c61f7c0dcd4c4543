"""How generation jobs are watched and what one may ask (`SLATE_JOB_*`), read from the environment and `.env`.

Its own module so that the work limits (`app.generation.limits`), the service and the render task all read it
without importing each other; `app.generation.service` re-exports both names.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class JobSettings(BaseSettings):
    """How jobs are watched and what one may ask (`SLATE_JOB_*`): heartbeats, when a job counts as lost, how often
    to look, and the work limits of `app.generation.limits`."""

    model_config = SettingsConfigDict(env_prefix="SLATE_JOB_", env_file=".env", extra="ignore")

    # Watchdogs (workers/reconcile.py). Heartbeats are stamped and judged on the database's clock. A dead worker is
    # noticed within stale_s + reconcile_s (25 s): 4 missed beats before a death, so a busy host is not called dead.
    stale_s: float = Field(default=20.0, gt=0)  # a running job whose heartbeat is older than this lost its worker
    max_deaths: int = 3  # workers lost on one job before it fails
    requeue_s: float = 60.0  # a queued job older than this whose message is not in the broker is re-sent
    heartbeat_s: float = Field(default=5.0, gt=0)  # how often a running job's worker says it is alive
    progress_interval_s: float = 0.5  # progress writes and cancel checks, at most this often
    overlap_encode: bool = True  # encode and store take k on a thread of the task while take k+1 renders
    reconcile_s: float = Field(default=5.0, gt=0)  # how often the reconciler runs (beat, embedded timer)
    # a running job whose step and progress have not moved for this long is stalled (hung render): a death
    stall_s: float = Field(default=600.0, gt=0)
    # Celery time limits of one run: soft = estimate x factor, within [min, max]; hard = soft + a grace
    time_limit_factor: float = Field(default=4.0, gt=0)
    time_limit_min_s: float = Field(default=900.0, gt=0)  # room for loading a model on a cold worker
    time_limit_max_s: float = Field(default=3 * 3600.0, gt=0)  # below the broker's visibility timeout (4 h)
    max_takes: int = Field(default=16, ge=1)
    rate_per_minute: int = 30  # generation requests one person may make in a minute (0: no limit)
    # work limits of every job on every engine (app/generation/limits.py): checked when a job is written
    # and again by the worker before it renders
    max_width: int = Field(default=1920, ge=2)  # pixels, after the model's snapping
    max_height: int = Field(default=1920, ge=2)
    max_duration_s: float = Field(default=20.0, gt=0)  # seconds of one take
    max_take_megapixel_frames: float = Field(default=237.0, gt=0)  # width x height x frames / 1e6: 1280x720 x 257
    max_job_megapixel_frames: float = Field(default=3790.0, gt=0)  # all takes of a job: 16 takes of 1280x720 x 257


def job_settings() -> JobSettings:
    return JobSettings()
