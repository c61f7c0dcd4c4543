"""Pages of the storyboard: the board of scenes and shot cards, the shot editor with its live compiled
prompt, the scene editor and the printable storyboard sheet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.characters.models import Character, Look
from app.db import row_id
from app.deps import DB, ProjectAccess, access
from app.design.models import Location, StylePreset
from app.errors import DomainError, Invalid, is_htmx
from app.frames import service as frames
from app.generation.views import panel_context
from app.permissions import Action
from app.projects.models import Project
from app.projects.service import FPS_CHOICES
from app.storyboard import service
from app.storyboard.camera import (
    FRAMING_PHRASES,
    Angle,
    Framing,
    Lighting,
    badge,
    label,
    vocabulary,
)
from app.storyboard.models import Scene, Shot
from app.web import redirect, render

router = APIRouter(tags=["pages"], include_in_schema=False)

View = Annotated[ProjectAccess, access(Action.project_view)]
Edit = Annotated[ProjectAccess, access(Action.story_edit)]
SceneView = Annotated[ProjectAccess, access(Action.project_view, model=Scene, param="scene_id")]
SceneEdit = Annotated[ProjectAccess, access(Action.story_edit, model=Scene, param="scene_id")]
ShotView = Annotated[ProjectAccess, access(Action.project_view, model=Shot, param="shot_id")]
ShotEdit = Annotated[ProjectAccess, access(Action.story_edit, model=Shot, param="shot_id")]

EXCERPT = 160


async def _form_data(request: Request) -> FormData:
    return await request.form()


Posted = Annotated[FormData, Depends(_form_data)]


# ---- cards ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Card:
    """One shot as the board and the print sheet show it (plain values, computed once)."""

    id: int
    scene_id: int
    code: str
    status: str
    status_label: str
    action: str
    excerpt: str
    dialogue: str
    camera: str
    camera_notes: str
    lighting: str
    cast: str
    frame: frames.Frame  # the picture: approved take, newest take or sketch (app/frames)
    duration: str
    group: int | None
    group_label: str
    set_start: bool
    outdated: bool


def _excerpt(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rsplit(" ", 1)[0] + "…"


def _camera_notes(camera: dict[str, Any]) -> str:
    parts = []
    if camera.get("framing"):
        parts.append(FRAMING_PHRASES.get(camera["framing"], camera["framing"]))
    if camera.get("angle"):
        parts.append(f"{camera['angle']} angle")
    if camera.get("lens_mm"):
        parts.append(f"{camera['lens_mm']}mm")
    move = camera.get("move") or "static"
    speed = camera.get("speed")
    parts.append(label(move) + (f" ({speed})" if speed and speed != "medium" and move not in ("static", "handheld")
                                else ""))  # fmt: skip
    return ", ".join(parts)


def _lighting_notes(lighting: dict[str, Any]) -> str:
    parts = [label(lighting[k]) for k in ("key", "color", "time_of_day") if lighting.get(k)]
    if lighting.get("mood"):
        parts.append(f"mood: {lighting['mood']}")
    return ", ".join(parts)


def cards_for(shots: list[service.ShotCard], pictures: dict[int, frames.Frame]) -> list[Card]:
    """Display values of one scene's shot cards, in order (coverage sets marked where they start), with the frame
    of each from `pictures` (`frames.shot_frames`)."""
    out = []
    previous_group = None
    labels = service.STATUS_LABELS
    for s in shots:
        out.append(Card(
            id=s.id, scene_id=s.scene_id, code=s.code, status=s.status, status_label=labels.get(s.status, s.status),
            action=s.action, excerpt=_excerpt(s.action), dialogue=s.dialogue, camera=badge(s.camera),
            camera_notes=_camera_notes(s.camera), lighting=_lighting_notes(s.lighting),
            cast=", ".join(f"{name} ({look})" if look else name for name, look in s.cast), frame=pictures[s.id],
            duration=f"{s.duration_s:g} s", group=s.coverage_group, group_label=s.coverage_label,
            set_start=s.coverage_group is not None and s.coverage_group != previous_group, outdated=s.outdated,
        ))  # fmt: skip
        previous_group = s.coverage_group
    return out


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params

    def num(key: str) -> int | None:
        return row_id(q.get(key, ""))

    status = q.get("status", "").strip()
    return {"character_id": num("character"), "location_id": num("location"),
            "status": status if status in service.STATUSES else None}  # fmt: skip


def _board_ctx(db: Session, ctx: ProjectAccess, filters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    board = service.storyboard(db, project=ctx.project, **filters)
    edit = ctx.can(Action.story_edit)
    pictures = frames.shot_frames(db, shot_ids=[c.id for _, shots in board.scenes for c in shots])
    return {
        "ctx": ctx, "project": ctx.project, "board": board, "edit": edit,
        "sortable": edit and not board.filtered,
        "scenes": [(scene, cards_for(shots, pictures)) for scene, shots in board.scenes],
        "characters": board.characters, "locations": board.locations, "filters": filters, "statuses": service.STATUSES,
        "status_labels": service.STATUS_LABELS, "framings": list(Framing), "values": {}, **extra,
    }  # fmt: skip


# ---- the board --------------------------------------------------------------------------------


@router.get("/projects/{project_id}/storyboard")
def storyboard_page(request: Request, db: DB, ctx: View):
    return render(request, "storyboard/board.html", _board_ctx(db, ctx, _filters(request)))


@router.get("/projects/{project_id}/storyboard/print")
def print_page(request: Request, db: DB, ctx: View):
    q = request.query_params
    per_page = 3 if q.get("per_page") == "3" else 6
    paper = "letter" if q.get("paper") == "letter" else "a4"
    board = service.storyboard(db, project=ctx.project, **_filters(request))
    pictures = frames.shot_frames(db, shot_ids=[c.id for _, shots in board.scenes for c in shots], backfill=False)
    sheets = []
    for scene, shots in board.scenes:
        cards = cards_for(shots, pictures)
        pages = [cards[i : i + per_page] for i in range(0, len(cards), per_page)] or [[]]
        for n, page in enumerate(pages, 1):
            sheets.append({"scene": scene, "cards": page, "page": n, "pages": len(pages)})
    return render(request, "storyboard/print.html", {"ctx": ctx, "project": ctx.project, "sheets": sheets,
                  "per_page": per_page, "paper": paper, "filters": _filters(request)})  # fmt: skip


@router.post("/projects/{project_id}/scenes")
def create_scene(
    request: Request, db: DB, ctx: Edit,
    heading: Annotated[str, Form(max_length=1000)] = "",
    synopsis: Annotated[str, Form(max_length=20000)] = "",
    number: Annotated[str, Form(max_length=40)] = "",
):  # fmt: skip
    try:
        scene = service.create_scene(db, actor=ctx.user, project=ctx.project, heading=heading, synopsis=synopsis,
                                     number=number.strip() or None)  # fmt: skip
    except DomainError as exc:
        db.rollback()
        values = {"heading": heading, "synopsis": synopsis, "number": number}
        return render(request, "storyboard/board.html", _board_ctx(db, ctx, {"character_id": None,
                      "location_id": None, "status": None}, values=values, error=exc.detail, field=exc.field,
                      error_form="scene"), exc.status_code)  # fmt: skip
    return redirect(f"/projects/{ctx.project.id}/storyboard#scene-{scene.id}",
                    flash=f"Scene {scene.number} added.", request=request)  # fmt: skip


@router.post("/projects/{project_id}/scenes/renumber")
def renumber_scenes(request: Request, db: DB, ctx: Edit, shots: Annotated[str, Form(max_length=10)] = ""):
    scenes = service.renumber_scenes(db, actor=ctx.user, project=ctx.project, shots=bool(shots))
    return redirect(f"/projects/{ctx.project.id}/storyboard", request=request,
                    flash=f"Scenes renumbered 1 to {len(scenes)}" + (", shots recoded." if shots else "."))  # fmt: skip


@router.post("/projects/{project_id}/shots/status")
def bulk_status(
    request: Request, db: DB, ctx: Edit,
    shot_ids: Annotated[list[str], Form(max_length=5000)] = [],  # noqa: B006  (FastAPI copies defaults)
    status: Annotated[str, Form(max_length=20)] = "ready",
    back: Annotated[str, Form(max_length=500)] = "",
):  # fmt: skip
    changed, skipped = service.set_status(db, actor=ctx.user, project=ctx.project, shot_ids=shot_ids, status=status)
    text = f"{len(changed)} shot(s) marked {status}."
    if skipped:
        text += f" {len(skipped)} left as they are (their takes decide: {', '.join(s.code for s in skipped[:10])})."
    target = back if back.startswith(f"/projects/{ctx.project.id}/storyboard") else \
        f"/projects/{ctx.project.id}/storyboard"  # fmt: skip
    return redirect(target, flash=text, request=request)


# ---- scenes -----------------------------------------------------------------------------------


def _scene_ctx(db: Session, ctx: ProjectAccess, scene: Scene, **extra: Any) -> dict[str, Any]:
    """The scene page: its fields, its place in the storyboard, and its shots as the board's cards."""
    scenes = service.list_scenes(db, project=ctx.project)
    index = next(i for i, s in enumerate(scenes) if s.id == scene.id)
    edit = ctx.can(Action.story_edit)
    shots = service.shot_cards(db, project_id=ctx.project.id, scene_ids=[scene.id])
    cards = cards_for(shots, frames.shot_frames(db, shot_ids=[c.id for c in shots]))
    return {"ctx": ctx, "project": ctx.project, "scene": scene, "index": index, "scene_count": len(scenes),
            "edit": edit, "sortable": edit, "cards": cards,
            "values": {"heading": scene.heading, "synopsis": scene.synopsis, "number": scene.number},
            **extra}  # fmt: skip


