"""Pages of generation: the takes panel of a shot (generate, follow, cancel, play) and the project's queue.

Both refresh themselves from the project's live events (`job`, `take`): an event triggers an htmx
GET of the fragment, so every open browser shows the same state as the database.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session, object_session

from app.deps import DB, ProjectAccess, access
from app.errors import Forbidden, Invalid
from app.frames import service as frames
from app.generation import failures, phases, quotas, service
from app.generation.models import GenerationJob, Take
from app.permissions import Action
from app.projects.models import Project
from app.storyboard import service as storyboard
from app.storyboard.models import Shot
from app.system.service import quotas as instance_quotas
from app.web import render, templates
from workers.engines.registry import get_registry

router = APIRouter(tags=["pages"], include_in_schema=False)

View = Annotated[ProjectAccess, access(Action.project_view)]
ShotView = Annotated[ProjectAccess, access(Action.project_view, model=Shot, param="shot_id")]
ShotGenerate = Annotated[ProjectAccess, access(Action.generate, model=Shot, param="shot_id")]
JobGenerate = Annotated[ProjectAccess, access(Action.generate, model=GenerationJob, param="job_id")]


def job_progress(job: GenerationJob) -> phases.Progress:
    """A job row's progress in words (`app.generation.phases`), with its place and ETA in the queue when queued."""
    place = None
    db = object_session(job)
    if job.status == "queued" and db is not None:
        project = db.get(Project, job.project_id)
        place = next((e for e in service.queue(db, project=project) if e.job.id == job.id), None)
    return phases.describe(job, place=place)


# What job rows say, wherever a page includes them: progress in words, and a failure as a sentence with its
# detail (`app.generation.failures`), never an exception's text.
templates.env.globals.update(job_progress=job_progress, job_failure=failures.for_job, job_model=phases.model_label)


PRIORITY_CHOICES = (("normal", "Normal"), ("rush", "Rush"))


def _featured(takes: list[Take], selected: int | None) -> Take | None:
    """The take the player shows: the one asked for, else the approved one, else the newest (takes are newest first)."""
    if selected is not None:
        for take in takes:
            if take.id == selected:
                return take
    approved = [t for t in takes if t.review_status == "approved"]
    if approved:
        return max(approved, key=lambda t: (t.decided_at is not None, t.decided_at or t.created_at, t.id))
    return takes[0] if takes else None


def panel_context(db: Session, ctx: ProjectAccess, shot: Shot, *, chosen: dict[str, Any] | None = None,
                  selected: int | None = None) -> dict[str, Any]:  # fmt: skip
    """What the takes panel shows: the player, the generate form (the shot's model unless `chosen` says
    otherwise), the shot's jobs and takes."""
    registry = get_registry()
    shot_model = shot.model or ctx.project.default_model
    form = {"takes": 4, "model": shot_model, "seed": "", "priority": "normal", "continuity": False,
            "keep_model": False, **(chosen or {})}  # fmt: skip
    takes = service.shot_takes(db, shot=shot)
    featured = _featured(takes, selected)
    return {
        "ctx": ctx, "shot": shot, "project": ctx.project, "jobs": service.shot_jobs(db, shot=shot, limit=8),
        "takes": takes, "featured": featured, "models": list(registry),
        "sketch": None if featured else frames.shot_frames(db, shot_ids=[shot.id])[shot.id],
        "shot_model": shot_model, "test_models": registry.test_weight_ids(), "gen": form,
        "priorities": PRIORITY_CHOICES, "can_keep_model": ctx.can(Action.story_edit),
    }  # fmt: skip


def _panel(request: Request, db: DB, ctx: ProjectAccess, shot: Shot, status_code: int = 200, *,
           chosen: dict[str, Any] | None = None, **extra: Any):  # fmt: skip
    context = panel_context(db, ctx, shot, chosen=chosen)
    return render(request, "generation/_panel.html", {**context, **extra}, status_code)


@router.get("/shots/{shot_id}/takes")
def takes_panel(request: Request, db: DB, ctx: ShotView):
    return _panel(request, db, ctx, ctx.obj)


