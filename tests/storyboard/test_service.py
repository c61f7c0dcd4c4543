import random
import threading
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from app.activity.models import ActivityEvent
from app.activity.service import list_events
from app.auth.models import User
from app.characters import versions
from app.errors import Conflict, Invalid
from app.projects import service as project_service
from app.projects.models import Project
from app.storyboard import service
from app.storyboard.models import Scene, Shot, ShotCharacter
from tests.storyboard import factories as f


def _count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _order(db, scene):
    return [(s.code, s.position) for s in db.scalars(select(Shot).where(Shot.scene_id == scene.id)
                                                     .order_by(Shot.position, Shot.id))]  # fmt: skip


def _codes(db, scene):
    return [c for c, _ in _order(db, scene)]


@pytest.fixture
def owner(make_user):
    return make_user(name="Director")


@pytest.fixture
def project(make_project, owner):
    return make_project(owner, name="Lighthouse")


@pytest.fixture
def scene(db, owner, project):
    return service.create_scene(db, actor=owner, project=project, heading="EXT. LIGHTHOUSE - NIGHT")


def _shot(db, owner, scene, **values):
    return service.create_shot(db, actor=owner, scene=scene, values=values)


# ---- scenes -------------------------------------------------------------------------------------


def test_scenes_get_the_next_number_and_keep_their_order(db, owner, project):
    a = service.create_scene(db, actor=owner, project=project, heading="  INT.  KITCHEN - NIGHT ")
    b = service.create_scene(db, actor=owner, project=project, heading="EXT. ROCKS - DAWN", synopsis="She climbs.")
    c = service.create_scene(db, actor=owner, project=project, heading="INT. LAMP ROOM - NIGHT", number="12a")
    d = service.create_scene(db, actor=owner, project=project, heading="EXT. SEA - DAY")
    assert [(s.number, s.heading, s.position) for s in (a, b, c, d)] == [
        ("1", "INT. KITCHEN - NIGHT", 0), ("2", "EXT. ROCKS - DAWN", 1), ("12A", "INT. LAMP ROOM - NIGHT", 2),
        ("13", "EXT. SEA - DAY", 3)]  # fmt: skip
    assert [s.id for s in service.list_scenes(db, project=project)] == [a.id, b.id, c.id, d.id]
    assert "added scene 1: INT. KITCHEN - NIGHT" in [e.summary for e in list_events(db, project_id=project.id)]


@pytest.mark.parametrize(
    ("values", "field", "error"),
    [
        ({"heading": "   "}, "heading", Invalid),
        ({"heading": "X" * 201}, "heading", Invalid),
        ({"heading": "INT. A", "synopsis": "s" * 5001}, "synopsis", Invalid),
        ({"heading": "INT. A", "number": "1234567890123"}, "number", Invalid),
        ({"heading": "INT. A", "number": "#4"}, "number", Invalid),
        ({"heading": "INT. A", "number": "1"}, "number", Conflict),
    ],
)
def test_bad_scenes_are_refused_and_nothing_is_written(db, owner, project, scene, values, field, error):
    before = _count(db, Scene)
    with pytest.raises(error) as exc:
        service.create_scene(db, actor=owner, project=project, **values)
    assert exc.value.field == field
    assert _count(db, Scene) == before


def test_update_move_delete_and_renumber_scenes(db, owner, project):
    s1, s2, s3 = (service.create_scene(db, actor=owner, project=project, heading=f"INT. ROOM {i}") for i in range(3))
    _shot(db, owner, s2, action="one")
    _shot(db, owner, s2, action="two")
    service.update_scene(db, actor=owner, scene=s1, changes={"heading": "INT. ATTIC - DAY", "number": "7"})
    assert (s1.heading, s1.number) == ("INT. ATTIC - DAY", "7")
    with pytest.raises(Conflict):
        service.update_scene(db, actor=owner, scene=s3, changes={"number": "7"})
    service.move_scene(db, actor=owner, scene=s3, index=0)
    assert [s.id for s in service.list_scenes(db, project=project)] == [s3.id, s1.id, s2.id]
    scenes = service.renumber_scenes(db, actor=owner, project=project)
    assert [(s.id, s.number) for s in scenes] == [(s3.id, "1"), (s1.id, "2"), (s2.id, "3")]
    assert _codes(db, s2) == ["2A", "2B"]  # codes change only when asked
    service.renumber_scenes(db, actor=owner, project=project, shots=True)
    assert _codes(db, s2) == ["3A", "3B"]
    service.delete_scene(db, actor=owner, scene=s1)
    assert [(s.id, s.position) for s in service.list_scenes(db, project=project)] == [(s3.id, 0), (s2.id, 1)]
    service.delete_scene(db, actor=owner, scene=s2)
    assert _count(db, Shot, Shot.project_id == project.id) == 0
    verbs = [e.verb for e in list_events(db, project_id=project.id)]
    assert {"scene.updated", "scene.moved", "scenes.renumbered", "scene.deleted"} <= set(verbs)


