"""Generation jobs: compile the render spec, estimate, queue after commit, cancel, retry, and the queue view.

The web side writes the job row (the truth) with a self-contained render spec and sends the Celery
message on queue `gen.<model id>` only after the commit. The worker side (`app.generation.tasks`)
claims the job with its message id, renders the takes that are not stored yet, and stores each
take once (unique per job and index). `workers/reconcile.py` re-sends jobs whose message was lost
and fails jobs whose worker died too often.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
import statistics
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from app.activity.service import record
from app.auth.models import User
from app.characters.models import CharacterVersion
from app.db import queue_after_commit, utcnow
from app.errors import Conflict, Invalid, NotFound, TooMany
from app.events import publish_after_commit
from app.generation import failures, limits, phases, quotas
from app.generation.models import ACTIVE, FINISHED, PRIORITIES, GenerationJob, Take
from app.generation.settings import JobSettings, job_settings
from app.projects.models import Project
from app.storyboard.camera import Camera, Lighting
from app.storyboard.models import Scene, Shot
from app.system.service import quotas as instance_quotas
from workers.engines.registry import ModelInfo, UnknownModel, get_model
from workers.spec import CastMember, RenderSpec

log = logging.getLogger("slate.generation")

SEED_MAX = 2**32 - 1
# Seconds per denoising step per million pixel-frames of one take, by engine, until the model has
# measured jobs of its own (then the median of its last MEASURED jobs is used).
SECONDS_PER_STEP_MPXF = {"animatic": 0.012, "ltx": 0.03, "wan": 0.1}
ENCODE_SECONDS_MPXF = 0.015  # H.264 + poster + filmstrip, per take
OVERHEAD_S = 0.5  # per job: claim, spec, store
MEASURED = 20
RENDER_TASK = "slate.generation.render_job"  # app.generation.tasks.render_job, sent by name


def queue_name(model_id: str) -> str:
    """The Celery queue of a model: one per model, so a worker keeps its model loaded."""
    return f"gen.{model_id}"


# ---- the render spec ------------------------------------------------------------------------------


def _model(model_id: str) -> ModelInfo:
    try:
        return get_model(model_id)
    except UnknownModel as exc:
        raise Invalid(str(exc), field="model") from None


def _locked_cast(db: Session, *, shot: Shot) -> list[CastMember]:
    """The shot's cast from locked snapshots only; a pin to a draft is a Conflict that says what to lock."""
    entries = list(shot.cast)
    if not entries:
        return []
    rows = db.scalars(select(CharacterVersion).where(
        CharacterVersion.character_id.in_({e.character_id for e in entries})))  # fmt: skip
    snaps = {(v.character_id, v.look_id, v.number): v for v in rows}
    members = []
    for e in entries:
        name = e.character.name
        csnap = snaps.get((e.character_id, None, e.character_version))
        if csnap is None:
            raise Conflict(f"lock {name} first (shot uses draft v{e.character_version})", field="cast")
        lsnap = None
        if e.look_id is not None:
            lsnap = snaps.get((e.character_id, e.look_id, e.look_version)) if e.look_version else None
            if lsnap is None:
                look = e.look.name if e.look is not None else "the look"
                raise Conflict(f"lock {name}'s look {look} first (shot uses draft v{e.look_version or 1})",
                               field="cast")  # fmt: skip
        cdata, ldata = csnap.data or {}, (lsnap.data or {}) if lsnap else {}
        refs = [r["key"] for r in cdata.get("references", []) if r.get("key")]
        refs += [r["key"] for r in ldata.get("references", []) if r.get("key")]
        members.append(CastMember(
            name=cdata.get("name") or name, look=ldata.get("name", ""), character_version=e.character_version,
            look_version=e.look_version if lsnap else None, reference_keys=list(dict.fromkeys(refs)),
            lora=dict(cdata["lora"]) if cdata.get("lora") else None,
        ))  # fmt: skip
    return members


def previous_shot(db: Session, *, shot: Shot) -> Shot | None:
    """The shot before this one in the storyboard (the previous scene's last shot for a scene's first)."""
    prev = db.scalar(select(Shot).where(Shot.scene_id == shot.scene_id, or_(
        Shot.position < shot.position, and_(Shot.position == shot.position, Shot.id < shot.id)))
        .order_by(Shot.position.desc(), Shot.id.desc()).limit(1))  # fmt: skip
    if prev is not None:
        return prev
    scene = db.get(Scene, shot.scene_id)
    prev_scene = db.scalar(select(Scene).where(Scene.project_id == shot.project_id, or_(
        Scene.position < scene.position, and_(Scene.position == scene.position, Scene.id < scene.id)))
        .order_by(Scene.position.desc(), Scene.id.desc()).limit(1))  # fmt: skip
    if prev_scene is None:
        return None
    return db.scalar(select(Shot).where(Shot.scene_id == prev_scene.id)
                     .order_by(Shot.position.desc(), Shot.id.desc()).limit(1))  # fmt: skip