@router.get("/shots/{shot_id}/jobs")
def jobs_fragment(request: Request, db: DB, ctx: ShotView, queued: int | None = None):
    """The shot's jobs; `queued`: the job just queued from this page, whose note shows while it is on its way."""
    jobs = service.shot_jobs(db, shot=ctx.obj, limit=8)
    just = next((j for j in jobs if j.id == queued), None)
    return render(request, "generation/_jobs.html", {"ctx": ctx, "shot": ctx.obj, "jobs": jobs, "queued": just})


@router.post("/shots/{shot_id}/generate")
def generate(
    request: Request, db: DB, ctx: ShotGenerate,
    takes: Annotated[int, Form(ge=1, le=16)] = 4,
    model: Annotated[str, Form(max_length=64)] = "",
    seed: Annotated[str, Form(max_length=12)] = "",
    priority: Annotated[str, Form(max_length=10)] = "normal",
    continuity: Annotated[str, Form(max_length=5)] = "",
    keep_model: Annotated[str, Form(max_length=5)] = "",
):  # fmt: skip
    """Queue takes of the shot. The panel comes back with the form as it was sent: a second click queues the
    same model, takes, seed and priority. `keep_model` also makes the chosen model the shot's own."""
    seed_value = None
    if seed.strip():
        if not seed.strip().isdigit():
            raise Invalid("the seed is a whole number (or empty for the shot's seed)", field="seed")
        seed_value = int(seed)
    shot: Shot = ctx.obj
    if keep_model and model and model != shot.model:
        if not ctx.can(Action.story_edit):
            raise Forbidden("only members who edit the story change a shot's model")
        storyboard.update_shot(db, actor=ctx.user, shot=shot, changes={"model": model})
    job = service.enqueue(db, actor=ctx.user, shot=shot, takes=takes, model=model or None, seed=seed_value,
                          priority=priority, continuity=bool(continuity))  # fmt: skip
    chosen = {"takes": takes, "model": job.model, "seed": seed.strip(), "priority": job.priority,
              "continuity": bool(continuity)}  # fmt: skip
    return _panel(request, db, ctx, shot, 202, chosen=chosen, queued=job)


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, db: DB, ctx: JobGenerate,
           back: Annotated[str, Form(pattern="^(panel|queue)$")] = "panel"):  # fmt: skip
    """Cancel a job; answers the shot's takes panel, or the project's queue where it was asked (`back=queue`)."""
    job = service.cancel(db, actor=ctx.user, job=ctx.obj)
    if back == "queue":
        return _queue(request, db, ctx, "generation/_queue.html")
    shot = db.get(Shot, job.shot_id)
    return _panel(request, db, ctx, shot)


@router.post("/jobs/{job_id}/priority")
def change_priority(request: Request, db: DB, ctx: JobGenerate,
                    priority: Annotated[str, Form(pattern="^(normal|rush)$")]):  # fmt: skip
    """Move a queued job to normal or rush priority; answers the project's queue."""
    service.set_priority(db, actor=ctx.user, job=ctx.obj, priority=priority)
    return _queue(request, db, ctx, "generation/_queue.html")


@router.post("/jobs/{job_id}/retry")
def retry(request: Request, db: DB, ctx: JobGenerate):
    job = service.retry(db, actor=ctx.user, job=ctx.obj)
    shot = db.get(Shot, job.shot_id)
    return _panel(request, db, ctx, shot, 202, queued=job)


def _queue(request: Request, db: DB, ctx: ProjectAccess, template: str):
    """The queue page or its fragment: cancel and priority buttons for those who may (rush: the rush policy)."""
    entries = service.queue(db, project=ctx.project)
    may_rush = ctx.can(Action.generate) and quotas.may_rush(db, quota=instance_quotas(db), project=ctx.project,
                                                            actor=ctx.user)  # fmt: skip
    progress = {e.job.id: phases.describe(e.job, place=e) for e in entries}
    return render(request, template, {"ctx": ctx, "project": ctx.project, "entries": entries, "progress": progress,
                                      "may_rush": may_rush})  # fmt: skip


@router.get("/projects/{project_id}/queue")
def queue_page(request: Request, db: DB, ctx: View, fragment: bool = False):
    template = "generation/_queue.html" if fragment or request.headers.get("hx-request") else "generation/queue.html"
    return _queue(request, db, ctx, template)
