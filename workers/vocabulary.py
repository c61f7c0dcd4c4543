"""The camera and lighting vocabulary: one set of words used by the storyboard, the prompt
compiler and the engines' virtual camera. Stored on shots as structured data.

The web side (app/) and the workers (workers/) both import this module; it imports nothing of
either, so a GPU worker renders a spec without the web app installed. The errors a wrong word
raises live here too: `app.errors` re-exports `DomainError` and `Invalid` (422) from this module
and maps them to HTTP answers in one place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class DomainError(Exception):
    """An error whose message is for the user; `status_code` is how the web answers it (app/errors.py)."""

    status_code = 400

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class Invalid(DomainError):
    """A value the vocabulary (or any service) does not accept; `field` names it."""

    status_code = 422


class Move(StrEnum):
    static = "static"
    pan_left = "pan_left"
    pan_right = "pan_right"
    tilt_up = "tilt_up"
    tilt_down = "tilt_down"
    dolly_in = "dolly_in"
    dolly_out = "dolly_out"
    truck_left = "truck_left"
    truck_right = "truck_right"
    pedestal_up = "pedestal_up"
    pedestal_down = "pedestal_down"
    crane_up = "crane_up"
    crane_down = "crane_down"
    zoom_in = "zoom_in"
    zoom_out = "zoom_out"
    dolly_zoom = "dolly_zoom"
    orbit_left = "orbit_left"
    orbit_right = "orbit_right"
    arc_180 = "arc_180"
    handheld = "handheld"


MOVE_PHRASES: dict[Move, str] = {
    Move.static: "locked-off static camera",
    Move.pan_left: "the camera pans left",
    Move.pan_right: "the camera pans right",
    Move.tilt_up: "the camera tilts up",
    Move.tilt_down: "the camera tilts down",
    Move.dolly_in: "the camera dollies in toward the subject",
    Move.dolly_out: "the camera dollies out away from the subject",
    Move.truck_left: "the camera trucks left alongside the action",
    Move.truck_right: "the camera trucks right alongside the action",
    Move.pedestal_up: "the camera rises straight up on a pedestal",
    Move.pedestal_down: "the camera lowers straight down on a pedestal",
    Move.crane_up: "crane shot rising up and over the scene",
    Move.crane_down: "crane shot descending into the scene",
    Move.zoom_in: "the lens zooms in",
    Move.zoom_out: "the lens zooms out",
    Move.dolly_zoom: "dolly zoom, the background stretches while the subject stays the same size",
    Move.orbit_left: "the camera orbits left around the subject",
    Move.orbit_right: "the camera orbits right around the subject",
    Move.arc_180: "the camera arcs 180 degrees around the subject",
    Move.handheld: "handheld camera with natural shake",
}


class Speed(StrEnum):
    slow = "slow"
    medium = "medium"
    fast = "fast"


class Framing(StrEnum):
    EWS = "EWS"
    WS = "WS"
    MS = "MS"
    MCU = "MCU"
    CU = "CU"
    ECU = "ECU"
    OTS = "OTS"
    POV = "POV"


FRAMING_PHRASES: dict[Framing, str] = {
    Framing.EWS: "extreme wide shot",
    Framing.WS: "wide shot",
    Framing.MS: "medium shot",
    Framing.MCU: "medium close-up",
    Framing.CU: "close-up",
    Framing.ECU: "extreme close-up",
    Framing.OTS: "over-the-shoulder shot",
    Framing.POV: "point-of-view shot",
}


class Angle(StrEnum):
    eye = "eye"
    high = "high"
    low = "low"
    overhead = "overhead"
    dutch = "dutch"


ANGLE_PHRASES: dict[Angle, str] = {
    Angle.eye: "eye-level angle",
    Angle.high: "high angle looking down",
    Angle.low: "low angle looking up",
    Angle.overhead: "overhead top-down angle",
    Angle.dutch: "dutch angle, tilted horizon",
}

LENS_MIN, LENS_MAX = 8, 400


def lens_phrase(mm: int) -> str:
    kind = ("ultra-wide" if mm < 20 else "wide-angle" if mm < 35 else "normal" if mm < 60
            else "portrait" if mm < 100 else "telephoto")  # fmt: skip
    return f"{mm}mm {kind} lens"


def _choice(enum: type[StrEnum], value: Any, field: str, default: Any = None) -> Any:
    if value in (None, ""):
        return default
    try:
        return enum(str(value))
    except ValueError:
        options = ", ".join(e.value for e in enum)
        raise Invalid(f"unknown {field.split('.')[-1].replace('_', ' ')} {value!r}; use one of: {options}", field=field) from None


@dataclass(frozen=True)
class Camera:
    move: Move = Move.static
    speed: Speed = Speed.medium
    lens_mm: int | None = None
    framing: Framing | None = None
    angle: Angle | None = None

    @classmethod
    def parse(cls, data: dict[str, Any] | None) -> Camera:
        """Validate camera data from a form, the API or the database."""
        data = data or {}
        unknown = set(data) - {"move", "speed", "lens_mm", "framing", "angle"}
        if unknown:
            raise Invalid(f"unknown camera field(s): {', '.join(sorted(unknown))}", field="camera")
        lens = data.get("lens_mm")
        if lens in ("", None):
            lens = None
        else:
            try:
                lens = int(lens)
            except (TypeError, ValueError):
                raise Invalid("lens must be a focal length in mm", field="camera.lens_mm") from None
            if not LENS_MIN <= lens <= LENS_MAX:
                raise Invalid(f"lens must be between {LENS_MIN} and {LENS_MAX} mm", field="camera.lens_mm")
        return cls(
            move=_choice(Move, data.get("move"), "camera.move", Move.static),
            speed=_choice(Speed, data.get("speed"), "camera.speed", Speed.medium),
            lens_mm=lens,
            framing=_choice(Framing, data.get("framing"), "camera.framing"),
            angle=_choice(Angle, data.get("angle"), "camera.angle"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in asdict(self).items() if v is not None}

    def phrase(self) -> str:
        """What the model reads: framing, angle, lens, then the move and its speed."""
        parts = []
        if self.framing:
            parts.append(FRAMING_PHRASES[self.framing])
        if self.angle:
            parts.append(ANGLE_PHRASES[self.angle])
        if self.lens_mm:
            parts.append(lens_phrase(self.lens_mm))
        move = MOVE_PHRASES[self.move]
        if self.move not in (Move.static, Move.handheld) and self.speed != Speed.medium:
            move = f"{move}, {self.speed.value}ly" if self.speed == Speed.slow else f"{move}, fast"
        parts.append(move)
        return ", ".join(parts)


class LightKey(StrEnum):
    high_key = "high_key"
    low_key = "low_key"
    silhouette = "silhouette"
    practical = "practical"


class TimeOfDay(StrEnum):
    dawn = "dawn"
    morning = "morning"
    day = "day"
    afternoon = "afternoon"
    dusk = "dusk"
    night = "night"


class LightColour(StrEnum):
    golden_hour = "golden_hour"
    blue_hour = "blue_hour"
    neon = "neon"
    candlelit = "candlelit"
    overcast = "overcast"


KEY_PHRASES = {
    LightKey.high_key: "bright high-key lighting, soft shadows",
    LightKey.low_key: "low-key lighting, deep shadows, strong contrast",
    LightKey.silhouette: "backlit silhouette",
    LightKey.practical: "lit by practical lights in the scene",
}
COLOUR_PHRASES = {
    LightColour.golden_hour: "warm golden-hour light",
    LightColour.blue_hour: "cool blue-hour light",
    LightColour.neon: "saturated neon light",
    LightColour.candlelit: "flickering candlelight",
    LightColour.overcast: "flat overcast daylight",
}
MOOD_MAX = 40


@dataclass(frozen=True)
class Lighting:
    key: LightKey | None = None
    time_of_day: TimeOfDay | None = None
    color: LightColour | None = None
    mood: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any] | None) -> Lighting:
        data = data or {}
        unknown = set(data) - {"key", "time_of_day", "color", "mood"}
        if unknown:
            raise Invalid(f"unknown lighting field(s): {', '.join(sorted(unknown))}", field="lighting")
        mood = " ".join(str(data.get("mood") or "").split())
        if len(mood) > MOOD_MAX:
            raise Invalid(f"the mood is one or two words ({MOOD_MAX} characters at most)", field="lighting.mood")
        return cls(
            key=_choice(LightKey, data.get("key"), "lighting.key"),
            time_of_day=_choice(TimeOfDay, data.get("time_of_day"), "lighting.time_of_day"),
            color=_choice(LightColour, data.get("color"), "lighting.color"),
            mood=mood,
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in asdict(self).items() if v}

    def phrase(self) -> str:
        parts = []
        if self.key:
            parts.append(KEY_PHRASES[self.key])
        if self.color:
            parts.append(COLOUR_PHRASES[self.color])
        if self.time_of_day:
            parts.append(f"at {self.time_of_day.value}" if self.time_of_day != TimeOfDay.day else "in daytime")
        if self.mood:
            parts.append(f"{self.mood} mood")
        return ", ".join(parts)


LABELS = {"arc_180": "180° arc", "high_key": "high-key", "low_key": "low-key", "dolly_zoom": "dolly zoom"}


def label(value: str) -> str:
    """`dolly_in` -> `dolly in` for display."""
    return LABELS.get(value, value.replace("_", " "))


SPEED_PHRASES = {Speed.slow: "slowly", Speed.medium: "at a medium pace", Speed.fast: "fast"}
FRAMING_LABELS: dict[Framing, str] = {f: FRAMING_PHRASES[f] for f in Framing}
# A focal length that suits each framing (coverage setups start from these).
FRAMING_LENS: dict[Framing, int] = {
    Framing.EWS: 18, Framing.WS: 24, Framing.MS: 40, Framing.MCU: 50,
    Framing.CU: 85, Framing.ECU: 100, Framing.OTS: 50, Framing.POV: 35,
}  # fmt: skip
COMMON_LENSES = (14, 18, 24, 28, 35, 40, 50, 65, 85, 100, 135, 200)


def vocabulary() -> dict[str, Any]:
    """The whole camera and lighting vocabulary, for clients and the shot editor's selectors."""

    def entries(enum: type[StrEnum], phrases: dict | None = None) -> list[dict[str, str]]:
        return [{"value": e.value, "label": label(e.value), **({"phrase": phrases[e]} if phrases else {})}
                for e in enum]

    return {
        "moves": entries(Move, MOVE_PHRASES),
        "speeds": entries(Speed, SPEED_PHRASES),
        "framings": [{"value": f.value, "label": f.value, "phrase": FRAMING_PHRASES[f], "lens_mm": FRAMING_LENS[f]}
                     for f in Framing],  # fmt: skip
        "angles": entries(Angle, ANGLE_PHRASES),
        "lens_mm": {"min": LENS_MIN, "max": LENS_MAX, "common": list(COMMON_LENSES)},
        "lighting": {
            "keys": entries(LightKey, KEY_PHRASES),
            "times_of_day": entries(TimeOfDay),
            "colors": entries(LightColour, COLOUR_PHRASES),
            "mood_max": MOOD_MAX,
        },
    }


def badge(camera: dict[str, Any] | None) -> str:
    """A card's short camera note: `CU · dolly in · 85mm` (stored data, no validation)."""
    camera = camera or {}
    parts = [camera.get("framing") or "", label(camera.get("move") or "static")]
    if camera.get("lens_mm"):
        parts.append(f"{camera['lens_mm']}mm")
    return " · ".join(p for p in parts if p)
