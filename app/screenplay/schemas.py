from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FountainText(BaseModel):
    """The JSON form of an import: `{"text": "..."}`."""

    text: str = Field(description="the Fountain screenplay")


class Counts(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    created: int
    updated: int
    unchanged: int


class CreatedScene(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    heading: str
    shots: int


class CreatedCharacter(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class ImportReportRead(BaseModel):
    """What an import did: counts per kind, what was created, and what was skipped and why."""

    model_config = ConfigDict(from_attributes=True)

    title: str
    scenes: Counts
    shots: Counts
    characters: Counts
    created_scenes: list[CreatedScene]
    created_characters: list[CreatedCharacter]
    warnings: list[str]
    storyboard_url: str
