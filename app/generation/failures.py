"""Why a job failed, in one sentence a film team can act on, with the technical detail kept for engineers.

Every failure a job records goes through here: `job.error` is the sentence (what happened, then what to try),
`job.timings["error_detail"]` the technical detail (the exception and its text, the worker, the size), which the
takes panel shows behind a "details" toggle, the JSON API answers as `error_detail`, and the worker's log carries
with the job id. A raw exception never becomes the sentence: an error nobody foresaw reads "<model> failed while
rendering take 2 of 4 at 1280x720: ...", and its text goes to the detail. Errors written before this rule (a job
row whose `error` is an exception's text) are told the same way when they are read (`for_job`).
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import Any

from app.errors import Invalid
from app.generation.phases import during, model_label
from workers.engines.loader import OutOfMemory

# An exception's text as Python prints it: "RuntimeError: shape '[1, 47, 1, -1]' is invalid ..."
_RAW = re.compile(r"^\s*(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exceeded|Interrupt|Exit)\b|Traceback \(")


@dataclass(frozen=True)
class Failure:
    message: str  # one sentence: what happened and what to try
    detail: str = ""  # for engineers: the exception, the worker, the figures


def _size(job: Any) -> tuple[int, int, int]:
    spec = job.spec or {}
    return int(spec.get("width") or 0), int(spec.get("height") or 0), int(spec.get("frames") or 0)


def _at(job: Any) -> str:
    w, h, frames = _size(job)
    return f" at {w}x{h}" if w and h else ""


def _name(exc: BaseException) -> str:
    """The exception's class name (Celery wraps one it cannot pickle: the name of what it wraps)."""
    return getattr(exc, "exc_cls_name", None) or exc.__class__.__name__


def raw_text(exc: BaseException) -> str:
    """The exception as an engineer reads it: its class and its text."""
    text = str(getattr(exc, "exc_msg", None) or exc).strip()
    return f"{_name(exc)}: {text}" if text else _name(exc)


def out_of_memory(*, model: str, width: int, height: int, frames: int, savings: bool, limits: str) -> Failure:
    """One take ran out of accelerator memory even at a batch of one (and, where the engine has them, its savings)."""
    even = " even with its memory savings" if savings else ""
    return Failure(f"{model} ran out of GPU memory at {width}x{height} ({frames} frames){even}: try a smaller frame "
                   "or fewer frames", f"out of memory rendering one take of {width}x{height}, {frames} frames"
                   f"{even}; {limits}")  # fmt: skip


def worker_memory() -> Failure:
    """The worker process ran out of memory (MemoryError): the job stops, the worker goes on."""
    return Failure("The worker ran out of memory rendering this shot (the job was stopped and the worker goes on): "
                   "try fewer takes, a shorter shot or a smaller frame", "MemoryError in the render task")  # fmt: skip


def workers_lost(*, job: Any, deaths: int, worker: str) -> Failure:
    """The job's worker died `deaths` times running it."""
    doing = during(job) or "while rendering this shot"
    times = {1: "once", 2: "twice", 3: "three times"}.get(deaths, f"{deaths} times")
    return Failure(f"The worker stopped {times} {doing}, so Slate gave up: the shot may need more memory than the "
                   "worker has; try fewer takes, a shorter shot or a smaller frame",
                   f"worker lost {deaths} times running job {job.id} (last: {worker})")  # fmt: skip


def stalled(*, job: Any, deaths: int, worker: str, stalled_s: float) -> Failure:
    """The render stopped stepping (a hung model) until the job ran out of tries."""
    return Failure(f"The render stopped making progress {during(job) or 'on this shot'} (no step for {stalled_s:g} s),"
                   f" so Slate stopped it: {model_label(job.model)} may hang at{_at(job) or ' this size'}; try a "
                   "smaller frame or another model",
                   f"no step for {stalled_s:g} s on {worker}; the worker was lost or stalled {deaths} times running "
                   f"job {job.id}")  # fmt: skip


