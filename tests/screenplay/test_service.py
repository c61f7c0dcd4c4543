"""Screenplay import into scenes, shots and characters, on real PostgreSQL."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.activity.models import ActivityEvent
from app.characters.models import Character
from app.errors import Invalid, TooLarge
from app.screenplay import service
from app.storyboard.models import Scene, Shot, ShotCharacter

SAMPLES = Path(__file__).parent / "samples"
DRAFT1 = (SAMPLES / "last_ferry.fountain").read_text(encoding="utf-8")
DRAFT2 = (SAMPLES / "last_ferry_draft2.fountain").read_text(encoding="utf-8")


@pytest.fixture
def owner(make_user):
    return make_user(name="Ines")


@pytest.fixture
def project(make_project, owner):
    return make_project(owner, name="The Last Ferry")


def scenes_of(db, project):
    return list(db.scalars(select(Scene).where(Scene.project_id == project.id).order_by(Scene.position)))


def shots_of(db, scene):
    return list(db.scalars(select(Shot).where(Shot.scene_id == scene.id).order_by(Shot.position)))


def cast_names(db, shot):
    rows = db.execute(select(Character.name).join(ShotCharacter, ShotCharacter.character_id == Character.id)
                      .where(ShotCharacter.shot_id == shot.id).order_by(ShotCharacter.position))  # fmt: skip
    return [name for (name,) in rows]


def count(db, model, project):
    return db.scalar(select(func.count()).select_from(model).where(model.project_id == project.id))


def tallies(report):
    return {k: (t.created, t.updated, t.unchanged) for k, t in
            (("scenes", report.scenes), ("shots", report.shots), ("characters", report.characters))}  # fmt: skip


def do_import(db, owner, project, text):
    report = service.import_fountain(db, actor=owner, project=project, text=text)
    db.commit()
    return report


# ---- a whole screenplay ------------------------------------------------------------------------


def test_the_sample_imports_into_the_right_scenes_shots_and_characters(db, owner, project):
    report = do_import(db, owner, project, DRAFT1)
    assert report.title == "THE LAST FERRY"
    assert tallies(report) == {"scenes": (7, 0, 0), "shots": (13, 0, 0), "characters": (4, 0, 0)}
    assert report.warnings == ["line 25: 1 paragraph was before the first scene heading and not imported "
                               "(a shot belongs to a scene)"]  # fmt: skip

    scenes = scenes_of(db, project)
    assert [(s.number, s.heading, s.position) for s in scenes] == [
        ("1", "EXT. FERRY LANDING - DAWN", 0),
        ("2", "INT. FERRY WHEELHOUSE - CONTINUOUS", 1),
        ("3", "EXT. OPEN WATER - DAY", 2),
        ("4", "INT./EXT. FERRY CAR DECK - DAY", 3),
        ("5", "FLASHBACK - THE HARBOUR, 1987", 4),
        ("6", "EST. TIDEWATER ISLAND - DUSK", 5),
        ("7", "INT. ELSIE'S COTTAGE - NIGHT", 6),
    ]
    assert scenes[0].synopsis == "Mara readies the ferry while the island sleeps."
    assert scenes[6].synopsis == "Forty years late, the post arrives."
    assert [s.synopsis for s in scenes[1:6]] == [""] * 5  # the act synopsis before scene 1 belongs to no scene
    assert [s.shots for s in report.created_scenes] == [3, 1, 2, 1, 1, 2, 3]

    shots = {s.number: shots_of(db, s) for s in scenes}
    assert {n: [sh.code for sh in lst] for n, lst in shots.items()} == {
        "1": ["1A", "1B", "1C"], "2": ["2A"], "3": ["3A", "3B"], "4": ["4A"], "5": ["5A"], "6": ["6A", "6B"],
        "7": ["7A", "7B", "7C"],
    }  # fmt: skip
    every = [sh for lst in shots.values() for sh in lst]
    assert {(sh.status, sh.duration_s, sh.prompt) for sh in every} == {("draft", 4.0, "")}
    assert all(sh.source_key.startswith("fountain:") for sh in every)
    assert [[sh.position for sh in lst] for lst in shots.values()] == [[0, 1, 2], [0], [0, 1], [0], [0], [0, 1],
                                                                       [0, 1, 2]]  # fmt: skip

    s1a, s1b, s1c = shots["1"]
    assert s1a.action == ("Fog sits on the water. MARA (60s, oilskin coat, hands like rope) coils a line on the deck "
                          "of a small car ferry.")  # fmt: skip
    assert s1a.dialogue == "" and cast_names(db, s1a) == ["MARA"]
    assert s1b.action == "She glances at the empty landing. Checks her watch. Again."
    assert s1b.dialogue == "MARA: (to herself) Six minutes. Nobody ever comes at six.\nTOMAS (O.S.): Hold the ramp!"
    assert cast_names(db, s1b) == ["MARA"]  # Tomas is off screen here
    assert s1c.dialogue == "MARA: You're early.\nTOMAS: I'm late. For everything else."
    assert cast_names(db, s1c) == ["TOMAS", "MARA"]

    (s2a,) = shots["2"]
    assert s2a.action == "Brass instruments, a thermos, a photograph taped to the window: a WOMAN laughing on a beach."
    assert s2a.dialogue == ("TOMAS: Who's that?\nMARA: Somebody who missed the boat.\n"
                            "TOMAS: (gently) That's not an answer.\n"
                            "MARA: It's the only one you're getting.")  # fmt: skip
    assert cast_names(db, s2a) == ["TOMAS", "MARA"]

    s3a, s3b = shots["3"]
    assert (s3a.action, s3a.dialogue) == ("ELSIE speaks", "ELSIE (V.O.): Every crossing, she told me the same story.")
    assert cast_names(db, s3a) == []  # a voice-over is not in the picture
    assert (s3b.action, s3b.dialogue) == ("The ferry is a small shape in a wide grey sea. The wind picks up.", "")

    (s4a,) = shots["4"]
    assert s4a.action == ("TOMAS opens the guitar case. Inside: no guitar.\n"
                          "Bundled letters, dozens of them, tied with red string.")  # fmt: skip
    assert s4a.dialogue == ("MARA: Those aren't yours.\nTOMAS: They are now.\nMARA: Put them back.\n"
                            "TOMAS: I can't.")  # fmt: skip

    (s5a,) = shots["5"]
    assert s5a.action == "...and the harbour is full of boats again. A YOUNG MARA waves from the ferry ramp."
    assert s5a.dialogue == ("ELSIE: (calling) Don't wait for me!\n♪ Row me over, row me home,\n"
                            "♪ Leave the lantern on the stone.")  # fmt: skip
    assert cast_names(db, s5a) == ["MARA", "ELSIE"]

    s6a, s6b = shots["6"]
    assert s6a.action == "The island rises out of the fog. A sign on the slipway reads *NO LANDING*."
    assert s6b.action == "THE LIGHTS GO OUT.\nOne by one, across the hill."

    s7a, s7b, s7c = shots["7"]
    assert s7a.action == "ELSIE (80s) sits by the window, waiting. A knock."
    assert s7a.dialogue == ("McKENNA: (through the door) Mrs. Elsie? It's the harbourmaster.\n"
                            "ELSIE: Tell her she's late. Forty years late.")  # fmt: skip
    assert cast_names(db, s7a) == ["ELSIE", "McKENNA"]
    assert s7b.dialogue == "MARA: I brought your post.\nELSIE: Come in before the wind does."
    assert (s7c.action, s7c.dialogue, cast_names(db, s7c)) == ("THE END", "", [])

    chars = list(db.scalars(select(Character).where(Character.project_id == project.id).order_by(Character.id)))
    assert [(c.name, c.name_key, c.version) for c in chars] == [
        ("MARA", "mara", 1), ("TOMAS", "tomas", 1), ("ELSIE", "elsie", 1), ("McKENNA", "mckenna", 1),
    ]  # fmt: skip
    assert all(c.seed is not None and 0 <= c.seed < 2**31 for c in chars)
    assert [c.name for c in report.created_characters] == ["MARA", "TOMAS", "ELSIE", "McKENNA"]
    versions = db.scalars(select(ShotCharacter.character_version).where(ShotCharacter.shot_id == s1a.id)).all()
    assert versions == [1]

    events = db.scalars(select(ActivityEvent).where(ActivityEvent.project_id == project.id,
                                                    ActivityEvent.verb == "screenplay.imported")).all()  # fmt: skip
    assert len(events) == 1
    assert events[0].summary == "imported “THE LAST FERRY”: 7 new scenes, 13 new shots, 4 new characters, 7 new locations"
    assert events[0].data["shots"] == {"created": 13, "updated": 0, "unchanged": 0}


def test_reimport_is_idempotent_even_with_other_line_endings(db, owner, project):
    do_import(db, owner, project, DRAFT1)
    before = {m: count(db, m, project) for m in (Scene, Shot, Character)}
    cast_before = db.scalar(select(func.count()).select_from(ShotCharacter))
    for variant in (DRAFT1, DRAFT1.replace("\n", "\r\n"), "\ufeff" + DRAFT1.replace("\n", "\r")):
        report = do_import(db, owner, project, variant)
        assert tallies(report) == {"scenes": (0, 0, 7), "shots": (0, 0, 13), "characters": (0, 0, 4)}
        assert not report.created_anything and report.created_scenes == [] and report.created_characters == []
    assert {m: count(db, m, project) for m in (Scene, Shot, Character)} == before
    assert db.scalar(select(func.count()).select_from(ShotCharacter)) == cast_before
    keys = db.scalars(select(Shot.source_key).where(Shot.project_id == project.id)).all()
    assert len(keys) == len(set(keys)) == 13
    summaries = db.scalars(select(ActivityEvent.summary).where(ActivityEvent.verb == "screenplay.imported",
                                                               ActivityEvent.project_id == project.id)
                           .order_by(ActivityEvent.id)).all()  # fmt: skip
    assert summaries[1:] == ["re-imported “THE LAST FERRY”: nothing new"] * 3


def test_an_edited_draft_adds_only_what_is_new_and_keeps_hand_edits(db, owner, project):
    do_import(db, owner, project, DRAFT1)
    first = {sh.id: sh.code for sh in db.scalars(select(Shot).where(Shot.project_id == project.id))}
    scenes = scenes_of(db, project)
    s1a, s1b, s1c = shots_of(db, scenes[0])
    s2a = shots_of(db, scenes[1])[0]
    s1a.action = "Fog. Mara on deck, as the director wants it."  # edited in Slate
    s2a.dialogue = "TOMAS: Who's that?\nMARA: Nobody."  # edited in Slate
    db.commit()

    report = do_import(db, owner, project, DRAFT2)
    assert tallies(report) == {"scenes": (1, 1, 6), "shots": (3, 1, 11), "characters": (1, 0, 4)}
    assert report.warnings[1:] == ["line 60: the dialogue of shot 2A was changed in Slate; the script's new "
                                   "dialogue was not applied"]  # fmt: skip

    # nothing deleted, hand edits kept
    db.expire_all()
    assert {sh.id for sh in db.scalars(select(Shot).where(Shot.project_id == project.id))} >= set(first)
    assert db.get(Shot, s1a.id).action == "Fog. Mara on deck, as the director wants it."
    assert db.get(Shot, s2a.id).dialogue == "TOMAS: Who's that?\nMARA: Nobody."

    scenes = scenes_of(db, project)
    assert [(s.number, s.heading) for s in scenes] == [
        ("1", "EXT. FERRY LANDING - DAWN"), ("2", "INT. FERRY WHEELHOUSE - CONTINUOUS"),
        ("2A", "EXT. FERRY DECK - DAY"),  # put in between: a letter, not a renumbering
        ("3", "EXT. OPEN WATER - DAY"), ("4", "INT./EXT. FERRY CAR DECK - DAY"),
        ("5", "FLASHBACK - THE HARBOUR, 1987"), ("6", "EST. TIDEWATER ISLAND - DUSK"),
        ("7", "INT. ELSIE'S COTTAGE - NIGHT"),
    ]  # fmt: skip
    assert [s.position for s in scenes] == list(range(8))
    assert scenes[0].synopsis == "Mara readies the ferry before dawn."  # untouched in Slate: refreshed

    landing = shots_of(db, scenes[0])
    assert [sh.code for sh in landing] == ["1A", "1B", "1D", "1C"]  # new paragraph in its place, next free code
    assert landing[2].action == "A bell rings somewhere on the island. MARA counts under her breath."
    assert cast_names(db, landing[2]) == ["MARA"]
    (deck,) = shots_of(db, scenes[2])
    assert (deck.code, deck.dialogue) == ("2AA", "FINN: Is this the boat to the mainland?")  # scene 2A, shot A
    assert cast_names(db, deck) == ["FINN"]

    island = shots_of(db, scenes[6])
    assert [(sh.code, sh.action) for sh in island] == [
        ("6A", "The island rises out of the fog. A sign on the slipway reads *NO LANDING*."),
        ("6C", "The island rises out of the fog, black against the dusk."),
        ("6B", "THE LIGHTS GO OUT.\nOne by one, across the hill."),
    ]
    cottage = shots_of(db, scenes[7])
    assert cottage[1].dialogue == "MARA: I brought your letters.\nELSIE: Come in before the wind does."
    assert cast_names(db, cottage[1]) == ["MARA", "ELSIE"]  # refreshed, no duplicate cast rows

    assert [c.name for c in report.created_characters] == ["FINN"]
    again = do_import(db, owner, project, DRAFT2)
    assert tallies(again) == {"scenes": (0, 0, 8), "shots": (0, 0, 15), "characters": (0, 0, 5)}


def test_existing_characters_are_matched_case_insensitively(db, owner, project):
    mara = Character(project_id=project.id, name="Mara", name_key="mara", version=3, locked=True)
    db.add(mara)
    db.commit()
    report = do_import(db, owner, project, DRAFT1)
    assert report.characters.created == 3 and report.characters.unchanged == 1
    assert count(db, Character, project) == 4
    first = shots_of(db, scenes_of(db, project)[0])[0]
    row = db.scalar(select(ShotCharacter).where(ShotCharacter.shot_id == first.id))
    assert (row.character_id, row.character_version, row.look_id) == (mara.id, 3, None)


def test_extensions_and_forced_cues_make_one_character_each(db, owner, project):
    text = ("INT. HALL - DAY\n\nThe hall.\n\nBOB (V.O.)\nOne.\n\nBob (CONT'D)\nnot a cue, action.\n\n"
            "@Bob\nTwo.\n\nBOB (CONT’D)\nThree.\n\nbob\n\nBOB (cont'd)\nFour.\n\nBOB CONT'D\nFive.\n")  # fmt: skip
    report = do_import(db, owner, project, text)
    assert report.characters.created == 1
    assert db.scalars(select(Character.name).where(Character.project_id == project.id)).all() == ["BOB"]


def test_dialogue_before_any_action_gets_a_shot_of_its_own(db, owner, project):
    text = ("INT. CAR - NIGHT\n\nANNA\nDrive.\n\nLEO ^\nWhere?\n\nRAIN (O.S.)\nHiss.\n\n"
            "~La la la\n\nThe wipers beat.\n\nINT. SHED - DAY\n\n~Hum, hum.\n")  # fmt: skip
    do_import(db, owner, project, text)
    car, shed = scenes_of(db, project)
    first, wipers = shots_of(db, car)
    assert first.action == "ANNA, LEO and RAIN speak"
    assert first.dialogue == "ANNA: Drive.\nLEO: Where?\nRAIN (O.S.): Hiss.\n♪ La la la"
    assert cast_names(db, first) == ["ANNA", "LEO"]
    assert (wipers.action, wipers.dialogue) == ("The wipers beat.", "")
    (song,) = shots_of(db, shed)
    assert (song.action, song.dialogue) == ("Song", "♪ Hum, hum.")


def test_only_caps_mentions_of_known_names_join_the_cast(db, owner, project):
    db.add(Character(project_id=project.id, name="Old Tom", name_key="old tom"))
    db.commit()
    text = ("EXT. DOCK - DAY\n\nOLD TOM and MARAs dog watch Mara. A STRANGER passes. MARA'S boat.\n\n"
            "MARA\nHi.\n")  # fmt: skip
    do_import(db, owner, project, text)
    (shot,) = shots_of(db, scenes_of(db, project)[0])
    assert cast_names(db, shot) == ["Old Tom", "MARA"]


def test_scene_numbers_around_scenes_made_by_hand(db, owner, project):
    db.add_all([Scene(project_id=project.id, number="1", heading="INT. HAND MADE - DAY", position=0),
                Scene(project_id=project.id, number="2", heading="INT. ALSO - DAY", position=1)])  # fmt: skip
    db.commit()
    report = do_import(db, owner, project, "INT. A - DAY\n\nA.\n\nINT. B - DAY #2#\n\nB.\n\nINT. C - DAY\n\nC.\n")
    assert [(s.number, s.heading) for s in scenes_of(db, project)] == [
        ("1", "INT. HAND MADE - DAY"), ("2", "INT. ALSO - DAY"), ("3", "INT. A - DAY"), ("2", "INT. B - DAY"),
        ("4", "INT. C - DAY"),
    ]  # fmt: skip
    assert "line 5: scene number 2 is used by another scene too" in report.warnings


def test_projects_do_not_share_imports(db, owner, project, make_project):
    other = make_project(owner, name="Second Unit")
    do_import(db, owner, project, DRAFT1)
    report = do_import(db, owner, other, DRAFT1)
    assert tallies(report)["shots"] == (13, 0, 0)
    assert count(db, Shot, project) == count(db, Shot, other) == 13


# ---- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the screenplay is empty"),
    (b"   \n\n\t", "the screenplay is empty"),
    (b"INT. A - DAY\n\n\x00\x01\x02", "binary file"),
    ("INT. A - DAY\n\nCaf\u00e9.\n".encode("utf-16"), "UTF-16"),
    ("INT. A - DAY\n\nCaf\u00e9.\n".encode("cp1252"), "not UTF-8 text (line 3)"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
    (b"PK\x03\x04\x14\x00\x06\x00", "not Fountain text"),
])  # fmt: skip
def test_files_that_are_not_fountain_text_are_refused(data, message):
    with pytest.raises(Invalid) as err:
        service.decode_fountain(data)
    assert message in err.value.detail and err.value.field == "file"


def test_utf8_with_a_byte_order_mark_is_accepted():
    assert service.decode_fountain("\ufeffINT. CAFÉ - DAY\n".encode()) == "INT. CAFÉ - DAY\n"


def test_too_large_is_refused():
    big = b"INT. A - DAY\n\n" + b"x" * service.MAX_BYTES
    with pytest.raises(TooLarge):
        service.decode_fountain(big)
    with pytest.raises(TooLarge):
        service.check_text(big.decode())


@pytest.mark.parametrize(("text", "message"), [
    ("", "the screenplay is empty"),
    ("Just some notes.\n\nNo scenes here.\n", "no scene headings found: is this a Fountain screenplay?"),
    ('<?xml version="1.0"?>\n<FinalDraft DocumentType="Script">\n', "Final Draft"),
    ("{\\rtf1\\ansi INT. A}", "RTF"),
    ("INT. A\x00", "binary"),
    ("\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f" * 20, "binary"),
])  # fmt: skip
def test_broken_input_writes_nothing(db, owner, project, text, message):
    events = db.scalar(select(func.count()).select_from(ActivityEvent).where(ActivityEvent.project_id == project.id))
    with pytest.raises(Invalid) as err:
        service.import_fountain(db, actor=owner, project=project, text=text)
    assert message in err.value.detail and err.value.field == "text"
    db.rollback()
    assert count(db, Scene, project) == count(db, Shot, project) == count(db, Character, project) == 0
    assert db.scalar(select(func.count()).select_from(ActivityEvent)
                     .where(ActivityEvent.project_id == project.id)) == events  # fmt: skip


def test_long_headings_numbers_and_names_are_kept_within_their_columns(db, owner, project):
    long_heading = "INT. " + "VERY " * 60 + "LONG ROOM - DAY"
    long_name = "A" * 130
    text = f"{long_heading} #1234567890ABC#\n\nA room.\n\n{long_name}\nHello.\n"
    report = do_import(db, owner, project, text)
    (scene,) = scenes_of(db, project)
    assert len(scene.heading) <= 200 and scene.number == "1"
    assert report.characters.created == 0
    assert len(report.warnings) == 3


def test_a_script_with_too_many_scenes_is_refused(db, owner, project):
    text = "".join(f"INT. ROOM {i} - DAY\n\nA.\n\n" for i in range(service.MAX_SCENES + 1))
    with pytest.raises(Invalid) as err:
        service.import_fountain(db, actor=owner, project=project, text=text)
    assert f"the script has {service.MAX_SCENES + 1} scenes; one import takes at most" in err.value.detail
