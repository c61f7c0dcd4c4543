"""Production design: locations (with reference pictures) and style presets (the project's look).

A project has at most one default style, and exactly one as soon as it has any: the first style
becomes the default, making another the default clears the flag on the rest in the same
transaction, and deleting the default hands the flag to the oldest remaining style. Changes to
the flag lock the project row, so two people doing it at once never leave two defaults or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.activity.service import record
from app.auth.models import User
from app.characters.models import ReferenceImage
from app.design.models import Location, StylePreset
from app.errors import Conflict, Invalid, NotFound
from app.media.service import store_image
from app.projects.models import Project
from app.text import name_key

LOCATION_NAME_MAX = 120
STYLE_NAME_MAX = 80
DESCRIPTION_MAX = 5000
FRAGMENT_MAX = 2000
CAPTION_MAX = 300
MAX_REFERENCES = 24
LOCATION_FIELDS = ("name", "description", "prompt_fragment", "negative_fragment")
STYLE_FIELDS = ("name", "description", "prompt_fragment", "negative_fragment")


# ---- cleaning input ---------------------------------------------------------------------


def _name(value: Any, *, what: str, limit: int) -> str:
    name = " ".join(str(value or "").split())
    if not name:
        raise Invalid(f"the {what} needs a name", field="name")
    if len(name) > limit:
        raise Invalid(f"the {what} name is too long ({limit} characters at most)", field="name")
    return name


def _text(value: Any, *, field: str, limit: int, label: str) -> str:
    text = str(value or "").strip()
    if len(text) > limit:
        raise Invalid(f"the {label} is too long ({limit} characters at most)", field=field)
    return text


def _fragment(value: Any, *, field: str, label: str) -> str:
    """A prompt fragment as the model will get it: one line, single spaces."""
    text = " ".join(str(value or "").split())
    if len(text) > FRAGMENT_MAX:
        raise Invalid(f"the {label} is too long ({FRAGMENT_MAX} characters at most)", field=field)
    return text


def _clean(values: dict[str, Any], *, what: str, name_limit: int, allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = set(values) - set(allowed)
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    out: dict[str, Any] = {}
    if "name" in values:
        out["name"] = _name(values["name"], what=what, limit=name_limit)
    if "description" in values:
        out["description"] = _text(values["description"], field="description", limit=DESCRIPTION_MAX,
                                   label="description")  # fmt: skip
    if "prompt_fragment" in values:
        out["prompt_fragment"] = _fragment(values["prompt_fragment"], field="prompt_fragment", label="prompt fragment")
    if "negative_fragment" in values:
        out["negative_fragment"] = _fragment(values["negative_fragment"], field="negative_fragment",
                                             label="negative fragment")  # fmt: skip
    return out


def _caption(value: Any) -> str:
    caption = " ".join(str(value or "").split())
    if len(caption) > CAPTION_MAX:
        raise Invalid(f"the caption is too long ({CAPTION_MAX} characters at most)", field="caption")
    return caption


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# ---- locations ------------------------------------------------------------------------------


def list_locations(db: Session, *, project_id: int) -> list[Location]:
    """The project's locations by name, their reference pictures loaded."""
    stmt = (
        select(Location)
        .where(Location.project_id == project_id)
        .options(selectinload(Location.references))
        .order_by(Location.name_key, Location.id)
    )
    return list(db.scalars(stmt))


def get_location(db: Session, *, project_id: int, location_id: int) -> Location:
    """One location of the project, or NotFound."""
    location = db.get(Location, location_id)
    if location is None or location.project_id != project_id:
        raise NotFound("no such location")
    return location


def _location_name_taken(db: Session, *, project_id: int, key: str, exclude_id: int | None = None) -> Location | None:
    stmt = select(Location).where(Location.project_id == project_id, Location.name_key == key)
    if exclude_id is not None:
        stmt = stmt.where(Location.id != exclude_id)
    return db.scalar(stmt)


