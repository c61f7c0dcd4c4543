"""Writers'-room rows for storyboard tests, made with the models (the storyboard depends on no other service)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.characters.models import Character, Look, ReferenceImage
from app.design.models import Location, StylePreset
from app.media.service import store_image
from tests.images import png_bytes


def character(db: Session, project, name: str, fragment: str = "", negative: str = "", seed: int | None = None
              ) -> Character:  # fmt: skip
    c = Character(project_id=project.id, name=name, name_key=name.lower(), prompt_fragment=fragment,
                  negative_fragment=negative, seed=seed)  # fmt: skip
    db.add(c)
    db.flush()
    return c


def look(db: Session, char: Character, name: str, fragment: str = "", negative: str = "") -> Look:
    lk = Look(project_id=char.project_id, character_id=char.id, name=name, prompt_fragment=fragment,
              negative_fragment=negative)  # fmt: skip
    db.add(lk)
    db.flush()
    return lk


def location(db: Session, project, name: str, fragment: str = "", negative: str = "") -> Location:
    loc = Location(project_id=project.id, name=name, name_key=name.lower(), prompt_fragment=fragment,
                   negative_fragment=negative)  # fmt: skip
    db.add(loc)
    db.flush()
    return loc


def style(db: Session, project, name: str, fragment: str = "", negative: str = "", default: bool = True
          ) -> StylePreset:  # fmt: skip
    s = StylePreset(project_id=project.id, name=name, prompt_fragment=fragment, negative_fragment=negative,
                    is_default=default)  # fmt: skip
    db.add(s)
    db.flush()
    return s


def reference(db: Session, project, *, character: Character | None = None, look: Look | None = None,
              location: Location | None = None, colour=(180, 120, 60)) -> ReferenceImage:  # fmt: skip
    asset = store_image(db, project_id=project.id, data=png_bytes(32, 18, colour), filename="ref.png", actor=None)
    ref = ReferenceImage(project_id=project.id, asset_id=asset.id,
                         character_id=character.id if character else (look.character_id if look else None),
                         look_id=look.id if look else None, location_id=location.id if location else None)  # fmt: skip
    db.add(ref)
    db.flush()
    return ref
