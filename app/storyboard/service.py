"""Scenes and shots: the storyboard's order, shot codes, coverage sets, bulk status and the compiled prompt.

Order: scenes and shots carry dense positions (0..n-1). Everything that changes the order of a
scene's shots (create, delete, move, duplicate, coverage) first locks the scene rows it touches
(`SELECT ... FOR UPDATE` on PostgreSQL, in id order so two movers never deadlock; SQLite
serialises writers anyway), then re-reads the shots and rewrites their positions, so concurrent
reorders never lose or duplicate a shot. Codes (12A, 12B ...) are given at creation and change
only when someone asks for a renumber.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from app.activity.service import record
from app.auth.models import User
from app.characters.models import Character, Look, ReferenceImage
from app.characters.versions import latest_locked, resolve_cast
from app.design.models import Location, StylePreset
from app.db import queue_after_commit, row_id
from app.errors import Conflict, Invalid, NotFound
from app.projects.models import Project
from app.projects.service import FPS_CHOICES, MAX_SIDE, MODEL_CHOICES
from app.storyboard.camera import FRAMING_LENS, Camera, Framing, Lighting
from app.storyboard.codes import next_code, shot_code
from app.storyboard.compiler import CastPart, Compiled, compile_prompt
from app.storyboard.models import Scene, Shot, ShotCharacter

STATUSES = ("draft", "ready", "generating", "in_review", "approved")
USER_STATUSES = ("draft", "ready")  # the others follow the shot's takes (generation and review)
STATUS_LABELS = {"draft": "draft", "ready": "ready", "generating": "generating", "in_review": "in review",
                 "approved": "approved"}  # fmt: skip
HEADING_MAX = 200
NUMBER_MAX = 12
SYNOPSIS_MAX = 5000
TEXT_MAX = 10_000
DURATION_MIN, DURATION_MAX = 0.5, 60.0
SEED_MAX = 2**32 - 1
CAST_MAX = 12
COVERAGE_MAX = 8
SHOT_FIELDS = frozenset({
    "action", "dialogue", "prompt", "negative_prompt", "character_ids", "looks", "location_id", "style_id",
    "camera", "lighting", "duration_s", "fps", "width", "height", "model", "seed", "status",
})  # fmt: skip
SCENE_FIELDS = frozenset({"heading", "synopsis", "number"})
DEFAULT_COVERAGE: tuple[dict[str, Any], ...] = (
    {"label": "WS", "framing": "WS"},
    {"label": "MS", "framing": "MS"},
    {"label": "CU", "framing": "CU"},
    {"label": "OTS reverse", "framing": "OTS"},
)
_NUMBER_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]*$")
# A shot's sketch (app/frames) is drawn again when one of these changes (or its cast). The task is sent by name:
# app.frames reads the storyboard, so the storyboard does not import it.
SKETCH_TASK, SKETCH_QUEUE = "slate.frames.draw_sketch", "media"
SKETCH_FIELDS = frozenset({"camera", "lighting", "location_id", "duration_s", "fps", "width", "height", "seed"})

log = logging.getLogger("slate.storyboard")


# ---- helpers ----------------------------------------------------------------------------------


def _text(values: dict[str, Any], key: str, limit: int, *, label: str, single_line: bool = False) -> str:
    raw = values.get(key)
    text = str(raw if raw is not None else "")
    text = " ".join(text.split()) if single_line else text.replace("\r\n", "\n").strip()
    if len(text) > limit:
        raise Invalid(f"the {label} is too long ({limit} characters at most)", field=key)
    return text


def _number(value: Any, kind: type, field: str, label: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise Invalid(f"{label} must be a number", field=field)
    try:
        out = kind(value)
    except (TypeError, ValueError):
        raise Invalid(f"{label} must be a number", field=field) from None
    if kind is float and out != out:  # NaN
        raise Invalid(f"{label} must be a number", field=field)
    if kind is int and isinstance(value, float) and value != int(value):
        raise Invalid(f"{label} must be a whole number", field=field)
    return out


def _id(value: Any, field: str, label: str) -> int | None:
    if value is None or value == "":
        return None
    ident = row_id(value)
    if ident is None:
        raise Invalid(f"unknown {label}", field=field)
    return ident


def _sqlite_write_lock(db: Session, where: Any) -> None:
    """SQLite has no row locks: a no-op write takes the database's write lock before anything is read."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(update(Scene.__table__).where(where).values(position=Scene.__table__.c.position))


def _lock_scenes(db: Session, scene_ids: Iterable[int]) -> dict[int, Scene]:
    """Lock these scene rows (id order: no deadlocks) and return them, freshly read."""
    ids = sorted(set(scene_ids))
    _sqlite_write_lock(db, Scene.id.in_(ids))
    rows = db.scalars(
        select(Scene).where(Scene.id.in_(ids)).order_by(Scene.id).with_for_update()
        .execution_options(populate_existing=True)
    )  # fmt: skip
    return {s.id: s for s in rows}


def _shots_in(db: Session, scene_id: int) -> list[Shot]:
    """A scene's shots in order, re-read from the database (call with the scene locked)."""
    return list(
        db.scalars(
            select(Shot).where(Shot.scene_id == scene_id).order_by(Shot.position, Shot.id)
            .execution_options(populate_existing=True)
        )
    )  # fmt: skip


def _write_positions(shots: list[Shot], scene_id: int) -> None:
    for i, shot in enumerate(shots):
        if shot.position != i:
            shot.position = i
        if shot.scene_id != scene_id:
            shot.scene_id = scene_id


def _clamp(index: Any, size: int) -> int:
    if index is None:
        return size
    i = _number(index, int, "index", "the position")
    return size if i is None else max(0, min(int(i), size))


def _project_codes(db: Session, *, project_id: int, prefix: str) -> list[str]:
    return list(db.scalars(select(Shot.code).where(Shot.project_id == project_id, Shot.code.startswith(prefix))))


def _new_code(db: Session, *, scene: Scene) -> str:
    """The next free code of the scene's number across the project (shots moved elsewhere keep theirs)."""
    return next_code(scene.number, _project_codes(db, project_id=scene.project_id, prefix=scene.number))