# ---- shots: fields and validation -----------------------------------------------------------------


def test_new_shot_gets_code_default_style_and_pinned_cast(db, owner, project, scene):
    default = f.style(db, project, "Vision3 500T", "35mm film, Kodak Vision3 500T")
    f.style(db, project, "Bright", "bright", default=False)
    mara = f.character(db, project, "Mara", "an old lighthouse keeper")
    coat = f.look(db, mara, "Storm gear", "yellow oilskin coat")
    mara.version = 3
    coat.version = 2
    loc = f.location(db, project, "Lamp room")
    a = _shot(db, owner, scene, action="Mara climbs.", character_ids=[mara.id], looks={mara.id: coat.id},
              location_id=loc.id, camera={"move": "dolly_in", "framing": "CU", "lens_mm": "85"},
              lighting={"key": "low_key", "mood": " tense "}, duration_s="3.5", fps=25, width=1920, height=1080,
              model="ltx", seed=42)  # fmt: skip
    b = _shot(db, owner, scene, style_id=None)
    assert (a.code, a.position, b.code, b.position) == ("1A", 0, "1B", 1)
    assert (a.style_id, b.style_id) == (default.id, None)
    assert [(e.character_id, e.character_version, e.look_id, e.look_version) for e in a.cast] == [
        (mara.id, 3, coat.id, 2)]  # fmt: skip
    assert a.camera == {"move": "dolly_in", "speed": "medium", "lens_mm": 85, "framing": "CU"}
    assert a.lighting == {"key": "low_key", "mood": "tense"}
    assert (a.duration_s, a.fps, a.width, a.model, a.seed, a.status) == (3.5, 25.0, 1920, "ltx", 42, "draft")
    assert (b.fps, b.width, b.height, b.model) == (None, None, None, None)  # project defaults


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"duration_s": 0.2}, "duration_s"),
        ({"duration_s": 61}, "duration_s"),
        ({"duration_s": "long"}, "duration_s"),
        ({"fps": 17}, "fps"),
        ({"width": 1921}, "width"),
        ({"height": 32}, "height"),
        ({"model": "sora"}, "model"),
        ({"seed": -1}, "seed"),
        ({"status": "approved"}, "status"),
        ({"status": "finished"}, "status"),
        ({"camera": {"move": "moonwalk"}}, "camera.move"),
        ({"camera": {"framing": "XXL"}}, "camera.framing"),
        ({"camera": {"lens_mm": 2}}, "camera.lens_mm"),
        ({"camera": {"zoom": 2}}, "camera"),
        ({"lighting": {"color": "purple"}}, "lighting.color"),
        ({"action": "a" * 10_001}, "action"),
        ({"character_ids": [999999]}, "character_ids"),
        ({"location_id": 999999}, "location_id"),
        ({"style_id": 999999}, "style_id"),
        ({"colour": "red"}, None),
    ],
)
def test_bad_shot_fields_name_the_field_and_write_nothing(db, owner, scene, values, field):
    before = (_count(db, Shot), _count(db, ActivityEvent))
    with pytest.raises(Invalid) as exc:
        _shot(db, owner, scene, **values)
    assert exc.value.field == field
    assert (_count(db, Shot), _count(db, ActivityEvent)) == before