@router.get("/scenes/{scene_id}")
def scene_page(request: Request, db: DB, ctx: SceneView):
    return render(request, "storyboard/scene.html", _scene_ctx(db, ctx, ctx.obj))


@router.post("/scenes/{scene_id}")
def save_scene(
    request: Request, db: DB, ctx: SceneEdit,
    heading: Annotated[str, Form(max_length=1000)] = "",
    synopsis: Annotated[str, Form(max_length=20000)] = "",
    number: Annotated[str, Form(max_length=40)] = "",
):  # fmt: skip
    scene: Scene = ctx.obj
    values = {"heading": heading, "synopsis": synopsis, "number": number}
    try:
        service.update_scene(db, actor=ctx.user, scene=scene, changes={k: v for k, v in values.items()
                                                                        if k != "number" or v.strip()})  # fmt: skip
    except DomainError as exc:
        db.rollback()
        scene = db.get(Scene, scene.id)
        return render(request, "storyboard/scene.html", _scene_ctx(db, ctx, scene, values=values, error=exc.detail,
                      field=exc.field), exc.status_code)  # fmt: skip
    return redirect(f"/projects/{scene.project_id}/storyboard#scene-{scene.id}", flash=f"Scene {scene.number} saved.",
                    request=request)  # fmt: skip