def _sketch_after_commit(db: Session, shots: Iterable[Shot]) -> None:
    """Have these shots' sketches drawn (on the media queue, after the commit); an up-to-date one is left alone."""
    ids = [s.id for s in shots]

    def _send() -> None:
        import kombu.exceptions
        import redis

        from workers.celery_app import celery

        for shot_id in ids:
            try:
                celery.send_task(SKETCH_TASK, args=[shot_id], queue=SKETCH_QUEUE)
            except (kombu.exceptions.OperationalError, redis.RedisError, OSError) as exc:
                # the next board that shows the shot queues it again; its frame link draws it meanwhile
                log.warning("sketch of shot %s not queued: %s", shot_id, exc)
                return

    if ids:
        queue_after_commit(db, _send)


def _forget_shots(db: Session, *scenes: Scene) -> None:
    for scene in scenes:
        db.expire(scene, ["shots"])


# ---- scenes -----------------------------------------------------------------------------------


def list_scenes(db: Session, *, project: Project) -> list[Scene]:
    """The project's scenes in order."""
    return list(db.scalars(select(Scene).where(Scene.project_id == project.id).order_by(Scene.position, Scene.id)))


def get_scene(db: Session, *, project_id: int, scene_id: int) -> Scene:
    scene = db.get(Scene, scene_id)
    if scene is None or scene.project_id != project_id:
        raise NotFound("no such scene")
    return scene


def next_scene_number(db: Session, *, project_id: int) -> str:
    """One more than the highest leading number of the project's scenes ("1" for the first)."""
    highest = 0
    for number in db.scalars(select(Scene.number).where(Scene.project_id == project_id)):
        m = re.match(r"\d+", number or "")
        if m:
            highest = max(highest, int(m.group()))
    return str(highest + 1)


def _clean_scene(db: Session, *, project_id: int, values: dict[str, Any], scene: Scene | None = None) -> dict:
    unknown = set(values) - SCENE_FIELDS
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if "heading" in values:
        heading = _text(values, "heading", 10_000, label="heading", single_line=True)
        if not heading:
            raise Invalid("the scene needs a heading, like INT. KITCHEN - NIGHT", field="heading")
        if len(heading) > HEADING_MAX:
            raise Invalid(f"the heading is too long ({HEADING_MAX} characters at most)", field="heading")
        out["heading"] = heading
    if "synopsis" in values:
        out["synopsis"] = _text(values, "synopsis", SYNOPSIS_MAX, label="synopsis")
    if "number" in values and values["number"] not in (None, ""):
        number = "".join(str(values["number"]).split()).upper()
        if len(number) > NUMBER_MAX:
            raise Invalid(f"the scene number is too long ({NUMBER_MAX} characters at most)", field="number")
        if not _NUMBER_RE.match(number):
            raise Invalid("a scene number is digits and letters, like 12 or 12A", field="number")
        clash = db.scalar(
            select(Scene.id).where(Scene.project_id == project_id, Scene.number == number,
                                   Scene.id != (scene.id if scene else -1))  # fmt: skip
        )
        if clash is not None:
            raise Conflict(f"scene {number} already exists", field="number")
        out["number"] = number
    return out


def create_scene(
    db: Session, *, actor: User | None, project: Project, heading: str, synopsis: str = "", number: str | None = None,
    source_key: str | None = None,
) -> Scene:  # fmt: skip
    """Add a scene at the end (number: the next integer unless given)."""
    values = _clean_scene(db, project_id=project.id, values={"heading": heading, "synopsis": synopsis,
                                                             "number": number})  # fmt: skip
    position = db.scalar(select(func.coalesce(func.max(Scene.position) + 1, 0)).where(Scene.project_id == project.id))
    scene = Scene(project_id=project.id, number=values.get("number") or next_scene_number(db, project_id=project.id),
                  heading=values["heading"], synopsis=values["synopsis"], position=position or 0,
                  source_key=source_key)  # fmt: skip
    db.add(scene)
    db.flush()
    record(db, project_id=project.id, actor=actor, verb="scene.created", object_type="scene", object_id=scene.id,
           summary=f"added scene {scene.number}: {scene.heading}")  # fmt: skip
    return scene


def update_scene(db: Session, *, actor: User | None, scene: Scene, changes: dict[str, Any]) -> Scene:
    """Change a scene's heading, synopsis or number (its shots keep their codes)."""
    values = _clean_scene(db, project_id=scene.project_id, values=changes, scene=scene)
    diff = {k: v for k, v in values.items() if getattr(scene, k) != v}
    for key, value in diff.items():
        setattr(scene, key, value)
    if diff:
        db.flush()
        record(db, project_id=scene.project_id, actor=actor, verb="scene.updated", object_type="scene",
               object_id=scene.id, summary=f"changed the {', '.join(diff)} of scene {scene.number}",
               data={k: v for k, v in diff.items() if k != "synopsis"})  # fmt: skip
    return scene


def delete_scene(db: Session, *, actor: User | None, scene: Scene) -> None:
    """Delete a scene with its shots; the scenes after it move up."""
    project_id, number, heading = scene.project_id, scene.number, scene.heading
    scenes = sorted(_lock_project_scenes(db, project_id=project_id), key=lambda s: (s.position, s.id))
    count = db.scalar(select(func.count()).select_from(Shot).where(Shot.scene_id == scene.id)) or 0
    db.delete(scene)
    db.flush()
    for i, s in enumerate(x for x in scenes if x.id != scene.id):
        s.position = i
    db.flush()
    record(db, project_id=project_id, actor=actor, verb="scene.deleted", object_type="scene", object_id=scene.id,
           summary=f"deleted scene {number}: {heading}" + (f" and its {count} shot(s)" if count else ""))  # fmt: skip


def _lock_project_scenes(db: Session, *, project_id: int) -> list[Scene]:
    _sqlite_write_lock(db, Scene.project_id == project_id)
    return list(
        db.scalars(
            select(Scene).where(Scene.project_id == project_id).order_by(Scene.id).with_for_update()
            .execution_options(populate_existing=True)
        )
    )  # fmt: skip