def create_location(db: Session, *, actor: User | None, project_id: int, name: str, **fields: Any) -> Location:
    """Add a location; its name is unique in the project (case does not count)."""
    values = _clean({"name": name, **fields}, what="location", name_limit=LOCATION_NAME_MAX, allowed=LOCATION_FIELDS)
    key = name_key(values["name"])
    if (other := _location_name_taken(db, project_id=project_id, key=key)) is not None:
        raise Conflict(f"there is already a location called “{other.name}”", field="name")
    location = Location(project_id=project_id, name_key=key, **values)
    db.add(location)
    db.flush()
    record(db, project_id=project_id, actor=actor, verb="location.created", object_type="location",
           object_id=location.id, summary=f"added the location “{location.name}”")  # fmt: skip
    return location


def update_location(db: Session, *, actor: User | None, location: Location, changes: dict[str, Any]) -> Location:
    """Change a location's name, description or fragments; records what changed."""
    values = _clean(changes, what="location", name_limit=LOCATION_NAME_MAX, allowed=LOCATION_FIELDS)
    if "name" in values:
        key = name_key(values["name"])
        other = _location_name_taken(db, project_id=location.project_id, key=key, exclude_id=location.id)
        if other is not None:
            raise Conflict(f"there is already a location called “{other.name}”", field="name")
        if key != location.name_key:
            location.name_key = key
    diff = {k: v for k, v in values.items() if getattr(location, k) != v}
    for key, value in diff.items():
        setattr(location, key, value)
    if diff:
        db.flush()
        record(db, project_id=location.project_id, actor=actor, verb="location.updated", object_type="location",
               object_id=location.id, summary=f"changed the location “{location.name}”: "
               + ", ".join(k.replace("_", " ") for k in diff),
               data={"fields": sorted(diff)})  # fmt: skip
    return location


def delete_location(db: Session, *, actor: User | None, location: Location, shots: int) -> int:
    """Delete a location and its references; the `shots` that used it keep going without one. Returns their number.

    `app.storyboard.usage.delete_location` counts those shots and calls this (design knows nothing of shots).
    """
    project_id, location_id, name = location.project_id, location.id, location.name
    db.delete(location)
    db.flush()
    note = f" ({_plural(shots, 'shot')} now without a location)" if shots else ""
    record(db, project_id=project_id, actor=actor, verb="location.deleted", object_type="location",
           object_id=location_id, summary=f"deleted the location “{name}”{note}",
           data={"name": name, "shots": shots})  # fmt: skip
    return shots


def add_location_reference(
    db: Session, *, actor: User | None, location: Location, data: bytes, filename: str, caption: str = ""
) -> ReferenceImage:
    """Store an uploaded picture (checked and re-encoded by the media store) as a reference of the location."""
    caption = _caption(caption)
    count, last = db.execute(
        select(func.count(), func.max(ReferenceImage.position)).where(ReferenceImage.location_id == location.id)
    ).one()
    if count >= MAX_REFERENCES:
        raise Invalid(f"a location holds {MAX_REFERENCES} reference pictures at most; delete one first", field="file")
    asset = store_image(db, project_id=location.project_id, data=data, filename=filename, actor=actor)
    duplicate = db.scalar(
        select(ReferenceImage.id).where(ReferenceImage.location_id == location.id, ReferenceImage.asset_id == asset.id)
    )
    if duplicate is not None:
        raise Conflict("that picture is already one of this location's references", field="file")
    ref = ReferenceImage(project_id=location.project_id, asset_id=asset.id, location_id=location.id, caption=caption,
                         position=(last + 1) if last is not None else 0)  # fmt: skip
    db.add(ref)
    db.flush()
    db.expire(location, ["references"])
    record(db, project_id=location.project_id, actor=actor, verb="location.reference_added", object_type="location",
           object_id=location.id, summary=f"added a reference picture to the location “{location.name}”",
           data={"reference_id": ref.id, "asset_id": asset.id})  # fmt: skip
    return ref


def get_location_reference(db: Session, *, location: Location, reference_id: int) -> ReferenceImage:
    """One reference picture of the location, or NotFound."""
    ref = db.get(ReferenceImage, reference_id)
    if ref is None or ref.location_id != location.id:
        raise NotFound("that picture is not one of this location's references")
    return ref


