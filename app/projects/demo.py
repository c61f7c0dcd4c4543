"""The demo project's contents: the screenplay imported, its cast described, places and a look set up,
and a camera and light on every shot, so a newcomer sees a storyboard ready to block."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.characters import service as characters
from app.characters.models import Character
from app.design import service as design
from app.projects.models import Project
from app.screenplay.service import import_fountain
from app.storyboard.models import Scene, Shot

SCREENPLAY = Path(__file__).with_name("demo") / "lighthouse.fountain"

CAST = {
    "elias": {
        "description": "The keeper. Has not spoken in years; speaks with his hands and his eyes.",
        "traits": {"age": "70s", "build": "tall, stooped, big hands", "face": "deep lines, white stubble",
                   "hair": "close-cropped white", "wardrobe": "navy wool jumper, canvas trousers",
                   "voice": "hoarse, barely used"},
        "prompt_fragment": "an old lighthouse keeper in his seventies, tall and stooped, deep-lined weathered face, "
                           "white stubble, close-cropped white hair, navy wool jumper",
        "negative_fragment": "young, clean-shaven, smiling",
        "looks": [("Storm oilskins", "soaked black oilskin coat and sou'wester hat, water streaming off the brim")],
    },
    "wren": {
        "description": "Ten years old, shipwrecked, brave and talkative.",
        "traits": {"age": "10", "build": "small, wiry", "face": "freckles, dark eyes",
                   "hair": "long dark hair, wet and tangled", "voice": "clear, insistent"},
        "prompt_fragment": "a ten-year-old girl, small and wiry, freckles, dark eyes, long tangled dark hair",
        "negative_fragment": "adult, makeup",
        "looks": [("Yellow raincoat", "torn bright yellow raincoat, soaked"),
                  ("Grey blanket", "wrapped in a rough grey wool blanket")],
    },
}  # fmt: skip

LOCATIONS = {
    "LAMP ROOM": ("Lamp room", "the lamp room of a lighthouse, a huge rotating Fresnel lens, brass fittings, "
                  "rain-streaked glass panes"),
    "ROCKS": ("Rocks below", "jagged black rocks at the foot of a lighthouse, breaking waves, spray"),
    "KITCHEN": ("Keeper's kitchen", "a small stone kitchen, iron stove, kettle, scrubbed wooden table, oil lamp"),
    "STAIRWELL": ("Stairwell", "a narrow spiral iron staircase inside a lighthouse tower, whitewashed curved walls"),
    # the most general last: "ROCKS BELOW THE LIGHTHOUSE - NIGHT" is the rocks
    "LIGHTHOUSE - NIGHT": ("Lighthouse gallery", "a white stone lighthouse on a black rock skerry, iron gallery rail, "
                           "sweeping lamp beam, storm-lashed sea"),
    "LIGHTHOUSE - DAY": ("Lighthouse gallery", ""),
}  # fmt: skip

# A camera and a light for each shot, in screenplay order: a director's first pass.
BLOCKING = [
    ({"move": "crane_down", "speed": "slow", "framing": "EWS", "angle": "high", "lens_mm": 24},
     {"key": "low_key", "time_of_day": "night", "color": "blue_hour", "mood": "ominous"}),
    ({"move": "truck_left", "framing": "MS", "angle": "low", "lens_mm": 35},
     {"key": "low_key", "time_of_day": "night", "mood": "determined"}),
    ({"move": "dolly_in", "speed": "slow", "framing": "WS", "angle": "high", "lens_mm": 50},
     {"key": "silhouette", "time_of_day": "night", "mood": "uneasy"}),
    ({"move": "orbit_left", "speed": "slow", "framing": "MCU", "lens_mm": 50},
     {"key": "practical", "time_of_day": "night", "color": "candlelit", "mood": "lonely"}),
    ({"move": "tilt_down", "framing": "CU", "lens_mm": 85},
     {"key": "practical", "time_of_day": "night", "mood": "alarm"}),
    ({"move": "handheld", "framing": "MS", "angle": "high", "lens_mm": 28},
     {"key": "low_key", "time_of_day": "night", "mood": "panic"}),
    ({"move": "handheld", "speed": "fast", "framing": "WS", "lens_mm": 24},
     {"key": "low_key", "time_of_day": "night", "mood": "urgent"}),
    ({"move": "static", "framing": "MS", "angle": "eye", "lens_mm": 40},
     {"key": "practical", "time_of_day": "night", "color": "candlelit", "mood": "wary"}),
    ({"move": "dolly_in", "speed": "slow", "framing": "CU", "lens_mm": 85},
     {"key": "practical", "time_of_day": "night", "color": "candlelit", "mood": "tender"}),
    ({"move": "pan_right", "framing": "MCU", "lens_mm": 50},
     {"key": "practical", "time_of_day": "night", "color": "candlelit", "mood": "hopeful"}),
    ({"move": "dolly_zoom", "framing": "CU", "lens_mm": 35},
     {"key": "low_key", "time_of_day": "night", "mood": "realisation"}),
    ({"move": "pedestal_down", "framing": "WS", "angle": "low", "lens_mm": 24},
     {"key": "low_key", "time_of_day": "dawn", "color": "blue_hour", "mood": "resolve"}),
    ({"move": "crane_up", "speed": "slow", "framing": "EWS", "angle": "high", "lens_mm": 24},
     {"key": "high_key", "time_of_day": "day", "color": "golden_hour", "mood": "relief"}),
    ({"move": "dolly_in", "speed": "slow", "framing": "CU", "angle": "eye", "lens_mm": 85},
     {"key": "high_key", "time_of_day": "day", "color": "golden_hour", "mood": "joy"}),
]  # fmt: skip


def fill_demo(db: Session, *, project: Project, actor: User | None) -> None:
    """Import the demo screenplay and dress it (once: an already imported demo is left alone)."""
    import_fountain(db, actor=actor, project=project, text=SCREENPLAY.read_text(encoding="utf-8"))
    chars = {c.name_key: c for c in db.scalars(select(Character).where(Character.project_id == project.id))}
    for key, spec in CAST.items():
        character = chars.get(key)
        if character is None or character.prompt_fragment:
            continue
        fields = {k: v for k, v in spec.items() if k != "looks"}
        characters.update_character(db, actor=actor, character=character, changes=fields)
        for name, fragment in spec["looks"]:
            characters.create_look(db, actor=actor, character=character, name=name, prompt_fragment=fragment)
    if not design.list_styles(db, project_id=project.id):
        design.add_preset_style(db, actor=actor, project_id=project.id, key=design.STYLE_PRESETS[0].key)
    places = {}
    for loc in design.list_locations(db, project_id=project.id):
        places[loc.name] = loc
    scenes = list(db.scalars(select(Scene).where(Scene.project_id == project.id).order_by(Scene.position)))
    shots = list(db.scalars(select(Shot).where(Shot.project_id == project.id).join(Scene)
                            .order_by(Scene.position, Shot.position)))  # fmt: skip
    for scene in scenes:
        for marker, (name, fragment) in LOCATIONS.items():
            if marker in scene.heading:
                # The import made a location of each heading's place: the demo names and describes it.
                imported = next((shot.location for shot in scene.shots if shot.location is not None), None)
                if imported is not None and name not in places and fragment:
                    design.update_location(db, actor=actor, location=imported,
                                           changes={"name": name, "prompt_fragment": fragment})  # fmt: skip
                    places[name] = imported
                if name not in places:
                    places[name] = design.create_location(db, actor=actor, project_id=project.id, name=name,
                                                          prompt_fragment=fragment)  # fmt: skip
                for shot in scene.shots:
                    if shot.location_id is None:
                        shot.location_id = places[name].id
                break
    for i, shot in enumerate(shots):
        if not shot.camera:
            camera, lighting = BLOCKING[i % len(BLOCKING)]
            shot.camera, shot.lighting = dict(camera), dict(lighting)
    db.flush()


def lock_demo_cast(db: Session, *, project: Project, actor: User) -> None:
    """The first owner of the demo locks its cast, so its shots can be generated straight away."""
    for character in db.scalars(select(Character).where(Character.project_id == project.id)):
        if not character.locked:
            characters.lock_character(db, actor=actor, character=character)
        for look in character.looks:
            if not look.locked:
                characters.lock_look(db, actor=actor, look=look)