@router.post("/scenes/{scene_id}/delete")
def delete_scene(request: Request, db: DB, ctx: SceneEdit):
    scene: Scene = ctx.obj
    number, project_id = scene.number, scene.project_id
    service.delete_scene(db, actor=ctx.user, scene=scene)
    return redirect(f"/projects/{project_id}/storyboard", flash=f"Scene {number} deleted.", request=request)


@router.post("/scenes/{scene_id}/renumber")
def renumber_shots(request: Request, db: DB, ctx: SceneEdit):
    scene: Scene = ctx.obj
    service.renumber_shots(db, actor=ctx.user, scene=scene)
    return redirect(f"/projects/{scene.project_id}/storyboard#scene-{scene.id}",
                    flash=f"Shots of scene {scene.number} renumbered.", request=request)  # fmt: skip


@router.post("/scenes/{scene_id}/move")
def move_scene(request: Request, db: DB, ctx: SceneEdit, index: Annotated[int, Form(ge=0, le=100_000)]):
    scene: Scene = ctx.obj
    service.move_scene(db, actor=ctx.user, scene=scene, index=index)
    return redirect(f"/projects/{scene.project_id}/storyboard#scene-{scene.id}", request=request)


@router.post("/scenes/{scene_id}/shots")
def add_shot(
    request: Request, db: DB, ctx: SceneEdit,
    action: Annotated[str, Form(max_length=20000)] = "",
    framing: Annotated[str, Form(max_length=40)] = "",
    edit: Annotated[str, Form(max_length=10)] = "",
):  # fmt: skip
    scene: Scene = ctx.obj
    values: dict[str, Any] = {"action": action}
    if framing:
        values["camera"] = {"framing": framing}
    try:
        shot = service.create_shot(db, actor=ctx.user, scene=scene, values=values, needs_words=True)
    except DomainError as exc:
        db.rollback()
        scene = db.get(Scene, scene.id)
        ctx_board = _board_ctx(db, ctx, {"character_id": None, "location_id": None, "status": None},
                               values={"action": action, "framing": framing}, error=exc.detail, field=exc.field,
                               error_form=f"shot-{scene.id}")  # fmt: skip
        return render(request, "storyboard/board.html", ctx_board, exc.status_code)
    if edit:
        return redirect(f"/shots/{shot.id}", request=request)
    return redirect(f"/projects/{scene.project_id}/storyboard#shot-{shot.id}", flash=f"Shot {shot.code} added.",
                    request=request)  # fmt: skip


