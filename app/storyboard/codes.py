"""Shot codes: scene number + letters (12A ... 12Z, 12AA ...). Assigned at creation, changed only on request."""

from __future__ import annotations

import re


def letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, 27 -> AB ..."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def shot_code(scene_number: str, index: int) -> str:
    return f"{scene_number}{letters(index)}"


def next_code(scene_number: str, existing: list[str]) -> str:
    """The first code after every `existing` code of this scene (gaps are not refilled)."""
    used = set(existing)
    pattern = re.compile(rf"^{re.escape(scene_number)}([A-Z]+)$")
    highest = -1
    for code in existing:
        m = pattern.match(code)
        if m:
            highest = max(highest, _index(m.group(1)))
    i = highest + 1
    while shot_code(scene_number, i) in used:
        i += 1
    return shot_code(scene_number, i)


def _index(letters_: str) -> int:
    n = 0
    for ch in letters_:
        n = n * 26 + (ord(ch) - 64)
    return n - 1