def move_scene(db: Session, *, actor: User | None, scene: Scene, index: Any) -> Scene:
    """Put a scene at `index` in the project's order (numbers do not change)."""
    scenes = sorted(_lock_project_scenes(db, project_id=scene.project_id), key=lambda s: (s.position, s.id))
    others = [s for s in scenes if s.id != scene.id]
    target = _clamp(index, len(others))
    old = next(i for i, s in enumerate(scenes) if s.id == scene.id)
    others.insert(target, scene)
    for i, s in enumerate(others):
        if s.position != i:
            s.position = i
    db.flush()
    if old != target:
        record(db, project_id=scene.project_id, actor=actor, verb="scene.moved", object_type="scene",
               object_id=scene.id, summary=f"moved scene {scene.number} to position {target + 1}",
               data={"from": old, "to": target})  # fmt: skip
    return scene


def renumber_scenes(db: Session, *, actor: User | None, project: Project, shots: bool = False) -> list[Scene]:
    """Number the scenes 1..n in their order (and, if asked, recode each scene's shots)."""
    scenes = sorted(_lock_project_scenes(db, project_id=project.id), key=lambda s: (s.position, s.id))
    for i, scene in enumerate(scenes):
        scene.number = str(i + 1)
        scene.position = i
    db.flush()
    if shots:
        for scene in scenes:
            _recode(db, scene=scene)
    record(db, project_id=project.id, actor=actor, verb="scenes.renumbered", object_type="project",
           object_id=project.id, summary=f"renumbered the scenes 1 to {len(scenes)}" + (" and their shots" if shots
           else ""))  # fmt: skip
    return scenes


def _recode(db: Session, *, scene: Scene) -> list[Shot]:
    shots = _shots_in(db, scene.id)
    for i, shot in enumerate(shots):
        shot.code = shot_code(scene.number, i)
        shot.position = i
    db.flush()
    return shots


def renumber_shots(db: Session, *, actor: User | None, scene: Scene) -> list[Shot]:
    """Recode a scene's shots by their order: 12A, 12B, 12C ..."""
    _lock_scenes(db, [scene.id])
    shots = _recode(db, scene=scene)
    _forget_shots(db, scene)
    record(db, project_id=scene.project_id, actor=actor, verb="shots.renumbered", object_type="scene",
           object_id=scene.id, summary=f"renumbered the shots of scene {scene.number}")  # fmt: skip
    return shots


# ---- shot fields ------------------------------------------------------------------------------


@dataclass
class CleanShot:
    """Validated shot fields, with the rows they name (cast, location, style) already looked up."""

    values: dict[str, Any] = field(default_factory=dict)
    cast: list[tuple[Character, Look | None]] | None = None  # None: the cast is not being changed
    location: Location | None = None
    style: StylePreset | None = None


def _clean_shot(db: Session, *, project: Project, values: dict[str, Any], shot: Shot | None = None) -> CleanShot:
    unknown = set(values) - SHOT_FIELDS
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(sorted(unknown))}")
    out = CleanShot()
    v = out.values
    for key, label in (("action", "action"), ("dialogue", "dialogue"), ("prompt", "prompt"),
                       ("negative_prompt", "negative prompt")):  # fmt: skip
        if key in values:
            v[key] = _text(values, key, TEXT_MAX, label=label)
    if "duration_s" in values:
        d = _number(values["duration_s"], float, "duration_s", "duration")
        if d is None or not DURATION_MIN <= d <= DURATION_MAX:
            raise Invalid(f"duration must be between {DURATION_MIN:g} and {DURATION_MAX:g} seconds", field="duration_s")
        v["duration_s"] = round(d, 3)
    if "fps" in values:
        fps = _number(values["fps"], float, "fps", "frame rate")
        if fps is not None and not any(abs(fps - c) < 0.001 for c in FPS_CHOICES):
            raise Invalid(f"frame rate must be one of {', '.join(f'{c:g}' for c in FPS_CHOICES)}", field="fps")
        v["fps"] = fps
    for side in ("width", "height"):
        if side in values:
            px = _number(values[side], int, side, side)
            if px is not None and (not 64 <= px <= MAX_SIDE or px % 2):
                raise Invalid(f"{side} must be an even number of pixels between 64 and {MAX_SIDE}", field=side)
            v[side] = px
    if "model" in values:
        model = values["model"] or None
        if model is not None and model not in MODEL_CHOICES:
            raise Invalid(f"unknown model {model!r}; choose one of {', '.join(MODEL_CHOICES)}", field="model")
        v["model"] = model
    if "seed" in values:
        seed = _number(values["seed"], int, "seed", "seed")
        if seed is not None and not 0 <= seed <= SEED_MAX:
            raise Invalid(f"the seed must be between 0 and {SEED_MAX}", field="seed")
        v["seed"] = seed
    if "status" in values:
        status = str(values["status"] or "")
        current = shot.status if shot is not None else "draft"
        if status != current:
            if status not in STATUSES:
                raise Invalid(f"unknown status {status!r}; use draft or ready", field="status")
            if status not in USER_STATUSES:
                raise Invalid("only draft and ready can be set here; the other states follow the takes",
                              field="status")  # fmt: skip
            if current not in USER_STATUSES:
                raise Conflict(f"the shot is {STATUS_LABELS[current]}; its status follows its takes now",
                               field="status")  # fmt: skip
        v["status"] = status
    if "camera" in values:
        raw = values["camera"]
        if raw is not None and not isinstance(raw, dict):
            raise Invalid("camera must be an object with move, speed, lens_mm, framing and angle", field="camera")
        v["camera"] = Camera.parse(raw).to_dict()
    if "lighting" in values:
        raw = values["lighting"]
        if raw is not None and not isinstance(raw, dict):
            raise Invalid("lighting must be an object with key, time_of_day, color and mood", field="lighting")
        v["lighting"] = Lighting.parse(raw).to_dict()
    if "location_id" in values:
        loc_id = _id(values["location_id"], "location_id", "location")
        if loc_id is not None:
            out.location = db.get(Location, loc_id)
            if out.location is None or out.location.project_id != project.id:
                raise Invalid("unknown location", field="location_id")
        v["location_id"] = loc_id
    if "style_id" in values:
        style_id = _id(values["style_id"], "style_id", "style")
        if style_id is not None:
            out.style = db.get(StylePreset, style_id)
            if out.style is None or out.style.project_id != project.id:
                raise Invalid("unknown style", field="style_id")
        v["style_id"] = style_id
    if "character_ids" in values or "looks" in values:
        out.cast = _clean_cast(db, project=project, values=values, shot=shot)
    return out