def _continuity(db: Session, *, shot: Shot, model: ModelInfo) -> tuple[str | None, str]:
    """(first-frame media key, note): the last frame of the previous shot's approved take, where there is one."""
    if not model.supports("i2v"):
        return None, f"continuity skipped: {model.label} cannot start from an image"
    prev = previous_shot(db, shot=shot)
    if prev is None:
        return None, "continuity skipped: this is the first shot"
    take = db.scalar(select(Take).where(Take.shot_id == prev.id, Take.review_status == "approved")
                     .order_by(Take.decided_at.desc().nulls_last(), Take.id.desc()).limit(1))  # fmt: skip
    if take is None or not take.last_frame_key:
        return None, f"continuity skipped: shot {prev.code} has no approved take yet"
    return take.last_frame_key, f"starts from the last frame of {prev.code} take {take.number}"


def snap_note(model: ModelInfo, *, fps: float, asked: tuple[int, int, int], snapped: tuple[int, int, int]) -> str:
    """What the model's rules changed, for a film team: "LTX-Video renders 8k+1 frames: 97 frames (4.04 s) instead
    of 96"; "" when nothing changed."""
    (w0, h0, f0), (w, h, f) = asked, snapped
    label = model.label or model.id
    notes = []
    if (w, h) != (w0, h0):
        rule = f"sizes in multiples of {model.size_multiple}" if model.size_multiple > 1 else "its own sizes"
        if w0 > model.max_width or h0 > model.max_height:
            rule = f"at most {model.max_width}x{model.max_height}, in " + rule.removeprefix("sizes in ")
        fit = "letterboxed to" if w <= w0 and h <= h0 else "fitted into"
        notes.append(f"{label} renders {rule}: the take is {w}x{h}, {fit} your {w0}x{h0} frame in the cut")
    if f != f0:
        rule = f"{model.frame_rule} frames" if model.frame_step > 1 and f0 <= model.max_frames else (
            f"at most {model.max_frames} frames")
        notes.append(f"{label} renders {rule}: {f} frames ({f / fps:.2f} s) instead of {f0}")
    return "; ".join(notes)


def _seeds(shot: Shot, takes: int, seed: int | None, seeds: list[int] | None) -> list[int]:
    if seeds is not None:
        if len(seeds) != takes:
            raise Invalid(f"give one seed per take ({takes}), not {len(seeds)}", field="seeds")
        for s in seeds:
            if not 0 <= int(s) <= SEED_MAX:
                raise Invalid(f"seeds must be between 0 and {SEED_MAX}", field="seeds")
        return [int(s) for s in seeds]
    if seed is not None and not 0 <= int(seed) <= SEED_MAX:
        raise Invalid(f"the seed must be between 0 and {SEED_MAX}", field="seed")
    start = int(seed) if seed is not None else shot.seed if shot.seed is not None else secrets.randbelow(SEED_MAX + 1)
    return [(start + i) % (SEED_MAX + 1) for i in range(takes)]


def _check_takes(takes: Any) -> int:
    limit = job_settings().max_takes
    if isinstance(takes, bool) or not isinstance(takes, int) or not 1 <= takes <= limit:
        raise Invalid(f"takes must be a whole number from 1 to {limit}", field="takes")
    return takes


def build_spec(db: Session, *, shot: Shot, model_id: str, takes: int, seed: int | None = None,
               seeds: list[int] | None = None, continuity: bool = False) -> tuple[RenderSpec, str]:
    """The self-contained render spec of `takes` takes of the shot, and a note of what was snapped or skipped."""
    from app.storyboard.service import compiled_prompt

    takes = _check_takes(takes)
    model = _model(model_id)
    project = db.get(Project, shot.project_id)
    cast = _locked_cast(db, shot=shot)
    compiled = compiled_prompt(db, shot=shot)
    fps = float(shot.fps or project.fps)
    width, height = int(shot.width or project.width), int(shot.height or project.height)
    frames = max(1, round(shot.duration_s * fps))
    if frames > model.max_frames:
        raise Invalid(
            f"the shot is {shot.duration_s:g} s at {fps:g} fps ({frames} frames); {model.label} renders at most "
            f"{model.max_frames} frames ({model.max_frames / fps:.1f} s): shorten the shot or pick another model",
            field="duration_s",
        )
    problem = model.size_problem(width, height, frames)  # the model's own range: refused here, never capped
    if problem:
        raise Invalid(problem[0], field=problem[1])
    asked = (width, height, frames)
    width, height, frames, _ = model.snap(width, height, frames)
    note = snap_note(model, fps=fps, asked=asked, snapped=(width, height, frames))
    notes = [note] if note else []
    first_frame = None
    if continuity:
        first_frame, cont_note = _continuity(db, shot=shot, model=model)
        notes.append(cont_note)
    spec = RenderSpec(
        model=model.id, prompt=compiled.prompt, negative_prompt=compiled.negative, width=width, height=height,
        frames=frames, fps=fps, steps=model.default_steps, guidance=model.default_guidance,
        seeds=_seeds(shot, takes, seed, seeds), camera=Camera.parse(shot.camera or {}).to_dict(),
        lighting=Lighting.parse(shot.lighting or {}).to_dict(), duration_s=round(frames / fps, 4),
        shot_code=shot.code, scene_heading=shot.scene.heading if shot.scene else "", action=shot.action or "",
        dialogue=shot.dialogue or "", location=shot.location.name if shot.location else "", cast=cast,
        first_frame_key=first_frame,
    )  # fmt: skip
    limits.check(spec, settings=job_settings())  # on what will be rendered: after the model's snapping
    return spec, "; ".join(notes)


