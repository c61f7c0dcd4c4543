"""The character library: characters, looks, reference pictures, LoRA, locking and versions.

Every edit of a locked character or look (a field, a reference picture, the LoRA) first starts a
new draft version through `versions.start_new_version`; the locked snapshot stays as it was, and
shots keep the version they were written with until `app.storyboard.usage.advance_shots` moves them on.
The storyboard depends on this package, never the reverse: what shots use a character (deleting one,
advancing its shots) lives in `app.storyboard.usage`.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.activity.service import record
from app.auth.models import User
from app.characters import versions
from app.characters.models import Character, CharacterVersion, Look, ReferenceImage
from app.config import get_settings
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound
from app.media import service as media
from app.projects.models import Project
from app.text import name_key
from workers.engines.lora_path import TURNED_OFF, LoraPathRefused, relative_lora_path

STANDARD_TRAITS: dict[str, str] = {
    "age": "Age",
    "build": "Build",
    "face": "Face",
    "hair": "Hair",
    "wardrobe": "Wardrobe",
    "voice": "Voice notes",
}
NAME_MAX = 120
LOOK_NAME_MAX = 80
DESCRIPTION_MAX = 5000
FRAGMENT_MAX = 2000
CAPTION_MAX = 300
TRAITS_MAX = 30
TRAIT_KEY_MAX = 40
TRAIT_VALUE_MAX = 200
REFERENCES_MAX = 40
LOOKS_MAX = 40
SEED_MAX = 2**32 - 1
LORA_WEIGHT_MAX = 2.0
LORA_PATH_MAX = 500
CHARACTER_FIELDS = ("name", "description", "traits", "prompt_fragment", "negative_fragment", "seed", "lora_path",
                    "lora_weight")  # fmt: skip
LOOK_FIELDS = ("name", "description", "prompt_fragment", "negative_fragment")
FIELD_LABELS = {
    "name": "name", "description": "description", "traits": "traits", "prompt_fragment": "prompt fragment",
    "negative_fragment": "negative fragment", "seed": "seed", "lora_path": "LoRA path", "lora_weight": "LoRA weight",
    "lora_asset_id": "LoRA file",
}  # fmt: skip
_TRAIT_KEY = re.compile(r"^[^\W_][\w -]*$")
_LORA_PATH = re.compile(r"^[\w./ +@-]+$")


# ---- validation -----------------------------------------------------------------------


def _text(values: dict[str, Any], key: str, *, limit: int, label: str, required: bool = False,
          single_line: bool = False) -> str:  # fmt: skip
    raw = values.get(key)
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise Invalid(f"{label} must be text", field=key)
    text = " ".join(raw.split()) if single_line else raw.strip()
    if required and not text:
        raise Invalid(f"the {label} cannot be empty", field=key)
    if len(text) > limit:
        raise Invalid(f"the {label} is too long ({limit} characters at most)", field=key)
    return text


def clean_traits(traits: Any) -> dict[str, str]:
    """Traits as short text values under normalised keys (age, build, face, hair, wardrobe, voice, or your own)."""
    if traits is None:
        return {}
    if not isinstance(traits, dict):
        raise Invalid("traits must be an object of names and short texts", field="traits")
    out: dict[str, str] = {}
    for raw_key, raw_value in traits.items():
        key = "_".join(str(raw_key).lower().split())
        if isinstance(raw_value, bool) or not isinstance(raw_value, (str, int, float)) and raw_value is not None:
            raise Invalid(f"the trait “{key}” must be a short text", field="traits")
        value = " ".join(str(raw_value if raw_value is not None else "").split())
        if not key:
            if value:
                raise Invalid(f"the trait “{value[:40]}” needs a name", field="traits")
            continue
        if len(key) > TRAIT_KEY_MAX or not _TRAIT_KEY.match(key):
            raise Invalid(f"trait names are up to {TRAIT_KEY_MAX} letters, digits, spaces or dashes (“{key[:60]}” is not)",
                          field="traits")  # fmt: skip
        if len(value) > TRAIT_VALUE_MAX:
            raise Invalid(f"the trait “{key}” is too long ({TRAIT_VALUE_MAX} characters at most)", field="traits")
        if key in out:
            raise Invalid(f"the trait “{key}” is given twice", field="traits")
        if value:
            out[key] = value
    if len(out) > TRAITS_MAX:
        raise Invalid(f"a character has {TRAITS_MAX} traits at most", field="traits")
    return out


def traits_from_rows(rows: list[tuple[str, str]]) -> dict[str, str]:
    """Traits from a form's key/value rows (blank rows skipped)."""
    seen: dict[str, str] = {}
    for key, value in rows:
        k = "_".join((key or "").lower().split())
        if not k and not (value or "").strip():
            continue
        if k in seen:
            raise Invalid(f"the trait “{k}” is given twice", field="traits")
        seen[k] = value or ""
    return clean_traits(seen)