def _clean_cast(db: Session, *, project: Project, values: dict[str, Any], shot: Shot | None
                ) -> list[tuple[Character, Look | None]]:  # fmt: skip
    existing = {e.character_id: e.look_id for e in shot.cast} if shot is not None else {}
    raw_ids = values.get("character_ids")
    if raw_ids is None:
        raw_ids = list(existing)
    if not isinstance(raw_ids, (list, tuple)):
        raise Invalid("character_ids must be a list of character ids", field="character_ids")
    raw_looks = values.get("looks") or {}
    if not isinstance(raw_looks, dict):
        raise Invalid("looks must map character ids to look ids", field="looks")
    ids: list[int] = []
    for raw in raw_ids:
        cid = _id(raw, "character_ids", "character")
        if cid is not None and cid not in ids:
            ids.append(cid)
    looks: dict[int, int | None] = {}
    for raw_cid, raw_lid in raw_looks.items():
        cid = _id(raw_cid, "looks", "character")
        if cid is None:
            continue
        looks[cid] = _id(raw_lid, "looks", "look")
        if cid not in ids:
            ids.append(cid)
    if len(ids) > CAST_MAX:
        raise Invalid(f"a shot holds at most {CAST_MAX} characters", field="character_ids")
    characters = {c.id: c for c in db.scalars(
        select(Character).where(Character.id.in_(ids), Character.project_id == project.id))} if ids else {}  # fmt: skip
    for cid in ids:
        if cid not in characters:
            raise Invalid("unknown character", field="character_ids")
    wanted = {cid: looks[cid] if cid in looks else existing.get(cid) for cid in ids}
    look_ids = [lid for lid in wanted.values() if lid is not None]
    found = {lk.id: lk for lk in db.scalars(
        select(Look).where(Look.id.in_(look_ids), Look.project_id == project.id))} if look_ids else {}  # fmt: skip
    cast: list[tuple[Character, Look | None]] = []
    for cid in ids:
        lid = wanted[cid]
        look = found.get(lid) if lid is not None else None
        if lid is not None and (look is None or look.character_id != cid):
            raise Invalid(f"unknown look for {characters[cid].name}", field="looks")
        cast.append((characters[cid], look))
    return cast


def _set_cast(shot: Shot, cast: list[tuple[Character, Look | None]]) -> bool:
    """Replace the shot's cast. Characters that stay keep their pinned version (and their look's, if the look
    stays); a new character or a new look is pinned to its current version."""
    before = {e.character_id: e for e in shot.cast}
    entries: list[ShotCharacter] = []
    changed = False
    for i, (character, look) in enumerate(cast):
        look_id = look.id if look else None
        entry = before.get(character.id)
        if entry is None:
            entry = ShotCharacter(character_id=character.id, character_version=character.version, look_id=look_id,
                                  look_version=look.version if look else None, position=i, character=character,
                                  look=look)  # fmt: skip
            changed = True
        elif entry.look_id != look_id:
            entry.look, entry.look_id, entry.look_version = look, look_id, look.version if look else None
            changed = True
        if entry.position != i:
            entry.position = i
            changed = True
        entries.append(entry)
    if changed or len(entries) != len(before):
        shot.cast = entries
        return True
    return False


def default_style(db: Session, *, project_id: int) -> StylePreset | None:
    """The project's default style preset, if it has one."""
    return db.scalar(
        select(StylePreset).where(StylePreset.project_id == project_id, StylePreset.is_default.is_(True))
        .order_by(StylePreset.id).limit(1)
    )  # fmt: skip


# ---- shots ------------------------------------------------------------------------------------


def get_shot(db: Session, *, project_id: int, shot_id: int) -> Shot:
    shot = db.get(Shot, shot_id)
    if shot is None or shot.project_id != project_id:
        raise NotFound("no such shot")
    return shot


def create_shot(
    db: Session, *, actor: User | None, scene: Scene, values: dict[str, Any], index: Any = None,
    source_key: str | None = None, needs_words: bool = False,
) -> Shot:  # fmt: skip
    """Add a shot to a scene (at the end, or at `index`) with the next code; style defaults to the project's.

    With `needs_words` (a person adding a shot by hand) a shot that says nothing, no action line and no prompt
    (blank counts as nothing), is refused: an empty shot is useless on a board. Scripts may still create one
    and fill it in later (the API's documented body allows it)."""
    project = db.get(Project, scene.project_id)
    if needs_words and not any(str(values.get(k) or "").strip() for k in ("action", "prompt")):
        raise Invalid("say what happens in the shot, in a line", field="action")
    clean = _clean_shot(db, project=project, values=values)
    v = clean.values
    if "style_id" not in values:
        style = default_style(db, project_id=project.id)
        v["style_id"] = style.id if style else None
    if v.get("status", "draft") not in USER_STATUSES:
        raise Invalid("a new shot starts as draft or ready", field="status")
    _lock_scenes(db, [scene.id])
    shots = _shots_in(db, scene.id)
    target = _clamp(index, len(shots))
    shot = Shot(project_id=project.id, scene_id=scene.id, code=_new_code(db, scene=scene), position=target,
                source_key=source_key, **v)  # fmt: skip
    db.add(shot)
    if clean.cast:
        _set_cast(shot, clean.cast)
    shots.insert(target, shot)
    _write_positions(shots, scene.id)
    db.flush()
    _forget_shots(db, scene)
    record(db, project_id=project.id, actor=actor, verb="shot.created", object_type="shot", object_id=shot.id,
           summary=f"added shot {shot.code} to scene {scene.number}")  # fmt: skip
    _sketch_after_commit(db, [shot])
    return shot


def update_shot(db: Session, *, actor: User | None, shot: Shot, changes: dict[str, Any]) -> Shot:
    """Change a shot's fields, cast, camera or lighting (cast members that stay keep their pinned versions)."""
    project = db.get(Project, shot.project_id)
    clean = _clean_shot(db, project=project, values=changes, shot=shot)
    diff = {k: val for k, val in clean.values.items() if getattr(shot, k) != val}
    for key, value in diff.items():
        setattr(shot, key, value)
    cast_changed = clean.cast is not None and _set_cast(shot, clean.cast)
    if diff or cast_changed:
        db.flush()
        what = [k.replace("_", " ") for k in diff] + (["cast"] if cast_changed else [])
        record(db, project_id=shot.project_id, actor=actor, verb="shot.updated", object_type="shot",
               object_id=shot.id, summary=f"changed the {', '.join(what)} of shot {shot.code}",
               data={"fields": sorted(diff) + (["cast"] if cast_changed else [])})  # fmt: skip
    if cast_changed or SKETCH_FIELDS & set(diff):
        _sketch_after_commit(db, [shot])
    return shot


