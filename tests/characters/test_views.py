import re

import pytest
from sqlalchemy import func, select

from app.characters import service
from app.characters.models import Character, Look, ReferenceImage
from app.media.models import MediaAsset
from app.media.store import get_store
from app.storyboard.models import Scene, Shot, ShotCharacter
from tests.images import SVG, TEXT_AS_PNG, huge_png_header, jpeg_bytes, png_bytes, safetensors_bytes, truncated_jpeg

def hx() -> dict[str, str]:
    return {"HX-Request": "true"}  # a new dict each time: the signed-in client adds its CSRF header to it


@pytest.fixture
def team(db, make_user, make_project, add_member):
    owner = make_user(name="Olga Owner")
    project = make_project(owner, name="Keeper")
    people = {"owner": owner}
    for role in ("director", "artist", "viewer"):
        people[role] = make_user(name=role.title())
        add_member(project, people[role], role)
    return project, people


@pytest.fixture
def mara(db, team):
    project, people = team
    c = service.create_character(db, actor=people["owner"], project=project, name="Mara", description="The keeper.",
                                 traits={"hair": "silver braid", "scar": "left cheek"},
                                 prompt_fragment="a weathered keeper", seed=1234)  # fmt: skip
    db.commit()
    return c


def _files() -> set[str]:
    root = get_store().root
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _assets(db, project) -> int:
    return db.scalar(select(func.count()).select_from(MediaAsset).where(MediaAsset.project_id == project.id))


def _shot(db, project, character, code, version=1, look=None, look_version=None):
    scene = Scene(project_id=project.id, number=code[:-1], heading="INT. LAMP ROOM - NIGHT")
    db.add(scene)
    db.flush()
    shot = Shot(project_id=project.id, scene_id=scene.id, code=code)
    db.add(shot)
    db.flush()
    db.add(ShotCharacter(shot_id=shot.id, character_id=character.id, character_version=version,
                         look_id=look.id if look else None, look_version=look_version))  # fmt: skip
    db.commit()
    return shot


def test_library_lists_the_cast_and_creates_characters(sign_in, team, mara, db):
    project, people = team
    service.add_reference(db, actor=people["owner"], character=mara, data=png_bytes(60, 80), filename="m.png")
    service.lock_character(db, actor=people["owner"], character=mara)
    db.commit()
    b = sign_in(people["artist"])
    page = b.get(f"/projects/{project.id}/characters")
    assert page.status_code == 200
    assert "Mara" in page.text and "v1 · locked" in page.text and "0 looks" in page.text
    assert f"/media/{mara.references[0].asset_id}/thumb" in page.text
    assert 'aria-current="page">Characters' in page.text
    r = b.post(f"/projects/{project.id}/characters", data={"name": "Ines Kahl", "description": "The girl."})
    assert r.status_code == 303
    ines = db.scalar(select(Character).where(Character.name == "Ines Kahl"))
    assert r.headers["location"] == f"/characters/{ines.id}" and ines.seed is not None
    editor = b.get(r.headers["location"]).text
    assert "joined the cast" in editor and "v1 · draft" in editor and "never locked" in editor


def test_library_form_errors_keep_what_was_typed(sign_in, team, mara, db):
    project, people = team
    b = sign_in(people["artist"])
    r = b.post(f"/projects/{project.id}/characters", data={"name": "MARA", "description": "Second keeper"})
    assert r.status_code == 409 and "already a character called" in r.text and "Second keeper" in r.text
    r = b.post(f"/projects/{project.id}/characters", data={"name": "x" * 121})
    assert r.status_code == 422 and "too long" in r.text
    assert db.scalar(select(func.count()).select_from(Character).where(Character.project_id == project.id)) == 1


def test_viewer_sees_everything_read_only(sign_in, team, mara, db):
    project, people = team
    look = service.create_look(db, actor=people["owner"], character=mara, name="Storm gear", prompt_fragment="oilskin")
    service.add_reference(db, actor=people["owner"], character=mara, data=png_bytes(), filename="m.png", caption="front")
    db.commit()
    b = sign_in(people["viewer"])
    library = b.get(f"/projects/{project.id}/characters").text
    assert "Mara" in library and "New character" not in library and f'action="/projects/{project.id}/characters"' not in library
    page = b.get(f"/characters/{mara.id}")
    assert page.status_code == 200
    main = page.text.split("<main", 1)[1]
    assert "<form" not in main and "dropzone" not in main
    for text in ("silver braid", "a weathered keeper", "1234", "Storm gear", "oilskin", "front", "Left cheek".lower()):
        assert text in main, text
    assert f"look-{look.id}" in main