def test_rows_of_another_project_are_unknown(db, owner, make_project, project, scene):
    other = make_project(owner, name="Other film")
    stranger = f.character(db, other, "Stranger")
    mine = f.character(db, project, "Mara")
    their_look = f.look(db, stranger, "Coat")
    their_loc = f.location(db, other, "Elsewhere")
    their_style = f.style(db, other, "Theirs")
    cases = [({"character_ids": [stranger.id]}, "unknown character"),
             ({"character_ids": [mine.id], "looks": {mine.id: their_look.id}}, "unknown look for Mara"),
             ({"location_id": their_loc.id}, "unknown location"),
             ({"style_id": their_style.id}, "unknown style")]  # fmt: skip
    for values, message in cases:
        with pytest.raises(Invalid, match=message):
            _shot(db, owner, scene, **values)
    assert _count(db, Shot, Shot.scene_id == scene.id) == 0


def test_update_keeps_pins_of_characters_that_stay(db, owner, project, scene):
    mara, girl = f.character(db, project, "Mara"), f.character(db, project, "Girl")
    shot = _shot(db, owner, scene, character_ids=[mara.id])
    mara.version = 2  # Mara was edited after the shot was written
    girl.version = 5
    service.update_shot(db, actor=owner, shot=shot, changes={"character_ids": [girl.id, mara.id], "action": "Both."})
    assert [(e.character_id, e.character_version, e.position) for e in shot.cast] == [(girl.id, 5, 0), (mara.id, 1, 1)]
    coat = f.look(db, mara, "Coat")
    coat.version = 3
    service.update_shot(db, actor=owner, shot=shot, changes={"looks": {mara.id: coat.id}})  # same cast, a new look
    assert [(e.character_id, e.character_version, e.look_id, e.look_version) for e in shot.cast] == [
        (girl.id, 5, None, None), (mara.id, 1, coat.id, 3)]  # fmt: skip
    service.update_shot(db, actor=owner, shot=shot, changes={"looks": {mara.id: None}})
    assert [(e.character_version, e.look_id) for e in shot.cast] == [(5, None), (1, None)]
    service.update_shot(db, actor=owner, shot=shot, changes={"character_ids": [girl.id]})
    assert [e.character_id for e in shot.cast] == [girl.id]
    assert _count(db, ShotCharacter, ShotCharacter.shot_id == shot.id) == 1
    event = list_events(db, project_id=project.id)[0]
    assert event.verb == "shot.updated" and "cast" in event.summary


def test_users_set_only_draft_and_ready(db, owner, scene):
    shot = _shot(db, owner, scene)
    service.update_shot(db, actor=owner, shot=shot, changes={"status": "ready"})
    assert shot.status == "ready"
    with pytest.raises(Invalid):
        service.update_shot(db, actor=owner, shot=shot, changes={"status": "approved"})
    shot.status = "generating"  # set by generation, not by people
    with pytest.raises(Conflict):
        service.update_shot(db, actor=owner, shot=shot, changes={"status": "draft"})
    service.update_shot(db, actor=owner, shot=shot, changes={"status": "generating", "action": "ok"})
    assert shot.action == "ok"


# ---- codes, renumbering, moving ----------------------------------------------------------------------


def test_codes_are_given_once_and_renumbered_on_request(db, owner, project, scene):
    other = service.create_scene(db, actor=owner, project=project, heading="INT. STAIRS")
    a, b, c = (_shot(db, owner, scene, action=x) for x in "abc")
    assert [a.code, b.code, c.code] == ["1A", "1B", "1C"]
    service.move_shot(db, actor=owner, shot=c, scene_id=other.id, index=0)
    d = _shot(db, owner, scene, action="d")
    assert d.code == "1D"  # 1C lives on in scene 2: never given twice
    service.delete_shot(db, actor=owner, shot=a)
    service.move_shot(db, actor=owner, shot=d, scene_id=scene.id, index=0)
    assert _order(db, scene) == [("1D", 0), ("1B", 1)]
    service.renumber_shots(db, actor=owner, scene=scene)
    assert _order(db, scene) == [("1A", 0), ("1B", 1)]
    assert _order(db, other) == [("1C", 0)]


