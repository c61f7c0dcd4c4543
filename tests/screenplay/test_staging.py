"""What an import stages on the shots: locations from the headings, time of day, framing and move from the
directions, and a re-import that keeps what people changed in Slate (real PostgreSQL)."""

import pytest
from sqlalchemy import func, select

from app.design import service as design
from app.design.models import Location
from app.screenplay import service
from app.screenplay.directions import direction, parse_heading
from app.storyboard import service as storyboard
from app.storyboard.models import Scene, Shot

SCRIPT = """Title: Harbour Lights

INT. LIGHTHOUSE - KITCHEN - NIGHT

CLOSE ON THE KETTLE.

Steam curls from the spout. The camera PUSHES IN.

MARA
Tea?

ANGLE ON TOM
He shakes his head.

EXT. HARBOUR WALL -- DAWN

WIDE ON the harbour. Boats rock at their moorings.

MARA'S POV - a ferry on the horizon.

int. lighthouse  -  kitchen - continuous

INSERT - a letter on the table: "Come home."

Tom walks to the window. We PULL BACK.
"""


@pytest.fixture
def owner(make_user):
    return make_user(name="Ines")


@pytest.fixture
def project(make_project, owner):
    return make_project(owner, name="Harbour Lights")


def do_import(db, owner, project, text=SCRIPT):
    report = service.import_fountain(db, actor=owner, project=project, text=text)
    db.commit()
    return report


def shots(db, project):
    return list(db.scalars(select(Shot).join(Scene).where(Shot.project_id == project.id)
                           .order_by(Scene.position, Shot.position)))  # fmt: skip


def locations(db, project):
    return {loc.name: loc for loc in db.scalars(select(Location).where(Location.project_id == project.id))}


# ---- the pure readers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "setting", "place", "time"),
    [
        ("INT. LIGHTHOUSE - KITCHEN - NIGHT", "INT", "LIGHTHOUSE - KITCHEN", "night"),
        ("EXT. HARBOUR WALL -- DAWN", "EXT", "HARBOUR WALL", "dawn"),
        ("INT./EXT. CAR - MOVING - DAY", "INT/EXT", "CAR - MOVING", "day"),
        ("I/E CAR — DUSK", "INT/EXT", "CAR", "dusk"),
        ("EXT. BEACH - NIGHT - CONTINUOUS", "EXT", "BEACH", "night"),
        ("INT. JOE'S BAR - LATE NIGHT", "INT", "JOE'S BAR", "night"),
        ("int kitchen - later", "INT", "kitchen", None),
        ("EST. CITY - SUNSET", "EXT", "CITY", "dusk"),
        ("INT. HOUSE", "INT", "HOUSE", None),
    ],
)
def test_headings_split_into_setting_place_and_time(heading, setting, place, time):
    parts = parse_heading(heading)
    assert (parts.setting, parts.place) == (setting, place)
    assert (parts.time_of_day.value if parts.time_of_day else None) == time


@pytest.mark.parametrize(
    ("paragraph", "framing", "move"),
    [
        ("CLOSE ON the lamp.", "CU", None),
        ("CLOSE UP - MARA", "CU", None),
        ("EXTREME CLOSE ON her eye.", "ECU", None),
        ("INSERT - THE LETTER", "ECU", None),
        ("WIDE ON the bay.", "WS", None),
        ("WIDE SHOT - the bay.", "WS", None),
        ("ANGLE ON MARA", "MS", None),
        ("MARA'S POV - the sea.", "POV", None),
        ("The camera PUSHES IN on her hands.", None, "dolly_in"),
        ("We PULL BACK to reveal the storm.", None, "dolly_out"),
        ("PULL OUT from the window.", None, "dolly_out"),
        ("PAN TO the door.", None, "pan_right"),
        ("TRACKING WITH MARA down the pier.", None, "truck_right"),
        ("CLOSE ON the kettle. PUSH IN.", "CU", "dolly_in"),
        # Not directions: lower case, a name, a word that starts like one, a title.
        ("Close on midnight, the wind drops.", None, None),
        ("Peter PAN waves. MARA PUSHES the door. IN the hall", None, None),
        ("MS. JONES enters.", None, None),
        ("The camera is static.", None, None),
    ],
)
def test_directions_read_in_the_camera_vocabulary(paragraph, framing, move):
    found = direction(paragraph)
    assert (found.framing and found.framing.value, found.move and found.move.value) == (framing, move)


# ---- an import ----------------------------------------------------------------------------------


def test_three_headings_at_two_places_make_two_locations_and_reuse_one_by_name(db, owner, project):
    existing = design.create_location(db, actor=owner, project_id=project.id, name="harbour  WALL",
                                      prompt_fragment="granite quay")  # fmt: skip
    db.commit()
    report = do_import(db, owner, project)
    made = locations(db, project)
    assert sorted(made) == ["Lighthouse - Kitchen", existing.name] and existing.name.startswith("harbour")
    assert (report.locations.created, report.locations.unchanged) == (1, 1)
    assert [loc.name for loc in report.created_locations] == ["Lighthouse - Kitchen"]
    kitchen = made["Lighthouse - Kitchen"]
    assert kitchen.prompt_fragment == "lighthouse, kitchen, interior"  # the heading's INT
    assert existing.prompt_fragment == "granite quay"  # reused, not rewritten
    by_code = {s.code: s for s in shots(db, project)}
    assert {c: s.location_id for c, s in by_code.items()} == {
        "1A": kitchen.id, "1B": kitchen.id, "2A": existing.id, "2B": existing.id, "3A": kitchen.id, "3B": kitchen.id,
    }  # fmt: skip
    assert db.scalar(select(func.count()).select_from(Location).where(Location.project_id == project.id)) == 2


