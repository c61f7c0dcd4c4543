"""Screenplay import: a Fountain script becomes scenes, draft shots and characters.

Mapping: each scene heading is a scene (number from `#n#`, else its place in the script);
each action paragraph (and centred text) is a draft shot, and the dialogue that follows it,
up to the next action paragraph, goes into that shot's `dialogue` as `NAME: line` lines
(parentheticals kept, `(CONT'D)` dropped, `(V.O.)`/`(O.S.)` kept). Dialogue before any action
in a scene gets a shot of its own ("MARA speaks"). Character cues become characters, matched
case-insensitively by `name_key`; a shot's cast is its on-screen speakers and the known
characters its action names in capitals.

Re-import: scenes and shots an import creates carry a `source_key` that identifies them by
content, not by position: `fountain:<heading hash>.<k>` for the k-th scene with that heading,
`<scene>/<action hash>.<j>` for the j-th paragraph with that text in the scene, each followed
by `~<hash>` of the synopsis / dialogue the import wrote. Importing the same file again creates
nothing; an edited file adds its new scenes and shots in place, refreshes a synopsis or dialogue
only where nobody changed it in Slate since, and never deletes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.activity.service import record
from app.auth.models import User
from app.bodies import SCREENPLAY_MAX_BYTES
from app.characters.models import Character
from app.design.models import Location
from app.design.service import LOCATION_NAME_MAX
from app.errors import Invalid, TooLarge
from app.projects.models import Project
from app.projects.service import touch
from app.screenplay import directions
from app.screenplay import parser as fp
from app.storyboard.codes import next_code
from app.storyboard.models import Scene, Shot, ShotCharacter
from app.text import name_key

MAX_BYTES = SCREENPLAY_MAX_BYTES  # the body limit (app.bodies) holds the cap
SHOT_DURATION_S = 4.0
SOURCE = "fountain:"
MAX_WARNINGS = 50
HEADING_MAX = 200
NUMBER_MAX = 12
NAME_MAX = 120
MAX_SCENES = 1000  # a feature has one to three hundred; more in one file is not a screenplay to import at once
MAX_SHOTS = 10_000
MAX_CHARACTERS = 2000
OFFSCREEN = frozenset({"VO", "OS", "OC", "OFF", "OFFSCREEN", "OFFCAMERA", "PRELAP"})
CONTINUED = frozenset({"CONTD", "CONT", "CONTINUED", "CONTINUING"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


# ---- what a script says -------------------------------------------------------------------


@dataclass
class _Speech:
    name: str
    key: str
    extensions: list[str]
    parts: list[str] = field(default_factory=list)

    @property
    def offscreen(self) -> bool:
        return any(_letters(e) in OFFSCREEN for e in self.extensions)

    def render(self) -> str:
        shown = [f"({e})" for e in self.extensions if _letters(e) not in CONTINUED]
        who = " ".join([self.name, *shown])
        return f"{who}: {' '.join(p for p in self.parts if p)}".rstrip()


@dataclass
class _PlanShot:
    line: int
    action: str
    synthetic: bool = False  # "MARA speaks": dialogue before any action in the scene
    lines: list[_Speech | str] = field(default_factory=list)  # speeches, or lyrics heard in the shot
    framing: str | None = None  # from a shot line ("CLOSE ON" -> CU)
    move: str | None = None  # from a camera direction ("PUSH IN" -> dolly_in)
    open_line: bool = False  # only a shot line so far: the next action paragraph is what it shows

    def direct(self, found: directions.Direction) -> None:
        if found.framing is not None and self.framing is None:
            self.framing = found.framing.value
        if found.move is not None and self.move is None:
            self.move = found.move.value

    @property
    def dialogue(self) -> str:
        return "\n".join(x.render() if isinstance(x, _Speech) else x for x in self.lines)

    @property
    def speeches(self) -> list[_Speech]:
        return [x for x in self.lines if isinstance(x, _Speech)]


@dataclass
class _PlanScene:
    line: int
    heading: str
    number: str | None
    place: str = ""  # "LIGHTHOUSE - KITCHEN" ("" when the heading names none)
    setting: str | None = None  # INT, EXT, INT/EXT
    time_of_day: str | None = None  # from the heading, or the scene before's for CONTINUOUS, LATER ...
    synopsis: list[str] = field(default_factory=list)
    shots: list[_PlanShot] = field(default_factory=list)
    ident: str = ""


@dataclass
class _Plan:
    title: str
    scenes: list[_PlanScene]
    names: dict[str, str]  # name_key -> name as first written, in order of first appearance
    warnings: list[str]


def _letters(text: str) -> str:
    return "".join(c for c in text.upper() if c.isalpha())


def _hash(text: str, n: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def _tidy(text: str) -> str:
    """Action as a shot shows it: lines kept, runs of spaces and tabs collapsed."""
    return "\n".join(" ".join(line.split()) for line in text.split("\n") if line.strip())


def _speakers_phrase(shot: _PlanShot) -> str:
    names = list(dict.fromkeys(s.name for s in shot.speeches))
    if not names:
        return "Song"
    if len(names) == 1:
        return f"{names[0]} speaks"
    return f"{', '.join(names[:-1])} and {names[-1]} speak"


def _plan(play: fp.Screenplay, *, field: str) -> _Plan:
    """Walk the elements once: scenes, their shots, who speaks; warnings for what is left out."""
    warnings = list(play.warnings)
    scenes: list[_PlanScene] = []
    names: dict[str, str] = {}
    scene: _PlanScene | None = None
    shot: _PlanShot | None = None
    speech: _Speech | None = None
    synopsis_open = False
    cue_as_action = False
    before_first: list[int] = []

    def new_shot(line: int, action: str, synthetic: bool) -> _PlanShot:
        assert scene is not None
        made = _PlanShot(line=line, action=action, synthetic=synthetic)
        scene.shots.append(made)
        return made

    def action_shot(line: int, action: str) -> _PlanShot:
        """A new shot for an action paragraph, or the open shot line before it, which it describes."""
        found = directions.direction(action)
        if shot is not None and shot.open_line and not shot.lines and found.framing is None:
            shot.action = f"{shot.action}\n{action}"
            shot.open_line = found.shot_line  # "PUSH IN." under "CLOSE ON THE LAMP.": still waiting for the lamp
            shot.direct(found)
            return shot
        made = new_shot(line, action, synthetic=False)
        made.direct(found)
        made.open_line = found.shot_line
        return made

    for el in play.elements:
        if el.kind == fp.SCENE_HEADING:
            heading = " ".join(el.text.split()).upper()
            if len(heading) > HEADING_MAX:
                warnings.append(f"line {el.line}: the scene heading was cut to {HEADING_MAX} characters")
                heading = heading[:HEADING_MAX].rstrip()
            number = el.number
            if number is not None and len(number) > NUMBER_MAX:
                warnings.append(f"line {el.line}: scene number #{number}# is longer than {NUMBER_MAX} characters; "
                                "the scene was numbered by its place instead")  # fmt: skip
                number = None
            parts = directions.parse_heading(heading)
            time_of_day = parts.time_of_day.value if parts.time_of_day else None
            if time_of_day is None and parts.continuous and scenes:
                time_of_day = scenes[-1].time_of_day
            scene = _PlanScene(line=el.line, heading=heading, number=number, place=parts.place, setting=parts.setting,
                               time_of_day=time_of_day)  # fmt: skip
            scenes.append(scene)
            shot = speech = None
            cue_as_action = False
            synopsis_open = True
            continue
        if el.kind == fp.SYNOPSIS:
            if scene is not None and synopsis_open and el.text:
                scene.synopsis.append(el.text)
            continue
        synopsis_open = False
        if el.kind in (fp.SECTION, fp.PAGE_BREAK, fp.TRANSITION):
            speech = None
            cue_as_action = False
            continue
        if scene is None:
            if el.kind in (fp.ACTION, fp.CENTERED, fp.CHARACTER, fp.LYRICS):
                before_first.append(el.line)
            continue
        if el.kind in (fp.ACTION, fp.CENTERED):
            action = _tidy(el.text)
            if action:
                shot = action_shot(el.line, action)
            speech = None
            cue_as_action = False
        elif el.kind == fp.CHARACTER and not el.extension and directions.is_shot_line(el.text):
            # "ANGLE ON MARA" with action right under it reads as a character cue in Fountain: it is a shot line.
            shot = action_shot(el.line, _tidy(el.text))
            speech = None
            cue_as_action = True
        elif el.kind in (fp.DIALOGUE, fp.PARENTHETICAL) and cue_as_action:
            if shot is not None and (text := _tidy(el.text)):
                shot.action = f"{shot.action}\n{text}"
                shot.open_line = False
                shot.direct(directions.direction(text))
        elif el.kind == fp.CHARACTER:
            cue_as_action = False
            name = el.name
            if len(name) > NAME_MAX:
                warnings.append(f"line {el.line}: a character cue longer than {NAME_MAX} characters was not made "
                                "a character")  # fmt: skip
            elif name:  # an empty cue names no character
                names.setdefault(name_key(name), name)
            if shot is None:
                shot = new_shot(el.line, "", synthetic=True)
            speech = _Speech(name=name, key=name_key(name), extensions=re.findall(r"\(([^()]*)\)", el.extension))
            shot.lines.append(speech)
        elif el.kind in (fp.PARENTHETICAL, fp.DIALOGUE):
            if speech is not None:
                speech.parts.append(" ".join(el.text.split()))
        elif el.kind == fp.LYRICS:
            sung = [" ".join(line.split()) for line in el.text.split("\n") if line.strip()]
            if el.in_dialogue and speech is not None:
                speech.parts.extend(f"♪ {line}" for line in sung)
                continue
            if shot is None:
                shot = new_shot(el.line, "", synthetic=True)
            shot.lines.extend(f"♪ {line}" for line in sung)
            speech = None

    for sc in scenes:
        for sh in sc.shots:
            if sh.synthetic:
                sh.action = _speakers_phrase(sh)
    if before_first:
        what = "1 paragraph was" if len(before_first) == 1 else f"{len(before_first)} paragraphs were"
        warnings.append(f"line {before_first[0]}: {what} before the first scene heading and not imported "
                        "(a shot belongs to a scene)")  # fmt: skip
    shots = sum(len(sc.shots) for sc in scenes)
    for what, n, limit in (("scenes", len(scenes), MAX_SCENES), ("action paragraphs", shots, MAX_SHOTS),
                           ("characters", len(names), MAX_CHARACTERS)):  # fmt: skip
        if n > limit:
            raise Invalid(f"the script has {n} {what}; one import takes at most {limit}: split the script into "
                          "parts and import them one after the other", field=field)  # fmt: skip
    _assign_identities(scenes)
    return _Plan(title=play.title, scenes=scenes, names=names, warnings=warnings)


def _assign_identities(scenes: list[_PlanScene]) -> None:
    seen: dict[str, int] = defaultdict(int)
    for sc in scenes:
        seen[sc.heading] += 1
        sc.ident = f"{SOURCE}{_hash(sc.heading, 16)}.{seen[sc.heading]}"


def _shot_idents(scene: _PlanScene) -> list[str]:
    seen: dict[str, int] = defaultdict(int)
    out = []
    for sh in scene.shots:
        seen[sh.action] += 1
        out.append(f"{scene.ident}/{_hash(sh.action, 12)}.{seen[sh.action]}")
    return out


def _with_content(ident: str, content: str, staged: str = "") -> str:
    return f"{ident}~{_hash(content, 8)}" + (f"~{staged}" if staged else "")


def _split_key(key: str | None) -> tuple[str, str] | None:
    """`(ident, recorded)`: what the key identifies, and the hashes of what the import wrote (after the first `~`)."""
    if not key or not key.startswith(SOURCE):
        return None
    ident, sep, recorded = key.partition("~")
    return (ident, recorded) if sep else (key, "")


# ---- what an import stages: camera (framing and move), time of day, location ----------------

STAGED = ("camera", "time of day", "location")
UNSTAGED = ("|static", "", "")  # a shot the import put nothing on
STAGED_HASH = 6


def _staged_now(shot: Shot) -> tuple[str, str, str]:
    """The staged fields of a shot as the import compares them (a saved camera's defaults read as unset)."""
    camera, lighting = shot.camera or {}, shot.lighting or {}
    return (f"{camera.get('framing') or ''}|{camera.get('move') or 'static'}", lighting.get("time_of_day") or "",
            str(shot.location_id or ""))  # fmt: skip


def _staged_wanted(pshot: _PlanShot, scene: _PlanScene, location: Location | None) -> tuple[str, str, str]:
    return (f"{pshot.framing or ''}|{pshot.move or 'static'}", scene.time_of_day or "",
            str(location.id if location is not None else ""))  # fmt: skip


def _staged_record(values: tuple[str, ...]) -> str:
    return "".join(_hash(v, STAGED_HASH) for v in values)


def _stage(shot: Shot, index: int, pshot: _PlanShot, scene: _PlanScene, location: Location | None) -> None:
    """Write one staged field of the script onto the shot (new dicts: JSON columns track assignment)."""
    if index == 0:
        camera = dict(shot.camera or {})
        for key, value in (("framing", pshot.framing), ("move", pshot.move)):
            if value:
                camera[key] = value
            else:
                camera.pop(key, None)
        shot.camera = camera
    elif index == 1:
        lighting = dict(shot.lighting or {})
        if scene.time_of_day:
            lighting["time_of_day"] = scene.time_of_day
        else:
            lighting.pop("time_of_day", None)
        shot.lighting = lighting
    else:
        shot.location_id = location.id if location is not None else None


# ---- input checks --------------------------------------------------------------------------


def decode_fountain(data: bytes, *, field: str = "file") -> str:
    """The text of an uploaded screenplay: UTF-8, with or without a byte-order mark; nothing binary."""
    if len(data) > MAX_BYTES:
        raise TooLarge(f"the screenplay is larger than {MAX_BYTES // (1024 * 1024)} MB; a feature-length Fountain "
                       "script is a few hundred KB", field=field)  # fmt: skip
    if not data.strip():
        raise Invalid("the screenplay is empty", field=field)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Invalid("the file is UTF-16 text; save it as UTF-8 and import it again", field=field)
    if data.startswith(b"%PDF"):
        raise Invalid("that is a PDF; export the screenplay from your writing app as Fountain (.fountain) text",
                      field=field)  # fmt: skip
    if data.startswith(b"PK\x03\x04"):
        raise Invalid("that is a packed document (Word, Highland or similar), not Fountain text; export it as "
                      ".fountain", field=field)  # fmt: skip
    if b"\x00" in data:
        raise Invalid("that is a binary file, not Fountain text", field=field)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise Invalid(f"the file is not UTF-8 text (line {line}); Slate reads UTF-8, with or without a byte-order "
                      "mark: save the script as UTF-8 and import it again", field=field) from None  # fmt: skip


def check_text(text: str, *, field: str = "text") -> str:
    """The screenplay text if it can be a Fountain script; Invalid/TooLarge with the reason otherwise."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise TooLarge(f"the screenplay is larger than {MAX_BYTES // (1024 * 1024)} MB", field=field)
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise Invalid("that is binary data, not Fountain text", field=field)
    if not text.strip():
        raise Invalid("the screenplay is empty", field=field)
    controls = len(_CONTROL.findall(text))
    if controls > max(8, len(text) // 100):
        raise Invalid("that looks like binary data, not Fountain text", field=field)
    return _CONTROL.sub("", text) if controls else text


def _no_headings(text: str, field: str) -> Invalid:
    start = text.lstrip()[:200].lower()
    if start.startswith("<"):
        hint = " It looks like XML or HTML (a Final Draft .fdx file?): export the screenplay as Fountain."
    elif start.startswith("{\\rtf"):
        hint = " It looks like an RTF document: export the screenplay as Fountain."
    else:
        hint = (" Scenes start with a line such as “INT. KITCHEN - NIGHT” (or a forced “.HEADING”) after an empty "
                "line.")  # fmt: skip
    return Invalid("no scene headings found: is this a Fountain screenplay?" + hint, field=field)


# ---- the report ----------------------------------------------------------------------------


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class SceneCreated:
    id: int
    number: str
    heading: str
    shots: int = 0


@dataclass
class ImportReport:
    title: str
    storyboard_url: str
    scenes: Tally = field(default_factory=Tally)
    shots: Tally = field(default_factory=Tally)
    characters: Tally = field(default_factory=Tally)
    locations: Tally = field(default_factory=Tally)  # unchanged: an existing location of that name, reused
    created_scenes: list[SceneCreated] = field(default_factory=list)
    created_characters: list[Character] = field(default_factory=list)
    created_locations: list[Location] = field(default_factory=list)
    framings: int = 0  # shots whose framing the script set ("CLOSE ON" -> CU)
    moves: int = 0  # shots whose camera move the script set ("PUSH IN" -> dolly in)
    times: int = 0  # shots whose time of day the scene heading set
    kept: int = 0  # fields changed in Slate since the last import, kept although the script says otherwise
    warnings: list[str] = field(default_factory=list)

    @property
    def created_anything(self) -> bool:
        return bool(self.scenes.created or self.shots.created or self.characters.created or self.locations.created)

    @property
    def changed_anything(self) -> bool:
        return self.created_anything or bool(self.scenes.updated or self.shots.updated)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---- the import ----------------------------------------------------------------------------


def import_fountain(db: Session, *, actor: User, project: Project, text: str, field: str = "text") -> ImportReport:
    """Import a Fountain screenplay into the project in one go; importing it again only adds what is new."""
    text = check_text(text, field=field)
    play = fp.parse(text)
    if not play.headings:
        raise _no_headings(text, field)
    plan = _plan(play, field=field)
    report = ImportReport(title=plan.title, storyboard_url=f"/projects/{project.id}/storyboard")
    warnings = plan.warnings

    locked_scenes = _lock(db, project=project)
    characters = _characters(db, project=project, plan=plan, report=report)
    places = _locations(db, project=project, plan=plan, report=report)
    scene_of = _scenes(db, project=project, plan=plan, scenes=locked_scenes, report=report, warnings=warnings)
    _shots(db, project=project, plan=plan, scene_of=scene_of, characters=characters, places=places, report=report,
           warnings=warnings)  # fmt: skip

    if len(warnings) > MAX_WARNINGS:
        more = len(warnings) - MAX_WARNINGS
        warnings = warnings[:MAX_WARNINGS] + [f"… and {more} more"]
    report.warnings = warnings
    if report.changed_anything:
        touch(db, project=project)
    _record(db, actor=actor, project=project, report=report)
    return report


def _lock(db: Session, *, project: Project) -> list[Scene]:
    """Serialise imports of a project, then lock its scenes the way the storyboard does (by id) and re-read them.

    The project row first: a second import waits, then finds what the first one made. The scene
    rows next: nobody reorders shots in them while the import places its new ones.
    """
    if db.get_bind().dialect.name == "sqlite":  # no row locks: a no-op write takes the database's write lock
        table = Project.__table__
        db.execute(update(table).where(table.c.id == project.id).values(updated_at=table.c.updated_at))
    db.execute(select(Project.id).where(Project.id == project.id).with_for_update())
    return list(
        db.scalars(
            select(Scene).where(Scene.project_id == project.id).order_by(Scene.id).with_for_update()
            .execution_options(populate_existing=True)
        )
    )  # fmt: skip


def _characters(db: Session, *, project: Project, plan: _Plan, report: ImportReport) -> dict[str, Character]:
    """Every character of the project by name_key, with the script's new ones created."""
    existing = {c.name_key: c for c in db.scalars(select(Character).where(Character.project_id == project.id))}
    for key, name in plan.names.items():
        if key in existing:
            report.characters.unchanged += 1
            continue
        character = Character(project_id=project.id, name=name, name_key=key, seed=secrets.randbelow(2**31))
        db.add(character)
        existing[key] = character
        report.created_characters.append(character)
        report.characters.created += 1
    db.flush()
    return existing


SETTING_WORDS = {directions.INTERIOR: "interior", directions.EXTERIOR: "exterior",
                 directions.BOTH: "interior and exterior"}  # fmt: skip


def _place_key(place: str) -> str:
    return name_key(directions.location_name(place, LOCATION_NAME_MAX))


def _locations(db: Session, *, project: Project, plan: _Plan, report: ImportReport) -> dict[str, Location]:
    """The location of each place the headings name (by name, ignoring case and spacing): reused, or created."""
    settings: dict[str, set[str]] = defaultdict(set)
    names: dict[str, str] = {}
    for ps in plan.scenes:
        if not ps.place:
            continue
        key = _place_key(ps.place)
        names.setdefault(key, directions.location_name(ps.place, LOCATION_NAME_MAX))
        if ps.setting:
            settings[key].add(ps.setting)
    if not names:
        return {}
    existing = {loc.name_key: loc for loc in db.scalars(select(Location).where(Location.project_id == project.id))}
    out: dict[str, Location] = {}
    for key, name in names.items():
        if key in existing:
            out[key] = existing[key]
            report.locations.unchanged += 1
            continue
        seen = settings[key]
        setting = directions.BOTH if len(seen) > 1 else next(iter(seen), None)
        words = SETTING_WORDS.get(setting or "", "")
        place = ", ".join(part.lower() for part in name.split(" - "))
        location = Location(project_id=project.id, name=name, name_key=key,
                            description=f"{words.capitalize()}, from the screenplay's scene headings." if words else
                            "From the screenplay's scene headings.",
                            prompt_fragment=f"{place}, {words}" if words else "")  # fmt: skip
        db.add(location)
        out[key] = location
        report.created_locations.append(location)
        report.locations.created += 1
    db.flush()
    return out


def _scenes(
    db: Session, *, project: Project, plan: _Plan, scenes: list[Scene], report: ImportReport, warnings: list[str]
) -> list[Scene]:
    """The project scene of each script scene: found by source key, or created in its place."""
    order = sorted(scenes, key=lambda s: (s.position, s.id))
    by_ident: dict[str, tuple[Scene, str]] = {}
    for s in order:
        if split := _split_key(s.source_key):
            by_ident.setdefault(split[0], (s, split[1]))
    used = {s.number for s in order}
    matched = [by_ident.get(ps.ident) for ps in plan.scenes]
    scene_of: list[Scene] = []
    for i, ps in enumerate(plan.scenes):
        synopsis = " ".join(ps.synopsis)
        found = matched[i]
        if found is not None:
            scene, recorded = found
            if _hash(synopsis, 8) == recorded:
                report.scenes.unchanged += 1
            elif _hash(scene.synopsis, 8) == recorded:
                scene.synopsis = synopsis
                scene.source_key = _with_content(ps.ident, synopsis)
                report.scenes.updated += 1
            else:
                report.scenes.unchanged += 1
                warnings.append(f"line {ps.line}: the synopsis of scene {scene.number} was changed in Slate; "
                                "the script's new synopsis was not applied")  # fmt: skip
            scene_of.append(scene)
            continue
        if i > 0 and scene_of[i - 1] in order:
            idx = order.index(scene_of[i - 1]) + 1
        else:
            nxt = next((m[0] for m in matched[i + 1 :] if m is not None), None)
            idx = order.index(nxt) if nxt is not None else len(order)
        number = _scene_number(ps, ordinal=i + 1, used=used, order=order, idx=idx, warnings=warnings)
        used.add(number)
        scene = Scene(project_id=project.id, number=number, heading=ps.heading, synopsis=synopsis, position=idx,
                      source_key=_with_content(ps.ident, synopsis))  # fmt: skip
        db.add(scene)
        order.insert(idx, scene)
        scene_of.append(scene)
        report.scenes.created += 1
    db.flush()
    for pos, s in enumerate(order):
        if s.position != pos:
            s.position = pos
    for found, scene in zip(matched, scene_of, strict=True):
        if found is None:
            report.created_scenes.append(SceneCreated(id=scene.id, number=scene.number, heading=scene.heading))
    return scene_of


def _scene_number(ps: _PlanScene, *, ordinal: int, used: set[str], order: list[Scene], idx: int,
                  warnings: list[str]) -> str:  # fmt: skip
    """The script's `#n#`, else the scene's place; a scene put in between others takes a letter (12A)."""
    if ps.number is not None:
        if ps.number in used:
            warnings.append(f"line {ps.line}: scene number {ps.number} is used by another scene too")
        return ps.number
    if str(ordinal) not in used:
        return str(ordinal)
    if 0 < idx < len(order):
        base = order[idx - 1].number
        for k in range(26):
            candidate = f"{base}{chr(65 + k)}"
            if candidate not in used and len(candidate) <= NUMBER_MAX:
                return candidate
    return str(max((int(n) for n in used if n.isdigit()), default=0) + 1)


def _shots(
    db: Session, *, project: Project, plan: _Plan, scene_of: list[Scene], characters: dict[str, Character],
    places: dict[str, Location], report: ImportReport, warnings: list[str],
) -> None:  # fmt: skip
    """Each script paragraph's shot: found by source key (dialogue and staging refreshed where untouched), or created
    in place with its camera, time of day and location."""
    existing = list(db.scalars(
        select(Shot).where(Shot.project_id == project.id).order_by(Shot.position, Shot.id)
        .execution_options(populate_existing=True)))  # fmt: skip
    by_scene: dict[int, list[Shot]] = defaultdict(list)
    by_ident: dict[str, tuple[Shot, str]] = {}
    codes: dict[str, list[str]] = {}  # scene number -> the project's codes that start with it (moved shots too)

    def code_for(scene: Scene) -> str:
        if scene.number not in codes:
            codes[scene.number] = [sh.code for sh in existing if sh.code.startswith(scene.number)]
        code = next_code(scene.number, codes[scene.number])
        codes[scene.number].append(code)
        return code

    for sh in existing:
        by_scene[sh.scene_id].append(sh)
        if split := _split_key(sh.source_key):
            by_ident.setdefault(split[0], (sh, split[1]))

    created: list[tuple[Shot, _PlanShot]] = []
    refreshed: list[tuple[Shot, _PlanShot]] = []
    touched: set[int] = set()
    created_in: dict[int, int] = defaultdict(int)
    for ps, scene in zip(plan.scenes, scene_of, strict=True):
        idents = _shot_idents(ps)
        matched = [by_ident.get(ident) for ident in idents]
        lst = by_scene[scene.id]
        location = places.get(_place_key(ps.place)) if ps.place else None
        shot_of: list[Shot] = []
        for j, (pshot, ident) in enumerate(zip(ps.shots, idents, strict=True)):
            dialogue = pshot.dialogue
            found = matched[j]
            if found is not None:
                shot, recorded = found
                said, _, staged = recorded.partition("~")
                new_dialogue = False
                script_changed = _hash(dialogue, 8) != said  # else: the script's dialogue is what was imported
                if script_changed and _hash(shot.dialogue, 8) == said:
                    shot.dialogue = dialogue
                    said = _hash(dialogue, 8)
                    refreshed.append((shot, pshot))
                    new_dialogue = True
                elif script_changed:
                    warnings.append(f"line {pshot.line}: the dialogue of shot {shot.code} was changed in Slate; "
                                    "the script's new dialogue was not applied")  # fmt: skip
                restaged, staged = _restage(shot, pshot, ps, location, staged, report=report, warnings=warnings)
                if new_dialogue or restaged:
                    report.shots.updated += 1
                else:
                    report.shots.unchanged += 1
                key = f"{ident}~{said}~{staged}"
                if shot.source_key != key:
                    shot.source_key = key
                shot_of.append(shot)
                continue
            prev = shot_of[j - 1] if j > 0 else None
            if prev is not None and prev in lst:
                idx = lst.index(prev) + 1
            else:
                nxt = next((m[0] for m in matched[j + 1 :] if m is not None and m[0] in lst), None)
                idx = lst.index(nxt) if nxt is not None else len(lst)
            shot = Shot(project_id=project.id, scene_id=scene.id, code=code_for(scene),
                        position=idx, action=pshot.action, dialogue=dialogue, duration_s=SHOT_DURATION_S,
                        status="draft", camera={}, lighting={}, location_id=None)  # fmt: skip
            for index in range(len(STAGED)):
                _stage(shot, index, pshot, ps, location)
            _count_staged(report, pshot, ps)
            shot.source_key = _with_content(ident, dialogue, _staged_record(_staged_wanted(pshot, ps, location)))
            db.add(shot)
            lst.insert(idx, shot)
            shot_of.append(shot)
            created.append((shot, pshot))
            touched.add(scene.id)
            created_in[scene.id] += 1
            report.shots.created += 1
    db.flush()
    for scene_id in touched:
        for pos, sh in enumerate(by_scene[scene_id]):
            if sh.position != pos:
                sh.position = pos
    for info in report.created_scenes:
        info.shots = created_in.get(info.id, 0)
    _cast(db, created=created, refreshed=refreshed, characters=characters)


def _count_staged(report: ImportReport, pshot: _PlanShot, scene: _PlanScene) -> None:
    report.framings += pshot.framing is not None
    report.moves += pshot.move is not None
    report.times += scene.time_of_day is not None


def _restage(shot: Shot, pshot: _PlanShot, scene: _PlanScene, location: Location | None, staged: str, *,
             report: ImportReport, warnings: list[str]) -> tuple[bool, str]:  # fmt: skip
    """Bring an imported shot's camera, time of day and location to what the script says now, field by field,
    where nobody changed the field in Slate since the last import; returns (changed, the new record).

    The record holds a hash of what the import last wrote in each field. A shot imported before the import
    staged anything has none: there a field is filled only while it is still empty.
    """
    now, wanted = _staged_now(shot), _staged_wanted(pshot, scene, location)
    width = STAGED_HASH
    recorded = [staged[i * width : (i + 1) * width] for i in range(len(STAGED))] if len(staged) == width * 3 else None
    record: list[str] = []
    changed, news = False, []
    for i, what in enumerate(STAGED):
        untouched = _hash(now[i], width) == recorded[i] if recorded else now[i] == UNSTAGED[i]
        if untouched:
            if now[i] != wanted[i]:
                _stage(shot, i, pshot, scene, location)
                changed = True
                report.framings += i == 0 and pshot.framing is not None
                report.moves += i == 0 and pshot.move is not None
                report.times += i == 1 and scene.time_of_day is not None
            record.append(_hash(wanted[i], width))
        else:
            report.kept += now[i] != wanted[i]
            if recorded and now[i] != wanted[i] and _hash(wanted[i], width) != recorded[i]:
                news.append(what)  # the script says something new here, and the shot's own choice wins
            record.append(recorded[i] if recorded else _hash(wanted[i], width))
    if news:
        warnings.append(f"line {pshot.line}: the {' and '.join(news)} of shot {shot.code} "
                        f"{'was' if len(news) == 1 else 'were'} changed in Slate; the script's new "
                        f"{' and '.join(news)} {'was' if len(news) == 1 else 'were'} not applied")  # fmt: skip
    return changed, "".join(record)


def _mention_finder(characters: dict[str, Character]):
    """A function that lists the known characters an action names in capitals, in order of appearance."""
    forms: dict[str, Character] = {}
    for c in characters.values():
        if sum(ch.isalpha() for ch in c.name) < 2:
            continue
        forms.setdefault(c.name.upper(), c)
        uppers = sum(ch.isupper() for ch in c.name)
        if c.name != c.name.upper() and uppers * 2 > sum(ch.isalpha() for ch in c.name):
            forms.setdefault(c.name, c)  # McKENNA as written
    if not forms:
        return lambda text: []
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)({alternatives})(?!\w)")

    def find(text: str) -> list[Character]:
        return [forms[m.group(1)] for m in pattern.finditer(text)]

    return find