# ---- the shot editor --------------------------------------------------------------------------


def shot_changes(form: FormData) -> dict[str, Any]:
    """The shot editor's fields as service changes (every field: the form always sends them all)."""

    def get(key: str) -> str:
        value = form.get(key)
        return value if isinstance(value, str) else ""

    ids = [v for v in form.getlist("character_ids") if isinstance(v, str)]
    changes: dict[str, Any] = {k: get(k) for k in ("action", "dialogue", "prompt", "negative_prompt", "duration_s",
                                                   "fps", "width", "height", "model", "seed", "location_id",
                                                   "style_id")}  # fmt: skip
    if "model" in form:  # the shot page sets the model from its generate form ("Make it the shot's model")
        changes["model"] = changes["model"] or None
    else:
        del changes["model"]
    if "status" in form:
        changes["status"] = get("status")
    changes["camera"] = {k: get(f"camera_{k}") for k in ("move", "speed", "lens_mm", "framing", "angle")}
    changes["lighting"] = {k: get(f"light_{k}") for k in ("key", "time_of_day", "color", "mood")}
    changes["character_ids"] = ids
    changes["looks"] = {cid: get(f"look_{cid}") or None for cid in ids}
    return changes


def _form_values(shot: Shot) -> dict[str, Any]:
    """What the editor's fields show for a saved shot."""
    values: dict[str, Any] = {k: getattr(shot, k) for k in ("action", "dialogue", "prompt", "negative_prompt",
                                                            "duration_s", "fps", "width", "height", "model", "seed",
                                                            "location_id", "style_id", "status")}  # fmt: skip
    values = {k: ("" if v is None else v) for k, v in values.items()}
    values["duration_s"] = f"{shot.duration_s:g}"
    values["fps"] = f"{shot.fps:g}" if shot.fps else ""
    for k, v in (shot.camera or {}).items():
        values[f"camera_{k}"] = v
    for k, v in (shot.lighting or {}).items():
        values[f"light_{k}"] = v
    values["character_ids"] = [str(e.character_id) for e in shot.cast]
    for e in shot.cast:
        values[f"look_{e.character_id}"] = e.look_id or ""
    return values


def _posted_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    values["character_ids"] = [v for v in form.getlist("character_ids") if isinstance(v, str)]
    return values


