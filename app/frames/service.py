"""Frames: the picture each shot, character and location card shows.

A shot's frame is its approved take's poster (the latest decided, if several), else its newest
take's poster, else its sketch: one frame of the shot drawn by the animatic engine
(`workers.engines.animatic.sketch`) from what decides the picture (camera and framing, lighting,
cast, location, size, seed), without the viewfinder overlay. A character or a location shows its
first reference image, else a sketch drawn from its name and description.

Sketches are cached: the JPEG is in the media store (content-addressed), its key and a hash of the
inputs it was drawn from are on the row (`sketch_key`, `sketch_hash`). A row whose inputs hash to
something else has a stale sketch and is drawn again; `SKETCH_VERSION` is part of every hash, so
changing the drawing redraws them all. Writing a sketch onto a row leaves its `updated_at` alone:
a picture is not an edit.

Shot sketches are drawn ahead of time by `slate.frames.draw_sketch(shot_id)` (app/frames/tasks.py) on the `media`
queue, sent after the commit of the request that created the shot or changed its camera, framing,
lighting, cast or location, and for shots found without a current sketch when a board is opened
(the demo, screenplay imports, rows from before sketches). The task is idempotent (an up-to-date
sketch is left as it is) and publishes a `sketch` event when it drew one, so open boards swap the
picture in. A frame asked for before its sketch exists is drawn on the spot (tens of milliseconds):
a frame link always answers with a picture.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.characters.models import Character, Look, ReferenceImage
from app.db import queue_after_commit
from app.design.models import Location
from app.generation.models import Take
from app.media.store import get_store
from app.projects.models import Project
from app.storyboard.models import Scene, Shot, ShotCharacter
from workers.celery_app import celery
from workers.engines.animatic import sketch
from workers.spec import CastMember, RenderSpec
from workers.vocabulary import Camera, Lighting

log = logging.getLogger("slate.sketches")

SKETCH_VERSION = 2  # part of every hash: bump it when the drawing changes and every sketch is redrawn
SKETCH_WIDTH = 640  # pixels; the height follows the project's frame (cards show about 300 px, print about 600)
CARD_SIZE = (480, 360)  # characters and locations: a 4:3 card
JPEG_QUALITY = 82
QUEUE = "media"
TASK = "slate.frames.draw_sketch"
REQUEUE_AFTER_S = 120.0  # a board opened again soon after does not queue the same sketch twice

_queued: dict[tuple[int, str], float] = {}  # (shot id, inputs hash) -> when it was last sent (this process)


def send_sketch(shot_id: int) -> None:
    """Send the task that draws a shot's sketch (by name: the storyboard's service sends it too)."""
    celery.send_task(TASK, args=[shot_id], queue=QUEUE)


# ---- what a sketch is drawn from ----------------------------------------------------------------------


def _hash(kind: str, inputs: dict[str, Any]) -> str:
    payload = json.dumps({"v": SKETCH_VERSION, "kind": kind, **inputs}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def shot_inputs(*, shot_id: int, seed: int | None, camera: dict[str, Any] | None, lighting: dict[str, Any] | None,
                cast: list[tuple[str, str]], location: str, width: int, height: int, fps: float,
                duration_s: float) -> dict[str, Any]:  # fmt: skip
    """What a shot's sketch is drawn from, as plain values (its hash decides whether a sketch is current)."""
    return {
        "seed": int(seed) if seed is not None else shot_id,  # a shot without a seed keeps one layout
        "camera": Camera.parse(camera or {}).to_dict(), "lighting": Lighting.parse(lighting or {}).to_dict(),
        "cast": [list(c) for c in cast], "location": location, "size": [int(width), int(height)],
        "frames": max(1, round(duration_s * fps)), "fps": float(fps),
    }  # fmt: skip


def shot_hash(inputs: dict[str, Any]) -> str:
    return _hash("shot", inputs)


def _sketch_size(width: int, height: int) -> tuple[int, int]:
    """The sketch's size: SKETCH_WIDTH wide (even pixels) at the shot's aspect ratio."""
    h = max(2, round(SKETCH_WIDTH * height / max(width, 1) / 2) * 2)
    return SKETCH_WIDTH, min(h, 2 * SKETCH_WIDTH)


def shot_spec(inputs: dict[str, Any]) -> RenderSpec:
    """The render spec of a shot's sketch (the animatic at sketch size)."""
    w, h = _sketch_size(*inputs["size"])
    return RenderSpec(
        model="animatic", prompt="", width=w, height=h, frames=inputs["frames"], fps=inputs["fps"],
        seeds=[inputs["seed"]], camera=inputs["camera"], lighting=inputs["lighting"], location=inputs["location"],
        cast=[CastMember(name=name, look=look) for name, look in inputs["cast"]],
    )  # fmt: skip


