"""Generation pages: the takes panel of a shot and the render queue (no worker: jobs stay queued)."""

from __future__ import annotations

import re

import pytest

from app.generation.models import GenerationJob, Take
from app.storyboard import service as storyboard
from workers.engines.registry import get_model, reload_registry
from workers.engines.tiny import MARKER


def _shot(db, owner, project):
    scene = storyboard.create_scene(db, actor=owner, project=project, heading="EXT. PIER - DAY")
    shot = storyboard.create_shot(db, actor=owner, scene=scene, values={
        "action": "Gulls.", "width": 64, "height": 64, "fps": 24, "duration_s": 0.7})  # fmt: skip
    db.commit()
    return shot


def test_generate_from_the_shot_page_and_follow_it_in_the_queue(db, sign_in, make_user, make_project):
    owner = make_user()
    project = make_project(owner)
    shot = _shot(db, owner, project)
    b = sign_in(owner)
    page = b.get(f"/shots/{shot.id}")
    assert f'hx-get="/shots/{shot.id}/takes"' in page.text
    panel = b.get(f"/shots/{shot.id}/takes", headers={"HX-Request": "true"})
    assert "Generate" in panel.text and "No takes yet" in panel.text
    assert f'sse-connect="/projects/{project.id}/events"' in panel.text
    r = b.post(f"/shots/{shot.id}/generate", data={"takes": "3", "model": "animatic", "seed": "7", "priority": "rush"},
               headers={"HX-Request": "true"})  # fmt: skip
    assert r.status_code == 202 and "Queued 3 takes" in r.text and "Cancel" in r.text
    job = db.query(GenerationJob).filter_by(shot_id=shot.id).one()
    assert (job.takes, job.seeds, job.priority) == (3, [7, 8, 9], "rush")
    queue = b.get(f"/projects/{project.id}/queue")
    assert queue.status_code == 200 and shot.code in queue.text and "rush" in queue.text
    fragment = b.get(f"/projects/{project.id}/queue?fragment=1")
    assert "<html" not in fragment.text and shot.code in fragment.text
    r = b.post(f"/jobs/{job.id}/cancel", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "canceled" in r.text and "Retry" in r.text


def test_bad_generate_input_is_shown_and_nothing_is_queued(db, sign_in, make_user, make_project):
    owner = make_user()
    project = make_project(owner)
    shot = _shot(db, owner, project)
    b = sign_in(owner)
    for data, text in (({"takes": "0"}, "takes"), ({"takes": "2", "model": "sora"}, "sora"),
                       ({"takes": "2", "seed": "abc"}, "seed")):  # fmt: skip
        r = b.post(f"/shots/{shot.id}/generate", data=data, headers={"HX-Request": "true"})
        assert r.status_code == 422 and text in r.text, (data, r.text[:200])
    assert db.query(GenerationJob).filter_by(shot_id=shot.id).count() == 0


def test_viewers_watch_but_do_not_generate(db, sign_in, make_user, make_project, add_member):
    owner, viewer = make_user(), make_user()
    project = make_project(owner)
    shot = _shot(db, owner, project)
    add_member(project, viewer, "viewer")
    v = sign_in(viewer)
    panel = v.get(f"/shots/{shot.id}/takes")
    assert panel.status_code == 200 and "Generate</button>" not in panel.text
    assert v.post(f"/shots/{shot.id}/generate", data={"takes": "1"}).status_code == 403


# ---- one model control; what was chosen stays; test weights labelled -------------------------------------


def _selected(html: str, name: str) -> list[str]:
    """Values of the selected options of the <select name=...> menus in `html`."""
    out = []
    for menu in re.findall(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.DOTALL):
        out += re.findall(r'<option value="([^"]*)"[^>]*\bselected\b', menu)
    return out


def test_the_shot_page_has_one_model_menu_and_it_defaults_to_the_shots_model(db, sign_in, make_user, make_project):
    owner = make_user()
    project = make_project(owner)
    shot = _shot(db, owner, project)
    b = sign_in(owner)
    page = b.get(f"/shots/{shot.id}").text
    assert page.count('name="model"') == 1 and _selected(page, "model") == [project.default_model]
    storyboard.update_shot(db, actor=owner, shot=shot, changes={"model": "wan"})
    db.commit()
    page = b.get(f"/shots/{shot.id}").text
    assert page.count('name="model"') == 1 and _selected(page, "model") == ["wan"]
    assert "the shot's: Wan 2.1</span>" in page
    assert _selected(b.get(f"/shots/{shot.id}/takes").text, "model") == ["wan"]
    # saving the story keeps the shot's model: the editor no longer sends one
    r = b.post(f"/shots/{shot.id}", data={"action": "Gulls wheel.", "duration_s": "0.7", "width": "64", "height": "64", "fps": "24"})
    assert r.status_code in (302, 303), r.text[:300]
    db.refresh(shot)
    assert (shot.action, shot.model) == ("Gulls wheel.", "wan")


def test_the_panel_after_generate_keeps_what_was_chosen(db, sign_in, make_user, make_project):
    owner = make_user()
    project = make_project(owner)
    shot = _shot(db, owner, project)
    b = sign_in(owner)
    r = b.post(f"/shots/{shot.id}/generate", data={"takes": "2", "model": "ltx", "seed": "5", "priority": "rush",
                                                    "continuity": "1"}, headers={"HX-Request": "true"})  # fmt: skip
    assert r.status_code == 202, r.text[:300]
    assert _selected(r.text, "model") == ["ltx"] and _selected(r.text, "priority") == ["rush"]
    assert re.search(r'name="takes"[^>]*value="2"', r.text) and re.search(r'name="seed"[^>]*value="5"', r.text)
    assert re.search(r'name="continuity" value="1" checked', r.text)
    db.refresh(shot)
    assert shot.model is None  # an override for this generate only
    job = db.query(GenerationJob).filter_by(shot_id=shot.id).one()
    assert (job.model, job.takes, job.priority) == ("ltx", 2, "rush")
    # "Make it the shot's model": the next page opens on it
    r = b.post(f"/shots/{shot.id}/generate", data={"takes": "1", "model": "wan", "keep_model": "1"},
               headers={"HX-Request": "true"})  # fmt: skip
    assert r.status_code == 202 and _selected(r.text, "model") == ["wan"]
    db.refresh(shot)
    assert shot.model == "wan"
    assert _selected(b.get(f"/shots/{shot.id}").text, "model") == ["wan"]


def test_a_refused_generate_changes_no_shot_model(db, sign_in, make_user, make_project):
    owner = make_user()
    project = make_project(owner)
    shot = _shot(db, owner, project)
    b = sign_in(owner)
    r = b.post(f"/shots/{shot.id}/generate", data={"takes": "1", "model": "wan", "seed": "x", "keep_model": "1"},
               headers={"HX-Request": "true"})  # fmt: skip
    assert r.status_code == 422 and "seed" in r.text
    db.expire_all()
    assert db.get(type(shot), shot.id).model is None
    assert db.query(GenerationJob).filter_by(shot_id=shot.id).count() == 0


@pytest.fixture
def ltx_folder(tmp_path, monkeypatch):
    """Point the registry's `ltx` at a folder of the test's own; give the registry back afterwards."""
    folder = tmp_path / "ltx"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "LTXConditionPipeline"}')
    monkeypatch.setenv("SLATE_MODEL_LTX_FOLDER", str(folder))
    reload_registry()
    yield folder
    monkeypatch.delenv("SLATE_MODEL_LTX_FOLDER")
    reload_registry()