def parse_seed(value: Any) -> int:
    """A seed from an int or a decimal string, 0 .. 2**32 - 1."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise Invalid(f"the seed must be a whole number from 0 to {SEED_MAX}", field="seed")
    return value


def parse_weight(value: Any) -> float:
    """A LoRA weight from a number or a decimal string, 0 .. 2."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise Invalid("the LoRA weight must be a number from 0 to 2", field="lora_weight") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= LORA_WEIGHT_MAX:  # fmt: skip
        raise Invalid("the LoRA weight must be a number from 0 to 2", field="lora_weight")
    return float(value)


def clean_lora_path(value: Any) -> str | None:
    """A .safetensors file inside SLATE_LORA_DIR (relative to it, or absolute inside it; no `..`), stored relative
    to the folder; or None. Refused, with one message whether or not the file exists, when paths are turned off
    (no folder set) or the path leads outside the folder (workers check again: workers/engines/lora_path.py)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("the LoRA path must be text", field="lora_path")
    path = value.strip()
    if not path:
        return None
    if len(path) > LORA_PATH_MAX:
        raise Invalid(f"the LoRA path is too long ({LORA_PATH_MAX} characters at most)", field="lora_path")
    if not _LORA_PATH.match(path) or "//" in path:
        raise Invalid("the LoRA path must be a plain file path (letters, digits, / . _ - and spaces)", field="lora_path")
    if ".." in path.split("/"):
        raise Invalid("the LoRA path may not contain “..”", field="lora_path")
    if not path.lower().endswith(".safetensors"):
        raise Invalid("the LoRA path must name a .safetensors file", field="lora_path")
    folder = get_settings().lora_dir
    if folder is None:
        raise Invalid(TURNED_OFF, field="lora_path")
    try:
        return relative_lora_path(path, folder)
    except LoraPathRefused as exc:
        raise Invalid(str(exc), field="lora_path") from None


def _clean_character_fields(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in values:
        out["name"] = _text(values, "name", limit=NAME_MAX, label="name", required=True, single_line=True)
    if "description" in values:
        out["description"] = _text(values, "description", limit=DESCRIPTION_MAX, label="description")
    for key in ("prompt_fragment", "negative_fragment"):
        if key in values:
            out[key] = _text(values, key, limit=FRAGMENT_MAX, label=FIELD_LABELS[key])
    if "traits" in values:
        out["traits"] = clean_traits(values["traits"])
    if "seed" in values:
        out["seed"] = parse_seed(values["seed"])
    if "lora_path" in values:
        out["lora_path"] = clean_lora_path(values["lora_path"])
    if "lora_weight" in values:
        out["lora_weight"] = parse_weight(values["lora_weight"])
    return out


def _clean_look_fields(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in values:
        out["name"] = _text(values, "name", limit=LOOK_NAME_MAX, label="look's name", required=True, single_line=True)
    if "description" in values:
        out["description"] = _text(values, "description", limit=DESCRIPTION_MAX, label="description")
    for key in ("prompt_fragment", "negative_fragment"):
        if key in values:
            out[key] = _text(values, key, limit=FRAGMENT_MAX, label=FIELD_LABELS[key])
    return out


def _unknown(changes: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])


def _label(fields: list[str]) -> str:
    return ", ".join(FIELD_LABELS.get(f, f.replace("_", " ")) for f in fields)


def _draft_note(subject: Character | Look, began: bool) -> str:
    return f" (version {subject.version} started; version {subject.version - 1} stays locked)" if began else ""


# ---- characters -----------------------------------------------------------------------


def find_by_name(db: Session, *, project_id: int, name: str) -> Character | None:
    """The project's character with this name, case-insensitively."""
    return db.scalar(select(Character).where(Character.project_id == project_id, Character.name_key == name_key(name)))


