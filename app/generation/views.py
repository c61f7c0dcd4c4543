"""Pages of generation: the takes panel of a shot (generate, follow, cancel, play) and the project's queue.

Both refresh themselves from the project's live events (`job`, `take`): an event triggers an htmx
GET of the fragment, so every open browser shows the same state as the database.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from app.deps import DB, ProjectAccess, access
from app.generation import service
from app.generation.models import ACTIVE, GenerationJob
from app.permissions import Action
from app.storyboard.models import Shot
from app.web import render
from workers.engines.registry import get_registry

router = APIRouter(tags=["pages"], include_in_schema=False)

View = Annotated[ProjectAccess, access(Action.project_view)]
ShotView = Annotated[ProjectAccess, access(Action.project_view, model=Shot, param="shot_id")]
ShotGenerate = Annotated[ProjectAccess, access(Action.generate, model=Shot, param="shot_id")]
JobGenerate = Annotated[ProjectAccess, access(Action.generate, model=GenerationJob, param="job_id")]


def _panel(request: Request, db: DB, ctx: ProjectAccess, shot: Shot, status_code: int = 200, **extra):
    jobs = service.shot_jobs(db, shot=shot, limit=8)
    return render(request, "generation/_panel.html", {
        "ctx": ctx, "shot": shot, "project": ctx.project, "jobs": jobs,
        "active": [j for j in jobs if j.status in ACTIVE], "takes": service.shot_takes(db, shot=shot),
        "models": list(get_registry()), "default_model": shot.model or ctx.project.default_model, **extra,
    }, status_code)  # fmt: skip


@router.get("/shots/{shot_id}/takes")
def takes_panel(request: Request, db: DB, ctx: ShotView):
    return _panel(request, db, ctx, ctx.obj)


@router.get("/shots/{shot_id}/jobs")
def jobs_fragment(request: Request, db: DB, ctx: ShotView):
    jobs = service.shot_jobs(db, shot=ctx.obj, limit=8)
    return render(request, "generation/_jobs.html", {"ctx": ctx, "shot": ctx.obj, "jobs": jobs})


@router.post("/shots/{shot_id}/generate")
def generate(
    request: Request, db: DB, ctx: ShotGenerate,
    takes: Annotated[int, Form(ge=1, le=16)] = 4,
    model: Annotated[str, Form(max_length=64)] = "",
    seed: Annotated[str, Form(max_length=12)] = "",
    priority: Annotated[str, Form(max_length=10)] = "normal",
    continuity: Annotated[str, Form(max_length=5)] = "",
):  # fmt: skip
    from app.errors import Invalid

    seed_value = None
    if seed.strip():
        if not seed.strip().isdigit():
            raise Invalid("the seed is a whole number (or empty for the shot's seed)", field="seed")
        seed_value = int(seed)
    job = service.enqueue(db, actor=ctx.user, shot=ctx.obj, takes=takes, model=model or None, seed=seed_value,
                          priority=priority, continuity=bool(continuity))  # fmt: skip
    return _panel(request, db, ctx, ctx.obj, 202, queued=job)


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, db: DB, ctx: JobGenerate):
    job = service.cancel(db, actor=ctx.user, job=ctx.obj)
    shot = db.get(Shot, job.shot_id)
    return _panel(request, db, ctx, shot)


@router.post("/jobs/{job_id}/retry")
def retry(request: Request, db: DB, ctx: JobGenerate):
    job = service.retry(db, actor=ctx.user, job=ctx.obj)
    shot = db.get(Shot, job.shot_id)
    return _panel(request, db, ctx, shot, 202, queued=job)


@router.get("/projects/{project_id}/queue")
def queue_page(request: Request, db: DB, ctx: View, fragment: bool = False):
    entries = service.queue(db, project=ctx.project)
    template = "generation/_queue.html" if fragment or request.headers.get("hx-request") else "generation/queue.html"
    return render(request, template, {"ctx": ctx, "project": ctx.project, "entries": entries})
