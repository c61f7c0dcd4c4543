"""The camera and lighting vocabulary, as the storyboard imports it.

The words live in `workers.vocabulary`, shared by the web side and the workers (an engine imports
nothing of app/); this module re-exports them so storyboard code keeps one import.
"""

from __future__ import annotations

from workers.vocabulary import (
    ANGLE_PHRASES,
    COLOUR_PHRASES,
    COMMON_LENSES,
    FRAMING_LABELS,
    FRAMING_LENS,
    FRAMING_PHRASES,
    KEY_PHRASES,
    LABELS,
    LENS_MAX,
    LENS_MIN,
    MOOD_MAX,
    MOVE_PHRASES,
    SPEED_PHRASES,
    Angle,
    Camera,
    Framing,
    LightColour,
    Lighting,
    LightKey,
    Move,
    Speed,
    TimeOfDay,
    badge,
    label,
    lens_phrase,
    vocabulary,
)

__all__ = [
    "ANGLE_PHRASES", "COLOUR_PHRASES", "COMMON_LENSES", "FRAMING_LABELS", "FRAMING_LENS", "FRAMING_PHRASES",
    "KEY_PHRASES", "LABELS", "LENS_MAX", "LENS_MIN", "MOOD_MAX", "MOVE_PHRASES", "SPEED_PHRASES", "Angle", "Camera",
    "Framing", "LightColour", "LightKey", "Lighting", "Move", "Speed", "TimeOfDay", "badge", "label", "lens_phrase",
    "vocabulary",
]  # fmt: skip
