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


class CreatedLocation(BaseModel):
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
    locations: Counts = Field(description="created from the scene headings; unchanged: an existing one reused by name")
    created_scenes: list[CreatedScene]
    created_characters: list[CreatedCharacter]
    created_locations: list[CreatedLocation]
    framings: int = Field(description="shots whose framing a shot line set (CLOSE ON -> CU ...)")
    moves: int = Field(description="shots whose camera move a direction set (PUSH IN -> dolly in ...)")
    times: int = Field(description="shots whose time of day a scene heading set")
    kept: int = Field(description="fields changed in Slate since the last import, kept as they are")
    warnings: list[str]
    storyboard_url: str
