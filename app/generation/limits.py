"""Work limits: what one take and one job may ask of a worker, for every engine, CPU ones included.

Checked on the render spec (after the model has snapped size and frames) whenever a job is written
(`service.enqueue`, `service.retry`) and again by the worker before it renders (a job written by
an older release or by hand, or a worker configured tighter than the web). A refusal is `Invalid`
(422) naming the limit, its figure and what the job asks for.

Units: a frame of W x H pixels for F frames is W*H*F pixel-frames; the limits count millions of
them (megapixel-frames), the measure of both memory traffic and compute of a take. The defaults
(`SLATE_JOB_MAX_*`, `JobSettings`) are sized so that a 24 GB GPU and a laptop survive any job:

    frame            at most 1920 wide and 1920 high (either orientation of 1920x1080 fits)
    duration         at most 20 s a take
    per take         at most 237 megapixel-frames: 1280x720 x 257 frames (LTX-Video's longest take)
    per job          at most 3,790 megapixel-frames: 16 such takes
    takes            at most 16 a job (`SLATE_JOB_MAX_TAKES`)
"""

from __future__ import annotations

import math

from app.errors import Invalid
from app.generation.settings import JobSettings
from workers.spec import RenderSpec

# The frame the limits are explained in: "237 megapixel-frames (1280x720 x 257 frames)".
REFERENCE = (1280, 720)


def megapixel_frames(width: int, height: int, frames: int) -> float:
    """Millions of pixel-frames of one take of width x height for `frames` frames."""
    return width * height * frames / 1e6


def _figure(value: float) -> str:
    """11943.936 -> '11,944'; 237.3 -> '237.3' (a figure near a limit keeps the decimal that tells them apart)."""
    return f"{value:,.0f}" if value >= 1000 or value == int(value) else f"{value:,.1f}"


def _reference_frames(megapixel_frames_: float) -> int:
    return math.floor(megapixel_frames_ * 1e6 / (REFERENCE[0] * REFERENCE[1]) + 1e-9)


def check(spec: RenderSpec, *, settings: JobSettings) -> None:
    """Refuse (Invalid) a spec whose frame, duration, takes or pixel-frames pass the limits in `settings`."""
    w, h, frames, takes = int(spec.width), int(spec.height), int(spec.frames), len(spec.seeds)
    if w > settings.max_width or h > settings.max_height:
        raise Invalid(f"a frame may be at most {settings.max_width}x{settings.max_height}; this shot asks for "
                      f"{w}x{h}: lower the frame size",
                      field="width" if w > settings.max_width else "height")  # fmt: skip
    duration = frames / float(spec.fps)
    if duration > settings.max_duration_s + 1e-9:
        raise Invalid(f"a take may last at most {settings.max_duration_s:g} s; this shot asks for {duration:.2f} s "
                      f"({frames} frames at {float(spec.fps):g} fps): shorten it", field="duration_s")  # fmt: skip
    if takes > settings.max_takes:
        raise Invalid(f"a job may have at most {settings.max_takes} takes; this one asks for {takes}: "
                      f"render fewer takes", field="takes")  # fmt: skip
    per_take = megapixel_frames(w, h, frames)
    limit = settings.max_take_megapixel_frames
    if per_take > limit:
        raise Invalid(
            f"a take may have at most {_figure(limit)} megapixel-frames ({REFERENCE[0]}x{REFERENCE[1]} x "
            f"{_reference_frames(limit)} frames); this shot asks for {w}x{h} x {frames} = {_figure(per_take)}: "
            "shorten it or lower the frame size", field="duration_s",
        )  # fmt: skip
    per_job = per_take * takes
    limit = settings.max_job_megapixel_frames
    if per_job > limit:
        raise Invalid(
            f"a job may have at most {_figure(limit)} megapixel-frames ({_reference_frames(limit):,} frames of "
            f"{REFERENCE[0]}x{REFERENCE[1]} in all); this one asks for {takes} takes of {w}x{h} x {frames} = "
            f"{_figure(per_job)}: render fewer takes, shorten the shot or lower the frame size", field="takes",
        )  # fmt: skip
