"""JSON API of generation: queue takes of a shot, follow and cancel jobs, read and play takes, the queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.deps import DB, ProjectAccess, access
from app.errors import NotFound
from app.generation import failures, phases, service
from app.generation.models import GenerationJob, Take
from app.generation.schemas import GenerateRequest, JobRead, JobUpdate, QueueItem, TakeRead
from app.media.store import get_store
from app.permissions import Action
from app.projects.models import Project
from app.storyboard.models import Shot

router = APIRouter(prefix="/api/v1", tags=["generation"])

View = Annotated[ProjectAccess, access(Action.project_view)]
ShotView = Annotated[ProjectAccess, access(Action.project_view, model=Shot, param="shot_id")]
ShotGenerate = Annotated[ProjectAccess, access(Action.generate, model=Shot, param="shot_id")]
JobView = Annotated[ProjectAccess, access(Action.project_view, model=GenerationJob, param="job_id")]
JobGenerate = Annotated[ProjectAccess, access(Action.generate, model=GenerationJob, param="job_id")]
TakeView = Annotated[ProjectAccess, access(Action.project_view, model=Take, param="take_id")]


def take_read(take: Take) -> TakeRead:
    base = f"/api/v1/takes/{take.id}"
    return TakeRead(
        id=take.id, project_id=take.project_id, shot_id=take.shot_id, job_id=take.job_id, index=take.index,
        number=take.number, seed=take.seed, compiled_prompt=take.compiled_prompt,
        negative_prompt=take.negative_prompt, model=take.model, spec_hash=take.spec_hash, frames=take.frames,
        fps=take.fps, width=take.width, height=take.height, duration_s=round(take.duration_s, 4),
        review_status=take.review_status, decided_by_id=take.decided_by_id, decided_at=take.decided_at,
        video_url=f"{base}/video", poster_url=f"{base}/poster", filmstrip_url=f"{base}/filmstrip",
        filmstrip=dict(take.filmstrip or {}), conditioning=dict(take.conditioning or {}),
        timings=dict(take.timings or {}), gpu_seconds=take.gpu_seconds, created_at=take.created_at,
    )  # fmt: skip


def job_read(db, job: GenerationJob) -> JobRead:
    place = None
    if job.status == "queued":
        project = db.get(Project, job.project_id)
        place = next((e for e in service.queue(db, project=project) if e.job.id == job.id), None)
    told = phases.describe(job, place=place)
    failure = failures.for_job(job) if job.status == "failed" else None
    return JobRead(
        id=job.id, project_id=job.project_id, shot_id=job.shot_id, requested_by_id=job.requested_by_id,
        model=job.model, priority=job.priority, status=job.status, take_count=job.takes, takes_done=job.takes_done,
        seeds=list(job.seeds or []), progress=round(job.progress or 0, 4), step=job.step,
        total_steps=job.total_steps, cancel_requested=job.cancel_requested, attempts=job.attempts,
        deaths=job.deaths, error=failure.message if failure else job.error,
        error_detail=(failure.detail or None) if failure else None, phase=told.phase, phase_take=told.take,
        encoding_take=told.encoding, progress_text=told.words, note=job.note or "", snap_note=job.snap_note or "",
        worker=job.worker,
        queued_at=job.queued_at, started_at=job.started_at, finished_at=job.finished_at,
        heartbeat_at=job.heartbeat_at, estimate_s=job.estimate_s, gpu_seconds=job.gpu_seconds,
        timings=dict(job.timings or {}), spec_hash=job.spec_hash, spec=dict(job.spec or {}),
        retry_of_id=job.retry_of_id, takes=[take_read(t) for t in service.job_takes(db, job=job)],
    )  # fmt: skip


@router.post("/shots/{shot_id}/generate", status_code=202, response_model=JobRead)
def generate(body: GenerateRequest, db: DB, ctx: ShotGenerate):
    """Queue takes of the shot; the job renders on a worker (follow it at /api/v1/jobs/{id})."""
    job = service.enqueue(db, actor=ctx.user, shot=ctx.obj, takes=body.takes, model=body.model, seed=body.seed,
                          priority=body.priority, continuity=body.continuity)  # fmt: skip
    return job_read(db, job)


@router.get("/jobs/{job_id}", response_model=JobRead)
def get_job(db: DB, ctx: JobView):
    return job_read(db, ctx.obj)


@router.post("/jobs/{job_id}/cancel", response_model=JobRead)
def cancel_job(db: DB, ctx: JobGenerate):
    """A queued job is canceled at once; a running one stops at its next step and keeps its finished takes."""
    return job_read(db, service.cancel(db, actor=ctx.user, job=ctx.obj))


@router.patch("/jobs/{job_id}", response_model=JobRead)
def update_job(body: JobUpdate, db: DB, ctx: JobGenerate):
    """Move a queued job to normal or rush priority (409 once it runs; 403 for rush outside the rush policy)."""
    return job_read(db, service.set_priority(db, actor=ctx.user, job=ctx.obj, priority=body.priority))


@router.post("/jobs/{job_id}/retry", status_code=202, response_model=JobRead)
def retry_job(db: DB, ctx: JobGenerate):
    """A failed or canceled job again, as a new job for its missing takes (same spec and seeds)."""
    return job_read(db, service.retry(db, actor=ctx.user, job=ctx.obj))


@router.get("/shots/{shot_id}/takes", response_model=list[TakeRead])
def list_takes(db: DB, ctx: ShotView):
    return [take_read(t) for t in service.shot_takes(db, shot=ctx.obj)]


@router.get("/takes/{take_id}", response_model=TakeRead)
def get_take(ctx: TakeView):
    return take_read(ctx.obj)


def _file(key: str | None, mime: str) -> FileResponse:
    if not key:
        raise NotFound("no such file")
    path = get_store().path(key)
    if not path.exists():
        raise NotFound("the file is missing from the media store")
    return FileResponse(path, media_type=mime, content_disposition_type="inline",
                        headers={"Cache-Control": "private, max-age=86400"})  # fmt: skip


@router.get("/takes/{take_id}/video")
def take_video(ctx: TakeView):
    """The take as H.264 MP4 (HTTP Range: 206 partial content, so players can seek)."""
    return _file(ctx.obj.video_key, "video/mp4")


@router.get("/takes/{take_id}/poster")
def take_poster(ctx: TakeView):
    return _file(ctx.obj.poster_key, "image/jpeg")


@router.get("/takes/{take_id}/filmstrip")
def take_filmstrip(ctx: TakeView):
    """A JPEG sprite of evenly spaced frames for scrubbing (geometry in the take's `filmstrip`)."""
    return _file(ctx.obj.filmstrip_key, "image/jpeg")


@router.get("/projects/{project_id}/queue", response_model=list[QueueItem])
def project_queue(db: DB, ctx: View):
    """The project's queued and running jobs in the order workers take them, with position and ETA."""
    return [
        QueueItem(job_id=e.job.id, shot_id=e.job.shot_id, shot_code=e.shot_code, model=e.job.model,
                  priority=e.job.priority, status=e.job.status, position=e.position,
                  progress=round(e.job.progress or 0, 4), take_count=e.job.takes, starts_in_s=e.starts_in_s,
                  eta_s=e.eta_s, queued_at=e.job.queued_at,
                  progress_text=phases.describe(e.job, place=e).words)
        for e in service.queue(db, project=ctx.project)
    ]  # fmt: skip
