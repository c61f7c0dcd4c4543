"""Jobs in a film team's words, on PostgreSQL (no worker: the tests set a job's state as a worker would).

Progress: queued (place and ETA) -> loading the model -> rendering take k of n, step x of y -> encoding take k ->
ready. Failures: one sentence with what to try, the technical detail behind a "details" toggle, never an exception's
text in the takes panel, the job's JSON `error` or the activity feed. Snapping notes name the model's rule. The queue
page cancels and changes priority for those allowed; others see it without buttons.
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict

import pytest

from app.generation import failures, phases, service
from app.generation.models import GenerationJob
from app.storyboard import service as storyboard
from app.system import service as system
from workers.engines.registry import get_model

SHAPE = "shape '[1, 47, 1, -1]' is invalid for input of size 128"


def _shot(db, owner, project, **values):
    scene = storyboard.create_scene(db, actor=owner, project=project, heading="EXT. PIER - DAY")
    shot = storyboard.create_shot(db, actor=owner, scene=scene, values={
        "action": "Gulls.", "width": 64, "height": 64, "fps": 24, "duration_s": 0.7, **values})  # fmt: skip
    db.commit()
    return shot


def _job(db, owner, shot, **kw) -> GenerationJob:
    job = service.enqueue(db, actor=owner, shot=shot, **{"takes": 4, "model": "animatic", **kw})
    db.info.pop("after_commit", None)  # no broker round trip: the job stays queued
    db.commit()
    return job


def _running(db, job, *, phase, step=0, total=0, takes_done=0):
    job.status, job.step, job.total_steps, job.takes_done = "running", step, total, takes_done
    job.timings = {"phase": phase}
    db.commit()


def _visible(page: str) -> str:
    """The text of a page outside its <details> toggles, tags removed."""
    page = re.sub(r"<details.*?</details>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# ---- progress in words ----------------------------------------------------------------------------


def test_the_job_row_says_where_the_job_is_in_words(db, sign_in, make_user, make_project):
    owner = make_user()
    project = make_project(owner)
    shot = _shot(db, owner, project)
    first, job = _job(db, owner, shot), _job(db, owner, shot)
    b = sign_in(owner)

    def row() -> str:
        page = b.get(f"/shots/{shot.id}/jobs", headers={"HX-Request": "true"}).text
        return " ".join(_visible(page.split(f'id="job-{job.id}"')[1].split("</li>")[0]).split())

    assert "Queued: 2nd in line for Animatic" in row() and "ready in about" in row()
    _running(db, first, phase={"name": "rendering", "take": 1, "last": 1, "unit": "frame"})  # the other one runs
    assert "Queued: next for Animatic" in row()
    _running(db, job, phase={"name": "loading"})
    assert "Loading the model: Animatic" in row()
    _running(db, job, phase={"name": "rendering", "take": 2, "last": 2, "unit": "step", "encoding": 1},
             step=12, total=40, takes_done=1)  # fmt: skip
    assert "Rendering take 2 of 4, step 12 of 40 · encoding take 1 · 1 of 4 stored" in row()
    _running(db, job, phase={"name": "rendering", "take": 3, "last": 3, "unit": "step"}, step=40, total=40)
    assert "Rendering take 3 of 4: decoding the frames" in row()
    _running(db, job, phase={"name": "encoding", "take": 4}, step=40, total=40, takes_done=3)
    assert "Encoding take 4 of 4" in row() and "step" not in row()
    state = b.get(f"/api/v1/jobs/{job.id}").json()
    assert (state["phase"], state["phase_take"], state["progress_text"]) == ("encoding", 4, "Encoding take 4 of 4")
    job.status, job.takes_done = "succeeded", 4
    db.commit()
    assert "Ready: 4 takes" in row()


def test_snapping_notes_name_the_models_rule_in_film_words(db, make_user, make_project):
    owner = make_user()
    shot = _shot(db, owner, make_project(owner), width=100, height=70, duration_s=1.0)
    ltx = get_model("ltx")
    _, note = service.build_spec(db, shot=shot, model_id="ltx", takes=1)
    m = ltx.size_multiple
    w, h = (100 + m // 2) // m * m, (70 + m // 2) // m * m
    assert f"{ltx.label} renders sizes in multiples of {m}: the take is {w}x{h}" in note
    assert f"{ltx.label} renders 8k+1 frames: 25 frames (1.04 s) instead of 24" in note
    assert "->" not in note


# ---- failures -------------------------------------------------------------------------------------


def test_a_model_error_is_one_sentence_with_its_detail_behind_a_toggle(db, sign_in, make_user, make_project):
    owner = make_user()
    project = make_project(owner)
    shot = _shot(db, owner, project)
    job = _job(db, owner, shot, model="ltx")
    _running(db, job, phase={"name": "rendering", "take": 2, "last": 2, "unit": "step"}, step=3, total=8)
    failure = failures.from_exception(RuntimeError(SHAPE), job=job)
    service.finish(db, job_id=job.id, task_id=job.task_id, status="failed", error=failure.message,
                   detail=failure.detail)  # fmt: skip
    db.commit()
    label = get_model("ltx").label
    assert failure.message == (f"{label} failed while rendering take 2 of 4 at 64x64, 17 frames: try another frame "
                               "size, fewer frames or another model")  # fmt: skip
    b = sign_in(owner)
    panel = b.get(f"/shots/{shot.id}/takes", headers={"HX-Request": "true"}).text
    assert failure.message in html.unescape(panel)
    assert "RuntimeError" not in _visible(panel) and "shape '[" not in _visible(panel)
    details = re.search(r"<details class=\"job-detail\">(.*?)</details>", panel, flags=re.S)
    assert details and "details" in details.group(1) and f"RuntimeError: {SHAPE}" in html.unescape(details.group(1))
    assert f"job {job.id}" in details.group(1)
    state = b.get(f"/api/v1/jobs/{job.id}").json()
    assert state["error"] == failure.message and state["error_detail"] == f"RuntimeError: {SHAPE}"
    feed = b.get(f"/projects/{project.id}/activity").text
    assert f"generating {shot.code} failed: {label} failed while rendering take 2 of 4" in html.unescape(feed)
    assert "RuntimeError" not in feed and "shape" not in feed


def test_an_error_written_before_the_rule_is_told_as_a_sentence(db, sign_in, make_user, make_project):
    """A job row whose error is an exception's text (an older release): the page shows a sentence, the text only
    behind the toggle."""
    owner = make_user()
    shot = _shot(db, owner, make_project(owner))
    job = _job(db, owner, shot)
    job.status, job.error = "failed", f"RuntimeError: {SHAPE}"
    db.commit()
    panel = sign_in(owner).get(f"/shots/{shot.id}/takes", headers={"HX-Request": "true"}).text
    label = get_model("animatic").label
    assert f"{label} failed while rendering this shot: try another frame size" in html.unescape(panel)
    assert "RuntimeError" not in _visible(panel) and "RuntimeError" in panel


@pytest.mark.parametrize(("exc", "words"), [
    (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "LTX-Video ran out of GPU memory at 64x64: try"),
    (MemoryError(), "The worker ran out of memory rendering this shot"),
    (OSError(28, "No space left on device"), "The worker's disk is full, so the job stopped while rendering take 1"),
    (ValueError("bad tensor"), "failed while rendering take 1 of 4 at 64x64, 17 frames: try another frame size"),
])  # fmt: skip
def test_every_failure_reads_as_one_sentence_without_the_exception(db, make_user, make_project, exc, words):
    owner = make_user()
    job = _job(db, owner, _shot(db, owner, make_project(owner)), model="ltx")
    _running(db, job, phase={"name": "rendering", "take": 1, "last": 1, "unit": "step"})
    failure = failures.from_exception(exc, job=job)
    assert words.replace("LTX-Video", get_model("ltx").label) in failure.message
    assert not failures.is_raw(failure.message) and type(exc).__name__ not in failure.message
    assert failure.detail.startswith(type(exc).__name__)


def test_a_worker_lost_too_often_says_so_in_words(db, make_user, make_project):
    owner = make_user()
    job = _job(db, owner, _shot(db, owner, make_project(owner)))
    service.claim(db, job_id=job.id, task_id=job.task_id, worker="gpu-1@a", stale_s=20)
    _running(db, job, phase={"name": "rendering", "take": 3, "last": 3, "unit": "step"})
    job = service.lock_job(db, job.id)
    job.deaths = 2
    assert service.lost_run(db, job=job, max_deaths=3) == "failed"
    assert job.error == ("The worker stopped three times while rendering take 3 of 4, so Slate gave up: the shot may "
                         "need more memory than the worker has; try fewer takes, a shorter shot or a smaller frame")
    assert job.timings["error_detail"] == f"worker lost 3 times running job {job.id} (last: gpu-1@a)"


# ---- the queued note ------------------------------------------------------------------------------


def test_the_queued_note_goes_once_the_job_failed(db, sign_in, make_user, make_project):
    owner = make_user()
    shot = _shot(db, owner, make_project(owner))
    b = sign_in(owner)
    r = b.post(f"/shots/{shot.id}/generate", data={"takes": "2", "model": "animatic"}, headers={"HX-Request": "true"})
    assert r.status_code == 202 and "Queued 2 takes of Animatic" in r.text
    job = db.query(GenerationJob).filter_by(shot_id=shot.id).one()
    assert f'hx-get="/shots/{shot.id}/jobs?queued={job.id}"' in r.text  # the live refresh knows which job it was
    live = b.get(f"/shots/{shot.id}/jobs?queued={job.id}", headers={"HX-Request": "true"}).text
    assert "Queued 2 takes" in live
    service.finish(db, job_id=job.id, task_id=None, status="failed", error="The worker ran out of memory")
    db.commit()
    live = b.get(f"/shots/{shot.id}/jobs?queued={job.id}", headers={"HX-Request": "true"}).text
    assert "Queued 2 takes" not in live and "flash ok" not in live and "The worker ran out of memory" in live
    assert b.get(f"/shots/{shot.id}/jobs?queued=soon", headers={"HX-Request": "true"}).status_code == 422


# ---- the queue page acts --------------------------------------------------------------------------


def test_the_queue_page_cancels_and_rushes_for_those_allowed(db, sign_in, make_user, make_project):
    owner = make_user()
    project = make_project(owner)
    shot = _shot(db, owner, project)
    first, second = _job(db, owner, shot), _job(db, owner, shot)
    b = sign_in(owner)
    page = b.get(f"/projects/{project.id}/queue").text
    assert f'hx-post="/jobs/{second.id}/priority"' in page and f'hx-post="/jobs/{second.id}/cancel"' in page
    old_task = second.task_id
    r = b.post(f"/jobs/{second.id}/priority", data={"priority": "rush"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text
    db.refresh(second)
    assert second.priority == "rush" and second.task_id != old_task  # sent again on the rush lane
    rows = re.findall(r'id="queue-job-(\d+)"', r.text)
    assert rows == [str(second.id), str(first.id)]  # rush first
    assert "Normal priority" in r.text.split(f'id="queue-job-{second.id}"')[1].split("</tr>")[0]
    r = b.post(f"/jobs/{first.id}/cancel", data={"back": "queue"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and f'id="queue-job-{first.id}"' not in r.text and "<html" not in r.text
    db.refresh(first)
    assert first.status == "canceled"
    r = b.post(f"/jobs/{second.id}/priority", data={"priority": "normal"}, headers={"HX-Request": "true"})
    db.refresh(second)
    assert r.status_code == 200 and second.priority == "normal"


def test_queue_actions_refuse_bad_input_and_people_without_the_right(db, sign_in, make_user, make_project,
                                                                      add_member):  # fmt: skip
    owner, viewer, artist, stranger = make_user(), make_user(), make_user(), make_user()
    project = make_project(owner)
    add_member(project, viewer, "viewer")
    add_member(project, artist, "artist")
    shot = _shot(db, owner, project)
    job = _job(db, owner, shot)
    b = sign_in(owner)
    for data in ({"priority": "fast"}, {}, {"priority": ""}):
        r = b.post(f"/jobs/{job.id}/priority", data=data, headers={"HX-Request": "true"})
        assert r.status_code == 422, (data, r.text[:200])
    assert b.post(f"/jobs/{job.id}/cancel", data={"back": "nowhere"}).status_code == 422
    assert b.request("PATCH", f"/api/v1/jobs/{job.id}", json={"priority": "fast"}).status_code == 422
    assert b.request("PATCH", f"/api/v1/jobs/{job.id}", json={"priority": "rush", "takes": 9}).status_code == 422
    db.refresh(job)
    assert (job.status, job.priority) == ("queued", "normal")  # nothing changed

    page = sign_in(viewer).get(f"/projects/{project.id}/queue").text
    assert shot.code in page and "/priority" not in page and "/cancel" not in page  # watches, without buttons
    v = sign_in(viewer)
    assert v.post(f"/jobs/{job.id}/priority", data={"priority": "rush"}).status_code == 403
    assert v.post(f"/jobs/{job.id}/cancel", data={"back": "queue"}).status_code == 403
    assert v.request("PATCH", f"/api/v1/jobs/{job.id}", json={"priority": "rush"}).status_code == 403
    s = sign_in(stranger)
    assert s.post(f"/jobs/{job.id}/priority", data={"priority": "rush"}).status_code == 404
    assert s.request("PATCH", f"/api/v1/jobs/{job.id}", json={"priority": "rush"}).status_code == 404
    assert s.get(f"/projects/{project.id}/queue").status_code == 404

    system.set_quotas(db, **{**asdict(system.quotas(db)), "rush": "owners"})
    db.commit()
    a = sign_in(artist)
    page = a.get(f"/projects/{project.id}/queue").text
    assert f'hx-post="/jobs/{job.id}/cancel"' in page and ">Rush<" not in page  # may cancel, may not rush
    r = a.post(f"/jobs/{job.id}/priority", data={"priority": "rush"}, headers={"HX-Request": "true"})
    assert r.status_code == 403 and "rush priority is for" in r.text
    db.refresh(job)
    assert job.priority == "normal"

    job.status = "running"
    db.commit()
    r = b.request("PATCH", f"/api/v1/jobs/{job.id}", json={"priority": "rush"})
    assert r.status_code == 409 and "only a queued job changes priority" in r.json()["detail"]


def test_the_priority_api_moves_a_queued_job(db, client, api_token, make_user, make_project):
    owner = make_user()
    project = make_project(owner)
    job = _job(db, owner, _shot(db, owner, project))
    r = client.patch(f"/api/v1/jobs/{job.id}", json={"priority": "rush"}, headers=api_token(owner))
    assert r.status_code == 200 and r.json()["priority"] == "rush" and r.json()["phase"] == "queued"
    assert r.json()["progress_text"].startswith("Queued: next for Animatic")
    items = client.get(f"/api/v1/projects/{project.id}/queue", headers=api_token(owner)).json()
    assert items[0]["priority"] == "rush" and items[0]["progress_text"].startswith("Queued: next")


def test_describe_without_a_place_still_speaks(db, make_user, make_project):
    owner = make_user()
    job = _job(db, owner, _shot(db, owner, make_project(owner)))
    assert phases.describe(job).words == f"Queued: waiting for a worker for {get_model('animatic').label}"
