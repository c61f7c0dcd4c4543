"""Locking and versions of characters and looks, and what a shot's cast resolves to.

A locked character (or look) at version N has an immutable `CharacterVersion` snapshot N.
Editing it afterwards starts draft N+1 (call `start_new_version` before changing fields).
Shots pin the version they were written with; `resolve_cast` turns a shot's pins into the
compiler's `CastPart`s in one query, from snapshots where they exist, else from the drafts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.auth.models import User
from app.characters.cast import CastPart
from app.characters.models import Character, CharacterVersion, Look
from app.db import utcnow


def character_data(character: Character) -> dict[str, Any]:
    """Everything generation reads from a character (no looks: they version on their own)."""
    return {
        "name": character.name,
        "description": character.description,
        "traits": dict(character.traits or {}),
        "prompt_fragment": character.prompt_fragment,
        "negative_fragment": character.negative_fragment,
        "seed": character.seed,
        "lora": (
            {"key": character.lora_asset.key, "weight": character.lora_weight} if character.lora_asset
            else {"path": character.lora_path, "weight": character.lora_weight} if character.lora_path
            else None
        ),  # fmt: skip
        "references": [{"asset_id": r.asset_id, "key": r.asset.key, "caption": r.caption} for r in character.references],
    }


def look_data(look: Look) -> dict[str, Any]:
    return {
        "name": look.name,
        "description": look.description,
        "prompt_fragment": look.prompt_fragment,
        "negative_fragment": look.negative_fragment,
        "references": [{"asset_id": r.asset_id, "key": r.asset.key, "caption": r.caption} for r in look.references],
    }


def lock(db: Session, *, subject: Character | Look, actor: User) -> CharacterVersion:
    """Freeze the subject's current version (idempotent: locking a locked subject returns its snapshot)."""
    is_look = isinstance(subject, Look)
    character_id = subject.character_id if is_look else subject.id
    look_id = subject.id if is_look else None
    existing = db.scalar(
        select(CharacterVersion).where(
            CharacterVersion.character_id == character_id,
            CharacterVersion.look_id.is_(None) if look_id is None else CharacterVersion.look_id == look_id,
            CharacterVersion.number == subject.version,
        )
    )
    if existing is not None:
        subject.locked = True
        return existing
    snap = CharacterVersion(
        project_id=subject.project_id, character_id=character_id, look_id=look_id, number=subject.version,
        data=look_data(subject) if is_look else character_data(subject), locked_by_id=actor.id, locked_at=utcnow(),
    )  # fmt: skip
    db.add(snap)
    subject.locked = True
    db.flush()
    return snap


def start_new_version(subject: Character | Look) -> bool:
    """Before editing: a locked subject becomes draft N+1. Returns True when a new version began."""
    if not subject.locked:
        return False
    subject.version += 1
    subject.locked = False
    return True


def latest_locked(db: Session, *, character_ids: list[int]) -> dict[tuple[int, int | None], int]:
    """Highest locked version number per (character_id, look_id) for these characters."""
    if not character_ids:
        return {}
    rows = db.execute(
        select(CharacterVersion.character_id, CharacterVersion.look_id, CharacterVersion.number).where(
            CharacterVersion.character_id.in_(character_ids)
        )
    )
    out: dict[tuple[int, int | None], int] = {}
    for cid, lid, number in rows:
        out[(cid, lid)] = max(out.get((cid, lid), 0), number)
    return out


def resolve_cast(db: Session, *, entries: list[Any]) -> list[CastPart]:
    """CastParts for ShotCharacter-like entries (character, character_version, look, look_version), one query."""
    keys = [(e.character_id, e.character_version) for e in entries]
    keys += [(e.character_id, e.look_version) for e in entries if e.look_id is not None]
    snaps: dict[tuple[int, int | None, int], CharacterVersion] = {}
    if keys:
        rows = db.scalars(
            select(CharacterVersion).where(
                tuple_(CharacterVersion.character_id, CharacterVersion.number).in_(list(set(keys)))
            )
        )
        snaps = {(v.character_id, v.look_id, v.number): v for v in rows}
    parts: list[CastPart] = []
    for e in entries:
        csnap = snaps.get((e.character_id, None, e.character_version))
        cdata = csnap.data if csnap else character_data(e.character)
        lsnap = snaps.get((e.character_id, e.look_id, e.look_version)) if e.look_id else None
        ldata = (lsnap.data if lsnap else look_data(e.look)) if e.look_id and e.look is not None else None
        ldata = ldata or {}
        parts.append(  # .get: a snapshot written by an older Slate may lack a field
            CastPart(
                name=cdata.get("name") or e.character.name, fragment=cdata.get("prompt_fragment", ""),
                negative=cdata.get("negative_fragment", ""), look_name=ldata.get("name", ""),
                look_fragment=ldata.get("prompt_fragment", ""), look_negative=ldata.get("negative_fragment", ""),
                version=e.character_version, locked=csnap is not None and (not ldata or lsnap is not None),
            )  # fmt: skip
        )
    return parts