def _check_name_free(db: Session, *, project_id: int, name: str, except_id: int | None = None) -> None:
    found = find_by_name(db, project_id=project_id, name=name)
    if found is not None and found.id != except_id:
        raise Conflict(f"there is already a character called “{found.name}” in this project", field="name")


def list_characters(db: Session, *, project_id: int) -> list[Character]:
    """The project's characters by name, with looks, reference pictures and LoRA loaded."""
    stmt = (
        select(Character)
        .where(Character.project_id == project_id)
        .order_by(Character.name_key, Character.id)
        .options(
            selectinload(Character.references),
            selectinload(Character.looks).selectinload(Look.references),
            selectinload(Character.lora_asset),
        )
    )
    return list(db.scalars(stmt))


def get_character(db: Session, *, project_id: int, character_id: int) -> Character:
    """One character of the project, or NotFound."""
    character = db.get(Character, character_id)
    if character is None or character.project_id != project_id:
        raise NotFound("no such character")
    return character


def create_character(db: Session, *, actor: User | None, project: Project, name: str, **fields: Any) -> Character:
    """Create a character (its seed is drawn at random unless given)."""
    _unknown(fields, CHARACTER_FIELDS)
    values = _clean_character_fields({"name": name, **{k: v for k, v in fields.items() if v is not None}})
    _check_name_free(db, project_id=project.id, name=values["name"])
    values.setdefault("seed", secrets.randbelow(SEED_MAX + 1))
    values.setdefault("traits", {})
    character = Character(project_id=project.id, name_key=name_key(values["name"]), **values)
    db.add(character)
    db.flush()
    record(db, project_id=project.id, actor=actor, verb="character.created", object_type="character",
           object_id=character.id, summary=f"created the character “{character.name}”")  # fmt: skip
    return character


def update_character(db: Session, *, actor: User | None, character: Character, changes: dict[str, Any]) -> Character:
    """Change a character's fields; a locked character first becomes a new draft version."""
    _unknown(changes, CHARACTER_FIELDS)
    values = _clean_character_fields(changes)
    if "name" in values:
        _check_name_free(db, project_id=character.project_id, name=values["name"], except_id=character.id)
    diff = {k: v for k, v in values.items() if getattr(character, k) != v}
    if diff.get("lora_path"):
        diff["lora_asset_id"] = None  # a path on the workers replaces an uploaded file
    if "lora_asset_id" in diff and character.lora_asset_id is None:
        del diff["lora_asset_id"]
    if not diff:
        return character
    began = versions.start_new_version(character)
    for key, value in diff.items():
        setattr(character, key, value)
    if "name" in diff:
        character.name_key = name_key(diff["name"])
    if "lora_asset_id" in diff:
        character.lora_asset = None
    character.updated_at = utcnow()
    db.flush()
    record(db, project_id=character.project_id, actor=actor, verb="character.updated", object_type="character",
           object_id=character.id, summary=f"changed the {_label(list(diff))} of “{character.name}”"
           + _draft_note(character, began), data={"fields": sorted(diff), "version": character.version})  # fmt: skip
    return character