def delete_shot(db: Session, *, actor: User | None, shot: Shot) -> None:
    """Delete a shot; the shots after it move up."""
    scene_id, code, project_id, shot_id = shot.scene_id, shot.code, shot.project_id, shot.id
    scenes = _lock_scenes(db, [scene_id])
    db.delete(shot)
    db.flush()
    _write_positions(_shots_in(db, scene_id), scene_id)
    db.flush()
    _forget_shots(db, *scenes.values())
    record(db, project_id=project_id, actor=actor, verb="shot.deleted", object_type="shot", object_id=shot_id,
           summary=f"deleted shot {code}")  # fmt: skip


def move_shot(db: Session, *, actor: User | None, shot: Shot, scene_id: Any, index: Any) -> Shot:
    """Move a shot to `index` in a scene of the same project; both scenes get dense positions; the code stays."""
    dst_id = _id(scene_id, "scene_id", "scene")
    if dst_id is None:
        raise Invalid("say which scene the shot goes to", field="scene_id")
    dst = db.get(Scene, dst_id)
    if dst is None or dst.project_id != shot.project_id:
        raise Invalid("unknown scene", field="scene_id")
    if index is None or index == "":
        raise Invalid("say where in the scene the shot goes", field="index")
    locked: dict[int, Scene] = {}
    while True:
        # Lock the destination and the scene the shot is in now; if another move took the shot
        # elsewhere meanwhile, lock that scene too and look again.
        current = db.scalar(select(Shot.scene_id).where(Shot.id == shot.id).execution_options(populate_existing=True))
        if current is None:
            raise NotFound("no such shot")
        if current in locked and dst_id in locked:
            break
        locked.update(_lock_scenes(db, {current, dst_id} | set(locked)))
    src_id = current
    db.refresh(shot)
    old_position = shot.position
    src = [s for s in _shots_in(db, src_id) if s.id != shot.id]
    if src_id == dst_id:
        dst_list = src
    else:
        dst_list = [s for s in _shots_in(db, dst_id) if s.id != shot.id]
        _write_positions(src, src_id)
    target = _clamp(index, len(dst_list))
    dst_list.insert(target, shot)
    _write_positions(dst_list, dst_id)
    db.flush()
    _forget_shots(db, *locked.values())
    if src_id != dst_id or old_position != target:
        record(db, project_id=shot.project_id, actor=actor, verb="shot.moved", object_type="shot", object_id=shot.id,
               summary=f"moved shot {shot.code} to position {target + 1} of scene {locked[dst_id].number}",
               data={"from_scene": src_id, "to_scene": dst_id, "from": old_position, "to": target})  # fmt: skip
    return shot


def _copy(shot: Shot, **overrides: Any) -> Shot:
    fields = ("project_id", "scene_id", "action", "dialogue", "prompt", "negative_prompt", "location_id", "style_id",
              "camera", "lighting", "duration_s", "fps", "width", "height", "model", "seed")  # fmt: skip
    new = Shot(**{f: getattr(shot, f) for f in fields})
    new.camera = dict(shot.camera or {})
    new.lighting = dict(shot.lighting or {})
    new.status = "draft"
    for key, value in overrides.items():
        setattr(new, key, value)
    new.cast = [ShotCharacter(character_id=e.character_id, character_version=e.character_version, look_id=e.look_id,
                              look_version=e.look_version, position=e.position) for e in shot.cast]  # fmt: skip
    return new


def _insert_after(db: Session, *, source: Shot, new: list[Shot]) -> Scene:
    scene = _lock_scenes(db, [source.scene_id])[source.scene_id]
    shots = _shots_in(db, scene.id)
    at = next((i for i, s in enumerate(shots) if s.id == source.id), len(shots) - 1) + 1
    used = _project_codes(db, project_id=scene.project_id, prefix=scene.number)
    for offset, shot in enumerate(new):
        shot.code = next_code(scene.number, used)
        used.append(shot.code)
        shot.scene_id = scene.id
        db.add(shot)
        shots.insert(at + offset, shot)
    _write_positions(shots, scene.id)
    db.flush()
    _forget_shots(db, scene)
    return scene


def duplicate_shot(db: Session, *, actor: User | None, shot: Shot) -> Shot:
    """A copy of the shot right after it (same cast pins, new code, draft)."""
    copy = _copy(shot)
    _insert_after(db, source=shot, new=[copy])
    record(db, project_id=shot.project_id, actor=actor, verb="shot.duplicated", object_type="shot",
           object_id=copy.id, summary=f"duplicated shot {shot.code} as {copy.code}",
           data={"source": shot.id})  # fmt: skip
    _sketch_after_commit(db, [copy])
    return copy


def _setups(setups: list[dict[str, Any]] | None) -> list[tuple[str, dict[str, Any]]]:
    items = list(setups) if setups else [dict(s) for s in DEFAULT_COVERAGE]
    if len(items) > COVERAGE_MAX:
        raise Invalid(f"a coverage set adds at most {COVERAGE_MAX} shots at once", field="setups")
    out = []
    for raw in items:
        if not isinstance(raw, dict):
            raise Invalid("each setup is an object with a framing (and optionally angle, lens_mm, move, label)",
                          field="setups")  # fmt: skip
        setup = {k: v for k, v in raw.items() if v not in (None, "")}
        label = " ".join(str(setup.pop("label", "")).split())
        if len(label) > 40:
            raise Invalid("a coverage label is 40 characters at most", field="setups.label")
        if "framing" not in setup:
            raise Invalid("each setup needs a framing", field="setups.framing")
        Camera.parse(setup)  # names the wrong field (camera.framing, camera.angle ...)
        out.append((label or str(setup["framing"]), setup))
    return out