def _editor_ctx(db: Session, ctx: ProjectAccess, shot: Shot, *, values: dict[str, Any] | None = None,
                detail: service.ShotDetail | None = None, selected: int | None = None,
                **extra: Any) -> dict[str, Any]:  # fmt: skip
    project: Project = ctx.project
    scene = db.get(Scene, shot.scene_id)
    characters = list(db.scalars(select(Character).where(Character.project_id == project.id)
                                 .order_by(Character.name_key)))  # fmt: skip
    chosen = [str(v) for v in (values if values is not None else _form_values(shot))["character_ids"]]
    characters.sort(key=lambda c: chosen.index(str(c.id)) if str(c.id) in chosen else len(chosen))  # cast first
    looks: dict[int, list[Look]] = {}
    for look in db.scalars(select(Look).where(Look.project_id == project.id).order_by(Look.position, Look.id)):
        looks.setdefault(look.character_id, []).append(look)
    locations = list(db.scalars(select(Location).where(Location.project_id == project.id).order_by(Location.name_key)))
    styles = list(db.scalars(select(StylePreset).where(StylePreset.project_id == project.id)
                             .order_by(StylePreset.name)))  # fmt: skip
    set_members = []
    if shot.coverage_group is not None:
        set_members = list(db.scalars(select(Shot).where(Shot.project_id == project.id,
                                                         Shot.coverage_group == shot.coverage_group)
                                      .order_by(Shot.scene_id, Shot.position)))  # fmt: skip
    return {
        **panel_context(db, ctx, shot, selected=selected),  # the takes panel is drawn with the page
        "ctx": ctx, "project": project, "shot": shot, "scene": scene, "edit": ctx.can(Action.story_edit),
        "values": values if values is not None else _form_values(shot),
        "detail": detail or service.shot_details(db, shots=[shot])[shot.id],
        "characters": characters, "looks": looks, "locations": locations, "styles": styles,
        "vocab": vocabulary(), "fps_choices": FPS_CHOICES,
        "user_statuses": service.USER_STATUSES, "status_labels": service.STATUS_LABELS,
        "framings": list(Framing), "angles": list(Angle), "default_coverage": [s["framing"] for s in
                                                                              service.DEFAULT_COVERAGE],
        "set_members": set_members, "all_scenes": service.list_scenes(db, project=project),
        "camera_notes": _camera_notes(shot.camera or {}),
        "lighting_text": Lighting.parse(shot.lighting or {}).phrase(), **extra,
    }  # fmt: skip


@router.get("/shots/{shot_id}")
def shot_page(request: Request, db: DB, ctx: ShotView, take: int | None = Query(default=None, ge=1, le=2**63 - 1)):
    """The shot around its picture: the player and the takes (`take` picks the one the player shows), the
    story, camera and light beside them."""
    shot = service.load_shot(db, project_id=ctx.project.id, shot_id=ctx.obj.id)
    return render(request, "storyboard/shot.html", _editor_ctx(db, ctx, shot, selected=take))


@router.post("/shots/{shot_id}")
def save_shot(request: Request, db: DB, ctx: ShotEdit, form: Posted):
    shot: Shot = ctx.obj
    try:
        service.update_shot(db, actor=ctx.user, shot=shot, changes=shot_changes(form))
    except DomainError as exc:
        db.rollback()
        shot = service.load_shot(db, project_id=ctx.project.id, shot_id=shot.id)
        return render(request, "storyboard/shot.html", _editor_ctx(db, ctx, shot, values=_posted_values(form),
                      error=exc.detail, field=exc.field), exc.status_code)  # fmt: skip
    return redirect(f"/shots/{shot.id}", flash=f"Shot {shot.code} saved.", request=request)