def set_lora_file(db: Session, *, actor: User | None, character: Character, data: bytes | BinaryIO,
                  filename: str) -> Character:  # fmt: skip
    """Upload LoRA weights (.safetensors, streamed from a file) for the character; they replace a path on the workers."""
    asset = media.store_lora(db, project_id=character.project_id, data=data, filename=filename, actor=actor)
    if character.lora_asset_id == asset.id and character.lora_path is None:
        return character
    began = versions.start_new_version(character)
    character.lora_asset = asset
    character.lora_path = None
    character.updated_at = utcnow()
    db.flush()
    record(db, project_id=character.project_id, actor=actor, verb="character.lora_set", object_type="character",
           object_id=character.id, summary=f"gave “{character.name}” the LoRA “{asset.original_name or 'upload'}”"
           + _draft_note(character, began), data={"asset_id": asset.id, "version": character.version})  # fmt: skip
    return character


def remove_lora(db: Session, *, actor: User | None, character: Character) -> Character:
    """The character no longer uses a LoRA."""
    if character.lora_asset_id is None and character.lora_path is None:
        return character
    began = versions.start_new_version(character)
    character.lora_asset = None
    character.lora_path = None
    character.updated_at = utcnow()
    db.flush()
    record(db, project_id=character.project_id, actor=actor, verb="character.lora_removed", object_type="character",
           object_id=character.id, summary=f"removed the LoRA of “{character.name}”" + _draft_note(character, began),
           data={"version": character.version})  # fmt: skip
    return character


# ---- locking and versions ---------------------------------------------------------------


def _fresh(db: Session, subject: Character | Look) -> None:
    """Reload the subject's relationships, so a snapshot sees every reference added in this transaction."""
    db.flush()
    db.expire(subject, ["references"] + (["lora_asset"] if isinstance(subject, Character) else []))


def lock_character(db: Session, *, actor: User, character: Character) -> CharacterVersion:
    """Lock the character's current version into an immutable snapshot (locking a locked character changes nothing)."""
    was_locked = character.locked
    _fresh(db, character)
    snap = versions.lock(db, subject=character, actor=actor)
    if not was_locked:
        character.updated_at = utcnow()
        record(db, project_id=character.project_id, actor=actor, verb="character.locked", object_type="character",
               object_id=character.id, summary=f"locked “{character.name}” at version {snap.number}",
               data={"version": snap.number, "version_id": snap.id})  # fmt: skip
    return snap


def lock_look(db: Session, *, actor: User, look: Look) -> CharacterVersion:
    """Lock the look's current version into an immutable snapshot."""
    was_locked = look.locked
    _fresh(db, look)
    snap = versions.lock(db, subject=look, actor=actor)
    if not was_locked:
        look.updated_at = utcnow()
        record(db, project_id=look.project_id, actor=actor, verb="look.locked", object_type="look", object_id=look.id,
               summary=f"locked the look “{look.name}” of “{look.character.name}” at version {snap.number}",
               data={"character_id": look.character_id, "version": snap.number, "version_id": snap.id})  # fmt: skip
    return snap


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return str(value)


def _lora_text(lora: dict | None) -> str:
    if not lora:
        return "none"
    where = lora.get("path") or (lora.get("key") or "upload").rsplit("/", 1)[-1][:16]
    return f"{where} × {lora.get('weight', 1.0):g}"


def _references_change(old: list[dict], new: list[dict]) -> Change | None:
    o_ids = [r.get("asset_id") for r in old]
    n_ids = [r.get("asset_id") for r in new]
    parts = []
    added = len(set(n_ids) - set(o_ids))
    removed = len(set(o_ids) - set(n_ids))
    if added:
        parts.append(f"{added} added")
    if removed:
        parts.append(f"{removed} removed")
    if not added and not removed and o_ids != n_ids:
        parts.append("reordered")
    o_cap = {r.get("asset_id"): r.get("caption", "") for r in old}
    recaptioned = sum(1 for r in new if r.get("asset_id") in o_cap and o_cap[r.get("asset_id")] != r.get("caption", ""))
    if recaptioned:
        parts.append(f"{recaptioned} caption{'s' if recaptioned != 1 else ''} changed")
    if not parts:
        return None
    return Change("references", f"{len(o_ids)} picture{'s' if len(o_ids) != 1 else ''}",
                  f"{len(n_ids)} picture{'s' if len(n_ids) != 1 else ''} ({', '.join(parts)})")  # fmt: skip


