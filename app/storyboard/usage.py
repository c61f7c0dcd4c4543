"""What the storyboard uses: the shots that use a character, a look, a location or a style.

Characters and design know nothing of shots (the storyboard depends on them, never the reverse),
so every question of the form "which shots use this?" is answered here: the counts the library
pages show, deleting a character or look (refused while shots use it), deleting a location or
style (allowed: the shots lose it, and the activity note says how many), and moving the shots
pinned to older versions of a character or look on to its latest locked version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.activity.service import record
from app.auth.models import User
from app.characters import versions
from app.characters.models import Character, Look
from app.characters.service import latest_snapshot
from app.design import service as design
from app.design.models import Location, StylePreset
from app.errors import Conflict, NotFound
from app.storyboard.models import Scene, Shot, ShotCharacter

USAGE_LISTED = 12


# ---- locations and styles -----------------------------------------------------------------


def location_shot_counts(db: Session, *, project_id: int) -> dict[int, int]:
    """How many shots use each of the project's locations."""
    rows = db.execute(
        select(Shot.location_id, func.count())
        .where(Shot.project_id == project_id, Shot.location_id.is_not(None))
        .group_by(Shot.location_id)
    )
    return {loc_id: n for loc_id, n in rows}


def shots_using_location(db: Session, *, location_id: int) -> int:
    """How many shots use the location."""
    return db.scalar(select(func.count()).select_from(Shot).where(Shot.location_id == location_id)) or 0


def delete_location(db: Session, *, actor: User | None, location: Location) -> int:
    """Delete a location and its references; shots that used it keep going without one. Returns their number."""
    shots = shots_using_location(db, location_id=location.id)
    return design.delete_location(db, actor=actor, location=location, shots=shots)


def style_shot_counts(db: Session, *, project_id: int) -> dict[int, int]:
    """How many shots use each of the project's styles."""
    rows = db.execute(
        select(Shot.style_id, func.count())
        .where(Shot.project_id == project_id, Shot.style_id.is_not(None))
        .group_by(Shot.style_id)
    )
    return {style_id: n for style_id, n in rows}


def shots_using_style(db: Session, *, style_id: int) -> int:
    """How many shots use the style."""
    return db.scalar(select(func.count()).select_from(Shot).where(Shot.style_id == style_id)) or 0


def delete_style(db: Session, *, actor: User | None, style: StylePreset) -> int:
    """Delete a style (the oldest remaining one inherits the default flag); returns how many shots used it."""
    shots = shots_using_style(db, style_id=style.id)
    return design.delete_style(db, actor=actor, style=style, shots=shots)


# ---- characters and looks -----------------------------------------------------------------


def _usage_codes(db: Session, *, where: Any) -> list[str]:
    rows = db.execute(
        select(Shot.code)
        .join(ShotCharacter, ShotCharacter.shot_id == Shot.id)
        .join(Scene, Scene.id == Shot.scene_id)
        .where(where)
        .order_by(Scene.position, Scene.id, Shot.position, Shot.id)
    )
    return [code for (code,) in rows]


def _codes_text(codes: list[str]) -> str:
    shown = ", ".join(codes[:USAGE_LISTED])
    more = len(codes) - USAGE_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def delete_character(db: Session, *, actor: User | None, character: Character) -> None:
    """Delete a character with its looks, references and versions; refused while shots use it."""
    codes = _usage_codes(db, where=ShotCharacter.character_id == character.id)
    if codes:
        raise Conflict(f"“{character.name}” is in {len(codes)} shot{'s' if len(codes) != 1 else ''} "
                       f"({_codes_text(codes)}); take the character out of those shots first")  # fmt: skip
    name, project_id, cid = character.name, character.project_id, character.id
    db.delete(character)
    db.flush()
    record(db, project_id=project_id, actor=actor, verb="character.deleted", object_type="character",
           object_id=cid, summary=f"deleted the character “{name}”")  # fmt: skip