def test_artist_edits_but_does_not_lock(sign_in, team, mara):
    _project, people = team
    page = sign_in(people["artist"]).get(f"/characters/{mara.id}").text
    assert f'action="/characters/{mara.id}"' in page and 'class="dropzone"' in page
    assert f'action="/characters/{mara.id}/lock"' not in page
    assert f'action="/characters/{mara.id}/lock"' in sign_in(people["director"]).get(f"/characters/{mara.id}").text
    r = sign_in(people["artist"]).post(f"/characters/{mara.id}/lock")
    assert r.status_code == 403


def test_details_form_saves_traits_and_starts_a_version_when_locked(sign_in, team, mara, db):
    _project, people = team
    service.lock_character(db, actor=people["owner"], character=mara)
    db.commit()
    b = sign_in(people["artist"])
    form = {"name": "Mara Voss", "description": "Older.", "prompt_fragment": "white braid", "negative_fragment": "young",
            "seed": "99", "trait_key": ["age", "hair", "", "Eye colour", ""],
            "trait_value": ["62", "white", "", "grey", ""]}  # fmt: skip
    r = b.post(f"/characters/{mara.id}", data=form)
    assert r.status_code == 303, r.text
    db.expire_all()
    c = db.get(Character, mara.id)
    assert (c.name, c.seed, c.version, c.locked) == ("Mara Voss", 99, 2, False)
    assert c.traits == {"age": "62", "hair": "white", "eye_colour": "grey"}
    page = b.get(f"/characters/{mara.id}").text
    assert "Version 2 started" in page and "v2 · draft" in page and "v1 locked" in page
    assert "changes since v1" in page and "white braid" in page
    assert 'value="eye_colour"' in page


def test_details_form_errors_rerender_with_the_values(sign_in, team, mara, db):
    _project, people = team
    b = sign_in(people["artist"])
    form = {"name": "Mara", "description": "Typed text", "seed": "-5", "trait_key": ["hair"], "trait_value": ["red"]}
    r = b.post(f"/characters/{mara.id}", data=form)
    assert r.status_code == 422 and "seed must be a whole number" in r.text
    assert "Typed text" in r.text and 'value="-5"' in r.text and 'value="red"' in r.text
    r = b.post(f"/characters/{mara.id}", data={"name": "Mara", "trait_key": ["", "hair"], "trait_value": ["limp", "x"]})
    assert r.status_code == 422 and "needs a name" in r.text
    db.expire_all()
    assert db.get(Character, mara.id).traits == {"hair": "silver braid", "scar": "left cheek"}


def test_lock_from_the_page_and_version_history(sign_in, team, mara, db):
    _project, people = team
    b = sign_in(people["director"])
    r = b.post(f"/characters/{mara.id}/lock")
    assert r.status_code == 303
    page = b.get(r.headers["location"]).text
    assert "is locked at version 1" in page and "v1 · locked" in page and "locked by Director" in page
    assert "Save as version 2" in page
    b.post(f"/characters/{mara.id}", data={"name": "Mara", "prompt_fragment": "a keeper at dawn", "seed": "1234",
                                           "trait_key": ["hair"], "trait_value": ["silver braid"]})  # fmt: skip
    b.post(f"/characters/{mara.id}/lock")
    page = b.get(f"/characters/{mara.id}").text
    history = page.split('id="versions-title"', 1)[1]
    assert "Mara v2" in history and "Mara v1" in history and "First locked version" in history
    assert "a keeper at dawn" in history and "trait: scar" in history


def test_reference_upload_by_form_and_by_htmx(sign_in, team, mara, db):
    _project, people = team
    b = sign_in(people["artist"])
    r = b.post(f"/characters/{mara.id}/references", files=[("file", ("a.png", png_bytes(), "image/png")),
                                                           ("file", ("b.jpg", jpeg_bytes(), "image/jpeg"))],
               data={"caption": "storm light"})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].endswith("#references")
    db.expire_all()
    refs = db.get(Character, mara.id).references
    assert [x.caption for x in refs] == ["storm light", "storm light"]
    r = b.post(f"/characters/{mara.id}/references", files={"file": ("c.png", png_bytes(70, 70), "image/png")},
               headers=hx())  # fmt: skip
    assert r.status_code == 200 and "<html" not in r.text
    assert f'id="refs-character-{mara.id}"' in r.text and r.text.count('class="ref"') == 3
    assert 'hx-swap-oob="true"' in r.text and f'id="status-character-{mara.id}"' in r.text