def _cast(
    db: Session, *, created: list[tuple[Shot, _PlanShot]], refreshed: list[tuple[Shot, _PlanShot]],
    characters: dict[str, Character],
) -> None:  # fmt: skip
    """Cast rows for new shots, and for refreshed ones the speakers they did not have yet (none removed)."""
    if not created and not refreshed:
        return
    mentions = _mention_finder(characters)
    have: dict[int, set[int]] = defaultdict(set)
    count: dict[int, int] = defaultdict(int)
    if refreshed:
        rows = db.execute(select(ShotCharacter.shot_id, ShotCharacter.character_id).where(
            ShotCharacter.shot_id.in_([s.id for s, _ in refreshed])))  # fmt: skip
        for shot_id, character_id in rows:
            have[shot_id].add(character_id)
            count[shot_id] += 1
    rows: list[dict] = []
    for shot, pshot in [*created, *refreshed]:
        wanted = [] if pshot.synthetic else mentions(pshot.action)
        wanted += [characters[s.key] for s in pshot.speeches if not s.offscreen and s.key in characters]
        for character in wanted:
            if character.id in have[shot.id]:
                continue
            have[shot.id].add(character.id)
            rows.append({"shot_id": shot.id, "character_id": character.id, "character_version": character.version,
                         "look_id": None, "look_version": None, "position": count[shot.id]})  # fmt: skip
            count[shot.id] += 1
    if rows:
        db.execute(insert(ShotCharacter), rows)  # plain rows: nothing here needs their ids


def _record(db: Session, *, actor: User, project: Project, report: ImportReport) -> None:
    title = f"“{report.title}”" if report.title else "a screenplay"
    if report.created_anything:
        made = [_plural(report.scenes.created, "new scene"), _plural(report.shots.created, "new shot"),
                _plural(report.characters.created, "new character"),
                _plural(report.locations.created, "new location")]  # fmt: skip
        summary = f"imported {title}: {', '.join(made)}"
    elif report.changed_anything:
        summary = f"re-imported {title}: {_plural(report.scenes.updated + report.shots.updated, 'update')}"
    else:
        summary = f"re-imported {title}: nothing new"
    tallies = {k: vars(getattr(report, k)).copy() for k in ("scenes", "shots", "characters", "locations")}
    tallies.update(framings=report.framings, moves=report.moves, times=report.times, kept=report.kept)
    record(db, project_id=project.id, actor=actor, verb="screenplay.imported", object_type="project",
           object_id=project.id, summary=summary, data={**tallies, "warnings": len(report.warnings)})  # fmt: skip