def caption_location_reference(
    db: Session, *, actor: User | None, location: Location, reference_id: int, caption: str
) -> ReferenceImage:
    """Change the caption of one of the location's reference pictures."""
    ref = get_location_reference(db, location=location, reference_id=reference_id)
    caption = _caption(caption)
    if caption != ref.caption:
        ref.caption = caption
        db.flush()
        record(db, project_id=location.project_id, actor=actor, verb="location.reference_captioned",
               object_type="location", object_id=location.id,
               summary=f"captioned a reference picture of the location “{location.name}”",
               data={"reference_id": ref.id})  # fmt: skip
    return ref


def remove_location_reference(db: Session, *, actor: User | None, location: Location, reference_id: int) -> None:
    """Remove one of the location's reference pictures (the stored file stays for anything else using it)."""
    ref = get_location_reference(db, location=location, reference_id=reference_id)
    db.delete(ref)
    db.flush()
    db.expire(location, ["references"])
    record(db, project_id=location.project_id, actor=actor, verb="location.reference_removed", object_type="location",
           object_id=location.id, summary=f"removed a reference picture from the location “{location.name}”",
           data={"reference_id": reference_id})  # fmt: skip


# ---- styles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A ready-made look a team can add with one click."""

    key: str
    name: str
    description: str
    prompt_fragment: str
    negative_fragment: str


STYLE_PRESETS: tuple[Preset, ...] = (
    Preset(
        key="vision3-500t",
        name="35mm film — Kodak Vision3 500T",
        description="Tungsten-balanced motion-picture negative: visible but fine grain, warm practicals, "
        "cool ambient light, soft halation around highlights. The classic night-interior look.",
        prompt_fragment="shot on 35mm film, Kodak Vision3 500T, fine organic film grain, soft halation around "
        "highlights, gentle highlight roll-off, rich deep shadows, tungsten colour balance, spherical prime lenses, "
        "cinematic colour grade",
        negative_fragment="digital video look, oversharpened, HDR, plastic skin, smooth noiseless image, "
        "flat lighting, watermark, text, logo",
    ),
    Preset(
        key="alexa-clean",
        name="Digital cinema — ARRI Alexa, clean",
        description="Modern high-end digital: wide latitude, natural skin, neutral grade, no grain. "
        "A clean base for commercials and contemporary drama.",
        prompt_fragment="shot on ARRI Alexa, clean digital cinema image, natural skin tones, wide dynamic range, "
        "soft contrast, neutral colour grade, modern prime lenses, shallow depth of field, crisp detail",
        negative_fragment="film grain, noise, heavy vignette, chromatic aberration, oversaturated, cartoon, "
        "low resolution, watermark, text, logo",
    ),
    Preset(
        key="16mm-1970s-doc",
        name="1970s 16mm documentary",
        description="Observational documentary of the seventies: heavy grain, faded warm colour, available light, "
        "a handheld operator finding the frame.",
        prompt_fragment="1970s documentary footage, 16mm film, heavy film grain, faded warm colours, slightly soft "
        "focus, handheld observational camera, available natural light, zoom lens, period-accurate wardrobe and props",
        negative_fragment="modern, clean digital image, crisp, smartphone footage, CGI, neon, drone shot, watermark, "
        "text",
    ),
    Preset(
        key="noir-bw",
        name="Black-and-white noir",
        description="1940s film noir: monochrome, hard low-key light, deep shadows, smoke and wet streets.",
        prompt_fragment="black-and-white film noir, high-contrast monochrome, hard low-key lighting, deep black "
        "shadows, venetian-blind shadow patterns, wet streets, cigarette smoke, 1940s Hollywood, 35mm",
        negative_fragment="colour, saturated, pastel tones, flat lighting, soft even light, modern cars, "
        "smartphones, watermark, text",
    ),
    Preset(
        key="anime-cel",
        name="Anime cel-shaded",
        description="Hand-drawn 2D animation: clean line art, flat cel shading, painted backgrounds.",
        prompt_fragment="anime style, cel-shaded, clean ink line art, flat colour fills with hard-edged shadows, "
        "painted background, hand-drawn 2D animation, expressive eyes",
        negative_fragment="photorealistic, photograph, live action, 3D render, film grain, blurry, deformed hands, "
        "watermark, text",
    ),
    Preset(
        key="anamorphic-scope",
        name="Anamorphic widescreen — 2.39:1",
        description="Big-screen spectacle: anamorphic glass, oval bokeh, horizontal flares, "
        "a bold teal and orange grade.",
        prompt_fragment="anamorphic lens, 2.39:1 widescreen framing, oval bokeh, horizontal blue lens flares, "
        "slight barrel distortion, teal and orange colour grade, high production value, cinematic",
        negative_fragment="circular bokeh, flat lighting, amateur footage, low budget, oversaturated, watermark, text",
    ),
    Preset(
        key="super8-home",
        name="Super 8 home movie",
        description="Memories on 8mm: saturated warm colour, gate weave, light leaks, soft focus, "
        "a small square frame.",
        prompt_fragment="Super 8 home movie, 8mm film, strong grain, warm saturated Kodachrome colours, gate weave, "
        "light leaks, soft focus, vignetting, nostalgic",
        negative_fragment="sharp digital image, clean, modern, HDR, CGI, watermark, text",
    ),
)
PRESETS_BY_KEY = {p.key: p for p in STYLE_PRESETS}