def test_move_within_and_across_scenes_keeps_positions_dense(db, owner, project, scene):
    other = service.create_scene(db, actor=owner, project=project, heading="INT. STAIRS")
    a, b, c, d = (_shot(db, owner, scene, action=x) for x in "abcd")
    x = _shot(db, owner, other)
    service.move_shot(db, actor=owner, shot=a, scene_id=scene.id, index=2)
    assert _codes(db, scene) == ["1B", "1C", "1A", "1D"]
    service.move_shot(db, actor=owner, shot=c, scene_id=other.id, index=1)
    assert _order(db, scene) == [("1B", 0), ("1A", 1), ("1D", 2)]
    assert _order(db, other) == [("2A", 0), ("1C", 1)]
    service.move_shot(db, actor=owner, shot=d, scene_id=other.id, index=99)  # clamped to the end
    assert _order(db, other) == [("2A", 0), ("1C", 1), ("1D", 2)]
    assert c.code == "1C" and x.position == 0
    event = list_events(db, project_id=project.id)[0]
    assert event.verb == "shot.moved" and event.data["to_scene"] == other.id


def test_move_refuses_a_scene_of_another_project(db, owner, make_project, scene):
    foreign = service.create_scene(db, actor=owner, project=make_project(owner, name="Other"), heading="INT. X")
    shot = _shot(db, owner, scene)
    with pytest.raises(Invalid, match="unknown scene") as exc:
        service.move_shot(db, actor=owner, shot=shot, scene_id=foreign.id, index=0)
    assert exc.value.field == "scene_id"
    with pytest.raises(Invalid):
        service.move_shot(db, actor=owner, shot=shot, scene_id="nope", index=0)
    assert shot.scene_id == scene.id


@pytest.fixture
def committed(pg_engine):
    """A project with three scenes of eight shots, committed so that threads with their own sessions see it."""
    make = sessionmaker(bind=pg_engine, expire_on_commit=False)
    with make() as s:
        user = User(email=f"mover-{uuid.uuid4().hex[:8]}@example.com", display_name="Mover", password_hash="x")
        s.add(user)
        s.flush()
        project = project_service.create_project(s, actor=user, name="Concurrency")
        scenes = [service.create_scene(s, actor=user, project=project, heading=f"INT. ROOM {i}") for i in range(3)]
        shots = [service.create_shot(s, actor=user, scene=sc, values={"action": f"{sc.number}-{i}"})
                 for sc in scenes for i in range(8)]  # fmt: skip
        s.commit()
        ids = (project.id, user.id, [sc.id for sc in scenes], [sh.id for sh in shots])
    yield make, ids
    with make() as s:
        s.delete(s.get(Project, ids[0]))
        s.delete(s.get(User, ids[1]))
        s.commit()


def test_concurrent_moves_never_lose_or_duplicate_a_shot(committed):
    make, (project_id, _, scene_ids, shot_ids) = committed
    rounds = 60
    barrier = threading.Barrier(2, timeout=30)
    failures: list[BaseException] = []

    def mover(k: int) -> None:
        rng = random.Random(k)
        mine = shot_ids[k::2]  # the two threads move different shots, into the same scenes
        try:
            for _ in range(rounds):
                shot_id, scene_id, index = rng.choice(mine), rng.choice(scene_ids), rng.randint(0, 9)
                barrier.wait()
                with make() as s:
                    service.move_shot(s, actor=None, shot=s.get(Shot, shot_id), scene_id=scene_id, index=index)
                    s.commit()
        except BaseException as exc:  # noqa: BLE001  (reported to the test below)
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=mover, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    with make() as s:
        rows = s.execute(select(Shot.id, Shot.scene_id, Shot.position).where(Shot.project_id == project_id)).all()
    assert sorted(r.id for r in rows) == sorted(shot_ids)  # every shot exactly once
    for scene_id in scene_ids:
        positions = sorted(r.position for r in rows if r.scene_id == scene_id)
        assert positions == list(range(len(positions))), (scene_id, positions)


# ---- duplicate, coverage, bulk status --------------------------------------------------------------


