import pytest
from sqlalchemy import func, select

from app.activity.models import ActivityEvent
from app.characters import service, versions
from app.characters.models import Character, CharacterVersion, Look, ReferenceImage
from app.errors import Conflict, Invalid, NotFound, Unsupported
from app.storyboard import usage
from app.storyboard.models import Scene, Shot, ShotCharacter
from tests.images import png_bytes, safetensors_bytes, webp_bytes


@pytest.fixture
def owner(make_user):
    return make_user(name="Dana Director")


@pytest.fixture
def project(make_project, owner):
    return make_project(owner, name="Keeper")


def _shot(db, project, code, *, character, version, look=None, look_version=None, scene=None):
    if scene is None:
        scene = Scene(project_id=project.id, number=code[:-1], heading="EXT. LIGHTHOUSE - NIGHT", position=0)
        db.add(scene)
        db.flush()
    shot = Shot(project_id=project.id, scene_id=scene.id, code=code, action="Waves.")
    db.add(shot)
    db.flush()
    sc = ShotCharacter(shot_id=shot.id, character_id=character.id, character_version=version,
                       look_id=look.id if look else None, look_version=look_version)  # fmt: skip
    db.add(sc)
    db.flush()
    return sc


def _events(db, project, verb):
    return db.scalar(select(func.count()).select_from(ActivityEvent).where(ActivityEvent.project_id == project.id,
                                                                           ActivityEvent.verb == verb))  # fmt: skip


def test_create_cleans_fields_and_draws_a_seed(db, owner, project):
    c = service.create_character(db, actor=owner, project=project, name="  Mara   Voss ", description=" Keeper. ",
                                 traits={"Age": 62, "Eye colour": " grey ", "scar": ""},
                                 prompt_fragment="a weathered keeper")  # fmt: skip
    assert (c.name, c.name_key, c.description) == ("Mara Voss", "mara voss", "Keeper.")
    assert c.traits == {"age": "62", "eye_colour": "grey"}
    assert 0 <= c.seed <= 2**32 - 1
    assert (c.version, c.locked, c.lora_weight) == (1, False, 1.0)
    assert _events(db, project, "character.created") == 1
    big = service.create_character(db, actor=owner, project=project, name="Ines", seed=2**32 - 1)
    db.commit()
    db.expire_all()
    assert db.get(Character, big.id).seed == 2**32 - 1  # fits the column


