"""JSON API of the storyboard: scenes, shots, their order, coverage, bulk status and the camera vocabulary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from app.deps import DB, CurrentUser, ProjectAccess, access
from app.permissions import Action
from app.storyboard import service
from app.storyboard.camera import vocabulary
from app.storyboard.models import Scene, Shot
from app.storyboard.schemas import (
    BulkStatus,
    BulkStatusRead,
    CoverageCreate,
    RenumberScenes,
    SceneCreate,
    SceneMove,
    SceneRead,
    SceneUpdate,
    ShotCreate,
    ShotMove,
    ShotRead,
    ShotUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["storyboard"])

View = Annotated[ProjectAccess, access(Action.project_view)]
Edit = Annotated[ProjectAccess, access(Action.story_edit)]
SceneView = Annotated[ProjectAccess, access(Action.project_view, model=Scene, param="scene_id")]
SceneEdit = Annotated[ProjectAccess, access(Action.story_edit, model=Scene, param="scene_id")]
ShotView = Annotated[ProjectAccess, access(Action.project_view, model=Shot, param="shot_id")]
ShotEdit = Annotated[ProjectAccess, access(Action.story_edit, model=Shot, param="shot_id")]


def scene_read(scene: Scene, shot_count: int | None = None) -> SceneRead:
    return SceneRead(id=scene.id, project_id=scene.project_id, number=scene.number, heading=scene.heading,
                     synopsis=scene.synopsis, position=scene.position, shot_count=shot_count,
                     created_at=scene.created_at, updated_at=scene.updated_at)  # fmt: skip


def shot_reads(db, shots: list[Shot]) -> list[ShotRead]:
    """Shots as the API answers them, compiled prompt included (two queries for any number of shots)."""
    details = service.shot_details(db, shots=shots)
    out = []
    for s in shots:
        d = details[s.id]
        thumb = service.thumbnail(s)
        out.append(ShotRead(
            id=s.id, project_id=s.project_id, scene_id=s.scene_id, code=s.code, position=s.position, action=s.action,
            dialogue=s.dialogue, prompt=s.prompt, negative_prompt=s.negative_prompt,
            character_ids=[e.character_id for e in s.cast], looks={e.character_id: e.look_id for e in s.cast},
            cast=[c.to_dict() for c in d.cast], location_id=s.location_id, style_id=s.style_id,
            camera=dict(s.camera or {}), lighting=dict(s.lighting or {}), duration_s=s.duration_s, fps=s.fps,
            width=s.width, height=s.height, model=s.model, seed=s.seed, status=s.status,
            coverage_group=s.coverage_group, coverage_label=s.coverage_label,
            thumbnail_url=f"/media/{thumb}/thumb" if thumb else None, compiled_prompt=d.compiled.prompt,
            compiled_negative=d.compiled.negative, compiled=d.compiled.to_dict(), warnings=d.warnings,
            created_at=s.created_at, updated_at=s.updated_at,
        ))  # fmt: skip
    return out


def _one(db, shot: Shot) -> ShotRead:
    return shot_reads(db, [service.load_shot(db, project_id=shot.project_id, shot_id=shot.id)])[0]


# ---- vocabulary -------------------------------------------------------------------------------


@router.get("/camera")
def camera_vocabulary(user: CurrentUser) -> dict:
    """The camera and lighting words shots use: moves, speeds, framings, angles, lenses, lighting."""
    return vocabulary()


# ---- scenes -----------------------------------------------------------------------------------


@router.get("/projects/{project_id}/scenes", response_model=list[SceneRead])
def list_scenes(db: DB, ctx: View):
    counts = dict(db.execute(select(Shot.scene_id, func.count()).where(Shot.project_id == ctx.project.id)
                             .group_by(Shot.scene_id)).all())  # fmt: skip
    return [scene_read(s, counts.get(s.id, 0)) for s in service.list_scenes(db, project=ctx.project)]


@router.post("/projects/{project_id}/scenes", status_code=201, response_model=SceneRead)
def create_scene(body: SceneCreate, db: DB, ctx: Edit):
    scene = service.create_scene(db, actor=ctx.user, project=ctx.project, heading=body.heading,
                                 synopsis=body.synopsis or "", number=body.number)  # fmt: skip
    return scene_read(scene, 0)


@router.post("/projects/{project_id}/scenes/renumber", response_model=list[SceneRead])
def renumber_scenes(db: DB, ctx: Edit, body: RenumberScenes | None = None):
    scenes = service.renumber_scenes(db, actor=ctx.user, project=ctx.project, shots=bool(body and body.shots))
    return [scene_read(s) for s in scenes]


@router.get("/scenes/{scene_id}", response_model=SceneRead)
def get_scene(db: DB, ctx: SceneView):
    count = db.scalar(select(func.count()).select_from(Shot).where(Shot.scene_id == ctx.obj.id))
    return scene_read(ctx.obj, count)


@router.patch("/scenes/{scene_id}", response_model=SceneRead)
def update_scene(body: SceneUpdate, db: DB, ctx: SceneEdit):
    changes = body.model_dump(exclude_unset=True)
    if changes.get("synopsis", "") is None:
        changes["synopsis"] = ""
    changes = {k: v for k, v in changes.items() if v is not None}
    return scene_read(service.update_scene(db, actor=ctx.user, scene=ctx.obj, changes=changes))


@router.delete("/scenes/{scene_id}", status_code=204)
def delete_scene(db: DB, ctx: SceneEdit):
    service.delete_scene(db, actor=ctx.user, scene=ctx.obj)
    return Response(status_code=204)


@router.post("/scenes/{scene_id}/move", response_model=SceneRead)
def move_scene(body: SceneMove, db: DB, ctx: SceneEdit):
    return scene_read(service.move_scene(db, actor=ctx.user, scene=ctx.obj, index=body.index))


@router.post("/scenes/{scene_id}/renumber", response_model=list[ShotRead])
def renumber_shots(db: DB, ctx: SceneEdit):
    """Recode the scene's shots by their order: 12A, 12B, 12C ..."""
    scene: Scene = ctx.obj
    service.renumber_shots(db, actor=ctx.user, scene=scene)
    return shot_reads(db, service.load_shots(db, project_id=scene.project_id, scene_id=scene.id))