def test_references_caption_move_delete_in_place(sign_in, team, mara, db):
    _project, people = team
    a = service.add_reference(db, actor=people["owner"], character=mara, data=png_bytes(40, 40), filename="a.png")
    c = service.add_reference(db, actor=people["owner"], character=mara, data=png_bytes(41, 40), filename="c.png")
    service.lock_character(db, actor=people["owner"], character=mara)
    db.commit()
    b = sign_in(people["artist"])
    r = b.post(f"/references/{a.id}", data={"caption": "profile"}, headers=hx())
    assert r.status_code == 200 and 'value="profile"' in r.text and "v2 · draft" in r.text  # the badge, out of band
    r = b.post(f"/references/{c.id}/move", data={"direction": "up"}, headers=hx())
    assert r.status_code == 200
    assert r.text.index(f'data-reference="{c.id}"') < r.text.index(f'data-reference="{a.id}"')
    r = b.post(f"/references/{a.id}/delete", headers=hx())
    assert r.status_code == 200 and f'data-reference="{a.id}"' not in r.text
    r = b.post(f"/references/{c.id}/move", data={"direction": "sideways"}, headers=hx())
    assert r.status_code == 422 and r.headers["HX-Retarget"] == "#flash"
    r = b.post(f"/references/{c.id}/delete")
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Character, mara.id).references == []


