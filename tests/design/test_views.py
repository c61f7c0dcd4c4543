import re

import pytest
from sqlalchemy import func, select

from app.activity.models import ActivityEvent
from app.characters.models import ReferenceImage
from app.design import service
from app.design.models import Location, StylePreset
from app.media.models import MediaAsset
from app.storyboard.models import Scene, Shot
from tests.images import TEXT_AS_PNG, jpeg_bytes, png_bytes

HTMX = {"HX-Request": "true"}


def _count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def owner(make_user):
    return make_user(name="Owner")


@pytest.fixture
def project(make_project, owner):
    return make_project(owner)


def _shots(db, project, n, **fields):
    scene = Scene(project_id=project.id, number="1", heading="INT. LAMP ROOM - NIGHT")
    db.add(scene)
    db.flush()
    db.add_all([Shot(project_id=project.id, scene_id=scene.id, code=f"1{chr(65 + i)}", **fields) for i in range(n)])
    db.commit()


def test_design_page_shows_locations_with_thumbnails_and_the_default_style(db, sign_in, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room", description="The top.")
    ref = service.add_location_reference(db, actor=owner, location=loc, data=png_bytes(320, 180), filename="a.png")
    service.create_location(db, actor=owner, project_id=project.id, name="Beach")
    service.create_style(db, actor=owner, project_id=project.id, name="Vision3")
    service.create_style(db, actor=owner, project_id=project.id, name="Alexa")
    db.commit()
    page = sign_in(owner).get(f"/projects/{project.id}/design")
    assert page.status_code == 200
    html = page.text
    assert "/static/css/design.css" in html and 'aria-current="page">Locations &amp; style' in html
    beach = re.search(r'data-location="(\d+)"[^<]*<a[^>]*>\s*<div[^>]*>\s*<img class="frame-img" src="/locations/(\d+)/picture"', html)
    assert f'src="/media/{ref.asset_id}/thumb"' in html and beach and beach[1] == beach[2]  # Beach: its sketch
    assert html.index("Beach") < html.index("Lamp room")
    default = re.search(r'<li class="style-item is-default" data-style="(\d+)"', html)
    assert default and int(default.group(1)) == service.default_style(db, project_id=project.id).id
    assert html.count("Make default") == 1
    assert f'action="/projects/{project.id}/locations"' in html and f'action="/projects/{project.id}/styles"' in html
    assert "Kodak Vision3 500T" in html  # the preset picker


def test_viewer_sees_everything_and_no_forms(db, sign_in, make_user, add_member, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room",
                                  prompt_fragment="huge Fresnel lens")  # fmt: skip
    service.add_location_reference(db, actor=owner, location=loc, data=png_bytes(), filename="a.png", caption="dusk")
    style = service.create_style(db, actor=owner, project_id=project.id, name="Noir", prompt_fragment="monochrome")
    service.create_style(db, actor=owner, project_id=project.id, name="Alexa")
    viewer = make_user(name="Viewer")
    add_member(project, viewer, "viewer")
    b = sign_in(viewer)
    for url, seen in [(f"/projects/{project.id}/design", ["Lamp room", "Noir", "default"]),
                      (f"/locations/{loc.id}", ["huge Fresnel lens", "dusk"]),
                      (f"/styles/{style.id}", ["monochrome", "default"])]:  # fmt: skip
        page = b.get(url)
        assert page.status_code == 200, url
        for text in seen:
            assert text in page.text, (url, text)
        forms = re.findall(r'<form[^>]*action="([^"]+)"', page.text)
        assert forms == ["/logout"], (url, forms)
        assert "<textarea" not in page.text and "Make default" not in page.text and 'class="dropzone"' not in page.text


def test_outsiders_get_404_and_viewers_403_on_page_writes(db, sign_in, make_user, add_member, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room")
    style = service.create_style(db, actor=owner, project_id=project.id, name="Noir")
    viewer = make_user(name="Viewer")
    add_member(project, viewer, "viewer")
    db.commit()
    outsider, v = sign_in(make_user(name="Outsider")), sign_in(viewer)
    for url in (f"/projects/{project.id}/design", f"/locations/{loc.id}", f"/styles/{style.id}"):
        assert outsider.get(url).status_code == 404
    for url in (f"/projects/{project.id}/locations", f"/projects/{project.id}/styles",
                f"/projects/{project.id}/styles/presets", f"/locations/{loc.id}", f"/locations/{loc.id}/delete",
                f"/locations/{loc.id}/references", f"/locations/{loc.id}/references/delete",
                f"/styles/{style.id}", f"/styles/{style.id}/default", f"/styles/{style.id}/delete"):  # fmt: skip
        assert v.post(url, data={"name": "X"}).status_code == 403, url
        assert outsider.post(url, data={"name": "X"}).status_code == 404, url
    assert _count(db, Location, Location.project_id == project.id) == 1


def test_create_location_from_the_form(db, sign_in, owner, project):
    b = sign_in(owner)
    r = b.post(f"/projects/{project.id}/locations", data={"name": "Lamp room", "description": "Top.",
               "prompt_fragment": "huge Fresnel lens", "negative_fragment": "people"})  # fmt: skip
    assert r.status_code == 303
    loc = db.scalar(select(Location).where(Location.project_id == project.id))
    assert r.headers["location"] == f"/locations/{loc.id}"
    assert loc.prompt_fragment == "huge Fresnel lens"
    page = b.get(r.headers["location"])
    assert "Location “Lamp room” added" in page.text and 'class="dropzone"' in page.text
    assert 'enctype="multipart/form-data"' in page.text and 'name="file"' in page.text


def test_location_form_errors_keep_what_was_typed(db, sign_in, owner, project):
    b = sign_in(owner)
    r = b.post(f"/projects/{project.id}/locations", data={"name": " ", "prompt_fragment": "rain on glass"})
    assert r.status_code == 422 and "needs a name" in r.text and "rain on glass" in r.text
    b.post(f"/projects/{project.id}/locations", data={"name": "Harbour"})
    r = b.post(f"/projects/{project.id}/locations", data={"name": "HARBOUR", "description": "Second try"})
    assert r.status_code == 409 and "already a location called “Harbour”" in r.text and "Second try" in r.text
    assert _count(db, Location, Location.project_id == project.id) == 1


def test_edit_location_from_its_page(db, sign_in, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Harbour")
    service.create_location(db, actor=owner, project_id=project.id, name="Cliff")
    db.commit()
    b = sign_in(owner)
    r = b.post(f"/locations/{loc.id}", data={"name": "Harbour at dawn", "prompt_fragment": "fog, gulls"})
    assert r.status_code == 303
    assert "Location saved." in b.get(f"/locations/{loc.id}").text
    db.refresh(loc)
    assert (loc.name, loc.prompt_fragment) == ("Harbour at dawn", "fog, gulls")
    r = b.post(f"/locations/{loc.id}", data={"name": "cliff", "prompt_fragment": "typed"})
    assert r.status_code == 409 and 'value="cliff"' in r.text and "typed" in r.text


def test_upload_references_through_the_dropzone_form(db, sign_in, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room")
    db.commit()
    b = sign_in(owner)
    r = b.post(f"/locations/{loc.id}/references", data={"caption": "dusk"},
               files=[("file", ("a.png", png_bytes(320, 180), "image/png")),
                      ("file", ("b.jpg", jpeg_bytes(100, 100), "image/jpeg"))])  # fmt: skip
    assert r.status_code == 303, r.text
    refs = db.scalars(select(ReferenceImage).where(ReferenceImage.location_id == loc.id)
                      .order_by(ReferenceImage.position)).all()  # fmt: skip
    assert [x.caption for x in refs] == ["dusk", "dusk"]
    page = b.get(f"/locations/{loc.id}").text
    assert "2 reference pictures added." in page
    for ref in refs:
        assert f'src="/media/{ref.asset_id}/thumb"' in page
    design = b.get(f"/projects/{project.id}/design").text
    assert f'src="/media/{refs[0].asset_id}/thumb"' in design  # the card shows the first one


def test_a_bad_upload_is_refused_clearly_and_stores_nothing(db, sign_in, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room")
    db.commit()
    b = sign_in(owner)
    r = b.post(f"/locations/{loc.id}/references", data={"caption": "keep me"},
               files=[("file", ("good.png", png_bytes(), "image/png")),
                      ("file", ("evil.png", TEXT_AS_PNG, "image/png"))])  # fmt: skip
    assert r.status_code == 415
    assert "evil.png: only PNG, JPEG and WebP" in r.text and 'value="keep me"' in r.text
    assert _count(db, ReferenceImage, ReferenceImage.location_id == loc.id) == 0
    assert _count(db, MediaAsset, MediaAsset.project_id == project.id) == 0
    r = b.post(f"/locations/{loc.id}/references", data={"caption": ""})
    assert r.status_code == 422 and "choose a picture" in r.text


def test_caption_and_remove_references(db, sign_in, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room")
    a = service.add_location_reference(db, actor=owner, location=loc, data=png_bytes(), filename="a.png")
    b_ref = service.add_location_reference(db, actor=owner, location=loc, data=jpeg_bytes(), filename="b.jpg")
    other = service.create_location(db, actor=owner, project_id=project.id, name="Beach")
    foreign = service.add_location_reference(db, actor=owner, location=other, data=png_bytes(10, 10), filename="c")
    db.commit()
    b = sign_in(owner)
    r = b.post(f"/locations/{loc.id}/references/caption", data={"reference_id": a.id, "caption": "north window"})
    assert r.status_code == 303
    frag = b.post(f"/locations/{loc.id}/references/caption", data={"reference_id": b_ref.id, "caption": "stairs"},
                  headers={**HTMX})  # fmt: skip
    assert frag.status_code == 200 and frag.text.lstrip().startswith('<div id="references"')
    assert "north window" in frag.text and "stairs" in frag.text and "<html" not in frag.text
    frag = b.post(f"/locations/{loc.id}/references/delete", data={"reference_id": a.id}, headers={**HTMX})
    assert frag.status_code == 200 and f'data-reference="{a.id}"' not in frag.text
    assert f'data-reference="{b_ref.id}"' in frag.text
    r = b.post(f"/locations/{loc.id}/references/delete", data={"reference_id": b_ref.id})
    assert r.status_code == 303 and r.headers["location"] == f"/locations/{loc.id}#references"
    assert b.post(f"/locations/{loc.id}/references/delete", data={"reference_id": foreign.id}).status_code == 404
    assert b.post(f"/locations/{loc.id}/references/delete", data={"reference_id": "x"}).status_code == 422
    assert _count(db, ReferenceImage, ReferenceImage.location_id == loc.id) == 0
    assert _count(db, ReferenceImage, ReferenceImage.location_id == other.id) == 1


def test_deleting_a_used_location_asks_with_the_number_of_shots(db, sign_in, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room")
    _shots(db, project, 3, location_id=loc.id)
    b = sign_in(owner)
    page = b.get(f"/locations/{loc.id}").text
    assert "3 shots will have no location" in page and 'name="confirm_shots" value="3"' in page
    r = b.post(f"/locations/{loc.id}/delete", data={})
    assert r.status_code == 409 and "3 shots" in r.text and "Delete anyway" in r.text
    assert _count(db, Location, Location.id == loc.id) == 1
    r = b.post(f"/locations/{loc.id}/delete", data={"confirm_shots": "3"})
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{project.id}/design"
    assert _count(db, Location, Location.id == loc.id) == 0
    assert _count(db, Shot, Shot.project_id == project.id, Shot.location_id.is_(None)) == 3
    overview = b.get(f"/projects/{project.id}").text
    assert "deleted the location “Lamp room” (3 shots now without a location)" in overview


def test_an_unused_location_deletes_straight_away(db, sign_in, owner, project):
    loc = service.create_location(db, actor=owner, project_id=project.id, name="Lamp room")
    db.commit()
    r = sign_in(owner).post(f"/locations/{loc.id}/delete", data={})
    assert r.status_code == 303
    assert _count(db, Location, Location.id == loc.id) == 0


def test_styles_from_the_page(db, sign_in, owner, project):
    b = sign_in(owner)
    r = b.post(f"/projects/{project.id}/styles/presets", data={"preset": "noir-bw"})
    assert r.status_code == 303
    noir = db.scalar(select(StylePreset).where(StylePreset.project_id == project.id))
    assert noir.is_default and "film noir" in noir.prompt_fragment
    r = b.post(f"/projects/{project.id}/styles", data={"name": "Harbour blues", "prompt_fragment": "cold blue",
               "is_default": "1"})  # fmt: skip
    assert r.status_code == 303
    db.expire_all()
    assert service.default_style(db, project_id=project.id).name == "Harbour blues" and not noir.is_default
    frag = b.post(f"/styles/{noir.id}/default", headers={**HTMX})
    assert frag.status_code == 200 and frag.text.lstrip().startswith('<section class="panel" id="styles"')
    assert re.search(rf'class="style-item is-default" data-style="{noir.id}"', frag.text)
    frag = b.post(f"/projects/{project.id}/styles/presets", data={"preset": "anime-cel"}, headers={**HTMX})
    assert frag.status_code == 200 and "Anime cel-shaded" in frag.text
    assert re.search(r'data-preset="anime-cel">.*?added</span>', frag.text, re.S)
    r = b.post(f"/projects/{project.id}/styles", data={"name": "harbour BLUES", "description": "again"})
    assert r.status_code == 409 and "already a style" in r.text and "again" in r.text
    r = b.post(f"/projects/{project.id}/styles/presets", data={"preset": "imax"})
    assert r.status_code == 422 and "unknown preset" in r.text
    assert _count(db, StylePreset, StylePreset.project_id == project.id) == 3


def test_style_editor(db, sign_in, owner, project):
    a = service.create_style(db, actor=owner, project_id=project.id, name="A")
    s = service.create_style(db, actor=owner, project_id=project.id, name="B")
    _shots(db, project, 2, style_id=s.id)
    b = sign_in(owner)
    page = b.get(f"/styles/{s.id}").text
    assert "Make it the default" in page and "2 shots" in page
    r = b.post(f"/styles/{s.id}", data={"name": "B2", "prompt_fragment": "grain"})
    assert r.status_code == 303
    r = b.post(f"/styles/{s.id}", data={"name": "", "prompt_fragment": "kept"})
    assert r.status_code == 422 and "needs a name" in r.text and "kept" in r.text
    r = b.post(f"/styles/{s.id}/default", data={"next": "style"})
    assert r.status_code == 303 and r.headers["location"] == f"/styles/{s.id}"
    assert "is now the default style" in b.get(f"/styles/{s.id}").text
    r = b.post(f"/styles/{s.id}/delete", data={})
    assert r.status_code == 409 and "2 shots" in r.text
    r = b.post(f"/styles/{s.id}/delete", data={"confirm_shots": "2"})
    assert r.status_code == 303
    assert "“A” is now the default" in b.get(r.headers["location"]).text
    db.expire_all()
    assert a.is_default
    kinds = db.scalars(select(ActivityEvent.verb).where(ActivityEvent.project_id == project.id)).all()
    assert "style.deleted" in kinds


def test_a_location_without_a_name_is_not_created_and_the_form_keeps_the_rest(sign_in, make_user, make_project, db):
    from sqlalchemy import func, select

    from app.design.models import Location
    from tests.forms import message_for, shown_form

    owner = make_user()
    project = make_project(owner)
    url = f"/projects/{project.id}/locations"
    for headers in ({}, {"HX-Request": "true"}):
        r = sign_in(owner).post(url, data={"name": "  ", "description": "Salt on the glass.",
                                           "prompt_fragment": "lamp room"}, headers=headers)  # fmt: skip
        assert r.status_code == 422
        assert message_for(r.text, url, "name") == "The location needs a name."
        form, _ = shown_form(r.text, url)
        assert (form.values["description"], form.values["prompt_fragment"]) == ("Salt on the glass.", "lamp room")
    assert db.scalar(select(func.count()).select_from(Location).where(Location.project_id == project.id)) == 0