def time_limit(*, job: Any, seconds: float | None, hard: bool) -> Failure:
    """The run passed its Celery time limit (soft: stopped; hard: ended)."""
    limit = f" ({seconds:.0f} s, from the job's estimate)" if seconds else ""
    if hard:
        return Failure(f"The render did not stop at its time limit{limit} and was ended: {model_label(job.model)} may "
                       "hang at this size; try a smaller frame or another model",
                       f"hard time limit {seconds or 0:.0f} s passed on job {job.id}")  # fmt: skip
    return Failure(f"The render took longer than its time limit{limit} and was stopped: try fewer takes, a shorter "
                   "shot or a smaller frame",
                   f"soft time limit {seconds or 0:.0f} s passed on job {job.id}")  # fmt: skip


def refused(reason: str) -> Failure:
    """The worker's own work limits refuse the job (nothing was drawn)."""
    return Failure(f"This worker's limits refuse this shot: {reason}", f"refused by the worker's limits: {reason}")


def from_exception(exc: BaseException, *, job: Any) -> Failure:
    """A render that ended in `exc`: the sentence for people, the exception for engineers."""
    failure = getattr(exc, "failure", None)
    if isinstance(failure, Failure):  # written for people where it was raised
        return failure
    detail = raw_text(exc)
    label = model_label(job.model)
    encoding = getattr(exc, "encoding_take", None)  # raised on the encoder's thread (app.generation.tasks)
    doing = f"while encoding take {encoding} of {job.takes}" if encoding else during(job)
    w, h, frames = _size(job)
    if isinstance(exc, MemoryError):
        return Failure(worker_memory().message, detail)
    if isinstance(exc, OutOfMemory) or _name(exc) in ("OutOfMemory", "OutOfMemoryError") or (
            "out of memory" in detail.lower()):  # fmt: skip
        return Failure(f"{label} ran out of GPU memory{_at(job)}: try a smaller frame or fewer frames", detail)
    if isinstance(exc, Invalid) or _name(exc) == "Invalid":
        return Failure(f"This shot cannot be rendered as it is written: {detail.removeprefix('Invalid: ')}", detail)
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left" in str(exc):
        return Failure(f"The worker's disk is full, so the job stopped {doing or 'while storing a take'}: free some "
                       "space on the worker, then retry", detail)  # fmt: skip
    if isinstance(exc, OSError):
        return Failure(f"The worker could not read or write a file {doing or 'for this job'}: check its media "
                       "folder, then retry", detail)  # fmt: skip
    if "encoding" in doing:
        return Failure(f"Slate could not encode the take {doing.removeprefix('while encoding ')}: retry, and if it "
                       "fails again send the details to whoever runs your workers", detail)  # fmt: skip
    size = f" at {w}x{h}, {frames} frames" if w and h else ""
    return Failure(f"{label} failed {doing or 'while rendering this shot'}{size}: try another frame size, fewer "
                   "frames or another model", detail)  # fmt: skip


def for_job(job: Any) -> Failure:
    """The failure of a failed job as pages show it (a raw error of an older row becomes a sentence)."""
    error = (job.error or "").strip()
    detail = str((job.timings or {}).get("error_detail") or "")
    if not error:
        return Failure("The render failed without a reason: retry, and if it fails again ask whoever runs your "
                       "workers", detail)  # fmt: skip
    if _RAW.search(error):
        return Failure(f"{model_label(job.model)} failed {during(job) or 'while rendering this shot'}: try another "
                       "frame size, fewer frames or another model", "\n".join(filter(None, [detail, error])))
    return Failure(error, detail)


def in_a_line(message: str) -> str:
    """The sentence inside another ("generating 1A failed: the worker stopped ...")."""
    first, _, rest = message.partition(" ")
    return f"{first.lower()} {rest}" if first in ("The", "This") else message


def is_raw(text: str) -> bool:
    """Whether `text` reads as an exception's text (never shown to people)."""
    return bool(_RAW.search(text or ""))