def list_styles(db: Session, *, project_id: int) -> list[StylePreset]:
    """The project's styles, the default first, then oldest first."""
    stmt = (
        select(StylePreset)
        .where(StylePreset.project_id == project_id)
        .order_by(StylePreset.is_default.desc(), StylePreset.created_at, StylePreset.id)
    )
    return list(db.scalars(stmt))


def get_style(db: Session, *, project_id: int, style_id: int) -> StylePreset:
    """One style of the project, or NotFound."""
    style = db.get(StylePreset, style_id)
    if style is None or style.project_id != project_id:
        raise NotFound("no such style")
    return style


def default_style(db: Session, *, project_id: int) -> StylePreset | None:
    """The style a shot without one of its own gets (None while the project has no style)."""
    stmt = (
        select(StylePreset)
        .where(StylePreset.project_id == project_id)
        .order_by(StylePreset.is_default.desc(), StylePreset.created_at, StylePreset.id)
        .limit(1)
    )
    return db.scalar(stmt)


def _lock_styles(db: Session, *, project_id: int) -> list[StylePreset]:
    """Serialize changes to the default flag within a project; returns its styles, oldest first."""
    db.execute(select(Project.id).where(Project.id == project_id).with_for_update())
    stmt = (
        select(StylePreset)
        .where(StylePreset.project_id == project_id)
        .order_by(StylePreset.created_at, StylePreset.id)
        .execution_options(populate_existing=True)
    )
    return list(db.scalars(stmt))


def _make_default(styles: list[StylePreset], chosen: StylePreset) -> None:
    for s in styles:
        s.is_default = s.id == chosen.id


def _style_name_taken(db: Session, *, project_id: int, name: str, exclude_id: int | None = None) -> StylePreset | None:
    stmt = select(StylePreset).where(StylePreset.project_id == project_id,
                                     func.lower(StylePreset.name) == name.lower())  # fmt: skip
    if exclude_id is not None:
        stmt = stmt.where(StylePreset.id != exclude_id)
    return db.scalar(stmt.limit(1))


def create_style(
    db: Session, *, actor: User | None, project_id: int, name: str, is_default: bool = False, **fields: Any
) -> StylePreset:
    """Add a style; the project's first style (or one asked to be) becomes the default."""
    values = _clean({"name": name, **fields}, what="style", name_limit=STYLE_NAME_MAX, allowed=STYLE_FIELDS)
    styles = _lock_styles(db, project_id=project_id)
    if (other := _style_name_taken(db, project_id=project_id, name=values["name"])) is not None:
        raise Conflict(f"there is already a style called “{other.name}”", field="name")
    style = StylePreset(project_id=project_id, is_default=False, **values)
    db.add(style)
    db.flush()
    default = is_default or not any(s.is_default for s in styles)
    if default:
        _make_default([*styles, style], style)
        db.flush()
    record(db, project_id=project_id, actor=actor, verb="style.created", object_type="style", object_id=style.id,
           summary=f"added the style “{style.name}”" + (" as the default" if default else ""),
           data={"default": default})  # fmt: skip
    return style


