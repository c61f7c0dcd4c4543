"""Small text rules shared by the domains."""

from __future__ import annotations


def name_key(name: str | None) -> str:
    """The key a name is unique under in a project (characters, locations): spacing collapsed, lower-cased."""
    return " ".join((name or "").split()).lower()