def test_duplicate_goes_right_after_with_a_new_code_and_the_same_pins(db, owner, project, scene):
    mara = f.character(db, project, "Mara")
    coat = f.look(db, mara, "Coat")
    a = _shot(db, owner, scene, action="She waits.", character_ids=[mara.id], looks={mara.id: coat.id},
              camera={"move": "pan_left"}, seed=7, status="ready")  # fmt: skip
    b = _shot(db, owner, scene, action="Wave.")
    mara.version = 4
    copy = service.duplicate_shot(db, actor=owner, shot=a)
    assert _codes(db, scene) == ["1A", "1C", "1B"]
    assert (copy.action, copy.camera, copy.seed, copy.status) == ("She waits.", a.camera, 7, "draft")
    assert [(e.character_id, e.character_version, e.look_id) for e in copy.cast] == [(mara.id, 1, coat.id)]
    assert b.position == 2


def test_coverage_set_shares_everything_but_the_camera(db, owner, project, scene):
    mara = f.character(db, project, "Mara")
    coat = f.look(db, mara, "Coat")
    loc = f.location(db, project, "Rocks")
    src = _shot(db, owner, scene, action="She sees the girl.", dialogue="Hold on!", character_ids=[mara.id],
                looks={mara.id: coat.id}, location_id=loc.id, lighting={"color": "blue_hour", "mood": "dread"},
                camera={"framing": "MS", "move": "handheld"})  # fmt: skip
    after = _shot(db, owner, scene, action="Later.")
    new = service.create_coverage(db, actor=owner, shot=src)
    assert [s.coverage_label for s in new] == ["WS", "MS", "CU", "OTS reverse"]
    assert _codes(db, scene) == ["1A", "1C", "1D", "1E", "1F", "1B"]
    assert src.seed is not None and src.coverage_group == src.id and src.coverage_label == "MS"
    for s in new:
        assert (s.action, s.dialogue, s.location_id, s.lighting, s.seed, s.coverage_group) == (
            src.action, src.dialogue, loc.id, src.lighting, src.seed, src.id)  # fmt: skip
        assert [(e.character_id, e.character_version, e.look_id, e.look_version) for e in s.cast] == [
            (mara.id, 1, coat.id, 1)]  # fmt: skip
    assert [(s.camera["framing"], s.camera["lens_mm"], s.camera["move"]) for s in new] == [
        ("WS", 24, "handheld"), ("MS", 40, "handheld"), ("CU", 85, "handheld"), ("OTS", 50, "handheld")]  # fmt: skip
    assert after.position == 5
    more = service.create_coverage(db, actor=owner, shot=new[2], setups=[{"framing": "ECU", "angle": "low",
                                                                          "label": "eyes"}])  # fmt: skip
    assert (more[0].coverage_group, more[0].coverage_label, more[0].camera["angle"]) == (src.id, "eyes", "low")
    assert _codes(db, scene)[4] == "1G"  # right after the shot it was made from


def test_bad_coverage_setups_write_nothing(db, owner, scene):
    src = _shot(db, owner, scene)
    before = _count(db, Shot)
    for setups, field in (([{"framing": "GIANT"}], "camera.framing"), ([{"angle": "low"}], "setups.framing"),
                          ([{"framing": "CU", "angle": "sideways"}], "camera.angle"),
                          ([{"framing": "CU"}] * 9, "setups")):  # fmt: skip
        with pytest.raises(Invalid) as exc:
            service.create_coverage(db, actor=owner, shot=src, setups=setups)
        assert exc.value.field == field
    assert _count(db, Shot) == before and src.coverage_group is None


def test_bulk_status_marks_ready_and_skips_shots_in_generation(db, owner, project, make_project, scene):
    a, b, c = (_shot(db, owner, scene) for _ in range(3))
    c.status = "in_review"
    changed, skipped = service.set_status(db, actor=owner, project=project, shot_ids=[a.id, b.id, c.id],
                                          status="ready")  # fmt: skip
    assert ([s.id for s in changed], [s.id for s in skipped]) == ([a.id, b.id], [c.id])
    assert (a.status, b.status, c.status) == ("ready", "ready", "in_review")
    assert list_events(db, project_id=project.id)[0].data == {"status": "ready", "shots": [a.id, b.id]}
    foreign = _shot(db, owner, service.create_scene(db, actor=owner, project=make_project(owner), heading="INT. X"))
    for ids, status, field in (([a.id, foreign.id], "draft", "shot_ids"), ([a.id], "approved", "status"),
                               ([], "draft", "shot_ids")):  # fmt: skip
        with pytest.raises(Invalid) as exc:
            service.set_status(db, actor=owner, project=project, shot_ids=ids, status=status)
        assert exc.value.field == field
    assert a.status == "ready"


