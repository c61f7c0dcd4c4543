"""A character in a shot as the prompt compiler reads it: plain values, no database.

`app.characters.versions.resolve_cast` builds these from a shot's pinned versions;
`app.storyboard.compiler` reads them (the storyboard depends on characters, never the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CastPart:
    """A character in a shot, as the compiler sees it (from a locked snapshot or the current draft)."""

    name: str
    fragment: str = ""
    negative: str = ""
    look_name: str = ""
    look_fragment: str = ""
    look_negative: str = ""
    version: int | None = None
    locked: bool = False