# ---- estimates and budget -------------------------------------------------------------------------


def _mpxf(spec: RenderSpec | dict[str, Any]) -> float:
    """Million pixel-frames of one take."""
    get = spec.get if isinstance(spec, dict) else lambda k: getattr(spec, k)
    return get("width") * get("height") * get("frames") / 1e6


def measured_rates(db: Session, *, model_id: str) -> tuple[float | None, float | None]:
    """Median (seconds per step per Mpx-frame, encode seconds per Mpx-frame) of the model's last measured jobs."""
    rows = [t for t in db.scalars(select(GenerationJob.timings).where(
        GenerationJob.model == model_id, GenerationJob.status == "succeeded")
        .order_by(GenerationJob.finished_at.desc(), GenerationJob.id.desc()).limit(MEASURED)) if isinstance(t, dict)]
    step = [t["rate"] for t in rows if t.get("rate")]
    enc = [t["encode_rate"] for t in rows if t.get("encode_rate")]
    return (statistics.median(step) if step else None, statistics.median(enc) if enc else None)


def estimate_seconds(db: Session, *, spec: RenderSpec) -> float:
    """Worker seconds the job should take: steps x takes x size x the model's seconds per step (measured if known)."""
    model = get_model(spec.model)
    rate, encode = measured_rates(db, model_id=model.id)
    rate = rate or SECONDS_PER_STEP_MPXF.get(model.engine, 0.05)
    encode = encode or ENCODE_SECONDS_MPXF
    steps = spec.steps or model.default_steps
    units = _mpxf(spec) * len(spec.seeds)
    return round(steps * units * rate + units * encode + OVERHEAD_S, 2)


def charged(model_id: str, *, count_cpu: bool = False) -> bool:
    """Whether jobs of the model spend budgets and quotas: accelerated ones always, CPU engines (the animatic)
    only where the instance counts CPU seconds (`Quotas.count_cpu`)."""
    if count_cpu:
        return True
    try:
        return get_model(model_id).accelerated
    except UnknownModel:
        return True


def _reserved(db: Session, *, project_id: int, count_cpu: bool = False) -> float:
    """Estimated seconds still to come from the project's queued and running jobs on budgeted models."""
    rows = db.execute(select(GenerationJob.model, GenerationJob.estimate_s, GenerationJob.progress).where(
        GenerationJob.project_id == project_id, GenerationJob.status.in_(ACTIVE)))  # fmt: skip
    return sum(est * (1 - (prog or 0)) for model, est, prog in rows if charged(model, count_cpu=count_cpu))


def _check_budget(db: Session, *, project: Project, model: ModelInfo, estimate: float, count_cpu: bool) -> None:
    """The project's own budget (its owner's brake; the instance quotas are checked in `quotas`)."""
    if not charged(model.id, count_cpu=count_cpu):
        return
    reserved = _reserved(db, project_id=project.id, count_cpu=count_cpu)
    left = project.gpu_budget_s - project.gpu_used_s - reserved
    if estimate > left:
        held = f", {math.ceil(reserved)} s held by queued jobs" if reserved >= 1 else ""
        raise Conflict(f"needs ~{math.ceil(estimate)} s, {max(0, math.floor(left))} s left of the project's budget"
                       f"{held}; raise the budget or render fewer or shorter takes", field="takes")  # fmt: skip


# ---- queueing -------------------------------------------------------------------------------------


def _lock_project(db: Session, project_id: int) -> Project:
    if db.get_bind().dialect.name == "sqlite":  # no row locks: take the write lock before reading
        db.execute(update(Project).where(Project.id == project_id).values(gpu_used_s=Project.gpu_used_s))
    return db.scalar(select(Project).where(Project.id == project_id).with_for_update()
                     .execution_options(populate_existing=True))  # fmt: skip