def delete_look(db: Session, *, actor: User | None, look: Look) -> None:
    """Delete a look with its references and versions; refused while shots use it."""
    codes = _usage_codes(db, where=ShotCharacter.look_id == look.id)
    character = look.character
    if codes:
        raise Conflict(f"the look “{look.name}” is used in {len(codes)} shot{'s' if len(codes) != 1 else ''} "
                       f"({_codes_text(codes)}); give those shots another look first")  # fmt: skip
    name, lid = look.name, look.id
    db.delete(look)
    db.flush()
    db.expire(character, ["looks"])
    record(db, project_id=character.project_id, actor=actor, verb="look.deleted", object_type="look", object_id=lid,
           summary=f"deleted the look “{name}” of “{character.name}”", data={"character_id": character.id})  # fmt: skip


@dataclass(frozen=True)
class ShotUse:
    """A shot a character is in, with the versions it is pinned to and whether they are behind."""

    shot_id: int
    code: str
    character_version: int
    look_id: int | None
    look_name: str | None
    look_version: int | None
    character_behind: bool
    look_behind: bool

    @property
    def behind(self) -> bool:
        return self.character_behind or self.look_behind


def shot_usage(db: Session, *, character: Character, latest: dict[tuple[int, int | None], int] | None = None
               ) -> list[ShotUse]:  # fmt: skip
    """Every shot the character is in, in storyboard order, marking pins older than the latest locked versions."""
    if latest is None:
        latest = versions.latest_locked(db, character_ids=[character.id])
    rows = db.execute(
        select(ShotCharacter, Shot.code, Look.name)
        .join(Shot, Shot.id == ShotCharacter.shot_id)
        .join(Scene, Scene.id == Shot.scene_id)
        .outerjoin(Look, Look.id == ShotCharacter.look_id)
        .where(ShotCharacter.character_id == character.id)
        .order_by(Scene.position, Scene.id, Shot.position, Shot.id)
    )
    top = latest.get((character.id, None))
    out = []
    for sc, code, look_name in rows:
        look_top = latest.get((character.id, sc.look_id)) if sc.look_id is not None else None
        out.append(ShotUse(
            shot_id=sc.shot_id, code=code, character_version=sc.character_version, look_id=sc.look_id,
            look_name=look_name, look_version=sc.look_version,
            character_behind=top is not None and sc.character_version < top,
            look_behind=look_top is not None and sc.look_version is not None and sc.look_version < look_top,
        ))  # fmt: skip
    return out


@dataclass(frozen=True)
class Advanced:
    version: int
    codes: list[str]


def advance_shots(db: Session, *, actor: User | None, character: Character, look: Look | None = None) -> Advanced:
    """Move the shots pinned to older versions of the character (or of one of its looks) to the latest locked one."""
    if look is not None and look.character_id != character.id:
        raise NotFound("that look belongs to another character")
    subject = look or character
    snap = latest_snapshot(db, subject=subject)
    what = f"the look “{look.name}” of “{character.name}”" if look else f"“{character.name}”"
    if snap is None:
        raise Conflict(f"{what} has no locked version yet; lock it first")
    if look is None:
        cond = and_(ShotCharacter.character_id == character.id, ShotCharacter.character_version < snap.number)
    else:
        cond = and_(ShotCharacter.look_id == look.id, ShotCharacter.look_version < snap.number)
    rows = db.execute(
        select(ShotCharacter, Shot.code)
        .join(Shot, Shot.id == ShotCharacter.shot_id)
        .join(Scene, Scene.id == Shot.scene_id)
        .where(cond)
        .order_by(Scene.position, Scene.id, Shot.position, Shot.id)
    ).all()
    for sc, _code in rows:
        if look is None:
            sc.character_version = snap.number
        else:
            sc.look_version = snap.number
    codes = [code for _sc, code in rows]
    if codes:
        db.flush()
        record(db, project_id=character.project_id, actor=actor, verb="character.shots_advanced",
               object_type="look" if look else "character", object_id=subject.id,
               summary=f"moved {len(codes)} shot{'s' if len(codes) != 1 else ''} ({_codes_text(codes)}) to {what} "
               f"version {snap.number}", data={"version": snap.number, "shots": codes[:100]})  # fmt: skip
    return Advanced(version=snap.number, codes=codes)