def _jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def draw_shot(inputs: dict[str, Any]) -> bytes:
    """The JPEG of a shot's sketch."""
    return _jpeg(sketch(shot_spec(inputs)))


# Words of a description that set the light of a character's or location's sketch.
_TIME_WORDS = (("night", "night"), ("midnight", "night"), ("dusk", "dusk"), ("sunset", "dusk"), ("dawn", "dawn"),
               ("sunrise", "dawn"), ("morning", "morning"), ("afternoon", "afternoon"), ("day", "day"))  # fmt: skip
_COLOUR_WORDS = (("candle", "candlelit"), ("neon", "neon"), ("golden", "golden_hour"), ("overcast", "overcast"),
                 ("storm", "overcast"), ("fog", "overcast"), ("blue hour", "blue_hour"))  # fmt: skip


def _light_from(text: str) -> dict[str, Any]:
    words = set(re.findall(r"[a-z]+", text.lower()))
    lower = text.lower()
    light: dict[str, Any] = {}
    for word, value in _TIME_WORDS:
        if word in words:
            light["time_of_day"] = value
            break
    for word, value in _COLOUR_WORDS:
        if (word in lower) if " " in word else any(w.startswith(word) for w in words):
            light["color"] = value
            break
    return light


def card_inputs(*, kind: str, ident: int, name: str, description: str) -> dict[str, Any]:
    """What the sketch of a character (kind "character") or a location ("location") is drawn from."""
    return {"kind": kind, "seed": ident, "name": name, "description": " ".join((description or "").split())[:400]}


def card_hash(inputs: dict[str, Any]) -> str:
    return _hash("card", inputs)


def draw_card(inputs: dict[str, Any]) -> bytes:
    """The JPEG of a character's card (the character in medium close-up, named) or a location's (the set, empty, in
    a wide shot), lit by the time of day or colour its description names. No caption: the card prints the name and
    the description beneath the picture (a band in the picture was cut by the card's crop)."""
    person = inputs["kind"] == "character"
    w, h = CARD_SIZE
    spec = RenderSpec(
        model="animatic", prompt="", width=w, height=h, frames=1, fps=24.0, seeds=[inputs["seed"]],
        camera={"framing": "MCU" if person else "EWS"}, lighting=_light_from(f"{inputs['name']} {inputs['description']}"),
        cast=[CastMember(name=inputs["name"])] if person else [],
    )  # fmt: skip
    img = sketch(spec, figures=person)
    return _jpeg(img)


# ---- shot frames ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """The picture of a shot card, and what the card says about the shot's takes."""

    url: str | None  # versioned frame URL; None: the sketch is not drawn yet
    kind: str  # approved, take, sketch, pending
    take_id: int | None  # the take shown (hover scrubs its filmstrip, a click plays it)
    take_count: int
    approved_number: int | None
    filmstrip: dict[str, Any] | None

    @property
    def has_take(self) -> bool:
        return self.take_id is not None


def frame_url(shot_id: int, token: str) -> str:
    return f"/shots/{shot_id}/frame?v={token}"


@dataclass(frozen=True, slots=True)
class _Takes:
    shown: Any  # the take row whose poster is the frame
    approved: Any
    count: int


def _takes_of(db: Session, *, shot_ids: list[int]) -> dict[int, _Takes]:
    """Per shot: the take its frame shows, its approved take, how many takes (one query)."""
    if not shot_ids:
        return {}
    rows = db.execute(
        select(Take.id, Take.shot_id, Take.number, Take.review_status, Take.poster_key, Take.filmstrip,
               Take.decided_at).where(Take.shot_id.in_(shot_ids)).order_by(Take.shot_id, Take.number)
    ).all()  # fmt: skip
    by_shot: dict[int, list[Any]] = {}
    for r in rows:
        by_shot.setdefault(r.shot_id, []).append(r)
    out = {}
    for shot_id, takes in by_shot.items():
        approved = [t for t in takes if t.review_status == "approved"]
        best = max(approved, key=lambda t: (t.decided_at is not None, t.decided_at or 0, t.number), default=None) \
            if approved else None  # fmt: skip
        newest = takes[-1]
        out[shot_id] = _Takes(shown=best or newest, approved=best, count=len(takes))
    return out


def _project_sizes(db: Session, project_ids: set[int]) -> dict[int, tuple[int, int, float]]:
    return {p.id: (p.width, p.height, p.fps) for p in db.execute(
        select(Project.id, Project.width, Project.height, Project.fps).where(Project.id.in_(project_ids)))}  # fmt: skip


