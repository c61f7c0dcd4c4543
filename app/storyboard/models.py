"""Scenes and shots (with camera, lighting and the characters in them)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.characters.models import Character, Look
from app.db import Base, utcnow
from app.design.models import Location, StylePreset


class Scene(Base):
    __tablename__ = "scenes"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(12))  # "12", or "12A" for a scene put in later
    heading: Mapped[str] = mapped_column(String(200))  # INT. KITCHEN - NIGHT
    synopsis: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    source_key: Mapped[str | None] = mapped_column(String(120))  # set by screenplay import (idempotent re-import)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    shots: Mapped[list[Shot]] = relationship(
        back_populates="scene", order_by="Shot.position, Shot.id", cascade="all, delete-orphan"
    )


class Shot(Base):
    __tablename__ = "shots"
    __table_args__ = (Index("ix_shots_scene_id_position", "scene_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    scene_id: Mapped[int] = mapped_column(ForeignKey("scenes.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(16))  # 12A, 12B ... (renumbered on request only)
    position: Mapped[int] = mapped_column(default=0)
    action: Mapped[str] = mapped_column(Text, default="")
    dialogue: Mapped[str] = mapped_column(Text, default="")
    prompt: Mapped[str] = mapped_column(Text, default="")
    negative_prompt: Mapped[str] = mapped_column(Text, default="")
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id", ondelete="SET NULL"))
    style_id: Mapped[int | None] = mapped_column(ForeignKey("style_presets.id", ondelete="SET NULL"))
    camera: Mapped[dict[str, Any]] = mapped_column(default=dict)  # move, speed, lens_mm, framing, angle
    lighting: Mapped[dict[str, Any]] = mapped_column(default=dict)  # key, time_of_day, color, mood
    duration_s: Mapped[float] = mapped_column(Float, default=4.0)
    fps: Mapped[float | None] = mapped_column(Float)  # None: the project's
    width: Mapped[int | None]
    height: Mapped[int | None]
    model: Mapped[str | None] = mapped_column(String(64))  # None: the project's default model
    seed: Mapped[int | None] = mapped_column(BigInteger)  # 0 .. 2**32 - 1
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft ready generating in_review approved
    coverage_group: Mapped[int | None]  # shots of one coverage set share the id of the shot it was made from
    coverage_label: Mapped[str] = mapped_column(String(40), default="")
    source_key: Mapped[str | None] = mapped_column(String(120))
    sketch_key: Mapped[str | None] = mapped_column(String(200))  # JPEG: the storyboard sketch (app.storyboard.sketches)
    sketch_hash: Mapped[str | None] = mapped_column(String(32))  # of what it was drawn from: another hash, redraw
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    scene: Mapped[Scene] = relationship(back_populates="shots")
    location: Mapped[Location | None] = relationship()
    style: Mapped[StylePreset | None] = relationship()
    cast: Mapped[list[ShotCharacter]] = relationship(
        back_populates="shot", cascade="all, delete-orphan", order_by="ShotCharacter.position, ShotCharacter.id"
    )


class ShotCharacter(Base):
    """A character in a shot, in a look, pinned to the versions the shot was written with."""

    __tablename__ = "shot_characters"
    __table_args__ = (UniqueConstraint("shot_id", "character_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shot_id: Mapped[int] = mapped_column(ForeignKey("shots.id", ondelete="CASCADE"), index=True)
    character_id: Mapped[int] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"), index=True)
    character_version: Mapped[int]
    look_id: Mapped[int | None] = mapped_column(ForeignKey("looks.id", ondelete="SET NULL"))
    look_version: Mapped[int | None]
    position: Mapped[int] = mapped_column(default=0)

    shot: Mapped[Shot] = relationship(back_populates="cast")
    character: Mapped[Character] = relationship()
    look: Mapped[Look | None] = relationship()
