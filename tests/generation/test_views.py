"""Generation pages: the takes panel of a shot and the render queue (no worker: jobs stay queued)."""

from __future__ import annotations

from app.generation.models import GenerationJob
from app.storyboard import service as storyboard


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