def _inputs_of(db: Session, *, shot_ids: list[int]) -> dict[int, tuple[dict[str, Any], str | None, str | None, int]]:
    """Per shot: (sketch inputs, sketch key, sketch hash, project id), in four queries whatever the number."""
    if not shot_ids:
        return {}
    rows = db.execute(
        select(Shot.id, Shot.project_id, Shot.seed, Shot.camera, Shot.lighting, Shot.location_id, Shot.width,
               Shot.height, Shot.fps, Shot.duration_s, Shot.sketch_key, Shot.sketch_hash).where(Shot.id.in_(shot_ids))
    ).all()  # fmt: skip
    cast: dict[int, list[tuple[str, str]]] = {}
    for shot_id, name, look in db.execute(
        select(ShotCharacter.shot_id, Character.name, Look.name)
        .join(Character, Character.id == ShotCharacter.character_id)
        .outerjoin(Look, Look.id == ShotCharacter.look_id)
        .where(ShotCharacter.shot_id.in_(shot_ids)).order_by(ShotCharacter.position, ShotCharacter.id)
    ):  # fmt: skip
        cast.setdefault(shot_id, []).append((name, look or ""))
    location_ids = {r.location_id for r in rows if r.location_id is not None}
    places = dict(db.execute(select(Location.id, Location.name).where(Location.id.in_(location_ids))).all()) \
        if location_ids else {}  # fmt: skip
    sizes = _project_sizes(db, {r.project_id for r in rows})
    out = {}
    for r in rows:
        pw, ph, pfps = sizes[r.project_id]
        inputs = shot_inputs(shot_id=r.id, seed=r.seed, camera=r.camera, lighting=r.lighting, cast=cast.get(r.id, []),
                             location=places.get(r.location_id, ""), width=r.width or pw, height=r.height or ph,
                             fps=r.fps or pfps, duration_s=r.duration_s)  # fmt: skip
        out[r.id] = (inputs, r.sketch_key, r.sketch_hash, r.project_id)
    return out


def shot_frames(db: Session, *, shot_ids: list[int], backfill: bool = True) -> dict[int, Frame]:
    """The frame of each shot, in a fixed number of queries. Shots that show their sketch and have none current are
    queued for drawing (`backfill`) and answered `pending` until it is there."""
    takes = _takes_of(db, shot_ids=shot_ids)
    need_sketch = [i for i in shot_ids if i not in takes]
    inputs = _inputs_of(db, shot_ids=need_sketch)
    frames: dict[int, Frame] = {}
    missing: list[tuple[int, str]] = []
    for shot_id in shot_ids:
        t = takes.get(shot_id)
        if t is not None:
            kind = "approved" if t.approved is not None else "take"
            frames[shot_id] = Frame(
                url=frame_url(shot_id, f"t{t.shown.id}"), kind=kind, take_id=t.shown.id, take_count=t.count,
                approved_number=t.approved.number if t.approved is not None else None,
                filmstrip=dict(t.shown.filmstrip) if t.shown.filmstrip else None,
            )  # fmt: skip
            continue
        values, key, current, _project = inputs[shot_id]
        wanted = shot_hash(values)
        if key and current == wanted:
            frames[shot_id] = Frame(url=frame_url(shot_id, wanted), kind="sketch", take_id=None, take_count=0,
                                    approved_number=None, filmstrip=None)  # fmt: skip
        else:
            frames[shot_id] = Frame(url=None, kind="pending", take_id=None, take_count=0, approved_number=None,
                                    filmstrip=None)  # fmt: skip
            missing.append((shot_id, wanted))
    if backfill and missing:
        _queue(db, missing)
    return frames


def _queue(db: Session, items: list[tuple[int, str]], *, force: bool = False) -> None:
    now = time.monotonic()
    for stale in [k for k, at in _queued.items() if now - at > REQUEUE_AFTER_S]:
        _queued.pop(stale, None)
    todo = [shot_id for shot_id, wanted in items if force or (shot_id, wanted) not in _queued]
    if not todo:
        return
    for shot_id, wanted in items:
        if shot_id in todo:
            _queued[(shot_id, wanted)] = now

    def _send() -> None:
        import kombu.exceptions
        import redis

        for shot_id in todo:
            try:
                send_sketch(shot_id)
            except (kombu.exceptions.OperationalError, redis.RedisError, OSError) as exc:
                # the board asks again next time it is opened; the frame link draws it meanwhile
                log.warning("sketch of shot %s not queued: %s", shot_id, exc)
                for key in [k for k in _queued if k[0] == shot_id]:
                    _queued.pop(key, None)
                return

    queue_after_commit(db, _send)