def test_shot_lines_and_directions_set_framing_and_move(db, owner, project):
    report = do_import(db, owner, project)
    got = [(s.code, s.camera.get("framing"), s.camera.get("move")) for s in shots(db, project)]
    assert got == [
        ("1A", "CU", "dolly_in"),  # CLOSE ON THE KETTLE. + the paragraph it shows (PUSHES IN)
        ("1B", "MS", None),  # ANGLE ON TOM over its action reads as a cue in Fountain: a shot line
        ("2A", "WS", None),
        ("2B", "POV", None),
        ("3A", "ECU", None),  # INSERT
        ("3B", None, "dolly_out"),  # PULL BACK
    ]
    first = shots(db, project)[0]
    assert first.action == "CLOSE ON THE KETTLE.\nSteam curls from the spout. The camera PUSHES IN."
    assert first.dialogue == "MARA: Tea?"
    assert shots(db, project)[1].action == "ANGLE ON TOM\nHe shakes his head." and shots(db, project)[1].cast == []
    assert (report.framings, report.moves) == (5, 2)
    assert "TOM" not in {c.name for c in report.created_characters}  # a shot line is no character


def test_the_time_of_day_lands_on_the_shots_and_continuous_keeps_the_scene_before(db, owner, project):
    report = do_import(db, owner, project)
    assert [s.lighting.get("time_of_day") for s in shots(db, project)] == ["night", "night", "dawn", "dawn", "dawn",
                                                                           "dawn"]  # fmt: skip
    assert report.times == 6
    compiled = storyboard.compiled_prompt(db, shot=shots(db, project)[0]).prompt
    assert "close-up" in compiled and "night" in compiled and "lighthouse, kitchen, interior" in compiled


def test_a_reimport_keeps_what_was_changed_by_hand(db, owner, project):
    do_import(db, owner, project)
    first, second, third = shots(db, project)[:3]
    other = design.create_location(db, actor=owner, project_id=project.id, name="Attic")
    storyboard.update_shot(db, actor=owner, shot=first, changes={"camera": {"framing": "MCU", "move": "static"},
                           "lighting": {"time_of_day": "dusk"}, "location_id": other.id})  # fmt: skip
    # Saving the editor without touching the camera or light writes their defaults: not a change of its own.
    storyboard.update_shot(db, actor=owner, shot=second, changes={"camera": second.camera, "lighting": second.lighting,
                                                                  "prompt": "Tom, tired"})  # fmt: skip
    db.commit()
    before = {s.id: (dict(s.camera), dict(s.lighting), s.location_id) for s in shots(db, project)}

    report = do_import(db, owner, project)
    assert (report.shots.created, report.shots.updated, report.locations.created) == (0, 0, 0)
    assert report.kept == 3
    db.expire_all()
    after = {s.id: (dict(s.camera), dict(s.lighting), s.location_id) for s in shots(db, project)}
    assert after == before
    assert (first.camera["framing"], first.lighting["time_of_day"], first.location_id) == ("MCU", "dusk", other.id)
    assert third.camera.get("framing") == "WS"


def test_a_shot_imported_before_staging_is_filled_where_still_empty(db, owner, project):
    do_import(db, owner, project)
    first, second = shots(db, project)[:2]
    for shot in (first, second):  # as an import before staging left them: no record, nothing staged
        shot.source_key = shot.source_key.rsplit("~", 1)[0]
        shot.camera, shot.lighting, shot.location_id = {}, {}, None
    second.camera = {"framing": "OTS", "move": "handheld"}  # somebody set this one's camera since
    db.commit()

    report = do_import(db, owner, project)
    db.expire_all()
    assert (first.camera, first.lighting["time_of_day"]) == ({"framing": "CU", "move": "dolly_in"}, "night")
    assert first.location_id is not None and second.location_id == first.location_id
    assert second.camera == {"framing": "OTS", "move": "handheld"}
    assert report.shots.updated == 2 and report.kept == 1
    assert first.source_key.count("~") == 2
    again = do_import(db, owner, project)
    assert (again.shots.updated, again.kept) == (0, 1)


def test_the_report_page_says_what_was_made_and_set(sign_in, owner, project):
    r = sign_in(owner).post(f"/projects/{project.id}/import", data={"text": SCRIPT})
    assert r.status_code == 201, r.text
    assert 'data-kind="locations"' in r.text and "Lighthouse - Kitchen" in r.text
    assert "5 shots framed from shot lines" in r.text and "2 camera moves" in r.text
    assert "6 shots lit for the time of day" in r.text


def test_the_api_report_lists_locations_and_staging(client, api_token, owner, project):
    r = client.post(f"/api/v1/projects/{project.id}/import/fountain", json={"text": SCRIPT}, headers=api_token(owner))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["locations"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert [loc["name"] for loc in body["created_locations"]] == ["Lighthouse - Kitchen", "Harbour Wall"]
    assert (body["framings"], body["moves"], body["times"], body["kept"]) == (5, 2, 6, 0)


def test_a_refused_screenplay_makes_no_location(client, api_token, owner, project, db, make_user):
    r = client.post(f"/api/v1/projects/{project.id}/import/fountain", json={"text": "Just a note, no headings."},
                    headers=api_token(owner))  # fmt: skip
    assert r.status_code == 422 and "scene headings" in r.json()["detail"]
    stranger = make_user()
    r = client.post(f"/api/v1/projects/{project.id}/import/fountain", json={"text": SCRIPT},
                    headers=api_token(stranger))  # fmt: skip
    assert r.status_code == 404
    assert db.scalar(select(func.count()).select_from(Location).where(Location.project_id == project.id)) == 0