# ---- compiled prompt -----------------------------------------------------------------------------------


def test_compiled_prompt_puts_every_part_in_order_and_explains_it(db, owner, project, scene):
    f.style(db, project, "Vision3", "35mm film grain, Kodak Vision3", "digital look, oversharpened")
    mara = f.character(db, project, "Mara", "a weathered woman in her sixties", "young, smooth skin")
    coat = f.look(db, mara, "Storm gear", "yellow oilskin coat, soaked", "dry clothes")
    loc = f.location(db, project, "Lamp room", "a cramped lamp room, brass fittings", "modern LEDs")
    shot = _shot(db, owner, scene, prompt="Mara lights the great lamp", negative_prompt="text, watermark",
                 character_ids=[mara.id], looks={mara.id: coat.id}, location_id=loc.id,
                 camera={"framing": "CU", "move": "dolly_in", "speed": "slow", "lens_mm": 85},
                 lighting={"key": "low_key", "color": "candlelit", "time_of_day": "night",
                           "mood": "resolve"})  # fmt: skip
    out = service.compiled_prompt(db, shot=shot)
    assert [p.source for p in out.parts] == ["shot", "character:Mara", "look:Mara/Storm gear", "location", "lighting",
                                             "camera", "style"]  # fmt: skip
    assert out.prompt == (
        "Mara lights the great lamp. Mara: a weathered woman in her sixties. yellow oilskin coat, soaked. "
        "a cramped lamp room, brass fittings. low-key lighting, deep shadows, strong contrast, flickering candlelight,"
        " at night, resolve mood. close-up, 85mm portrait lens, the camera dollies in toward the subject, slowly. "
        "35mm film grain, Kodak Vision3."
    )
    assert out.negative == "text, watermark, young, smooth skin, dry clothes, modern LEDs, digital look, oversharpened"
    assert service.compiled_prompt(db, shot=shot) == out  # deterministic
    loaded = service.load_shot(db, project_id=project.id, shot_id=shot.id)
    assert service.compiled_prompt(db, shot=loaded).prompt == out.prompt


def test_compiled_prompt_uses_the_pinned_locked_version_and_warns(db, owner, project, scene):
    mara = f.character(db, project, "Mara", "grey hair")
    shot = _shot(db, owner, scene, action="She looks out.", character_ids=[mara.id])
    detail = service.shot_details(db, shots=[shot])[shot.id]
    assert [(c.locked, c.outdated) for c in detail.cast] == [(False, False)]
    assert "not locked" in detail.warnings[0]
    versions.lock(db, subject=mara, actor=owner)  # v1 locked: the shot's pin
    versions.start_new_version(mara)
    mara.prompt_fragment = "white hair"  # draft v2
    db.flush()
    assert "grey hair" in service.compiled_prompt(db, shot=shot).prompt  # still the locked v1 snapshot
    versions.lock(db, subject=mara, actor=owner)  # v2 locked
    detail = service.shot_details(db, shots=[shot])[shot.id]
    assert [(c.locked, c.outdated, c.latest_locked) for c in detail.cast] == [(True, True, 2)]
    assert "newer locked version" in detail.warnings[0]
    assert service.outdated(db, shots=[shot]) == {shot.id}
    assert [c.outdated for c in service.shot_cards(db, project_id=project.id)] == [True]
    moved = service.refresh_cast(db, actor=owner, shot=shot)
    assert [e.character_version for e in moved] == [2]
    assert "white hair" in service.compiled_prompt(db, shot=shot).prompt
    assert service.shot_details(db, shots=[shot])[shot.id].warnings == []