def lock_job(db: Session, job_id: int) -> GenerationJob | None:
    """The job row, freshly read and locked for this transaction (SQLite: the database's write lock)."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(update(GenerationJob).where(GenerationJob.id == job_id).values(attempts=GenerationJob.attempts))
    return db.scalar(select(GenerationJob).where(GenerationJob.id == job_id).with_for_update()
                     .execution_options(populate_existing=True))  # fmt: skip


def send_after_commit(db: Session, *, job_id: int, task_id: str, model_id: str, priority: str,
                      estimate_s: float = 0.0) -> None:  # fmt: skip
    """Send the job's Celery message after the commit (if the broker is down, the reconciler sends it later), with
    time limits from the job's estimate (`time_limits`). The task is named, not imported: the render task builds on
    this service, never the reverse."""
    soft, hard = time_limits(estimate_s)

    def _send() -> None:
        import kombu.exceptions
        import redis

        from workers.celery_app import celery

        try:
            celery.send_task(RENDER_TASK, args=[job_id], task_id=task_id, queue=queue_name(model_id),
                             priority=PRIORITIES.get(priority, 5), soft_time_limit=soft, time_limit=hard)  # fmt: skip
        except (kombu.exceptions.OperationalError, redis.RedisError, OSError) as exc:
            log.warning("job %s: the broker is unreachable (%s); the reconciler will send it", job_id, exc)

    queue_after_commit(db, _send)


def job_event(job: GenerationJob) -> dict[str, Any]:
    """What browsers get about a job (SSE `job` events): never an exception's text (`failures.for_job`)."""
    words = phases.describe(job)
    error = failures.for_job(job).message if job.status == "failed" else None
    return {"id": job.id, "shot_id": job.shot_id, "status": job.status, "progress": round(job.progress or 0, 4),
            "step": job.step, "total_steps": job.total_steps, "takes": job.takes, "takes_done": job.takes_done,
            "cancel_requested": job.cancel_requested, "error": error, "note": job.note, "phase": words.phase,
            "progress_text": words.words}  # fmt: skip


def _check_rate(db: Session, *, actor: User | None) -> None:
    """A person queues at most `rate_per_minute` jobs a minute (counted from job rows: holds across processes)."""
    limit = job_settings().rate_per_minute
    if actor is None or limit <= 0:
        return
    since = utcnow() - dt.timedelta(minutes=1)
    recent = db.scalar(select(func.count()).select_from(GenerationJob).where(
        GenerationJob.requested_by_id == actor.id, GenerationJob.queued_at >= since)) or 0  # fmt: skip
    if recent >= limit:
        raise TooMany(f"at most {limit} generation requests a minute; wait a moment and try again")


def _create(db: Session, *, actor: User | None, shot: Shot, project: Project, spec: RenderSpec, note: str,
            priority: str, retry_of: GenerationJob | None = None) -> GenerationJob:
    _check_rate(db, actor=actor)
    quota = instance_quotas(db)
    if priority == "rush" and not quotas.may_rush(db, quota=quota, project=project, actor=actor):
        if retry_of is None:
            quotas.check_rush(db, quota=quota, project=project, actor=actor)
        priority, note = "normal", "; ".join(filter(None, [note, quotas.rush_note(quota)]))
    model = get_model(spec.model)
    estimate = estimate_seconds(db, spec=spec)
    _check_budget(db, project=project, model=model, estimate=estimate, count_cpu=quota.count_cpu)
    if charged(model.id, count_cpu=quota.count_cpu):
        quotas.check_quotas(db, quota=quota, project=project, actor=actor, estimate=estimate)
    now = utcnow()
    job = GenerationJob(
        project_id=project.id, shot_id=shot.id, requested_by_id=actor.id if actor else None, model=model.id,
        spec=spec.to_dict(), spec_hash=spec.hash(), takes=len(spec.seeds), seeds=list(spec.seeds),
        priority=priority, status="queued", task_id=str(uuid.uuid4()), queued_at=now, sent_at=now,
        estimate_s=estimate, snap_note=note, retry_of_id=retry_of.id if retry_of else None,
    )  # fmt: skip
    db.add(job)
    shot.status = "generating"
    db.flush()
    what = f"{job.takes} take{'s' if job.takes != 1 else ''} of {shot.code} ({model.label}"
    what += ", rush)" if priority == "rush" else ")"
    record(db, project_id=project.id, actor=actor, verb="generation.retried" if retry_of else "generation.queued",
           object_type="job", object_id=job.id,
           summary=f"{'retried' if retry_of else 'queued'} {what}",
           data={"shot_id": shot.id, "model": model.id, "takes": job.takes, "estimate_s": estimate})  # fmt: skip
    publish_after_commit(db, project.id, "job", job_event(job))
    send_after_commit(db, job_id=job.id, task_id=job.task_id, model_id=model.id, priority=priority,
                      estimate_s=job.estimate_s)  # fmt: skip
    return job


def enqueue(db: Session, *, actor: User | None, shot: Shot, takes: int, model: str | None = None,
            seed: int | None = None, priority: str = "normal", continuity: bool = False) -> GenerationJob:
    """Queue `takes` takes of the shot: validate, estimate, check the budget, write the job, send after commit."""
    if priority not in PRIORITIES:
        raise Invalid(f"priority must be one of {', '.join(PRIORITIES)}", field="priority")
    _check_takes(takes)
    project = _lock_project(db, shot.project_id)  # budget checks of one project happen one at a time
    spec, note = build_spec(db, shot=shot, model_id=model or shot.model or project.default_model, takes=takes,
                            seed=seed, continuity=continuity)  # fmt: skip
    return _create(db, actor=actor, shot=shot, project=project, spec=spec, note=note, priority=priority)


