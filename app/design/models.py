"""Production design: the project's locations and its style presets (its look)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.characters.models import ReferenceImage
from app.db import Base, utcnow


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (Index("uq_locations_project_name", "project_id", "name_key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    prompt_fragment: Mapped[str] = mapped_column(Text, default="")
    negative_fragment: Mapped[str] = mapped_column(Text, default="")
    sketch_key: Mapped[str | None] = mapped_column(String(200))  # JPEG drawn from the description (no reference)
    sketch_hash: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    references: Mapped[list[ReferenceImage]] = relationship(
        primaryjoin="ReferenceImage.location_id == Location.id",
        order_by="ReferenceImage.position, ReferenceImage.id",
        viewonly=True,
    )


class StylePreset(Base):
    """The project's look: film stock, lens character, colour, era."""

    __tablename__ = "style_presets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    prompt_fragment: Mapped[str] = mapped_column(Text, default="")
    negative_fragment: Mapped[str] = mapped_column(Text, default="")
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