def test_names_are_unique_per_project_case_insensitively(db, owner, project, make_project):
    service.create_character(db, actor=owner, project=project, name="Mara")
    with pytest.raises(Conflict, match="already a character called “Mara”") as err:
        service.create_character(db, actor=owner, project=project, name=" MARA ")
    assert err.value.field == "name"
    other = make_project(owner, name="Other film")
    assert service.create_character(db, actor=owner, project=other, name="mara").name == "mara"
    ines = service.create_character(db, actor=owner, project=project, name="Ines")
    with pytest.raises(Conflict):
        service.update_character(db, actor=owner, character=ines, changes={"name": "mara"})
    service.update_character(db, actor=owner, character=ines, changes={"name": "INES"})  # its own name, recased
    assert ines.name_key == "ines"
    assert service.find_by_name(db, project_id=project.id, name="ines ").id == ines.id


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"name": ""}, "name", "cannot be empty"),
        ({"name": "x" * 121}, "name", "too long"),
        ({"name": "ok", "description": "x" * 5001}, "description", "too long"),
        ({"name": "ok", "prompt_fragment": "x" * 2001}, "prompt_fragment", "too long"),
        ({"name": "ok", "seed": -1}, "seed", "whole number"),
        ({"name": "ok", "seed": 2**32}, "seed", "whole number"),
        ({"name": "ok", "seed": "12x"}, "seed", "whole number"),
        ({"name": "ok", "traits": {"hair": "x" * 201}}, "traits", "too long"),
        ({"name": "ok", "traits": {"x" * 41: "y"}}, "traits", "trait names"),
        ({"name": "ok", "traits": {"<b>": "y"}}, "traits", "trait names"),
        ({"name": "ok", "traits": {f"t{i}": "v" for i in range(31)}}, "traits", "30 traits"),
        ({"name": "ok", "traits": {"hair": ["a"]}}, "traits", "short text"),
        ({"name": "ok", "traits": ["hair"]}, "traits", "object"),
        ({"name": "ok", "lora_weight": 2.5}, "lora_weight", "0 to 2"),
        ({"name": "ok", "lora_weight": float("nan")}, "lora_weight", "0 to 2"),
        ({"name": "ok", "lora_path": "../../etc/passwd.safetensors"}, "lora_path", "“..”"),
        ({"name": "ok", "lora_path": "/models/a/../b.safetensors"}, "lora_path", "“..”"),
        ({"name": "ok", "lora_path": "/models/mara.ckpt"}, "lora_path", ".safetensors"),
        ({"name": "ok", "lora_path": "s3://bucket/x.safetensors"}, "lora_path", "plain file path"),
        ({"name": "ok", "lora_path": "a;rm -rf.safetensors"}, "lora_path", "plain file path"),
        ({"name": "ok", "colour": "red"}, "colour", "unknown field"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(db, owner, project, fields, field, text):
    fields = dict(fields)
    name = fields.pop("name")
    with pytest.raises(Invalid, match=text) as err:
        service.create_character(db, actor=owner, project=project, name=name, **fields)
    assert err.value.field == field
    assert db.scalar(select(func.count()).select_from(Character).where(Character.project_id == project.id)) == 0


def test_lora_paths_relative_or_absolute(db, owner, project, lora_dir):
    c = service.create_character(db, actor=owner, project=project, name="Mara", lora_path="loras/mara v2.safetensors")
    assert c.lora_path == "loras/mara v2.safetensors"
    service.update_character(db, actor=owner, character=c, changes={"lora_path": f"{lora_dir}/mara.safetensors"})
    assert c.lora_path == "mara.safetensors"  # stored relative to SLATE_LORA_DIR: workers resolve it against theirs
    service.update_character(db, actor=owner, character=c, changes={"lora_path": ""})
    assert c.lora_path is None


def test_trait_rows_from_a_form():
    rows = [("age", "62"), ("hair", ""), ("", ""), ("Eye colour", "grey")]
    assert service.traits_from_rows(rows) == {"age": "62", "eye_colour": "grey"}
    with pytest.raises(Invalid, match="needs a name"):
        service.traits_from_rows([("", "limp")])
    with pytest.raises(Invalid, match="given twice"):
        service.traits_from_rows([("hair", "grey"), ("Hair", "white")])


def test_lock_makes_an_immutable_snapshot_and_editing_starts_a_new_version(db, owner, project):
    c = service.create_character(db, actor=owner, project=project, name="Mara", prompt_fragment="silver braid",
                                 traits={"hair": "silver"}, seed=7)  # fmt: skip
    service.add_reference(db, actor=owner, character=c, data=png_bytes(40, 40), filename="a.png", caption="front")
    snap = service.lock_character(db, actor=owner, character=c)
    assert (snap.number, c.version, c.locked, snap.locked_by_id) == (1, 1, True, owner.id)
    assert snap.data["prompt_fragment"] == "silver braid" and len(snap.data["references"]) == 1
    frozen = dict(snap.data)
    assert service.lock_character(db, actor=owner, character=c).id == snap.id  # idempotent
    assert _events(db, project, "character.locked") == 1

    service.update_character(db, actor=owner, character=c, changes={"prompt_fragment": "white braid"})
    assert (c.version, c.locked) == (2, False)
    service.update_character(db, actor=owner, character=c, changes={"traits": {"hair": "white"}})
    assert c.version == 2  # still the same draft
    service.add_reference(db, actor=owner, character=c, data=png_bytes(41, 40), filename="b.png")
    db.commit()
    db.expire_all()
    again = db.get(CharacterVersion, snap.id)
    assert again.data == frozen  # the snapshot never changes
    changes = {ch.field: ch for ch in service.draft_changes(db, subject=c)}
    assert changes["prompt fragment"].before == "silver braid" and changes["prompt fragment"].after == "white braid"
    assert changes["trait: hair"].after == "white"
    assert "1 added" in changes["references"].after

    snap2 = service.lock_character(db, actor=owner, character=c)
    assert snap2.number == 2 and snap2.data["prompt_fragment"] == "white braid" and len(snap2.data["references"]) == 2
    history = service.list_versions(db, character=c)
    assert [e.version.number for e in history] == [2, 1]
    assert history[1].first and history[0].locked_by == "Dana Director"
    assert {ch.field for ch in history[0].changes} == {"prompt fragment", "trait: hair", "references"}
    assert service.draft_changes(db, subject=c) is None  # locked: no draft


def test_every_kind_of_edit_of_a_locked_character_starts_a_new_version(db, owner, project, lora_dir):
    c = service.create_character(db, actor=owner, project=project, name="Mara")
    ref = service.add_reference(db, actor=owner, character=c, data=png_bytes(40, 40), filename="a.png")
    other = service.add_reference(db, actor=owner, character=c, data=png_bytes(42, 40), filename="b.png")

    def locked_then(edit):
        service.lock_character(db, actor=owner, character=c)
        before = c.version
        edit()
        assert (c.version, c.locked) == (before + 1, False), edit

    locked_then(lambda: service.update_reference(db, actor=owner, reference=ref, caption="profile"))
    locked_then(lambda: service.move_reference(db, actor=owner, reference=other, direction="up"))
    assert [r.id for r in c.references] == [other.id, ref.id]
    locked_then(lambda: service.delete_reference(db, actor=owner, reference=other))
    locked_then(lambda: service.set_lora_file(db, actor=owner, character=c, data=safetensors_bytes(),
                                              filename="mara.safetensors"))  # fmt: skip
    assert c.lora_asset.kind == "lora"
    locked_then(lambda: service.update_character(db, actor=owner, character=c, changes={"lora_weight": 0.6}))
    locked_then(lambda: service.update_character(db, actor=owner, character=c,
                                                 changes={"lora_path": "loras/m.safetensors"}))  # fmt: skip
    assert c.lora_asset_id is None  # a path replaces the upload
    locked_then(lambda: service.remove_lora(db, actor=owner, character=c))
    # no change: no new version
    service.lock_character(db, actor=owner, character=c)
    n = c.version
    service.update_character(db, actor=owner, character=c, changes={"name": "Mara"})
    service.update_reference(db, actor=owner, reference=ref, caption="profile")
    service.move_reference(db, actor=owner, reference=ref, direction="up")
    assert (c.version, c.locked) == (n, True)
    snaps = db.scalars(select(CharacterVersion.number).where(CharacterVersion.character_id == c.id)).all()
    assert sorted(snaps) == list(range(1, n + 1))


def test_looks_version_on_their_own(db, owner, project):
    c = service.create_character(db, actor=owner, project=project, name="Mara")
    look = service.create_look(db, actor=owner, character=c, name="Storm gear", prompt_fragment="yellow oilskin")
    second = service.create_look(db, actor=owner, character=c, name="Sunday best")
    assert (look.position, second.position) == (0, 1)
    with pytest.raises(Conflict, match="already has a look"):
        service.create_look(db, actor=owner, character=c, name="storm GEAR")
    with pytest.raises(Invalid) as err:
        service.create_look(db, actor=owner, character=c, name=" ")
    assert err.value.field == "name"
    snap = service.lock_look(db, actor=owner, look=look)
    assert (snap.look_id, snap.number, snap.data["prompt_fragment"]) == (look.id, 1, "yellow oilskin")
    service.update_look(db, actor=owner, look=look, changes={"prompt_fragment": "yellow oilskin, soaked"})
    assert (look.version, look.locked, c.version) == (2, False, 1)
    service.add_reference(db, actor=owner, character=c, look=look, data=png_bytes(30, 30), filename="l.png")
    assert len(look.references) == 1 and c.references == []
    service.lock_look(db, actor=owner, look=look)
    history = service.list_versions(db, character=c)
    assert [(e.look_name, e.version.number) for e in history] == [("Storm gear", 2), ("Storm gear", 1)]
    assert {ch.field for ch in history[0].changes} == {"prompt fragment", "references"}
    with pytest.raises(Conflict, match="Sunday best"):
        service.update_look(db, actor=owner, look=look, changes={"name": "sunday best"})
    usage.delete_look(db, actor=owner, look=second)
    assert [lk.name for lk in c.looks] == ["Storm gear"]


def test_references_are_ordered_captioned_and_deduplicated(db, owner, project):
    c = service.create_character(db, actor=owner, project=project, name="Mara")
    a = service.add_reference(db, actor=owner, character=c, data=png_bytes(40, 40), filename="a.png", caption="front")
    b = service.add_reference(db, actor=owner, character=c, data=webp_bytes(40, 40), filename="b.webp")
    assert [r.position for r in (a, b)] == [0, 1]
    with pytest.raises(Conflict, match="already a reference"):
        service.add_reference(db, actor=owner, character=c, data=png_bytes(40, 40), filename="again.png")
    service.update_reference(db, actor=owner, reference=a, position=5)
    assert [r.id for r in c.references] == [b.id, a.id]
    with pytest.raises(Invalid, match="too long"):
        service.update_reference(db, actor=owner, reference=a, caption="x" * 301)
    with pytest.raises(Invalid):
        service.move_reference(db, actor=owner, reference=a, direction="sideways")
    service.delete_reference(db, actor=owner, reference=b)
    assert [(r.id, r.position) for r in c.references] == [(a.id, 0)]


def test_bad_reference_files_change_nothing(db, owner, project):
    c = service.create_character(db, actor=owner, project=project, name="Mara")
    service.lock_character(db, actor=owner, character=c)
    with pytest.raises(Unsupported):
        service.add_reference(db, actor=owner, character=c, data=b"not an image", filename="x.png")
    assert (c.version, c.locked) == (1, True)
    assert db.scalar(select(func.count()).select_from(ReferenceImage)) == 0
    with pytest.raises(Unsupported):
        service.set_lora_file(db, actor=owner, character=c, data=b"\x80\x04\x95pickle" + b"\x00" * 40,
                              filename="x.ckpt")  # fmt: skip
    with pytest.raises(Invalid):
        service.set_lora_file(db, actor=owner, character=c, data=b"tiny", filename="x.safetensors")
    assert (c.version, c.locked, c.lora_asset_id) == (1, True, None)


def test_resolve_cast_uses_the_pinned_snapshot(db, owner, project):
    c = service.create_character(db, actor=owner, project=project, name="Mara", prompt_fragment="silver braid")
    look = service.create_look(db, actor=owner, character=c, name="Storm gear", prompt_fragment="yellow oilskin")
    service.lock_character(db, actor=owner, character=c)
    service.lock_look(db, actor=owner, look=look)
    old = _shot(db, project, "1A", character=c, version=1, look=look, look_version=1)
    service.update_character(db, actor=owner, character=c, changes={"prompt_fragment": "white braid"})
    service.update_look(db, actor=owner, look=look, changes={"prompt_fragment": "red oilskin"})
    [part] = versions.resolve_cast(db, entries=[old])
    assert (part.fragment, part.look_fragment, part.version, part.locked) == ("silver braid", "yellow oilskin", 1, True)
    service.lock_character(db, actor=owner, character=c)
    newer = _shot(db, project, "2A", character=c, version=2, look=look, look_version=2)
    parts = versions.resolve_cast(db, entries=[old, newer])
    assert [p.fragment for p in parts] == ["silver braid", "white braid"]
    assert parts[1].look_fragment == "red oilskin" and not parts[1].locked  # look v2 is still a draft


def test_shot_usage_and_advance_shots(db, owner, project):
    c = service.create_character(db, actor=owner, project=project, name="Mara")
    look = service.create_look(db, actor=owner, character=c, name="Storm gear")
    with pytest.raises(Conflict, match="no locked version"):
        usage.advance_shots(db, actor=owner, character=c)
    service.lock_character(db, actor=owner, character=c)
    service.lock_look(db, actor=owner, look=look)
    a = _shot(db, project, "1A", character=c, version=1, look=look, look_version=1)
    b = _shot(db, project, "2A", character=c, version=1)
    service.update_character(db, actor=owner, character=c, changes={"description": "Older now."})
    assert [u.behind for u in usage.shot_usage(db, character=c)] == [False, False]  # v2 is only a draft
    service.lock_character(db, actor=owner, character=c)
    service.update_look(db, actor=owner, look=look, changes={"description": "Soaked."})
    service.lock_look(db, actor=owner, look=look)
    current = _shot(db, project, "3A", character=c, version=2)
    uses = {u.code: u for u in usage.shot_usage(db, character=c)}
    assert uses["1A"].character_behind and uses["1A"].look_behind and uses["2A"].character_behind
    assert not uses["2A"].look_behind and not uses["3A"].behind

    moved = usage.advance_shots(db, actor=owner, character=c)
    assert (moved.version, moved.codes) == (2, ["1A", "2A"])
    assert (a.character_version, b.character_version, current.character_version) == (2, 2, 2)
    assert a.look_version == 1  # looks move on their own
    moved = usage.advance_shots(db, actor=owner, character=c, look=look)
    assert (moved.version, moved.codes, a.look_version) == (2, ["1A"], 2)
    assert usage.advance_shots(db, actor=owner, character=c).codes == []
    assert not any(u.behind for u in usage.shot_usage(db, character=c))
    assert _events(db, project, "character.shots_advanced") == 2
    stranger = service.create_character(db, actor=owner, project=project, name="Ines")
    with pytest.raises(NotFound):
        usage.advance_shots(db, actor=owner, character=stranger, look=look)


def test_characters_and_looks_in_shots_cannot_be_deleted(db, owner, project):
    c = service.create_character(db, actor=owner, project=project, name="Mara")
    look = service.create_look(db, actor=owner, character=c, name="Storm gear")
    _shot(db, project, "12A", character=c, version=1, look=look, look_version=1)
    _shot(db, project, "14B", character=c, version=1)
    with pytest.raises(Conflict, match=r"2 shots \(12A, 14B\)"):
        usage.delete_character(db, actor=owner, character=c)
    with pytest.raises(Conflict, match=r"1 shot \(12A\)"):
        usage.delete_look(db, actor=owner, look=look)
    free = service.create_character(db, actor=owner, project=project, name="Ines")
    service.add_reference(db, actor=owner, character=free, data=png_bytes(20, 20), filename="i.png")
    service.create_look(db, actor=owner, character=free, name="Coat")
    service.lock_character(db, actor=owner, character=free)
    fid = free.id
    usage.delete_character(db, actor=owner, character=free)
    db.commit()
    db.expire_all()
    assert db.get(Character, fid) is None
    for model in (Look, ReferenceImage, CharacterVersion):
        assert db.scalar(select(func.count()).select_from(model).where(model.character_id == fid)) == 0


def test_resolve_cast_tolerates_a_snapshot_without_fields(db, owner, project):
    c = service.create_character(db, actor=owner, project=project, name="Mara", prompt_fragment="silver braid")
    db.add(CharacterVersion(project_id=project.id, character_id=c.id, number=1, data={}))
    sc = _shot(db, project, "1A", character=c, version=1)
    [part] = versions.resolve_cast(db, entries=[sc])
    assert (part.name, part.fragment, part.locked) == ("Mara", "", True)