def _take(db, project, shot, model):
    job = GenerationJob(project_id=project.id, shot_id=shot.id, model=model, spec={}, spec_hash="h", takes=1,
                        seeds=[5], status="succeeded", task_id="t")  # fmt: skip
    db.add(job)
    db.flush()
    db.add(Take(project_id=project.id, shot_id=shot.id, job_id=job.id, index=0, number=1, seed=5, model=model,
                spec_hash="h", frames=17, fps=24, width=64, height=64, video_key="k", poster_key="k",
                filmstrip_key="k", compiled_prompt="Gulls."))  # fmt: skip
    db.commit()


def test_test_weights_are_labelled_in_the_menu_and_on_take_cards(db, sign_in, make_user, make_project, ltx_folder):
    owner = make_user()
    project = make_project(owner)
    shot = _shot(db, owner, project)
    _take(db, project, shot, "ltx")
    b = sign_in(owner)
    # a real folder (no marker): no label
    page = b.get(f"/shots/{shot.id}").text
    assert "test weights" not in page and ">LTX-Video</option>" in page
    # the same folder as `slate models make-tiny` leaves it: labelled in the menu, on the card and in the player
    (ltx_folder / MARKER).write_text('{"kind": "ltx", "seed": 0}\n')
    assert get_model("ltx").test_weights and not get_model("animatic").test_weights
    page = b.get(f"/shots/{shot.id}").text
    assert ">LTX-Video · test weights: noise</option>" in page
    card = page[page.index('id="take-'):]
    assert "test weights: noise</span>" in card
    assert "test weights: noise</span>" in page[page.index('data-player'):page.index('id="take-')]
    assert ">Animatic (storyboard frames, CPU)</option>" in page
    panel = b.get(f"/shots/{shot.id}/takes").text
    assert ">LTX-Video · test weights: noise</option>" in panel and "test weights: noise</span>" in panel