@router.post("/shots/{shot_id}/preview")
def preview(request: Request, db: DB, ctx: ShotEdit, form: Posted):
    """The compiled prompt for the editor's unsaved values (nothing is written)."""
    shot = service.load_shot(db, project_id=ctx.project.id, shot_id=ctx.obj.id)
    try:
        detail = service.preview(db, shot=shot, changes=shot_changes(form))
        error = None
    except Invalid as exc:
        detail, error = service.shot_details(db, shots=[shot])[shot.id], exc.detail
    db.rollback()  # a preview never writes
    return render(request, "storyboard/_compiled.html", {"detail": detail, "preview_error": error, "live": True})


@router.post("/shots/{shot_id}/delete")
def delete_shot(request: Request, db: DB, ctx: ShotEdit):
    shot: Shot = ctx.obj
    code, scene_id, project_id = shot.code, shot.scene_id, shot.project_id
    service.delete_shot(db, actor=ctx.user, shot=shot)
    return redirect(f"/projects/{project_id}/storyboard#scene-{scene_id}", flash=f"Shot {code} deleted.",
                    request=request)  # fmt: skip


@router.post("/shots/{shot_id}/duplicate")
def duplicate_shot(request: Request, db: DB, ctx: ShotEdit):
    copy = service.duplicate_shot(db, actor=ctx.user, shot=ctx.obj)
    return redirect(f"/shots/{copy.id}", flash=f"Duplicated as {copy.code}.", request=request)


@router.post("/shots/{shot_id}/coverage")
def coverage(
    request: Request, db: DB, ctx: ShotEdit,
    framings: Annotated[list[str], Form(max_length=20)] = [],  # noqa: B006
    angle: Annotated[str, Form(max_length=40)] = "",
):  # fmt: skip
    shot: Shot = ctx.obj
    setups = None
    if framings:
        setups = [{"framing": f, "angle": angle or None,
                   "label": "OTS reverse" if f == "OTS" else f} for f in framings]  # fmt: skip
    shots = service.create_coverage(db, actor=ctx.user, shot=shot, setups=setups)
    return redirect(f"/projects/{shot.project_id}/storyboard#shot-{shot.id}",
                    flash=f"Coverage of {shot.code}: {', '.join(f'{s.code} ({s.coverage_label})' for s in shots)}.",
                    request=request)  # fmt: skip


@router.post("/shots/{shot_id}/cast/refresh")
def refresh_cast(request: Request, db: DB, ctx: ShotEdit):
    shot: Shot = ctx.obj
    moved = service.refresh_cast(db, actor=ctx.user, shot=shot)
    text = f"Moved on: {', '.join(e.character.name for e in moved)}." if moved else "The cast is up to date."
    return redirect(f"/shots/{shot.id}", flash=text, request=request)


@router.post("/shots/{shot_id}/move")
def move_shot(
    request: Request, db: DB, ctx: ShotEdit,
    scene_id: Annotated[str, Form(max_length=20)],
    index: Annotated[str, Form(max_length=10)] = "",
    position: Annotated[str, Form(max_length=10)] = "",
):  # fmt: skip
    """Drag and drop (`index`, from 0) or the editor's move form (`position`, from 1): move the shot; htmx gets
    the refreshed shot lists of the scenes it left and entered."""
    shot: Shot = ctx.obj
    src = shot.scene_id
    if position.strip():
        if not position.strip().isdigit() or int(position) < 1:
            raise Invalid("the position is a number from 1", field="position")
        index = str(int(position) - 1)
    service.move_shot(db, actor=ctx.user, shot=shot, scene_id=scene_id, index=index)
    if not is_htmx(request):
        return redirect(f"/projects/{shot.project_id}/storyboard#shot-{shot.id}", request=request)
    scene_ids = [src] if src == shot.scene_id else [src, shot.scene_id]
    cards = service.shot_cards(db, project_id=shot.project_id, scene_ids=scene_ids)
    pictures = frames.shot_frames(db, shot_ids=[c.id for c in cards])
    lists = [(sid, cards_for([c for c in cards if c.scene_id == sid], pictures)) for sid in scene_ids]
    return render(request, "storyboard/_lists.html", {"lists": lists, "edit": True, "sortable": True,
                                                      "project": ctx.project})  # fmt: skip