def test_preview_compiles_unsaved_values_and_writes_nothing(db, owner, project, scene):
    mara = f.character(db, project, "Mara", "grey hair")
    loc = f.location(db, project, "Rocks", "black wet rocks")
    shot = _shot(db, owner, scene, prompt="Waves")
    before = (_count(db, ShotCharacter), _count(db, ActivityEvent))
    detail = service.preview(db, shot=shot, changes={"prompt": "Waves crash", "character_ids": [str(mara.id)],
                                                     "looks": {str(mara.id): ""}, "location_id": str(loc.id),
                                                     "camera": {"framing": "EWS", "move": "crane_up"}})  # fmt: skip
    assert detail.compiled.prompt.startswith("Waves crash. Mara: grey hair. black wet rocks. extreme wide shot")
    assert (shot.prompt, shot.location_id, list(shot.cast)) == ("Waves", None, [])
    assert (_count(db, ShotCharacter), _count(db, ActivityEvent)) == before
    with pytest.raises(Invalid):
        service.preview(db, shot=shot, changes={"camera": {"move": "moonwalk"}})


def test_storyboard_filters_and_thumbnails(db, owner, project, scene):
    other = service.create_scene(db, actor=owner, project=project, heading="INT. STAIRS")
    mara, girl = f.character(db, project, "Mara"), f.character(db, project, "Girl")
    coat = f.look(db, mara, "Coat")
    loc = f.location(db, project, "Rocks")
    look_ref = f.reference(db, project, look=coat, colour=(1, 2, 3))
    char_ref = f.reference(db, project, character=girl, colour=(4, 5, 6))
    loc_ref = f.reference(db, project, location=loc, colour=(7, 8, 9))
    a = _shot(db, owner, scene, character_ids=[mara.id], looks={mara.id: coat.id}, location_id=loc.id)
    b = _shot(db, owner, scene, character_ids=[girl.id, mara.id], status="ready")
    c = _shot(db, owner, other, location_id=loc.id)
    d = _shot(db, owner, other)
    board = service.storyboard(db, project=project)
    assert [(sc.id, [s.id for s in shots]) for sc, shots in board.scenes] == [(scene.id, [a.id, b.id]),
                                                                             (other.id, [c.id, d.id])]  # fmt: skip
    thumbs = {s.id: s.thumb for _, shots in board.scenes for s in shots}
    assert thumbs == {a.id: look_ref.asset_id, b.id: char_ref.asset_id, c.id: loc_ref.asset_id, d.id: None}
    loaded = service.load_shots(db, project_id=project.id)
    assert {s.id: service.thumbnail(s) for s in loaded} == thumbs  # the API's rule is the page's
    assert [s.cast for _, shots in board.scenes for s in shots] == [[("Mara", "Coat")], [("Girl", ""), ("Mara", "")],
                                                                     [], []]  # fmt: skip
    assert (board.characters, board.locations) == ([(girl.id, "Girl"), (mara.id, "Mara")], [(loc.id, "Rocks")])
    by_girl = service.storyboard(db, project=project, character_id=girl.id)
    assert [(sc.id, [s.id for s in shots]) for sc, shots in by_girl.scenes] == [(scene.id, [b.id])]
    assert by_girl.filtered and by_girl.total_shots == 1
    at_rocks = service.storyboard(db, project=project, location_id=loc.id)
    assert [s.id for _, shots in at_rocks.scenes for s in shots] == [a.id, c.id]
    ready = service.storyboard(db, project=project, status="ready")
    assert [s.id for _, shots in ready.scenes for s in shots] == [b.id]
    with pytest.raises(Invalid):
        service.storyboard(db, project=project, status="lost")


def test_a_shot_without_a_style_has_the_projects_default_look(db, make_user, make_project):
    owner = make_user()
    project = make_project(owner)
    scene = service.create_scene(db, actor=owner, project=project, heading="EXT. PIER - DAY")
    shot = service.create_shot(db, actor=owner, scene=scene, values={"action": "Gulls."})
    assert shot.style_id is None  # no style existed when it was written
    assert "grain" not in service.compiled_prompt(db, shot=shot).prompt
    f.style(db, project, "Vision3", fragment="35mm film grain")
    compiled = service.compiled_prompt(db, shot=shot)
    assert "35mm film grain" in compiled.prompt and [p.source for p in compiled.parts][-1] == "style"