def refresh_sketch(db: Session, *, shot_id: int) -> tuple[str | None, bool, int | None]:
    """Draw the shot's sketch if it has none current. -> (key, drawn now, project id); (None, False, None): no shot."""
    found = _inputs_of(db, shot_ids=[shot_id]).get(shot_id)
    if found is None:
        return None, False, None
    values, key, current, project_id = found
    wanted = shot_hash(values)
    store = get_store()
    if key and current == wanted and store.exists(key):
        return key, False, project_id
    key, _ = store.put(draw_shot(values), "jpg")
    _record(db, Shot, shot_id, key, wanted)
    return key, True, project_id


def _record(db: Session, model: type, ident: int, key: str, wanted: str) -> None:
    """Write a sketch onto its row, leaving `updated_at` as it is (a picture is not an edit)."""
    db.execute(update(model).where(model.id == ident)
               .values(sketch_key=key, sketch_hash=wanted, updated_at=model.updated_at)
               .execution_options(synchronize_session=False))  # fmt: skip
    loaded = db.identity_map.get(db.identity_key(model, ident))
    if loaded is not None:
        db.expire(loaded, ["sketch_key", "sketch_hash"])


def frame_file(db: Session, *, shot: Shot) -> tuple[str, str]:
    """(media key of the shot's frame, its version token): the take's poster, or the sketch (drawn now if it is not
    current)."""
    t = _takes_of(db, shot_ids=[shot.id]).get(shot.id)
    if t is not None and t.shown.poster_key:
        return t.shown.poster_key, f"t{t.shown.id}"
    key, _drawn, _project = refresh_sketch(db, shot_id=shot.id)
    return key or "", sketch_token(db, shot_id=shot.id)


def sketch_token(db: Session, *, shot_id: int) -> str:
    """The version token of a shot's sketch (its inputs' hash)."""
    return db.scalar(select(Shot.sketch_hash).where(Shot.id == shot_id)) or ""


def project_frames(db: Session, *, project_ids: list[int]) -> dict[int, str]:
    """The URL of a frame for each project (its first shot's, in storyboard order; a sketch not drawn yet is drawn
    when asked for); projects without shots are left out."""
    if not project_ids:
        return {}
    first: dict[int, int] = {}
    for project_id, shot_id in db.execute(
        select(Shot.project_id, Shot.id).join(Scene, Scene.id == Shot.scene_id).where(Shot.project_id.in_(project_ids))
        .order_by(Shot.project_id, Scene.position, Scene.id, Shot.position, Shot.id)
    ):  # fmt: skip
        first.setdefault(project_id, shot_id)
    frames = shot_frames(db, shot_ids=list(first.values()), backfill=False)
    return {project_id: frames[shot_id].url or f"/shots/{shot_id}/frame" for project_id, shot_id in first.items()}


# ---- characters and locations -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Picture:
    """The picture of a character or location card: a reference thumbnail or its sketch."""

    url: str
    kind: str  # reference, sketch


def pictures(db: Session, *, kind: str, ids: list[int]) -> dict[int, Picture]:
    """The card picture of each character (`kind` "character") or location ("location"): its first reference's
    thumbnail, else its sketch (`/characters/{id}/picture`, `/locations/{id}/picture`, versioned by the hash)."""
    if not ids:
        return {}
    model = Character if kind == "character" else Location
    column = ReferenceImage.character_id if kind == "character" else ReferenceImage.location_id
    first: dict[int, int] = {}
    where = [column.in_(ids)] + ([ReferenceImage.look_id.is_(None)] if kind == "character" else [])
    for owner, asset in db.execute(select(column, ReferenceImage.asset_id).where(*where)
                                   .order_by(ReferenceImage.position, ReferenceImage.id)):  # fmt: skip
        first.setdefault(owner, asset)
    out = {}
    for r in db.execute(select(model.id, model.name, model.description).where(model.id.in_(ids))):
        if r.id in first:
            out[r.id] = Picture(url=f"/media/{first[r.id]}/thumb", kind="reference")
        else:
            wanted = card_hash(card_inputs(kind=kind, ident=r.id, name=r.name, description=r.description))
            out[r.id] = Picture(url=f"/{kind}s/{r.id}/picture?v={wanted}", kind="sketch")
    return out


def card_sketch(db: Session, *, row: Character | Location) -> tuple[str, str]:
    """(media key, hash) of a character's or location's sketch, drawn now if it has none current."""
    kind = "character" if isinstance(row, Character) else "location"
    inputs = card_inputs(kind=kind, ident=row.id, name=row.name, description=row.description)
    wanted = card_hash(inputs)
    store = get_store()
    if row.sketch_key and row.sketch_hash == wanted and store.exists(row.sketch_key):
        return row.sketch_key, wanted
    key, _ = store.put(draw_card(inputs), "jpg")
    _record(db, type(row), row.id, key, wanted)
    return key, wanted