def create_coverage(db: Session, *, actor: User | None, shot: Shot, setups: list[dict[str, Any]] | None = None
                    ) -> list[Shot]:  # fmt: skip
    """Cover a shot from other angles: new shots right after it, sharing everything but the camera.

    They share action, dialogue, cast pins, location, style, lighting and seed (a seed is drawn
    now when the source has none) and a `coverage_group` (the source shot's id, also set on the source).
    """
    plan = _setups(setups)
    group = shot.coverage_group or shot.id
    if shot.seed is None:
        shot.seed = random.randint(0, SEED_MAX)
    if shot.coverage_group is None:
        shot.coverage_group = group
    if not shot.coverage_label:
        shot.coverage_label = (shot.camera or {}).get("framing") or "master"
    new: list[Shot] = []
    for label, setup in plan:
        camera = {**(shot.camera or {}), **setup}
        if "lens_mm" not in setup:
            camera["lens_mm"] = FRAMING_LENS[Framing(setup["framing"])]
        new.append(_copy(shot, camera=Camera.parse(camera).to_dict(), coverage_group=group, coverage_label=label))
    _insert_after(db, source=shot, new=new)
    record(db, project_id=shot.project_id, actor=actor, verb="shot.coverage", object_type="shot", object_id=shot.id,
           summary=f"covered shot {shot.code} with {', '.join(f'{s.code} ({s.coverage_label})' for s in new)}",
           data={"shots": [s.id for s in new]})  # fmt: skip
    _sketch_after_commit(db, [shot, *new])  # the source too: it may have been given its seed just now
    return new


def set_status(db: Session, *, actor: User | None, project: Project, shot_ids: list[Any], status: str
               ) -> tuple[list[Shot], list[Shot]]:  # fmt: skip
    """Mark many shots draft or ready; shots already generating or reviewed are left alone. -> (changed, skipped)"""
    if status not in USER_STATUSES:
        raise Invalid("only draft and ready can be set here", field="status")
    ids = []
    for raw in shot_ids or []:
        sid = _id(raw, "shot_ids", "shot")
        if sid is not None and sid not in ids:
            ids.append(sid)
    if not ids:
        raise Invalid("pick at least one shot", field="shot_ids")
    shots = list(db.scalars(select(Shot).where(Shot.id.in_(ids), Shot.project_id == project.id).order_by(Shot.id)))
    if len(shots) != len(ids):
        raise Invalid("unknown shot", field="shot_ids")
    changed = [s for s in shots if s.status in USER_STATUSES and s.status != status]
    skipped = [s for s in shots if s.status not in USER_STATUSES]
    for s in changed:
        s.status = status
    db.flush()
    if changed:
        record(db, project_id=project.id, actor=actor, verb="shots.status", object_type="project",
               object_id=project.id, summary=f"marked {len(changed)} shot(s) {status}: "
               + ", ".join(s.code for s in changed[:20]) + ("…" if len(changed) > 20 else ""),
               data={"status": status, "shots": [s.id for s in changed]})  # fmt: skip
    return changed, skipped


def refresh_cast(db: Session, *, actor: User | None, shot: Shot) -> list[ShotCharacter]:
    """Move the shot's cast on to each character's (and look's) latest locked version, or the current draft."""
    latest = latest_locked(db, character_ids=[e.character_id for e in shot.cast])
    moved = []
    for e in shot.cast:
        want = latest.get((e.character_id, None)) or e.character.version
        look_want = (latest.get((e.character_id, e.look_id)) or e.look.version) if e.look is not None else None
        if (want, look_want) != (e.character_version, e.look_version):
            e.character_version, e.look_version = want, look_want
            moved.append(e)
    if moved:
        db.flush()
        record(db, project_id=shot.project_id, actor=actor, verb="shot.cast_updated", object_type="shot",
               object_id=shot.id, summary=f"moved shot {shot.code} on to the latest versions of "
               + ", ".join(e.character.name for e in moved))  # fmt: skip
    return moved


# ---- reading: eager loading, compiled prompts, cast warnings -------------------------------------


def shot_options() -> tuple:
    """Loader options: a shot with its cast (characters, looks, their references), location and style.

    Collections are joined in the shots query and references come with one `IN` query per kind,
    so loading any number of shots costs the same number of statements.
    """
    return (
        joinedload(Shot.cast).options(
            joinedload(ShotCharacter.character).options(selectinload(Character.references),
                                                        joinedload(Character.lora_asset)),
            joinedload(ShotCharacter.look).selectinload(Look.references),
        ),  # fmt: skip
        joinedload(Shot.location).selectinload(Location.references),
        joinedload(Shot.style),
    )


def load_shots(db: Session, *, project_id: int, scene_id: int | None = None, scene_ids: list[int] | None = None,
               shot_ids: list[int] | None = None,
               character_id: int | None = None, location_id: int | None = None, status: str | None = None
               ) -> list[Shot]:  # fmt: skip
    """Shots with everything cards and the compiler read, in storyboard order (scene, then position)."""
    stmt = (
        select(Shot).join(Scene, Scene.id == Shot.scene_id).where(Shot.project_id == project_id)
        .options(*shot_options()).order_by(Scene.position, Scene.id, Shot.position, Shot.id)
    )  # fmt: skip
    if scene_id is not None:
        stmt = stmt.where(Shot.scene_id == scene_id)
    if scene_ids is not None:
        stmt = stmt.where(Shot.scene_id.in_(scene_ids))
    if shot_ids is not None:
        stmt = stmt.where(Shot.id.in_(shot_ids))
    if character_id is not None:
        stmt = stmt.where(Shot.cast.any(ShotCharacter.character_id == character_id))
    if location_id is not None:
        stmt = stmt.where(Shot.location_id == location_id)
    if status:
        stmt = stmt.where(Shot.status == status)
    return list(db.scalars(stmt).unique())


def load_shot(db: Session, *, project_id: int, shot_id: int) -> Shot:
    shots = load_shots(db, project_id=project_id, shot_ids=[shot_id])
    if not shots:
        raise NotFound("no such shot")
    return shots[0]


def thumbnail(shot: Shot) -> int | None:
    """The card's picture (asset id): first reference of the first character's look, else of the character,
    else of the location."""
    if shot.cast:
        first = shot.cast[0]
        if first.look is not None and first.look.references:
            return first.look.references[0].asset_id
        if first.character.references:
            return first.character.references[0].asset_id
    if shot.location is not None and shot.location.references:
        return shot.location.references[0].asset_id
    return None