# ---- shots ------------------------------------------------------------------------------------


@router.get("/scenes/{scene_id}/shots", response_model=list[ShotRead])
def list_shots(db: DB, ctx: SceneView):
    return shot_reads(db, service.load_shots(db, project_id=ctx.project.id, scene_id=ctx.obj.id))


@router.post("/scenes/{scene_id}/shots", status_code=201, response_model=ShotRead)
def create_shot(body: ShotCreate, db: DB, ctx: SceneEdit):
    shot = service.create_shot(db, actor=ctx.user, scene=ctx.obj, values=body.changes(), index=body.index)
    return _one(db, shot)


@router.get("/shots/{shot_id}", response_model=ShotRead)
def get_shot(db: DB, ctx: ShotView):
    return _one(db, ctx.obj)


@router.patch("/shots/{shot_id}", response_model=ShotRead)
def update_shot(body: ShotUpdate, db: DB, ctx: ShotEdit):
    shot = service.update_shot(db, actor=ctx.user, shot=ctx.obj, changes=body.changes())
    return _one(db, shot)


@router.delete("/shots/{shot_id}", status_code=204)
def delete_shot(db: DB, ctx: ShotEdit):
    service.delete_shot(db, actor=ctx.user, shot=ctx.obj)
    return Response(status_code=204)


@router.post("/shots/{shot_id}/move", response_model=ShotRead)
def move_shot(body: ShotMove, db: DB, ctx: ShotEdit):
    """Move the shot to `index` in scene `scene_id` (within or across scenes); its code stays."""
    shot = service.move_shot(db, actor=ctx.user, shot=ctx.obj, scene_id=body.scene_id, index=body.index)
    return _one(db, shot)


@router.post("/shots/{shot_id}/duplicate", status_code=201, response_model=ShotRead)
def duplicate_shot(db: DB, ctx: ShotEdit):
    return _one(db, service.duplicate_shot(db, actor=ctx.user, shot=ctx.obj))


@router.post("/shots/{shot_id}/coverage", status_code=201, response_model=list[ShotRead])
def create_coverage(db: DB, ctx: ShotEdit, body: CoverageCreate | None = None):
    """A coverage set: the source shot from other framings/angles (default WS, MS, CU, OTS reverse)."""
    setups = [s.model_dump(exclude_none=True) for s in body.setups] if body and body.setups else None
    shots = service.create_coverage(db, actor=ctx.user, shot=ctx.obj, setups=setups)
    loaded = service.load_shots(db, project_id=ctx.project.id, shot_ids=[s.id for s in shots])
    return shot_reads(db, loaded)


@router.post("/shots/{shot_id}/cast/refresh", response_model=ShotRead)
def refresh_cast(db: DB, ctx: ShotEdit):
    """Move the shot's cast on to the latest locked versions."""
    service.refresh_cast(db, actor=ctx.user, shot=ctx.obj)
    return _one(db, ctx.obj)


@router.post("/projects/{project_id}/shots/status", response_model=BulkStatusRead)
def bulk_status(body: BulkStatus, db: DB, ctx: Edit):
    """Mark many shots draft or ready at once (shots that are generating or in review are skipped)."""
    changed, skipped = service.set_status(db, actor=ctx.user, project=ctx.project, shot_ids=body.shot_ids,
                                          status=body.status)  # fmt: skip
    return BulkStatusRead(status=body.status, changed=[s.id for s in changed], skipped=[s.id for s in skipped])