def cancel(db: Session, *, actor: User | None, job: GenerationJob) -> GenerationJob:
    """A queued job is revoked and canceled at once; a running one stops at its next step and keeps its takes."""
    job = lock_job(db, job.id)
    if job.status in FINISHED:
        raise Conflict(f"the job has already {'been canceled' if job.status == 'canceled' else job.status}")
    shot = db.get(Shot, job.shot_id)
    code = shot.code if shot else "?"
    if job.status == "queued":
        job.status, job.finished_at, job.note = "canceled", utcnow(), "canceled before it started"
        db.flush()
        settle_shot(db, shot_id=job.shot_id)
        task_id = job.task_id

        def _revoke() -> None:  # the worker would skip it anyway (it re-reads the row); this saves it the trip
            import kombu.exceptions
            import redis

            from workers.celery_app import celery

            try:
                celery.control.revoke(task_id)
            except (kombu.exceptions.OperationalError, redis.RedisError, OSError) as exc:
                log.warning("job %s: could not revoke its message (%s); the worker will skip it", job.id, exc)

        queue_after_commit(db, _revoke)
        summary = f"canceled the queued takes of {code}"
    else:
        job.cancel_requested = True
        job.note = "stopping at the next step"
        db.flush()
        summary = f"asked the worker to stop the takes of {code}"
    record(db, project_id=job.project_id, actor=actor, verb="generation.canceled", object_type="job",
           object_id=job.id, summary=summary)  # fmt: skip
    publish_after_commit(db, job.project_id, "job", job_event(job))
    return job


def set_priority(db: Session, *, actor: User | None, job: GenerationJob, priority: str) -> GenerationJob:
    """Move a queued job to another priority (normal, rush): its message is sent again on that lane and the old one,
    superseded (`task_id`), does nothing when a worker meets it. Rush follows the instance's rush policy (403)."""
    if priority not in PRIORITIES:
        raise Invalid(f"priority must be one of {', '.join(PRIORITIES)}", field="priority")
    job = lock_job(db, job.id)
    if job.priority == priority:  # already there: nothing to change, whatever its status
        return job
    if job.status != "queued":
        raise Conflict(f"only a queued job changes priority; this one is {job.status}", field="priority")
    project = db.get(Project, job.project_id)
    if priority == "rush":
        quotas.check_rush(db, quota=instance_quotas(db), project=project, actor=actor)
    old_task = job.task_id
    job.priority, job.task_id, job.sent_at = priority, str(uuid.uuid4()), utcnow()
    db.flush()

    def _revoke() -> None:  # the worker would skip it anyway (a superseded message); this saves it the trip
        import kombu.exceptions
        import redis

        from workers.celery_app import celery

        try:
            celery.control.revoke(old_task)
        except (kombu.exceptions.OperationalError, redis.RedisError, OSError) as exc:
            log.warning("job %s: could not revoke its old message (%s); the worker will skip it", job.id, exc)

    queue_after_commit(db, _revoke)
    send_after_commit(db, job_id=job.id, task_id=job.task_id, model_id=job.model, priority=priority,
                      estimate_s=job.estimate_s)  # fmt: skip
    shot = db.get(Shot, job.shot_id)
    record(db, project_id=job.project_id, actor=actor, verb="generation.priority", object_type="job",
           object_id=job.id, summary=f"moved the takes of {shot.code if shot else '?'} to {priority} priority",
           data={"shot_id": job.shot_id, "priority": priority})  # fmt: skip
    publish_after_commit(db, job.project_id, "job", job_event(job))
    return job


def missing_indexes(db: Session, *, job: GenerationJob) -> list[int]:
    done = set(db.scalars(select(Take.index).where(Take.job_id == job.id)))
    return [i for i in range(job.takes) if i not in done]


def retry(db: Session, *, actor: User | None, job: GenerationJob) -> GenerationJob:
    """A failed or canceled job again: a new job with the same spec for the takes it did not make (same seeds)."""
    if job.status not in ("failed", "canceled"):
        raise Conflict(f"only failed or canceled jobs can be retried; this one is {job.status}")
    missing = missing_indexes(db, job=job)
    if not missing:
        raise Conflict("every take of this job exists; generate again for new takes")
    shot = db.get(Shot, job.shot_id)
    if shot is None:
        raise NotFound("the shot of this job is gone")
    project = _lock_project(db, job.project_id)
    spec = RenderSpec.from_dict(job.spec).with_seeds([job.seeds[i] for i in missing])
    limits.check(spec, settings=job_settings())  # the limits of today, not of the day the job was written
    note = job.snap_note
    if len(missing) < job.takes:
        note = "; ".join(filter(None, [note, f"the {len(missing)} missing of {job.takes} takes of job {job.id}"]))
    return _create(db, actor=actor, shot=shot, project=project, spec=spec, note=note, priority=job.priority,
                   retry_of=job)  # fmt: skip


# ---- reading --------------------------------------------------------------------------------------