@dataclass(frozen=True)
class CastStatus:
    """A cast member of a shot, with how its pinned versions compare to the locked ones."""

    character_id: int
    name: str
    look_id: int | None
    look_name: str
    character_version: int
    look_version: int | None
    locked: bool  # the pinned versions are locked snapshots (generation can use them)
    latest_locked: int | None
    latest_look_locked: int | None

    @property
    def outdated(self) -> bool:
        """A newer locked version exists than the one the shot is pinned to."""
        newer = (self.latest_locked or 0) > self.character_version
        if self.look_id is not None and self.look_version is not None:
            newer = newer or (self.latest_look_locked or 0) > self.look_version
        return newer

    def to_dict(self) -> dict[str, Any]:
        return {"character_id": self.character_id, "name": self.name, "look_id": self.look_id,
                "look_name": self.look_name, "character_version": self.character_version,
                "look_version": self.look_version, "locked": self.locked, "latest_locked_version": self.latest_locked,
                "latest_locked_look_version": self.latest_look_locked, "outdated": self.outdated}  # fmt: skip


@dataclass(frozen=True)
class ShotDetail:
    compiled: Compiled
    cast: list[CastStatus]

    @property
    def warnings(self) -> list[str]:
        out = []
        for c in self.cast:
            who = c.name + (f" ({c.look_name})" if c.look_name else "")
            if not c.locked:
                out.append(f"{who}: version {c.character_version} is not locked yet; generation needs a locked version")
            if c.outdated:
                out.append(f"{who}: a newer locked version exists (the shot uses version {c.character_version}"
                           + (f", look version {c.look_version}" if c.look_id else "") + ")")  # fmt: skip
        return out


def _compile(shot: Any, cast: list[CastPart], location: Location | None, style: StylePreset | None) -> Compiled:
    return compile_prompt(
        prompt=shot.prompt or "", action=shot.action or "", negative_prompt=shot.negative_prompt or "", cast=cast,
        location_name=location.name if location else "",
        location_fragment=location.prompt_fragment if location else "",
        location_negative=location.negative_fragment if location else "",
        style_name=style.name if style else "", style_fragment=style.prompt_fragment if style else "",
        style_negative=style.negative_fragment if style else "",
        camera=Camera.parse(shot.camera or {}), lighting=Lighting.parse(shot.lighting or {}),
    )  # fmt: skip


def _details(db: Session, items: list[tuple[Any, list[Any], Location | None, StylePreset | None]]
             ) -> list[ShotDetail]:  # fmt: skip
    """Compile many shots with two queries in all (snapshots, latest locked versions)."""
    entries = [e for _, cast, _, _ in items for e in cast]
    try:
        parts = iter(resolve_cast(db, entries=entries))
    except KeyError as exc:  # a snapshot row written by hand, without the fields `lock()` stores
        raise Conflict(f"a locked character version in this shot is incomplete (no {exc.args[0]!r}); "
                       "lock the character again") from None
    latest = latest_locked(db, character_ids=sorted({e.character_id for e in entries}))
    fallback: dict[int, StylePreset | None] = {}  # a shot without a style has the project's default look
    out = []
    for shot, cast, location, style in items:
        if style is None and getattr(shot, "project_id", None) is not None:
            if shot.project_id not in fallback:
                fallback[shot.project_id] = default_style(db, project_id=shot.project_id)
            style = fallback[shot.project_id]
        cast_parts = [next(parts) for _ in cast]
        statuses = [
            CastStatus(character_id=e.character_id, name=e.character.name, look_id=e.look_id,
                       look_name=e.look.name if e.look is not None else "", character_version=e.character_version,
                       look_version=e.look_version, locked=p.locked, latest_locked=latest.get((e.character_id, None)),
                       latest_look_locked=latest.get((e.character_id, e.look_id)) if e.look_id else None)
            for e, p in zip(cast, cast_parts, strict=True)
        ]  # fmt: skip
        out.append(ShotDetail(compiled=_compile(shot, cast_parts, location, style), cast=statuses))
    return out


def shot_details(db: Session, *, shots: list[Shot]) -> dict[int, ShotDetail]:
    """Compiled prompt and cast warnings of each shot (load them with `shot_options()` first)."""
    details = _details(db, [(s, list(s.cast), s.location, s.style) for s in shots])
    return {s.id: d for s, d in zip(shots, details, strict=True)}


def compiled_prompt(db: Session, *, shot: Shot) -> Compiled:
    """What the model receives for this shot: prompt, cast (pinned versions), location, lighting, camera, style."""
    return shot_details(db, shots=[shot])[shot.id].compiled


def preview(db: Session, *, shot: Shot, changes: dict[str, Any]) -> ShotDetail:
    """The compiled prompt of the shot as it would be with `changes` (unsaved form values); writes nothing."""
    project = db.get(Project, shot.project_id)
    clean = _clean_shot(db, project=project, values=changes, shot=shot)
    v = clean.values
    draft = SimpleNamespace(**{k: v.get(k, getattr(shot, k)) for k in ("prompt", "action", "negative_prompt",
                                                                        "camera", "lighting", "project_id")})  # fmt: skip
    if clean.cast is None:
        cast: list[Any] = list(shot.cast)
    else:
        pinned = {e.character_id: e for e in shot.cast}
        cast = []
        for c, lk in clean.cast:
            kept = pinned.get(c.id)
            look_id = lk.id if lk else None
            if kept is not None and kept.look_id == look_id:
                cast.append(kept)
                continue
            cast.append(SimpleNamespace(
                character_id=c.id, character_version=kept.character_version if kept else c.version, look_id=look_id,
                look_version=lk.version if lk else None, character=c, look=lk))  # fmt: skip
    location = clean.location if "location_id" in v else shot.location
    style = clean.style if "style_id" in v else shot.style
    return _details(db, [(draft, cast, location, style)])[0]


@dataclass(slots=True)
class ShotCard:
    """A shot as the storyboard page, the print sheet and drag-and-drop answers show it: plain values."""

    id: int
    scene_id: int
    code: str
    position: int
    status: str
    action: str
    dialogue: str
    camera: dict[str, Any]
    lighting: dict[str, Any]
    duration_s: float
    location_id: int | None
    coverage_group: int | None
    coverage_label: str
    cast: list[tuple[str, str]]  # (character name, look name or "")
    thumb: int | None  # asset id of the card's picture
    outdated: bool


