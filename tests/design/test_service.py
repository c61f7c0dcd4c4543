import pytest
from sqlalchemy import func, select

from app.activity.models import ActivityEvent
from app.characters.models import ReferenceImage
from app.design import service
from app.design.models import Location, StylePreset
from app.errors import Conflict, Invalid, NotFound, Unsupported
from app.media.models import MediaAsset
from app.media.store import get_store
from app.storyboard import usage
from app.storyboard.models import Scene, Shot
from tests.images import SVG, TEXT_AS_PNG, jpeg_bytes, png_bytes


def _count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _files() -> set[str]:
    root = get_store().root
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _verbs(db, project_id) -> list[str]:
    return list(db.scalars(select(ActivityEvent.verb).where(ActivityEvent.project_id == project_id)
                           .order_by(ActivityEvent.id)))  # fmt: skip


def _shots(db, project, n, **fields) -> list[Shot]:
    scene = Scene(project_id=project.id, number="1", heading="EXT. ROCKS - DAWN")
    db.add(scene)
    db.flush()
    shots = [Shot(project_id=project.id, scene_id=scene.id, code=f"1{chr(65 + i)}", position=i, **fields)
             for i in range(n)]  # fmt: skip
    db.add_all(shots)
    db.flush()
    return shots


def _defaults(db, project_id) -> list[str]:
    return list(db.scalars(select(StylePreset.name).where(StylePreset.project_id == project_id,
                                                          StylePreset.is_default.is_(True))))  # fmt: skip


@pytest.fixture
def owner(make_user):
    return make_user(name="Owner")


@pytest.fixture
def project(make_project, owner):
    return make_project(owner)


# ---- locations ----------------------------------------------------------------------------------


def test_create_location_cleans_and_records(db, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="  Lamp   Room ",
                                  description=" The top. ", prompt_fragment="huge Fresnel lens,\n  rain on glass",
                                  negative_fragment="people")  # fmt: skip
    assert (loc.name, loc.name_key, loc.description) == ("Lamp Room", "lamp room", "The top.")
    assert loc.prompt_fragment == "huge Fresnel lens, rain on glass"
    assert _verbs(db, project.id)[-1] == "location.created"
    assert service.get_location(db, project_id=project.id, location_id=loc.id) is loc


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "ok", "description": "d" * 5001}, "description"),
        ({"name": "ok", "prompt_fragment": "p" * 2001}, "prompt_fragment"),
        ({"name": "ok", "negative_fragment": "n" * 2001}, "negative_fragment"),
        ({"name": "ok", "colour": "red"}, "colour"),
    ],
)
def test_bad_location_input_writes_nothing(db, owner, project, fields, field):
    before = (_count(db, Location), _count(db, ActivityEvent))
    with pytest.raises(Invalid) as err:
        service.create_location(db, actor=owner, project_id=project.id, **fields)
    assert err.value.field == field
    assert (_count(db, Location), _count(db, ActivityEvent)) == before


def test_location_names_are_unique_per_project_ignoring_case(db, owner, project, make_project):
    service.create_location(db, actor=owner, project_id=project.id, name="Lighthouse")
    with pytest.raises(Conflict, match="already a location called “Lighthouse”"):
        service.create_location(db, actor=owner, project_id=project.id, name="LIGHTHOUSE ")
    other = make_project(owner, name="Other film")
    assert service.create_location(db, actor=owner, project_id=other.id, name="lighthouse").id


def test_update_location_records_only_real_changes(db, owner, project):
    a = service.create_location(db, actor=owner, project_id=project.id, name="Harbour")
    b = service.create_location(db, actor=owner, project_id=project.id, name="Cliff")
    with pytest.raises(Conflict):
        service.update_location(db, actor=owner, location=b, changes={"name": "harbour"})
    service.update_location(db, actor=owner, location=a, changes={"name": "HARBOUR", "prompt_fragment": "fog"})
    assert (a.name, a.name_key, a.prompt_fragment) == ("HARBOUR", "harbour", "fog")
    n = _count(db, ActivityEvent)
    service.update_location(db, actor=owner, location=a, changes={"name": "HARBOUR", "prompt_fragment": " fog "})
    assert _count(db, ActivityEvent) == n
    event = db.scalar(select(ActivityEvent).where(ActivityEvent.verb == "location.updated"))
    assert event.data == {"fields": ["name", "prompt_fragment"]}
    with pytest.raises(Invalid):
        service.update_location(db, actor=owner, location=a, changes={"name": None})