def job_takes(db: Session, *, job: GenerationJob) -> list[Take]:
    return list(db.scalars(select(Take).where(Take.job_id == job.id).order_by(Take.index)))


def shot_takes(db: Session, *, shot: Shot) -> list[Take]:
    """The shot's takes, newest first."""
    return list(db.scalars(select(Take).where(Take.shot_id == shot.id).order_by(Take.number.desc())))


def shot_jobs(db: Session, *, shot: Shot, limit: int = 20) -> list[GenerationJob]:
    return list(db.scalars(select(GenerationJob).where(GenerationJob.shot_id == shot.id)
                           .order_by(GenerationJob.id.desc()).limit(limit)))  # fmt: skip


@dataclass
class QueueEntry:
    job: GenerationJob
    shot_code: str
    position: int  # 0: running; 1, 2 ...: place in its model's queue
    starts_in_s: float  # 0 for a running job
    eta_s: float  # seconds until it should be done


def _lane_key(job: GenerationJob) -> tuple:
    return (0 if job.status == "running" else 1, PRIORITIES.get(job.priority, 5), job.queued_at, job.id)


def queue(db: Session, *, project: Project) -> list[QueueEntry]:
    """The project's queued and running jobs in the order the workers take them, with position and ETA.

    Each model has its own queue (`gen.<model>`); positions and ETAs count every project's jobs in
    it (one worker per model assumed), from the jobs' estimates.
    """
    mine = list(db.scalars(select(GenerationJob).where(GenerationJob.project_id == project.id,
                                                       GenerationJob.status.in_(ACTIVE))))  # fmt: skip
    if not mine:
        return []
    lanes = list(db.scalars(select(GenerationJob).where(GenerationJob.status.in_(ACTIVE),
                                                        GenerationJob.model.in_({j.model for j in mine}))))  # fmt: skip
    codes = dict(db.execute(select(Shot.id, Shot.code).where(Shot.id.in_({j.shot_id for j in mine}))).all())
    out: list[QueueEntry] = []
    for model in sorted({j.model for j in mine}):
        ahead, position = 0.0, 0
        for job in sorted((j for j in lanes if j.model == model), key=_lane_key):
            remaining = job.estimate_s * (1 - (job.progress or 0)) if job.status == "running" else job.estimate_s
            if job.status == "queued":
                position += 1
            if job.project_id == project.id:
                out.append(QueueEntry(job=job, shot_code=codes.get(job.shot_id, "?"),
                                      position=0 if job.status == "running" else position,
                                      starts_in_s=0.0 if job.status == "running" else round(ahead, 1),
                                      eta_s=round(ahead + remaining, 1)))  # fmt: skip
            ahead += remaining
    out.sort(key=lambda e: _lane_key(e.job))
    return out


# ---- worker side ----------------------------------------------------------------------------------


def settle_shot(db: Session, *, shot_id: int) -> None:
    """After a job ends: the shot is generating while other jobs run, in review once it has takes, else ready."""
    shot = db.get(Shot, shot_id)
    if shot is None:
        return
    active = db.scalar(select(func.count()).select_from(GenerationJob).where(
        GenerationJob.shot_id == shot_id, GenerationJob.status.in_(ACTIVE)))  # fmt: skip
    if active:
        status = "generating"
    else:
        reviews = set(db.scalars(select(Take.review_status).where(Take.shot_id == shot_id)))
        status = "approved" if "approved" in reviews else "in_review" if reviews else "ready"
    if shot.status != status:
        shot.status = status
        db.flush()


@dataclass(frozen=True)
class Claim:
    """What a worker needs of a job it claimed (plain values: the session is gone while it renders)."""

    job_id: int
    project_id: int
    shot_id: int
    model: str
    spec: dict[str, Any]
    seeds: list[int]
    takes: int
    done: frozenset[int]
    attempts: int
    queued_at: dt.datetime
    note: str


def db_now(db: Session) -> dt.datetime:
    """The database's clock (aware UTC): heartbeats are stamped and judged by it, never by a worker's own clock."""
    value = db.scalar(select(func.now()))
    if isinstance(value, str):  # SQLite: CURRENT_TIMESTAMP is naive UTC text, to the second
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def time_limits(estimate_s: float, *, cfg: JobSettings | None = None) -> tuple[float, float]:
    """(soft, hard) time limits in seconds of one run of a job estimated at `estimate_s`: the estimate times
    `time_limit_factor` within [`time_limit_min_s`, `time_limit_max_s`]; the hard one a grace later."""
    cfg = cfg or job_settings()
    soft = min(max((estimate_s or 0.0) * cfg.time_limit_factor, cfg.time_limit_min_s), cfg.time_limit_max_s)
    return round(soft, 1), round(soft + max(30.0, soft * 0.1), 1)