@dataclass
class Board:
    """What the storyboard page shows: scenes in order with their (filtered) shot cards, and the filter choices."""

    scenes: list[tuple[Scene, list[ShotCard]]]
    filtered: bool
    total_shots: int
    characters: list[tuple[int, str]]
    locations: list[tuple[int, str]]


def _shot_filters(project_id: int, character_id: int | None, location_id: int | None, status: str | None,
                  scene_ids: list[int] | None) -> list[Any]:  # fmt: skip
    where: list[Any] = [Shot.project_id == project_id]
    if character_id is not None:
        where.append(Shot.cast.any(ShotCharacter.character_id == character_id))
    if location_id is not None:
        where.append(Shot.location_id == location_id)
    if status:
        where.append(Shot.status == status)
    if scene_ids is not None:
        where.append(Shot.scene_id.in_(scene_ids))
    return where


def shot_cards(db: Session, *, project_id: int, character_id: int | None = None, location_id: int | None = None,
               status: str | None = None, scene_ids: list[int] | None = None,
               names: dict[int, str] | None = None) -> list[ShotCard]:  # fmt: skip
    """Cards of the project's shots in storyboard order, in six column queries whatever the number of shots.

    The picture follows `thumbnail()`: the first reference of the first character's look, else of
    that character, else of the shot's location.
    """
    where = _shot_filters(project_id, character_id, location_id, status, scene_ids)
    rows = db.execute(
        select(Shot.id, Shot.scene_id, Shot.code, Shot.position, Shot.status, Shot.action, Shot.dialogue, Shot.camera,
               Shot.lighting, Shot.duration_s, Shot.location_id, Shot.coverage_group, Shot.coverage_label)
        .join(Scene, Scene.id == Shot.scene_id).where(*where)
        .order_by(Scene.position, Scene.id, Shot.position, Shot.id)
    ).all()  # fmt: skip
    cast_rows = db.execute(
        select(ShotCharacter.shot_id, ShotCharacter.character_id, ShotCharacter.character_version,
               ShotCharacter.look_id, ShotCharacter.look_version)
        .join(Shot, Shot.id == ShotCharacter.shot_id).where(*where)
        .order_by(ShotCharacter.shot_id, ShotCharacter.position, ShotCharacter.id)
    ).all()  # fmt: skip
    if names is None:
        names = dict(db.execute(select(Character.id, Character.name).where(Character.project_id == project_id)).all())
    look_names = dict(db.execute(select(Look.id, Look.name).where(Look.project_id == project_id)).all())
    char_pic: dict[int, int] = {}
    look_pic: dict[int, int] = {}
    place_pic: dict[int, int] = {}
    for cid, lid, place, asset in db.execute(
        select(ReferenceImage.character_id, ReferenceImage.look_id, ReferenceImage.location_id,
               ReferenceImage.asset_id).where(ReferenceImage.project_id == project_id)
        .order_by(ReferenceImage.position, ReferenceImage.id)
    ):  # fmt: skip
        if lid is not None:
            look_pic.setdefault(lid, asset)
        elif cid is not None:
            char_pic.setdefault(cid, asset)
        if place is not None:
            place_pic.setdefault(place, asset)
    latest = latest_locked(db, character_ids=sorted({r.character_id for r in cast_rows}))
    cast: dict[int, list[Any]] = {}
    for r in cast_rows:
        cast.setdefault(r.shot_id, []).append(r)
    cards = []
    for r in rows:
        members = cast.get(r.id, ())
        thumb = None
        if members:
            first = members[0]
            thumb = (look_pic.get(first.look_id) if first.look_id is not None else None) or char_pic.get(
                first.character_id)
        if thumb is None and r.location_id is not None:
            thumb = place_pic.get(r.location_id)
        stale = any(
            latest.get((m.character_id, None), 0) > m.character_version
            or (m.look_id is not None and m.look_version is not None
                and latest.get((m.character_id, m.look_id), 0) > m.look_version)
            for m in members
        )  # fmt: skip
        cards.append(ShotCard(
            id=r.id, scene_id=r.scene_id, code=r.code, position=r.position, status=r.status, action=r.action,
            dialogue=r.dialogue, camera=r.camera or {}, lighting=r.lighting or {}, duration_s=r.duration_s,
            location_id=r.location_id, coverage_group=r.coverage_group, coverage_label=r.coverage_label,
            cast=[(names.get(m.character_id, "?"), look_names.get(m.look_id, "") if m.look_id else "")
                  for m in members],
            thumb=thumb, outdated=stale,
        ))  # fmt: skip
    return cards


def storyboard(db: Session, *, project: Project, character_id: int | None = None, location_id: int | None = None,
               status: str | None = None) -> Board:  # fmt: skip
    """Every scene with its shots as cards, and the filter choices (a fixed number of queries whatever the size)."""
    if status and status not in STATUSES:
        raise Invalid(f"unknown status {status!r}", field="status")
    scenes = list_scenes(db, project=project)
    characters = [(r.id, r.name) for r in db.execute(
        select(Character.id, Character.name).where(Character.project_id == project.id).order_by(Character.name_key))]
    cards = shot_cards(db, project_id=project.id, character_id=character_id, location_id=location_id, status=status,
                       names=dict(characters))  # fmt: skip
    by_scene: dict[int, list[ShotCard]] = {s.id: [] for s in scenes}
    for card in cards:
        by_scene[card.scene_id].append(card)
    filtered = bool(character_id or location_id or status)
    pairs = [(s, by_scene[s.id]) for s in scenes if by_scene[s.id] or not filtered]
    locations = [(r.id, r.name) for r in db.execute(
        select(Location.id, Location.name).where(Location.project_id == project.id).order_by(Location.name_key))]
    return Board(scenes=pairs, filtered=filtered, total_shots=len(cards), characters=characters, locations=locations)


def outdated(db: Session, *, shots: list[Shot]) -> set[int]:
    """Ids of the shots with a cast member pinned to an older version than the latest locked one (one query)."""
    latest = latest_locked(db, character_ids=sorted({e.character_id for s in shots for e in s.cast}))
    return {
        s.id for s in shots for e in s.cast
        if latest.get((e.character_id, None), 0) > e.character_version
        or (e.look_id is not None and e.look_version is not None
            and latest.get((e.character_id, e.look_id), 0) > e.look_version)
    }  # fmt: skip
