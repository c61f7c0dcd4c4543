"""What a screenplay says about place, time and camera, in the storyboard's own words.

- `parse_heading("INT. LIGHTHOUSE - KITCHEN - NIGHT")` splits a scene heading into where the camera
  is (`INT`, `EXT`, `INT/EXT`), the place (`LIGHTHOUSE - KITCHEN`) and the time of day (`night`).
  Continuity words (`CONTINUOUS`, `LATER`, `SAME TIME` ...) name no time of their own: the import
  carries the time of the scene before.
- `direction(paragraph)` reads the shot lines and camera directions screenwriters use
  (`CLOSE ON`, `WIDE SHOT`, `ANGLE ON`, `PUSH IN`, `PAN TO`, `POV` ...) into a framing and a move
  of the camera vocabulary (`workers/vocabulary.py`). Framings are read from the start of a
  paragraph (a shot line); moves anywhere, when written in capitals as screenplays write camera
  directions ("The camera PUSHES IN on her hands.").
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from app.storyboard.camera import Framing, Move, TimeOfDay

INTERIOR, EXTERIOR, BOTH = "INT", "EXT", "INT/EXT"

_PREFIX = re.compile(
    r"^(?P<kind>int\.?\s*/\s*ext|ext\.?\s*/\s*int|i\s*/\s*e|e\s*/\s*i|int|ext|est)(?:\.|\s)\s*", re.IGNORECASE
)
# "INT. KITCHEN - NIGHT", "INT. KITCHEN -- NIGHT", "INT. KITCHEN — NIGHT", "INT. KITCHEN, NIGHT"
_PARTS = re.compile(r"\s+(?:-{1,2}|–|—)\s+|\s*[–—]\s*|,\s+")

TIMES: dict[str, TimeOfDay] = {
    "DAWN": TimeOfDay.dawn, "SUNRISE": TimeOfDay.dawn, "DAYBREAK": TimeOfDay.dawn, "FIRST LIGHT": TimeOfDay.dawn,
    "MORNING": TimeOfDay.morning, "EARLY MORNING": TimeOfDay.morning, "LATE MORNING": TimeOfDay.morning,
    "DAY": TimeOfDay.day, "DAYTIME": TimeOfDay.day, "NOON": TimeOfDay.day, "MIDDAY": TimeOfDay.day,
    "AFTERNOON": TimeOfDay.afternoon, "LATE AFTERNOON": TimeOfDay.afternoon,
    "DUSK": TimeOfDay.dusk, "SUNSET": TimeOfDay.dusk, "EVENING": TimeOfDay.dusk, "TWILIGHT": TimeOfDay.dusk,
    "MAGIC HOUR": TimeOfDay.dusk, "GOLDEN HOUR": TimeOfDay.dusk,
    "NIGHT": TimeOfDay.night, "LATE NIGHT": TimeOfDay.night, "MIDNIGHT": TimeOfDay.night, "NIGHTTIME": TimeOfDay.night,
}  # fmt: skip
CONTINUITY = frozenset({
    "CONTINUOUS", "LATER", "MOMENTS LATER", "A MOMENT LATER", "MINUTES LATER", "SECONDS LATER", "SAME",
    "SAME TIME", "SIMULTANEOUS", "CONT'D", "CONTD", "CONTINUING",
})  # fmt: skip


@dataclass(frozen=True)
class Heading:
    setting: str | None  # INT, EXT, INT/EXT (None: a forced heading without one)
    place: str  # as written, spacing collapsed: "LIGHTHOUSE - KITCHEN"
    time_word: str  # the last part when it is a time: "NIGHT", "CONTINUOUS", "" when none
    time_of_day: TimeOfDay | None  # None: none given, or a continuity word (the scene before's holds)

    @property
    def continuous(self) -> bool:
        return self.time_word in CONTINUITY


def _setting(prefix: str) -> str | None:
    letters = "".join(c for c in prefix.upper() if c.isalpha())
    if letters in ("INTEXT", "EXTINT", "IE", "EI"):
        return BOTH
    if letters == "INT":
        return INTERIOR
    if letters in ("EXT", "EST"):  # EST: an establishing shot, outside
        return EXTERIOR
    return None


def _time(part: str) -> tuple[str, TimeOfDay | None] | None:
    """A heading's last part as a time word, or None when it is part of the place."""
    word = " ".join(re.sub(r"[^\w' ]", " ", part.upper()).split())
    if word in TIMES:
        return word, TIMES[word]
    if word in CONTINUITY:
        return word, None
    if word.startswith(("CONTINUOUS", "LATER", "SAME")):
        return word, None
    # "NIGHT (1987)", "DAY - FLASHBACK" spelled as "DAY FLASHBACK": a time word leading the part
    first = word.split(" ", 1)[0] if word else ""
    if first in TIMES and len(word.split()) <= 3:
        return word, TIMES[first]
    return None


def parse_heading(heading: str) -> Heading:
    """Split a scene heading into setting, place and time of day."""
    text = " ".join(heading.split())
    setting = None
    if m := _PREFIX.match(text):
        setting = _setting(m.group("kind"))
        text = text[m.end() :]
    text = text.strip(" .-–—")
    parts = [p.strip(" .") for p in _PARTS.split(text) if p.strip(" .")]
    time_word, time_of_day = "", None
    # Trailing time parts leave the place; of several ("NIGHT - CONTINUOUS") the time of day named counts.
    while len(parts) > 1 and (found := _time(parts[-1])) is not None:
        parts.pop()
        if found[1] is not None or not time_word:
            time_word, time_of_day = found
    place = " - ".join(parts)
    return Heading(setting=setting, place=place, time_word=time_word, time_of_day=time_of_day)