def test_list_and_get_locations_stay_in_their_project(db, owner, project, make_project):
    other = make_project(owner, name="Other film")
    service.create_location(db, actor=owner, project_id=project.id, name="beach")
    service.create_location(db, actor=owner, project_id=project.id, name="Attic")
    foreign = service.create_location(db, actor=owner, project_id=other.id, name="Moon")
    assert [loc.name for loc in service.list_locations(db, project_id=project.id)] == ["Attic", "beach"]
    with pytest.raises(NotFound):
        service.get_location(db, project_id=project.id, location_id=foreign.id)
    with pytest.raises(NotFound):
        service.get_location(db, project_id=project.id, location_id=99999999)


def test_references_are_added_captioned_and_removed(db, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room")
    first = service.add_location_reference(db, actor=owner, location=loc, data=png_bytes(320, 180), filename="a.png",
                                           caption="  dusk ")  # fmt: skip
    second = service.add_location_reference(db, actor=owner, location=loc, data=jpeg_bytes(200, 200), filename="b.jpg")
    assert (first.location_id, first.character_id, first.look_id, first.caption) == (loc.id, None, None, "dusk")
    assert (first.position, second.position) == (0, 1)
    assert [r.id for r in loc.references] == [first.id, second.id]
    assert first.asset.thumb_key and get_store().exists(first.asset.key)
    with pytest.raises(Conflict, match="already one of this location's references"):
        service.add_location_reference(db, actor=owner, location=loc, data=png_bytes(320, 180), filename="again.png")
    service.caption_location_reference(db, actor=owner, location=loc, reference_id=second.id, caption="noon")
    assert second.caption == "noon"
    with pytest.raises(Invalid):
        service.caption_location_reference(db, actor=owner, location=loc, reference_id=second.id, caption="c" * 301)
    service.remove_location_reference(db, actor=owner, location=loc, reference_id=first.id)
    assert [r.id for r in loc.references] == [second.id]
    assert _verbs(db, project.id)[-4:] == ["location.reference_added", "location.reference_added",
                                           "location.reference_captioned", "location.reference_removed"]  # fmt: skip


def test_a_reference_of_another_location_is_not_found(db, owner, project):
    a = service.create_location(db, actor=owner, project_id=project.id, name="A")
    b = service.create_location(db, actor=owner, project_id=project.id, name="B")
    ref = service.add_location_reference(db, actor=owner, location=a, data=png_bytes(), filename="a.png")
    with pytest.raises(NotFound):
        service.remove_location_reference(db, actor=owner, location=b, reference_id=ref.id)
    with pytest.raises(NotFound):
        service.caption_location_reference(db, actor=owner, location=b, reference_id=ref.id, caption="x")


@pytest.mark.parametrize("data", [TEXT_AS_PNG, SVG], ids=["text-named-png", "svg"])
def test_bad_reference_files_store_nothing(db, owner, project, data):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room")
    db.commit()
    files = _files()
    with pytest.raises(Unsupported, match="only PNG, JPEG and WebP"):
        service.add_location_reference(db, actor=owner, location=loc, data=data, filename="evil.png")
    db.rollback()
    assert _files() == files
    assert _count(db, ReferenceImage, ReferenceImage.location_id == loc.id) == 0
    assert _count(db, MediaAsset, MediaAsset.project_id == project.id) == 0


def test_reference_limit(db, owner, project, monkeypatch):
    monkeypatch.setattr(service, "MAX_REFERENCES", 2)
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room")
    for i in range(2):
        service.add_location_reference(db, actor=owner, location=loc, data=png_bytes(colour=(i, 0, 0)), filename="x")
    with pytest.raises(Invalid, match="2 reference pictures at most"):
        service.add_location_reference(db, actor=owner, location=loc, data=png_bytes(colour=(9, 0, 0)), filename="x")


def test_deleting_a_used_location_unsets_it_on_shots_and_says_how_many(db, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room")
    keep = service.create_location(db, actor=owner, project_id=project.id, name="Beach")
    service.add_location_reference(db, actor=owner, location=loc, data=png_bytes(), filename="a.png")
    shots = _shots(db, project, 3, location_id=loc.id)
    other = _shots(db, project, 1, location_id=keep.id)
    assert usage.location_shot_counts(db, project_id=project.id) == {loc.id: 3, keep.id: 1}
    assert usage.delete_location(db, actor=owner, location=loc) == 3
    db.expire_all()
    assert [s.location_id for s in shots] == [None, None, None] and other[0].location_id == keep.id
    assert _count(db, ReferenceImage, ReferenceImage.project_id == project.id) == 0
    event = db.scalar(select(ActivityEvent).where(ActivityEvent.verb == "location.deleted"))
    assert event.data == {"name": "Lamp room", "shots": 3}
    assert "3 shots now without a location" in event.summary


# ---- styles -------------------------------------------------------------------------------------


def test_the_first_style_is_the_default(db, owner, project):
    assert service.default_style(db, project_id=project.id) is None
    first = service.create_style(db, actor=owner, project_id=project.id, name="Vision3", prompt_fragment="35mm")
    second = service.create_style(db, actor=owner, project_id=project.id, name="Alexa")
    assert (first.is_default, second.is_default) == (True, False)
    assert service.default_style(db, project_id=project.id) is first
    assert [s.name for s in service.list_styles(db, project_id=project.id)] == ["Vision3", "Alexa"]


def test_setting_a_default_clears_the_others(db, owner, project):
    a = service.create_style(db, actor=owner, project_id=project.id, name="A")
    b = service.create_style(db, actor=owner, project_id=project.id, name="B")
    c = service.create_style(db, actor=owner, project_id=project.id, name="C", is_default=True)
    assert _defaults(db, project.id) == ["C"]
    service.set_default_style(db, actor=owner, style=b)
    assert _defaults(db, project.id) == ["B"] and not a.is_default and not c.is_default
    n = _count(db, ActivityEvent)
    service.set_default_style(db, actor=owner, style=b)  # already: nothing happens
    assert _count(db, ActivityEvent) == n
    service.update_style(db, actor=owner, style=a, changes={"is_default": True, "description": "warm"})
    assert _defaults(db, project.id) == ["A"] and a.description == "warm"
    with pytest.raises(Invalid, match="always has one default"):
        service.update_style(db, actor=owner, style=a, changes={"is_default": False})
    service.update_style(db, actor=owner, style=b, changes={"is_default": False})  # not the default: fine
    assert _defaults(db, project.id) == ["A"]
    assert "style.default_changed" in _verbs(db, project.id)


def test_deleting_the_default_hands_it_to_the_oldest_remaining(db, owner, project):
    a = service.create_style(db, actor=owner, project_id=project.id, name="A")
    b = service.create_style(db, actor=owner, project_id=project.id, name="B")
    c = service.create_style(db, actor=owner, project_id=project.id, name="C")
    usage.delete_style(db, actor=owner, style=b)  # not the default
    assert _defaults(db, project.id) == ["A"]
    service.set_default_style(db, actor=owner, style=c)
    d = service.create_style(db, actor=owner, project_id=project.id, name="D")
    usage.delete_style(db, actor=owner, style=c)
    assert _defaults(db, project.id) == ["A"]
    usage.delete_style(db, actor=owner, style=a)
    assert _defaults(db, project.id) == ["D"] and service.default_style(db, project_id=project.id) is d
    usage.delete_style(db, actor=owner, style=d)
    assert service.default_style(db, project_id=project.id) is None
    events = db.scalars(select(ActivityEvent).where(ActivityEvent.verb == "style.deleted")
                        .order_by(ActivityEvent.id)).all()  # fmt: skip
    assert [e.data["new_default"] for e in events] == [None, a.id, d.id, None]


def test_a_project_without_a_default_gets_one_with_its_next_style(db, owner, project):
    db.add(StylePreset(project_id=project.id, name="Imported", is_default=False))
    db.flush()
    new = service.create_style(db, actor=owner, project_id=project.id, name="New")
    assert _defaults(db, project.id) == ["New"] and new.is_default


def test_style_names_are_unique_ignoring_case(db, owner, project):
    a = service.create_style(db, actor=owner, project_id=project.id, name="Noir")
    with pytest.raises(Conflict, match="already a style called “Noir”"):
        service.create_style(db, actor=owner, project_id=project.id, name="NOIR")
    b = service.create_style(db, actor=owner, project_id=project.id, name="Day")
    with pytest.raises(Conflict):
        service.update_style(db, actor=owner, style=b, changes={"name": "noir"})
    service.update_style(db, actor=owner, style=a, changes={"name": "noir"})
    assert a.name == "noir"


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"name": ""}, "name"), ({"name": "x" * 81}, "name"), ({"name": "ok", "prompt_fragment": "p" * 2001},
     "prompt_fragment"), ({"name": "ok", "lens": "50mm"}, "lens")],
)
def test_bad_style_input_writes_nothing(db, owner, project, fields, field):
    with pytest.raises(Invalid) as err:
        service.create_style(db, actor=owner, project_id=project.id, **fields)
    assert err.value.field == field
    assert _count(db, StylePreset, StylePreset.project_id == project.id) == 0