def charge_lost_run(db: Session, *, job: GenerationJob) -> float:
    """Charge the worker seconds of a run that ended with its worker (from its claim to its last heartbeat, both on
    the database's clock) to the job and, for charged models, to the project; returns the seconds charged."""
    seconds = 0.0
    if job.claimed_at is not None and job.heartbeat_at is not None:
        seconds = max((job.heartbeat_at - job.claimed_at).total_seconds(), 0.0)
    job.claimed_at = None  # charged once
    if seconds <= 0 or not charged(job.model, count_cpu=instance_quotas(db).count_cpu):
        db.flush()
        return 0.0
    seconds = round(seconds, 3)
    job.gpu_seconds = round((job.gpu_seconds or 0) + seconds, 3)
    db.execute(update(Project).where(Project.id == job.project_id).values(gpu_used_s=Project.gpu_used_s + seconds))
    db.flush()
    return seconds


def lost_run(db: Session, *, job: GenerationJob, max_deaths: int, stalled_s: float | None = None) -> str:
    """A run of the locked, running job ended without finishing it (its worker died, or its render stalled): count
    the death, charge the run's seconds, and end the job where it cannot go on. Returns "canceled" (a cancel was
    asked: it stays a cancel, stored takes kept), "failed" (`max_deaths` reached, with the reason) or "lost" (the
    caller sends it again or claims it)."""
    job.deaths += 1
    worker = job.worker or "unknown"
    charge_lost_run(db, job=job)
    if job.cancel_requested:
        done = db.scalar(select(func.count()).select_from(Take).where(Take.job_id == job.id)) or 0
        finish(db, job_id=job.id, task_id=None, status="canceled",
               note=f"stopped after {done} of {job.takes} takes (its worker was lost while stopping)")  # fmt: skip
        return "canceled"
    if job.deaths >= max_deaths:
        if stalled_s is not None:
            failure = failures.stalled(job=job, deaths=job.deaths, worker=worker, stalled_s=stalled_s)
        else:
            failure = failures.workers_lost(job=job, deaths=job.deaths, worker=worker)
        finish(db, job_id=job.id, task_id=None, status="failed", error=failure.message, detail=failure.detail)
        return "failed"
    return "lost"


def claim(db: Session, *, job_id: int, task_id: str, worker: str, stale_s: float, max_deaths: int | None = None,
          ended_here: bool = False) -> Claim | None:  # fmt: skip
    """Worker side: mark the job running for this message, or None when the message must not run it.

    Not run: the job is gone or finished, the message was superseded (the reconciler sent another),
    or another worker holds it with a fresh heartbeat (a redelivery while the first still runs).
    A message that finds its job already `running` for it was delivered again after the run that had
    it ended without finishing (its worker died: a broker redelivery, a prefork child killed): that
    counts a death, unless that run ended in this very process and let go of the job (`ended_here`:
    a Celery retry after a transient error). At `max_deaths` the job fails with the reason.
    """
    job = lock_job(db, job_id)
    if job is None or job.status in FINISHED or job.task_id != task_id:
        return None
    now = db_now(db)
    if job.status == "running":
        fresh = job.heartbeat_at is not None and (now - job.heartbeat_at).total_seconds() < stale_s
        if fresh and job.worker != worker:
            return None
        if not ended_here:
            lost_worker = job.worker or "unknown"
            limit = max_deaths if max_deaths is not None else job_settings().max_deaths
            if lost_run(db, job=job, max_deaths=limit) != "lost":
                log.warning("job %s: its worker %s was lost again; the job ended", job.id, lost_worker)
                return None
            job.note = f"the worker {lost_worker} was lost running it; started again ({job.deaths} of {limit})"
    done = frozenset(db.scalars(select(Take.index).where(Take.job_id == job.id)))
    resumed = job.attempts > 0 and done
    job.status, job.worker, job.heartbeat_at = "running", worker[:200], now
    job.claimed_at = job.progress_at = now
    job.timings = {**(job.timings or {}), "phase": {"name": "starting"}}
    job.attempts += 1
    job.started_at = job.started_at or now
    job.takes_done = len(done)
    if resumed:
        job.note = f"resumed on {worker}: {len(done)} of {job.takes} takes were already stored"
    db.flush()
    publish_after_commit(db, job.project_id, "job", job_event(job))
    return Claim(job_id=job.id, project_id=job.project_id, shot_id=job.shot_id, model=job.model, spec=dict(job.spec),
                 seeds=list(job.seeds), takes=job.takes, done=done, attempts=job.attempts, queued_at=job.queued_at,
                 note=job.note)  # fmt: skip


