"""The prompt compiler: one deterministic function from a shot's parts to what the model receives.

It works on plain values (so the shot editor can preview unsaved text, and the render spec can be
compiled from locked snapshots) and explains itself: every piece says where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.characters.cast import CastPart
from app.storyboard.camera import Camera, Lighting


@dataclass(frozen=True)
class Fragment:
    source: str  # "shot", "character:Mara", "look:Mara/Storm gear", "location", "lighting", "camera", "style"
    text: str


@dataclass(frozen=True)
class Compiled:
    prompt: str
    negative: str
    parts: list[Fragment] = field(default_factory=list)
    negative_parts: list[Fragment] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "negative": self.negative,
            "parts": [{"source": p.source, "text": p.text} for p in self.parts],
            "negative_parts": [{"source": p.source, "text": p.text} for p in self.negative_parts],
        }


def _clean(text: str | None) -> str:
    return " ".join((text or "").split()).strip(" ,.;")


def _dedupe_terms(fragments: list[Fragment]) -> str:
    seen: set[str] = set()
    terms: list[str] = []
    for frag in fragments:
        for term in frag.text.split(","):
            t = _clean(term)
            if t and t.lower() not in seen:
                seen.add(t.lower())
                terms.append(t)
    return ", ".join(terms)


def compile_prompt(
    *,
    prompt: str = "",
    action: str = "",
    negative_prompt: str = "",
    cast: list[CastPart] | None = None,
    location_name: str = "",
    location_fragment: str = "",
    location_negative: str = "",
    style_name: str = "",
    style_fragment: str = "",
    style_negative: str = "",
    camera: Camera | None = None,
    lighting: Lighting | None = None,
) -> Compiled:
    """Shot prompt (or its action) + characters/looks + location + lighting/mood + camera + style; negatives merged."""
    parts: list[Fragment] = []
    negs: list[Fragment] = []

    def add(target: list[Fragment], source: str, text: str | None) -> None:
        text = _clean(text)
        if text:
            target.append(Fragment(source, text))

    add(parts, "shot", prompt or action)
    add(negs, "shot", negative_prompt)
    for c in cast or []:
        who = _clean(c.fragment)
        add(parts, f"character:{c.name}", f"{c.name}: {who}" if who else c.name)
        if c.look_name or c.look_fragment:
            add(parts, f"look:{c.name}/{c.look_name}", c.look_fragment)
        add(negs, f"character:{c.name}", c.negative)
        add(negs, f"look:{c.name}/{c.look_name}", c.look_negative)
    add(parts, "location", location_fragment or location_name)
    add(negs, "location", location_negative)
    if lighting is not None:
        add(parts, "lighting", lighting.phrase())
    if camera is not None:
        add(parts, "camera", camera.phrase())
    add(parts, "style", style_fragment)
    add(negs, "style", style_negative)
    prompt_text = " ".join(p.text if p.text.endswith(("!", "?")) else f"{p.text}." for p in parts)
    return Compiled(prompt=prompt_text, negative=_dedupe_terms(negs), parts=parts, negative_parts=negs)