BAD = [("notes.png", TEXT_AS_PNG, 415, "only PNG, JPEG and WebP"), ("bomb.png", huge_png_header(), 413, "too many pixels"),
       ("half.jpg", truncated_jpeg(), 422, "damaged or incomplete"), ("logo.svg", SVG, 415, "only PNG, JPEG and WebP"),
       ("huge.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (30 * 1024 * 1024), 413, "larger than 25 MB")]  # fmt: skip


@pytest.mark.parametrize(("filename", "data", "status", "text"), BAD,
                         ids=["text-named-png", "20000x20000-png", "truncated-jpeg", "svg", "30MB"])  # fmt: skip
def test_bad_uploads_through_the_page_leave_nothing(sign_in, team, mara, db, filename, data, status, text):
    project, people = team
    look = service.create_look(db, actor=people["owner"], character=mara, name="Storm gear")
    db.commit()
    b = sign_in(people["artist"])
    before = _files()
    for url in (f"/characters/{mara.id}/references", f"/looks/{look.id}/references"):
        r = b.post(url, files={"file": (filename, data, "image/png")})
        assert r.status_code == status and text in r.text, r.text[:300]
        r = b.post(url, files={"file": (filename, data, "image/png")}, headers=hx())
        assert r.status_code == status and text in r.text and r.headers["HX-Retarget"] == "#flash"
    assert _files() == before and _assets(db, project) == 0


def test_a_bad_file_among_good_ones_rolls_back_the_good_ones(sign_in, team, mara, db):
    project, people = team
    b = sign_in(people["artist"])
    before = _files()
    r = b.post(f"/characters/{mara.id}/references", headers=hx(),
               files=[("file", ("good.png", png_bytes(90, 90, (1, 2, 3)), "image/png")),
                      ("file", ("evil.png", TEXT_AS_PNG, "image/png"))])  # fmt: skip
    assert r.status_code == 415 and "evil.png: only PNG, JPEG and WebP" in r.text
    assert _files() == before  # the good picture's files were removed with the rollback
    assert _assets(db, project) == 0
    assert db.scalar(select(func.count()).select_from(ReferenceImage)) == 0


def test_looks_in_place(sign_in, team, mara, db):
    _project, people = team
    b = sign_in(people["artist"])
    r = b.post(f"/characters/{mara.id}/looks", data={"name": "Storm gear", "prompt_fragment": "oilskin"}, headers=hx())
    assert r.status_code == 200 and 'id="looks"' in r.text and "Storm gear" in r.text and "<html" not in r.text
    look = db.scalar(select(Look).where(Look.character_id == mara.id))
    r = b.post(f"/characters/{mara.id}/looks", data={"name": "storm GEAR"}, headers=hx())
    assert r.status_code == 409 and r.headers["HX-Retarget"] == "#flash"
    r = b.post(f"/looks/{look.id}", data={"name": "Storm gear", "prompt_fragment": "oilskin, soaked"}, headers=hx())
    assert r.status_code == 200 and "oilskin, soaked" in r.text
    r = b.post(f"/looks/{look.id}/references", files={"file": ("s.png", png_bytes(), "image/png")}, headers=hx())
    assert r.status_code == 200 and f'id="refs-look-{look.id}"' in r.text and f'id="status-look-{look.id}"' in r.text
    assert b.post(f"/looks/{look.id}/lock").status_code == 403  # artists do not lock
    d = sign_in(people["director"])
    r = d.post(f"/looks/{look.id}/lock")
    assert r.status_code == 303 and r.headers["location"].endswith(f"#look-{look.id}")
    assert "Storm gear v1" in d.get(f"/characters/{mara.id}").text
    r = b.post(f"/looks/{look.id}", data={"name": "Storm gear", "prompt_fragment": "oilskin, torn"}, headers=hx())
    assert "v2 · draft" in r.text
    r = b.post(f"/looks/{look.id}/delete", headers=hx())
    assert r.status_code == 200 and f"look-{look.id}" not in r.text and "No looks yet" in r.text


def test_shots_on_older_versions_are_listed_and_moved_on(sign_in, team, mara, db):
    _project, people = team
    look = service.create_look(db, actor=people["owner"], character=mara, name="Storm gear")
    service.lock_character(db, actor=people["owner"], character=mara)
    service.lock_look(db, actor=people["owner"], look=look)
    shot = _shot(db, _project, mara, "12A", version=1, look=look, look_version=1)
    service.update_character(db, actor=people["owner"], character=mara, changes={"description": "Later."})
    service.lock_character(db, actor=people["owner"], character=mara)
    service.update_look(db, actor=people["owner"], look=look, changes={"description": "Wet."})
    service.lock_look(db, actor=people["owner"], look=look)
    db.commit()
    b = sign_in(people["artist"])
    page = b.get(f"/characters/{mara.id}").text
    shots = page.split('id="shots-title"', 1)[1].split("</section>", 1)[0]
    assert f'href="/shots/{shot.id}">12A<' in shots and "older version" in shots
    assert "Move these shots to v2" in shots and "Move these shots to Storm gear v2" in shots
    r = b.post(f"/characters/{mara.id}/advance-shots")
    assert r.status_code == 303
    assert "Moved 1 shot to v2" in b.get(r.headers["location"]).text
    r = b.post(f"/characters/{mara.id}/advance-shots", data={"look_id": str(look.id)})
    assert "Moved 1 shot to Storm gear v2" in b.get(r.headers["location"]).text
    sc = db.scalar(select(ShotCharacter).where(ShotCharacter.shot_id == shot.id))
    db.refresh(sc)
    assert (sc.character_version, sc.look_version) == (2, 2)
    assert "older version" not in b.get(f"/characters/{mara.id}").text.split('id="shots-title"', 1)[1].split("</section>")[0]
    assert b.post(f"/characters/{mara.id}/advance-shots", data={"look_id": "999999"}).status_code == 422
    viewer = sign_in(people["viewer"]).get(f"/characters/{mara.id}").text
    assert "12A" in viewer and "advance-shots" not in viewer


def test_lora_from_the_page(sign_in, team, mara, db, lora_dir):
    _project, people = team
    b = sign_in(people["artist"])
    r = b.post(f"/characters/{mara.id}/lora", files={"file": ("mara.safetensors", safetensors_bytes())})
    assert r.status_code == 303
    page = b.get(f"/characters/{mara.id}").text
    assert "mara.safetensors" in page and "LoRA uploaded" in page
    r = b.post(f"/characters/{mara.id}/lora", files={"file": ("x.safetensors", b"nope")})
    assert r.status_code == 422 and "safetensors" in r.text
    r = b.post(f"/characters/{mara.id}/lora/settings", data={"lora_path": "../secret.safetensors", "lora_weight": "1"})
    assert r.status_code == 422 and "“..”" in r.text
    r = b.post(f"/characters/{mara.id}/lora/settings", data={"lora_path": "loras/mara.safetensors", "lora_weight": "0.7"})
    assert r.status_code == 303
    db.expire_all()
    c = db.get(Character, mara.id)
    assert (c.lora_path, c.lora_weight, c.lora_asset_id) == ("loras/mara.safetensors", 0.7, None)
    assert b.post(f"/characters/{mara.id}/lora/remove").status_code == 303
    db.expire_all()
    assert db.get(Character, mara.id).lora_path is None


def test_delete_from_the_page(sign_in, team, mara, db):
    project, people = team
    ines = service.create_character(db, actor=people["owner"], project=project, name="Ines")
    _shot(db, project, mara, "3A")
    b = sign_in(people["artist"])
    r = b.post(f"/characters/{mara.id}/delete")
    assert r.status_code == 409 and "3A" in r.text and "take the character out of those shots" in r.text
    r = b.post(f"/characters/{ines.id}/delete")
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{project.id}/characters"
    assert "Ines" not in re.sub(r"<div id=\"flash\".*?</div>", "", b.get(r.headers["location"]).text, flags=re.S)


def test_pages_are_404_for_outsiders(sign_in, make_user, mara, team):
    project, _people = team
    b = sign_in(make_user())
    assert b.get(f"/projects/{project.id}/characters").status_code == 404
    assert b.get(f"/characters/{mara.id}").status_code == 404
    assert b.post(f"/characters/{mara.id}", data={"name": "x"}).status_code == 404


# ---- forms that keep what was typed ---------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"HX-Request": "true"}], ids=["plain", "htmx"])
@pytest.mark.parametrize("name", ["", "  \t "])
def test_a_character_without_a_name_is_not_created_and_the_form_keeps_the_rest(sign_in, team, db, headers, name):
    from tests.forms import message_for, shown_form

    project, people = team
    count = db.scalar(select(func.count()).select_from(Character).where(Character.project_id == project.id))
    url = f"/projects/{project.id}/characters"
    r = sign_in(people["artist"]).post(url, data={"name": name, "description": "Keeps the light.",
                                                  "prompt_fragment": "silver braid"}, headers=dict(headers))  # fmt: skip
    assert r.status_code == 422 and "Field required" not in r.text
    assert message_for(r.text, url, "name") == "The name cannot be empty."
    form, _ = shown_form(r.text, url)
    assert (form.values["description"], form.values["prompt_fragment"]) == ("Keeps the light.", "silver braid")
    assert db.scalar(select(func.count()).select_from(Character).where(Character.project_id == project.id)) == count


def test_a_taken_name_is_said_next_to_the_field(sign_in, team, mara):
    from tests.forms import message_for, shown_form

    project, people = team
    url = f"/projects/{project.id}/characters"
    r = sign_in(people["artist"]).post(url, data={"name": "mara", "description": "A twin."})
    assert r.status_code == 409
    assert message_for(r.text, url, "name") == "There is already a character called “Mara” in this project."
    assert shown_form(r.text, url)[0].values == {"csrf_token": shown_form(r.text, url)[0].values["csrf_token"],
                                                 "name": "mara", "description": "A twin.", "prompt_fragment": ""}  # fmt: skip


def test_saving_a_character_with_a_blank_name_keeps_the_typing_and_the_character(sign_in, team, mara, db):
    from tests.forms import message_for, shown_form

    _project, people = team
    url = f"/characters/{mara.id}"
    r = sign_in(people["artist"]).post(url, data={"name": " ", "description": "Rewritten.", "seed": "77"})
    assert r.status_code == 422
    assert message_for(r.text, url, "name") == "The name cannot be empty."
    form, _ = shown_form(r.text, url)
    assert (form.values["description"], form.values["seed"]) == ("Rewritten.", "77")
    db.expire_all()
    assert (db.get(Character, mara.id).name, db.get(Character, mara.id).description) == ("Mara", "The keeper.")


def test_character_forms_answer_a_stranger_with_404(sign_in, make_user, team, mara, db):
    project, _people = team
    stranger = sign_in(make_user())
    assert stranger.post(f"/projects/{project.id}/characters", data={"name": ""}).status_code == 404
    assert stranger.post(f"/characters/{mara.id}", data={"name": ""}).status_code == 404
    assert db.scalar(select(func.count()).select_from(Character).where(Character.project_id == project.id)) == 1