def diff_data(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """What changed between two snapshots' data (or a snapshot and the draft), field by field."""
    changes: list[Change] = []
    for key in ("name", "description", "prompt_fragment", "negative_fragment", "seed"):
        if (key in old or key in new) and old.get(key) != new.get(key):
            changes.append(Change(FIELD_LABELS[key], _show(old.get(key)), _show(new.get(key))))
    o_traits, n_traits = old.get("traits") or {}, new.get("traits") or {}
    for key in list(dict.fromkeys([*o_traits, *n_traits])):
        if o_traits.get(key) != n_traits.get(key):
            label = STANDARD_TRAITS.get(key, key.replace("_", " ")).lower()
            changes.append(Change(f"trait: {label}", _show(o_traits.get(key)), _show(n_traits.get(key))))
    if ("lora" in old or "lora" in new) and old.get("lora") != new.get("lora"):
        changes.append(Change("LoRA", _lora_text(old.get("lora")), _lora_text(new.get("lora"))))
    ref = _references_change(old.get("references") or [], new.get("references") or [])
    if ref is not None:
        changes.append(ref)
    return changes


@dataclass
class VersionEntry:
    """One locked snapshot with who locked it and what changed since the one before."""

    version: CharacterVersion
    look_name: str | None
    locked_by: str | None
    changes: list[Change] = field(default_factory=list)
    first: bool = False


def list_versions(db: Session, *, character: Character) -> list[VersionEntry]:
    """The character's snapshots and its looks', newest first per subject (character first, then looks)."""
    rows = db.execute(
        select(CharacterVersion, User.display_name)
        .outerjoin(User, User.id == CharacterVersion.locked_by_id)
        .where(CharacterVersion.character_id == character.id)
        .order_by(CharacterVersion.look_id.is_not(None), CharacterVersion.look_id, CharacterVersion.number)
    )
    look_names = {lk.id: lk.name for lk in character.looks}
    entries: list[VersionEntry] = []
    previous: dict[int | None, CharacterVersion] = {}
    for snap, who in rows:
        before = previous.get(snap.look_id)
        entries.append(VersionEntry(version=snap, look_name=look_names.get(snap.look_id) if snap.look_id else None,
                                    locked_by=who, changes=diff_data(before.data, snap.data) if before else [],
                                    first=before is None))  # fmt: skip
        previous[snap.look_id] = snap
    order = {None: -1, **{lk.id: i for i, lk in enumerate(character.looks)}}
    entries.sort(key=lambda e: (order.get(e.version.look_id, len(order)), -e.version.number))
    return entries


def latest_snapshot(db: Session, *, subject: Character | Look) -> CharacterVersion | None:
    """The highest locked snapshot of a character (without looks) or of one look."""
    is_look = isinstance(subject, Look)
    return db.scalar(
        select(CharacterVersion)
        .where(
            CharacterVersion.character_id == (subject.character_id if is_look else subject.id),
            CharacterVersion.look_id == subject.id if is_look else CharacterVersion.look_id.is_(None),
        )
        .order_by(CharacterVersion.number.desc())
        .limit(1)
    )


def draft_changes(db: Session, *, subject: Character | Look) -> list[Change] | None:
    """What the current draft changes against the latest locked version; None when locked or never locked."""
    if subject.locked:
        return None
    snap = latest_snapshot(db, subject=subject)
    if snap is None:
        return None
    _fresh(db, subject)
    current = versions.look_data(subject) if isinstance(subject, Look) else versions.character_data(subject)
    return diff_data(snap.data, current)


# ---- looks -------------------------------------------------------------------------------


def get_look(db: Session, *, project_id: int, look_id: int) -> Look:
    look = db.get(Look, look_id)
    if look is None or look.project_id != project_id:
        raise NotFound("no such look")
    return look


def _check_look_name_free(character: Character, name: str, except_id: int | None = None) -> None:
    for other in character.looks:
        if other.id != except_id and name_key(other.name) == name_key(name):
            raise Conflict(f"“{character.name}” already has a look called “{other.name}”", field="name")


def create_look(db: Session, *, actor: User | None, character: Character, name: str, **fields: Any) -> Look:
    """Add a look (wardrobe, age, injury...) to a character, after its other looks."""
    _unknown(fields, LOOK_FIELDS)
    values = _clean_look_fields({"name": name, **{k: v for k, v in fields.items() if v is not None}})
    _check_look_name_free(character, values["name"])
    if len(character.looks) >= LOOKS_MAX:
        raise Invalid(f"a character has {LOOKS_MAX} looks at most", field="name")
    position = max((lk.position for lk in character.looks), default=-1) + 1
    look = Look(project_id=character.project_id, character_id=character.id, position=position, **values)
    db.add(look)
    db.flush()
    db.expire(character, ["looks"])
    record(db, project_id=character.project_id, actor=actor, verb="look.created", object_type="look",
           object_id=look.id, summary=f"added the look “{look.name}” to “{character.name}”",
           data={"character_id": character.id})  # fmt: skip
    return look


def update_look(db: Session, *, actor: User | None, look: Look, changes: dict[str, Any]) -> Look:
    """Change a look's fields; a locked look first becomes a new draft version."""
    _unknown(changes, LOOK_FIELDS)
    values = _clean_look_fields(changes)
    if "name" in values:
        _check_look_name_free(look.character, values["name"], except_id=look.id)
    diff = {k: v for k, v in values.items() if getattr(look, k) != v}
    if not diff:
        return look
    began = versions.start_new_version(look)
    for key, value in diff.items():
        setattr(look, key, value)
    look.updated_at = utcnow()
    db.flush()
    record(db, project_id=look.project_id, actor=actor, verb="look.updated", object_type="look", object_id=look.id,
           summary=f"changed the {_label(list(diff))} of the look “{look.name}” of “{look.character.name}”"
           + _draft_note(look, began), data={"fields": sorted(diff), "version": look.version})  # fmt: skip
    return look


# ---- reference pictures ---------------------------------------------------------------


def _siblings(db: Session, *, character_id: int, look_id: int | None) -> list[ReferenceImage]:
    return list(db.scalars(
        select(ReferenceImage)
        .where(ReferenceImage.character_id == character_id,
               ReferenceImage.look_id.is_(None) if look_id is None else ReferenceImage.look_id == look_id)
        .order_by(ReferenceImage.position, ReferenceImage.id)
    ))  # fmt: skip


def _subject_name(character: Character, look: Look | None) -> str:
    return f"the look “{look.name}” of “{character.name}”" if look else f"“{character.name}”"


def add_reference(db: Session, *, actor: User | None, character: Character, look: Look | None = None, data: bytes,
                  filename: str, caption: str = "") -> ReferenceImage:  # fmt: skip
    """Store an uploaded picture (sniffed, limited, re-encoded by the media store) as a reference of a character or look."""
    if look is not None and look.character_id != character.id:
        raise NotFound("that look belongs to another character")
    text = _text({"caption": caption}, "caption", limit=CAPTION_MAX, label="caption", single_line=True)
    siblings = _siblings(db, character_id=character.id, look_id=look.id if look else None)
    if len(siblings) >= REFERENCES_MAX:
        raise Invalid(f"{_subject_name(character, look)} has {REFERENCES_MAX} reference pictures already; delete one "
                      "first", field="file")  # fmt: skip
    asset = media.store_image(db, project_id=character.project_id, data=data, filename=filename, actor=actor)
    if any(r.asset_id == asset.id for r in siblings):
        raise Conflict(f"that picture is already a reference of {_subject_name(character, look)}", field="file")
    subject = look or character
    began = versions.start_new_version(subject)
    ref = ReferenceImage(project_id=character.project_id, asset_id=asset.id, character_id=character.id,
                         look_id=look.id if look else None, caption=text,
                         position=max((r.position for r in siblings), default=-1) + 1)  # fmt: skip
    db.add(ref)
    subject.updated_at = utcnow()
    _fresh(db, subject)
    record(db, project_id=character.project_id, actor=actor, verb="character.reference_added",
           object_type="look" if look else "character", object_id=subject.id,
           summary=f"added a reference picture to {_subject_name(character, look)}" + _draft_note(subject, began),
           data={"reference_id": ref.id, "asset_id": asset.id, "version": subject.version})  # fmt: skip
    return ref


def reference_subject(db: Session, *, reference: ReferenceImage) -> tuple[Character, Look | None]:
    """The character (and look) a reference picture belongs to; NotFound for a location's picture."""
    if reference.character_id is None:
        raise NotFound("that picture is not a character's reference")
    character = db.get(Character, reference.character_id)
    if character is None:
        raise NotFound("no such character")
    look = db.get(Look, reference.look_id) if reference.look_id is not None else None
    return character, look


def update_reference(db: Session, *, actor: User | None, reference: ReferenceImage, caption: str | None = None,
                     position: int | None = None) -> ReferenceImage:  # fmt: skip
    """Change a reference picture's caption and/or move it to `position` (0 = first) among its siblings."""
    character, look = reference_subject(db, reference=reference)
    subject = look or character
    changed: list[str] = []
    new_caption = None
    if caption is not None:
        new_caption = _text({"caption": caption}, "caption", limit=CAPTION_MAX, label="caption", single_line=True)
        if new_caption != reference.caption:
            changed.append("caption")
    siblings = _siblings(db, character_id=character.id, look_id=reference.look_id)
    order = [r for r in siblings if r.id != reference.id]
    if position is not None:
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise Invalid("the position must be a whole number from 0", field="position")
        order.insert(min(position, len(order)), reference)
        if [r.id for r in order] != [r.id for r in siblings]:
            changed.append("order")
    if not changed:
        return reference
    began = versions.start_new_version(subject)
    if new_caption is not None:
        reference.caption = new_caption
    if "order" in changed:
        for i, r in enumerate(order):
            r.position = i
    subject.updated_at = utcnow()
    _fresh(db, subject)
    what = " and ".join({"caption": "recaptioned", "order": "reordered"}[c] for c in changed)
    record(db, project_id=character.project_id, actor=actor, verb="character.reference_updated",
           object_type="look" if look else "character", object_id=subject.id,
           summary=f"{what} a reference picture of {_subject_name(character, look)}" + _draft_note(subject, began),
           data={"reference_id": reference.id, "version": subject.version})  # fmt: skip
    return reference


def move_reference(db: Session, *, actor: User | None, reference: ReferenceImage, direction: str) -> ReferenceImage:
    """Move a reference picture one place earlier ("up") or later ("down")."""
    if direction not in ("up", "down"):
        raise Invalid("move a picture “up” or “down”", field="direction")
    character, _look = reference_subject(db, reference=reference)
    ids = [r.id for r in _siblings(db, character_id=character.id, look_id=reference.look_id)]
    index = ids.index(reference.id)
    target = max(0, index - 1) if direction == "up" else min(len(ids) - 1, index + 1)
    return update_reference(db, actor=actor, reference=reference, position=target)


def delete_reference(db: Session, *, actor: User | None, reference: ReferenceImage) -> None:
    """Remove a reference picture (the stored file stays: locked snapshots may still point at it)."""
    character, look = reference_subject(db, reference=reference)
    subject = look or character
    began = versions.start_new_version(subject)
    ref_id, asset_id = reference.id, reference.asset_id
    db.delete(reference)
    db.flush()
    for i, r in enumerate(_siblings(db, character_id=character.id, look_id=look.id if look else None)):
        r.position = i
    subject.updated_at = utcnow()
    _fresh(db, subject)
    record(db, project_id=character.project_id, actor=actor, verb="character.reference_removed",
           object_type="look" if look else "character", object_id=subject.id,
           summary=f"removed a reference picture of {_subject_name(character, look)}" + _draft_note(subject, began),
           data={"reference_id": ref_id, "asset_id": asset_id, "version": subject.version})  # fmt: skip