def add_preset_style(db: Session, *, actor: User | None, project_id: int, key: str) -> StylePreset:
    """Add one of the ready-made styles to the project."""
    preset = PRESETS_BY_KEY.get(str(key or ""))
    if preset is None:
        raise Invalid(f"unknown preset {key!r}; choose one of {', '.join(PRESETS_BY_KEY)}", field="preset")
    return create_style(db, actor=actor, project_id=project_id, name=preset.name, description=preset.description,
                        prompt_fragment=preset.prompt_fragment, negative_fragment=preset.negative_fragment)  # fmt: skip


def presets_added(db: Session, *, project_id: int) -> set[str]:
    """Keys of the ready-made styles the project already has (by name)."""
    names = {n.lower() for n in db.scalars(select(StylePreset.name).where(StylePreset.project_id == project_id))}
    return {p.key for p in STYLE_PRESETS if p.name.lower() in names}


def set_default_style(db: Session, *, actor: User | None, style: StylePreset) -> StylePreset:
    """Make `style` the project's default; every other style stops being it, in the same transaction."""
    styles = _lock_styles(db, project_id=style.project_id)
    if style.is_default and sum(s.is_default for s in styles) == 1:
        return style
    _make_default(styles, style)
    db.flush()
    record(db, project_id=style.project_id, actor=actor, verb="style.default_changed", object_type="style",
           object_id=style.id, summary=f"made “{style.name}” the default style")  # fmt: skip
    return style


def update_style(db: Session, *, actor: User | None, style: StylePreset, changes: dict[str, Any]) -> StylePreset:
    """Change a style's name, description or fragments (and make it the default with `is_default: true`)."""
    changes = dict(changes)
    make_default = changes.pop("is_default", None)
    if make_default is False and style.is_default:
        raise Invalid("a project always has one default style; make another style the default instead",
                      field="is_default")  # fmt: skip
    values = _clean(changes, what="style", name_limit=STYLE_NAME_MAX, allowed=STYLE_FIELDS)
    if "name" in values:
        other = _style_name_taken(db, project_id=style.project_id, name=values["name"], exclude_id=style.id)
        if other is not None:
            raise Conflict(f"there is already a style called “{other.name}”", field="name")
    diff = {k: v for k, v in values.items() if getattr(style, k) != v}
    for key, value in diff.items():
        setattr(style, key, value)
    if diff:
        db.flush()
        record(db, project_id=style.project_id, actor=actor, verb="style.updated", object_type="style",
               object_id=style.id, summary=f"changed the style “{style.name}”: "
               + ", ".join(k.replace("_", " ") for k in diff),
               data={"fields": sorted(diff)})  # fmt: skip
    if make_default:
        set_default_style(db, actor=actor, style=style)
    return style


def delete_style(db: Session, *, actor: User | None, style: StylePreset, shots: int) -> int:
    """Delete a style (the oldest remaining one inherits the default flag); returns `shots`, how many used it.

    `app.storyboard.usage.delete_style` counts those shots and calls this (design knows nothing of shots).
    """
    styles = _lock_styles(db, project_id=style.project_id)
    project_id, style_id, name, was_default = style.project_id, style.id, style.name, style.is_default
    db.delete(style)
    db.flush()
    rest = [s for s in styles if s.id != style_id]
    heir = None
    if rest and (was_default or not any(s.is_default for s in rest)):
        heir = rest[0]
        _make_default(rest, heir)
        db.flush()
    note = f" ({_plural(shots, 'shot')} now without a style of their own)" if shots else ""
    record(db, project_id=project_id, actor=actor, verb="style.deleted", object_type="style", object_id=style_id,
           summary=f"deleted the style “{name}”{note}",
           data={"name": name, "shots": shots, "new_default": heir.id if heir else None})  # fmt: skip
    if heir is not None:
        record(db, project_id=project_id, actor=actor, verb="style.default_changed", object_type="style",
               object_id=heir.id, summary=f"“{heir.name}” is now the default style")  # fmt: skip
    return shots