def heartbeat(db: Session, *, job_id: int, task_id: str, progress: float | None = None, step: int | None = None,
              total_steps: int | None = None, phase: dict[str, Any] | None = None) -> tuple[bool, bool]:
    """Worker side: say the job is alive (and how far, and in which phase: `app.generation.phases`); returns
    (cancel requested, superseded or gone).

    Stamped with the database's clock (`now()` in SQL), so hosts with clocks apart agree on staleness.
    `progress_at` moves only when the step or the progress does: a render that stops stepping while
    its heartbeat thread goes on is seen by the stall watchdog."""
    values: dict[str, Any] = {"heartbeat_at": func.now()}
    if phase is not None:
        timings = db.scalar(select(GenerationJob.timings).where(GenerationJob.id == job_id)) or {}
        values["timings"] = {**timings, "phase": phase}
    if progress is not None:
        progress, step, total_steps = min(max(progress, 0.0), 1.0), step or 0, total_steps or 0
        moved = or_(GenerationJob.step != step, GenerationJob.progress != progress, GenerationJob.progress_at.is_(None))
        values.update(progress=progress, step=step, total_steps=total_steps,
                      progress_at=case((moved, func.now()), else_=GenerationJob.progress_at))  # fmt: skip
    db.execute(update(GenerationJob).where(GenerationJob.id == job_id, GenerationJob.task_id == task_id,
                                           GenerationJob.status == "running").values(**values))  # fmt: skip
    row = db.execute(select(GenerationJob.cancel_requested, GenerationJob.task_id, GenerationJob.status)
                     .where(GenerationJob.id == job_id)).first()  # fmt: skip
    if row is None:
        return False, True
    return bool(row.cancel_requested), row.task_id != task_id or row.status != "running"


def store_take(db: Session, *, job_id: int, index: int, values: dict[str, Any]) -> Take | None:
    """Worker side: insert take `index` of the job with its number in the shot; None when it is already stored."""
    job = lock_job(db, job_id)
    if job is None:
        return None
    if db.scalar(select(Take.id).where(Take.job_id == job_id, Take.index == index)) is not None:
        return None
    if db.get_bind().dialect.name != "sqlite":  # numbers per shot: one writer at a time (SQLite already is)
        db.execute(select(Shot.id).where(Shot.id == job.shot_id).with_for_update())
    number = (db.scalar(select(func.max(Take.number)).where(Take.shot_id == job.shot_id)) or 0) + 1
    take = Take(project_id=job.project_id, shot_id=job.shot_id, job_id=job.id, index=index, number=number,
                seed=job.seeds[index], model=job.model, spec_hash=job.spec_hash, **values)  # fmt: skip
    db.add(take)
    db.flush()
    job.takes_done = db.scalar(select(func.count()).select_from(Take).where(Take.job_id == job_id))
    job.progress = max(job.progress or 0.0, min(job.takes_done / job.takes, 0.999))
    job.progress_at = db_now(db)  # a stored take is progress (the stall watchdog)
    db.flush()
    return take


def finish(db: Session, *, job_id: int, task_id: str | None, status: str, error: str | None = None,
           detail: str | None = None, note: str | None = None, worker_s: float = 0.0,
           timings: dict[str, Any] | None = None) -> GenerationJob | None:  # fmt: skip
    """Worker side: end the job (succeeded, canceled or failed), charge its GPU seconds, settle the shot.

    A failure's `error` is the sentence people read (`app.generation.failures`); its `detail`, for engineers, is
    kept in `timings["error_detail"]` and logged with the job id."""
    job = lock_job(db, job_id)
    if job is None or job.status in FINISHED or (task_id is not None and job.task_id != task_id):
        return None
    now = utcnow()
    job.takes_done = db.scalar(select(func.count()).select_from(Take).where(Take.job_id == job_id))
    if status == "succeeded" and job.cancel_requested:  # the cancel came while the last take was stored
        status, note = "canceled", "; ".join(filter(None, [f"stopped after {job.takes_done} of {job.takes} takes",
                                                            note]))
    job.status, job.finished_at = status, now
    if status == "succeeded":
        job.progress = 1.0
    if error is not None:
        job.error = error[:4000]
    if note is not None:
        job.note = note
    if timings:
        job.timings = {**(job.timings or {}), **timings}
    if status == "failed":
        if detail:
            job.timings = {**(job.timings or {}), "error_detail": detail[:4000]}
        log.error("job %s failed: %s%s", job.id, error, f" ({detail})" if detail else "")
    gpu = round(worker_s, 3) if charged(job.model, count_cpu=instance_quotas(db).count_cpu) else 0.0
    job.gpu_seconds = round((job.gpu_seconds or 0) + gpu, 3)
    if gpu:
        db.execute(update(Project).where(Project.id == job.project_id)
                   .values(gpu_used_s=Project.gpu_used_s + gpu))  # fmt: skip
    db.flush()
    settle_shot(db, shot_id=job.shot_id)
    shot = db.get(Shot, job.shot_id)
    actor = db.get(User, job.requested_by_id) if job.requested_by_id else None
    code = shot.code if shot else "?"
    n = job.takes_done
    takes = f"{n} take{'s' if n != 1 else ''}"
    summary = {"succeeded": f"generated {takes} of {code}",
               "canceled": f"stopped generating {code} after {n} of {job.takes} takes",
               "failed": f"generating {code} failed: {failures.in_a_line(failures.for_job(job).message)[:200]}",
               }[status]  # fmt: skip
    record(db, project_id=job.project_id, actor=actor, verb=f"generation.{status}", object_type="job",
           object_id=job.id, summary=summary,
           data={"shot_id": job.shot_id, "takes": n, "gpu_seconds": gpu})  # fmt: skip
    publish_after_commit(db, job.project_id, "job", job_event(job))
    return job