def location_name(place: str, limit: int) -> str:
    """`LIGHTHOUSE - KITCHEN` -> `Lighthouse - Kitchen` (a name as a location list shows it)."""
    name = " ".join(string.capwords(word) if word.isupper() else word for word in place.split())
    return name[:limit].rstrip(" -")


# ---- the camera -------------------------------------------------------------------------------

# Shot lines, read at the start of a paragraph (longest first where one starts another).
_FRAMINGS: list[tuple[str, Framing]] = [
    (r"EXTREME CLOSE[- ]?(?:UP|ON|SHOT)?|EXTREME CU|ECU|XCU", Framing.ECU),
    (r"INSERT(?: SHOT)?(?: OF| ON)?", Framing.ECU),
    (r"MEDIUM CLOSE[- ]?(?:UP|ON|SHOT)?|MCU", Framing.MCU),
    (r"CLOSE[- ]?(?:UP|ON|SHOT)|CLOSER ON|CU|TIGHT ON", Framing.CU),
    (r"EXTREME WIDE(?: SHOT| ON)?|EXTREME LONG SHOT|EWS|ESTABLISHING(?: SHOT)?", Framing.EWS),
    (r"WIDE(?: SHOT| ON| ANGLE)?|LONG SHOT|FULL SHOT", Framing.WS),
    (r"MEDIUM(?: SHOT| ON)|MID SHOT|TWO SHOT|2[- ]SHOT", Framing.MS),
    (r"OVER THE SHOULDER|OVER[- ]THE[- ]SHOULDER|OTS", Framing.OTS),
    (r"(?:[A-Z][A-Z'’.\- ]*['’]S )?(?:POV|P\.O\.V\.?|POINT OF VIEW)", Framing.POV),
    (r"ANGLE ON|NEW ANGLE|ANOTHER ANGLE|REVERSE ANGLE|REVERSE ON", Framing.MS),
]
_FRAMING_RES = [(re.compile(rf"^(?:{p})(?![A-Z])", re.IGNORECASE), f) for p, f in _FRAMINGS]

# Moves, read anywhere in capitals ("PUSH IN", "The camera PULLS BACK", "TRACKING WITH MARA").
_MOVES: list[tuple[str, Move]] = [
    (r"DOLLY ZOOM|VERTIGO SHOT", Move.dolly_zoom),
    (r"PUSH(?:ES|ING)? IN|DOLL(?:Y|IES|YING) IN|CREEP(?:S|ING)? IN", Move.dolly_in),
    (r"PULL(?:S|ING)? (?:BACK|OUT)|DOLL(?:Y|IES|YING) (?:OUT|BACK)", Move.dolly_out),
    (r"ZOOM(?:S|ING)? IN", Move.zoom_in),
    (r"ZOOM(?:S|ING)? OUT", Move.zoom_out),
    (r"PAN(?:S|NING)? LEFT", Move.pan_left),
    (r"PAN(?:S|NING)? (?:RIGHT|TO|WITH|ACROSS|OVER|ALONG)|PANNING", Move.pan_right),
    (r"TILT(?:S|ING)? UP", Move.tilt_up),
    (r"TILT(?:S|ING)? DOWN", Move.tilt_down),
    (r"CRANE(?:S|ING)? (?:UP|ABOVE)", Move.crane_up),
    (r"CRANE(?:S|ING)? DOWN", Move.crane_down),
    (r"TRACK(?:S|ING)? LEFT|TRUCK(?:S|ING)? LEFT", Move.truck_left),
    (r"TRACKING(?: SHOT| WITH| ALONG| RIGHT)?|TRACKS? (?:WITH|ALONG)|TRUCK(?:S|ING)? RIGHT|TRUCKING", Move.truck_right),
    (r"ORBIT(?:S|ING)? (?:AROUND|LEFT)", Move.orbit_left),
    (r"HANDHELD|HAND-HELD|SHAKY CAM", Move.handheld),
]
_MOVE_RES = [(re.compile(rf"(?<![A-Za-z])(?:{p})(?![A-Za-z])"), m) for p, m in _MOVES]


@dataclass(frozen=True)
class Direction:
    framing: Framing | None = None
    move: Move | None = None
    shot_line: bool = False  # the paragraph is one line in capitals, only a direction ("CLOSE ON THE LAMP.")

    def __bool__(self) -> bool:
        return self.framing is not None or self.move is not None


def _framing(line: str) -> Framing | None:
    for pattern, value in _FRAMING_RES:
        if (m := pattern.match(line)) and m.group(0) == m.group(0).upper():  # shot lines are written in capitals
            return value
    return None


def is_shot_line(line: str) -> bool:
    """A line written in capitals that opens with a framing ("ANGLE ON MARA", "CLOSE ON THE LAMP")."""
    s = line.strip()
    return bool(s) and s == s.upper() and _framing(s) is not None


def direction(paragraph: str) -> Direction:
    """The framing a paragraph's opening shot line asks for, and the first camera move it names in capitals."""
    first = paragraph.strip().split("\n", 1)[0].strip()
    runs = " | ".join(re.findall(r"[A-Z][A-Z'’\- ]*[A-Z]", paragraph))  # camera directions are in capitals
    best: tuple[int, Move] | None = None
    for pattern, value in _MOVE_RES:
        m = pattern.search(runs)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), value)
    move = best[1] if best else None
    framing = _framing(first)
    only_line = "\n" not in paragraph.strip() and first == first.upper() and (framing or move) is not None
    return Direction(framing=framing, move=move, shot_line=only_line)