def test_get_style_stays_in_its_project(db, owner, project, make_project):
    other = make_project(owner, name="Other film")
    foreign = service.create_style(db, actor=owner, project_id=other.id, name="Noir")
    with pytest.raises(NotFound):
        service.get_style(db, project_id=project.id, style_id=foreign.id)
    assert service.get_style(db, project_id=other.id, style_id=foreign.id) is foreign
    assert service.list_styles(db, project_id=project.id) == []
    assert service.default_style(db, project_id=project.id) is None


def test_presets_add_with_one_call(db, owner, project):
    assert len(service.STYLE_PRESETS) >= 5
    for p in service.STYLE_PRESETS:
        assert p.prompt_fragment and p.negative_fragment and p.description and len(p.name) <= 80
        assert "\n" not in p.prompt_fragment
    style = service.add_preset_style(db, actor=owner, project_id=project.id, key="vision3-500t")
    assert style.name == "35mm film — Kodak Vision3 500T" and "Kodak Vision3 500T" in style.prompt_fragment
    assert style.is_default
    assert service.presets_added(db, project_id=project.id) == {"vision3-500t"}
    with pytest.raises(Conflict):
        service.add_preset_style(db, actor=owner, project_id=project.id, key="vision3-500t")
    with pytest.raises(Invalid, match="unknown preset") as err:
        service.add_preset_style(db, actor=owner, project_id=project.id, key="imax-70mm")
    assert err.value.field == "preset"


def test_deleting_a_used_style_unsets_it_on_shots(db, owner, project):
    a = service.create_style(db, actor=owner, project_id=project.id, name="A")
    b = service.create_style(db, actor=owner, project_id=project.id, name="B")
    shots = _shots(db, project, 2, style_id=b.id)
    assert usage.style_shot_counts(db, project_id=project.id) == {b.id: 2}
    assert usage.delete_style(db, actor=owner, style=b) == 2
    db.expire_all()
    assert [s.style_id for s in shots] == [None, None]
    event = db.scalar(select(ActivityEvent).where(ActivityEvent.verb == "style.deleted"))
    assert event.data["shots"] == 2 and "2 shots" in event.summary
    assert a.is_default
