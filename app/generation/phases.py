"""Where a job is, in the words of a film team: queued (place and ETA), loading the model, rendering take k of n
(step x of y), encoding take k, ready; stopping, stopped and failed.

The worker writes its phase to the job (`job.timings["phase"]`, with `step` and `total_steps` of the take in
progress) whenever it changes, and live: `{"name": "loading" | "rendering" | "encoding" | "starting",
"take": k, "last": k2, "encoding": e, "unit": "step" | "frame"}`, takes counted 1..n within the job. A take is
encoded while the next renders, so "rendering take 3 of 4 · encoding take 2" is one phase. Everything a page or
the JSON API says about a job's progress comes from `describe` here, so they say the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from workers.engines.registry import UnknownModel, get_model


class QueuePlace(Protocol):
    """Where a queued job stands in its model's queue (`service.QueueEntry`)."""

    position: int
    starts_in_s: float
    eta_s: float


@dataclass(frozen=True)
class Progress:
    phase: str  # queued, starting, loading, rendering, encoding, stopping, ready, stopped, failed
    take: int | None  # the take (1..n within the job) the phase is about: the first of a chunk when rendering
    encoding: int | None  # a take encoded while the next one renders
    words: str


def model_label(model_id: str) -> str:
    try:
        return get_model(model_id).label or model_id
    except UnknownModel:
        return model_id


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _about(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"about {max(seconds, 1)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60:02d} min"


def _queued(job: Any, label: str, place: QueuePlace | None) -> str:
    if place is None or place.position <= 0:
        return f"Queued: waiting for a worker for {label}"
    line = "next" if place.position == 1 else f"{_ordinal(place.position)} in line"
    words = f"Queued: {line} for {label}"
    if place.starts_in_s >= 1:
        words += f", starts in {_about(place.starts_in_s)}"
    return f"{words}, ready in {_about(place.eta_s)}"


def _takes(first: int, last: int | None, of: int) -> str:
    if last is not None and last > first:
        return f"takes {first}–{last} of {of}"
    return f"take {first} of {of}"


def _rendering(phase: dict[str, Any], job: Any) -> str:
    n = job.takes
    words = f"Rendering {_takes(int(phase['take']), phase.get('last'), n)}"
    unit = phase.get("unit") or "step"
    step, total = job.step or 0, job.total_steps or 0
    if total and step >= total and unit == "step":
        words += ": decoding the frames"
    elif total and step:
        words += f", {unit} {step} of {total}"
    if phase.get("encoding"):
        words += f" · encoding take {phase['encoding']}"
    return words


def describe(job: Any, *, place: QueuePlace | None = None) -> Progress:
    """The job's progress in words (and the phase behind them); `place`: its entry in the queue, when queued."""
    label = model_label(job.model)
    phase = dict((job.timings or {}).get("phase") or {})
    name = phase.get("name")
    take = phase.get("take")
    n = job.takes
    if job.status == "queued":
        return Progress("queued", None, None, _queued(job, label, place))
    if job.status == "succeeded":
        return Progress("ready", None, None, f"Ready: {job.takes_done} take{'s' if job.takes_done != 1 else ''}")
    if job.status == "canceled":
        return Progress("stopped", None, None, f"Stopped after {job.takes_done} of {n} takes")
    if job.status == "failed":
        return Progress("failed", take, None, "Failed")
    if job.cancel_requested:
        return Progress("stopping", take, None, "Stopping after the take in progress")
    if name == "loading":
        return Progress("loading", None, None, f"Loading the model: {label}")
    if name == "rendering" and take:
        return Progress("rendering", int(take), phase.get("encoding"), _rendering(phase, job))
    if name == "encoding" and take:
        return Progress("encoding", int(take), int(take), f"Encoding take {take} of {n}")
    return Progress("starting", None, None, "Starting on a worker")


def during(job: Any) -> str:
    """What the job was doing, as a clause ("while rendering take 2 of 4"), from its last phase; "" if unknown."""
    phase = dict((job.timings or {}).get("phase") or {})
    name, take = phase.get("name"), phase.get("take")
    if name == "loading":
        return "while loading the model"
    if name == "rendering" and take:
        return f"while rendering {_takes(int(take), phase.get('last'), job.takes)}"
    if name == "encoding" and take:
        return f"while encoding take {take} of {job.takes}"
    return ""
