"""The character library: characters, their looks, immutable locked versions, and reference images.

Locking: a character (or a look) is edited as a draft of version N. Locking freezes version N
into a `CharacterVersion` snapshot. Editing a locked character starts draft N+1; version N stays,
so shots written with it keep it until someone moves them on, and generation only ever uses
locked snapshots.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow
from app.media.models import MediaAsset


class Character(Base):
    __tablename__ = "characters"
    __table_args__ = (Index("uq_characters_project_name", "project_id", "name_key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(String(120))  # lower-cased name: one character per name
    description: Mapped[str] = mapped_column(Text, default="")
    traits: Mapped[dict[str, Any]] = mapped_column(default=dict)  # age, build, face, hair, wardrobe, voice, ...
    prompt_fragment: Mapped[str] = mapped_column(Text, default="")
    negative_fragment: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[int | None] = mapped_column(BigInteger)  # 0 .. 2**32 - 1
    lora_asset_id: Mapped[int | None] = mapped_column(ForeignKey("media_assets.id", ondelete="SET NULL"))
    lora_path: Mapped[str | None] = mapped_column(String(500))  # a path on the workers instead of an upload
    lora_weight: Mapped[float] = mapped_column(Float, default=1.0)
    version: Mapped[int] = mapped_column(default=1)  # the version being edited, or locked if `locked`
    locked: Mapped[bool] = mapped_column(default=False)
    sketch_key: Mapped[str | None] = mapped_column(String(200))  # JPEG drawn from the description (no reference)
    sketch_hash: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    looks: Mapped[list[Look]] = relationship(
        back_populates="character", cascade="all, delete-orphan", order_by="Look.position, Look.id"
    )
    references: Mapped[list[ReferenceImage]] = relationship(
        primaryjoin="and_(ReferenceImage.character_id == Character.id, ReferenceImage.look_id.is_(None))",
        order_by="ReferenceImage.position, ReferenceImage.id",
        viewonly=True,
    )
    lora_asset: Mapped[MediaAsset | None] = relationship()


class Look(Base):
    """A variant of a character (wardrobe, age, injury...) with its own fragment and references."""

    __tablename__ = "looks"
    __table_args__ = (UniqueConstraint("character_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    character_id: Mapped[int] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    prompt_fragment: Mapped[str] = mapped_column(Text, default="")
    negative_fragment: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    locked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    character: Mapped[Character] = relationship(back_populates="looks")
    references: Mapped[list[ReferenceImage]] = relationship(
        primaryjoin="ReferenceImage.look_id == Look.id",
        order_by="ReferenceImage.position, ReferenceImage.id",
        viewonly=True,
    )


class CharacterVersion(Base):
    """An immutable snapshot of a locked character (look_id NULL) or of one locked look.

    `data` holds every field the prompt compiler and the engines read, the reference images'
    media keys and, for a character, the LoRA; it never changes once written.
    """

    __tablename__ = "character_versions"
    __table_args__ = (
        Index("uq_character_versions_subject", "character_id", "look_id", "number", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    character_id: Mapped[int] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"))
    look_id: Mapped[int | None] = mapped_column(ForeignKey("looks.id", ondelete="CASCADE"))
    number: Mapped[int]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    locked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReferenceImage(Base):
    """A reference picture of a character, a look or a location."""

    __tablename__ = "reference_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("media_assets.id", ondelete="CASCADE"))
    character_id: Mapped[int | None] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"), index=True)
    look_id: Mapped[int | None] = mapped_column(ForeignKey("looks.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), index=True)
    caption: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    asset: Mapped[MediaAsset] = relationship(lazy="joined")
