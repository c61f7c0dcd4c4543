"""Generation service on PostgreSQL: the render spec from locked snapshots, validation, budget, queue, cancel, retry."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.activity.models import ActivityEvent
from app.characters import versions
from app.errors import Conflict, Invalid
from app.generation import service
from app.generation.models import GenerationJob, Take
from app.storyboard import service as storyboard
from tests.storyboard import factories as f


@pytest.fixture
def owner(make_user):
    return make_user(name="Director")


@pytest.fixture
def project(make_project, owner):
    return make_project(owner, name="Lighthouse", gpu_budget_s=3600)


@pytest.fixture
def scene(db, owner, project):
    return storyboard.create_scene(db, actor=owner, project=project, heading="EXT. LIGHTHOUSE - NIGHT")


def _shot(db, owner, scene, **values):
    values = {"action": "Waves hit the rocks.", "width": 64, "height": 64, "fps": 24, "duration_s": 0.7, **values}
    return storyboard.create_shot(db, actor=owner, scene=scene, values=values)


def _enqueue(db, owner, shot, **kw):
    job = service.enqueue(db, actor=owner, shot=shot, **{"takes": 1, "model": "animatic", **kw})
    db.info.pop("after_commit", None)  # no broker round trip in these tests
    return job


def test_spec_uses_locked_snapshots_not_the_drafts(db, owner, project, scene):
    mara = f.character(db, project, "Mara", "grey hair, oilskin coat", negative="cartoon")
    ref = f.reference(db, project, character=mara)
    mara.lora_path = "/models/lora/mara.safetensors"
    mara.lora_weight = 0.7
    storm = f.look(db, mara, "Storm gear", "yellow sou'wester")
    versions.lock(db, subject=mara, actor=owner)
    versions.lock(db, subject=storm, actor=owner)
    shot = _shot(db, owner, scene, character_ids=[mara.id], looks={mara.id: storm.id}, seed=41,
                 camera={"move": "dolly_in", "framing": "CU"}, lighting={"time_of_day": "night"})
    versions.start_new_version(mara)  # draft v2, not what the shot pins
    mara.prompt_fragment = "white hair"
    mara.lora_path = None
    db.flush()

    spec, note = service.build_spec(db, shot=shot, model_id="animatic", takes=3)
    assert "grey hair" in spec.prompt and "white hair" not in spec.prompt
    assert "yellow sou'wester" in spec.prompt and "cartoon" in spec.negative_prompt
    assert "dollies in" in spec.prompt
    [member] = spec.cast
    assert (member.name, member.look, member.character_version, member.look_version) == ("Mara", "Storm gear", 1, 1)
    assert member.reference_keys == [ref.asset.key]
    assert member.lora == {"path": "/models/lora/mara.safetensors", "weight": 0.7}
    assert spec.seeds == [41, 42, 43]  # the shot's seed, then +1 per take
    assert (spec.width, spec.height, spec.frames, spec.fps) == (64, 64, 17, 24.0)  # round(0.7 * 24) = 17
    assert spec.camera["move"] == "dolly_in" and spec.lighting["time_of_day"] == "night"
    assert (spec.shot_code, spec.scene_heading, spec.action) == (shot.code, scene.heading, "Waves hit the rocks.")
    assert spec.steps == 1 and note == ""


def test_an_unlocked_character_or_look_blocks_generation(db, owner, project, scene):
    mara = f.character(db, project, "Mara", "grey hair")
    shot = _shot(db, owner, scene, character_ids=[mara.id])
    with pytest.raises(Conflict, match=r"lock Mara first \(shot uses draft v1\)"):
        service.build_spec(db, shot=shot, model_id="animatic", takes=1)
    with pytest.raises(Conflict, match="lock Mara first"):
        _enqueue(db, owner, shot)
    assert db.scalar(select(GenerationJob).where(GenerationJob.shot_id == shot.id)) is None
    versions.lock(db, subject=mara, actor=owner)
    storm = f.look(db, mara, "Storm gear", "sou'wester")
    shot2 = _shot(db, owner, scene, character_ids=[mara.id], looks={mara.id: storm.id})
    with pytest.raises(Conflict, match="lock Mara's look Storm gear first"):
        service.build_spec(db, shot=shot2, model_id="animatic", takes=1)


def test_size_and_frames_snap_to_the_model_and_say_so(db, owner, scene):
    shot = _shot(db, owner, scene, width=100, height=70, duration_s=1.0)  # 24 frames
    spec, note = service.build_spec(db, shot=shot, model_id="ltx", takes=2, seed=7)
    assert (spec.width, spec.height, spec.frames) == (96, 64, 25)  # LTX: multiples of 32, 8k+1 frames
    assert note == ("LTX-Video renders sizes in multiples of 32: the take is 96x64, letterboxed to your 100x70 frame in "
                    "the cut; LTX-Video renders 8k+1 frames: 25 frames (1.04 s) instead of 24")
    assert spec.seeds == [7, 8] and spec.steps == 40 and spec.guidance == 3.0
    job = _enqueue(db, owner, shot, model="ltx", takes=2, seed=7)
    assert job.snap_note == note and job.spec["frames"] == 25 and job.seeds == [7, 8]


def test_seeds_given_from_the_shot_or_random(db, owner, scene):
    shot = _shot(db, owner, scene)
    spec, _ = service.build_spec(db, shot=shot, model_id="animatic", takes=3)
    s = spec.seeds[0]
    assert spec.seeds == [s, (s + 1) % 2**32, (s + 2) % 2**32]
    spec, _ = service.build_spec(db, shot=shot, model_id="animatic", takes=2, seed=2**32 - 1)
    assert spec.seeds == [2**32 - 1, 0]
    spec, _ = service.build_spec(db, shot=shot, model_id="animatic", takes=2, seeds=[5, 99])
    assert spec.seeds == [5, 99]


@pytest.mark.parametrize(("kw", "field"), [
    ({"takes": 0}, "takes"), ({"takes": 17}, "takes"), ({"model": "sora"}, "model"),
    ({"priority": "asap"}, "priority"), ({"seed": -1}, "seed"),
])  # fmt: skip
def test_bad_parameters_are_refused_and_nothing_is_written(db, owner, scene, kw, field):
    shot = _shot(db, owner, scene)
    with pytest.raises(Invalid) as err:
        _enqueue(db, owner, shot, **kw)
    assert err.value.field == field
    assert db.scalar(select(GenerationJob).where(GenerationJob.shot_id == shot.id)) is None
    assert shot.status == "draft"


def test_a_shot_too_long_for_the_model_is_refused(db, owner, scene, monkeypatch):
    monkeypatch.setenv("SLATE_JOB_MAX_DURATION_S", "60")  # past the work limit's 20 s (tests/generation/test_limits.py)
    shot = _shot(db, owner, scene, duration_s=60)  # 1440 frames; LTX renders at most 257
    with pytest.raises(Invalid, match="1440 frames.*at most 257") as err:
        _enqueue(db, owner, shot, model="ltx")
    assert err.value.field == "duration_s"
    assert _enqueue(db, owner, shot, model="animatic").spec["frames"] == 1440  # the animatic goes to 2400


def test_enqueue_writes_the_job_marks_the_shot_and_records_it(db, owner, project, scene):
    shot = _shot(db, owner, scene)
    job = service.enqueue(db, actor=owner, shot=shot, takes=2, model="animatic", seed=3, priority="rush")
    [send] = db.info.pop("after_commit")[-1:]  # the Celery message goes after the commit, not before
    assert callable(send)
    assert (job.status, job.takes, job.seeds, job.priority, job.model) == ("queued", 2, [3, 4], "rush", "animatic")
    assert job.task_id and job.spec_hash == service.RenderSpec.from_dict(job.spec).hash() and job.estimate_s > 0
    assert shot.status == "generating"
    event = db.scalar(select(ActivityEvent).where(ActivityEvent.verb == "generation.queued"))
    assert event.summary.startswith(f"queued 2 takes of {shot.code}")


def test_budget_refuses_with_the_estimate_and_cpu_engines_are_free(db, owner, project, scene):
    shot = _shot(db, owner, scene, width=768, height=512, duration_s=4)  # 97 frames on LTX
    project.gpu_budget_s, project.gpu_used_s = 100, 40.0
    db.flush()
    spec, _ = service.build_spec(db, shot=shot, model_id="ltx", takes=4)
    estimate = service.estimate_seconds(db, spec=spec)
    assert estimate > 60
    with pytest.raises(Conflict) as err:
        _enqueue(db, owner, shot, model="ltx", takes=4)
    assert err.value.detail.startswith(f"needs ~{int(estimate) + 1} s, 60 s left of the project's budget")
    assert _enqueue(db, owner, shot, model="animatic", takes=4).status == "queued"  # the animatic spends no GPU


def test_queued_jobs_hold_their_estimate_against_the_budget(db, owner, project, scene):
    shot = _shot(db, owner, scene, width=256, height=256, duration_s=2)
    spec, _ = service.build_spec(db, shot=shot, model_id="ltx", takes=1)
    estimate = service.estimate_seconds(db, spec=spec)
    project.gpu_budget_s = int(estimate * 1.5)
    db.flush()
    _enqueue(db, owner, shot, model="ltx")
    with pytest.raises(Conflict, match="held by queued jobs"):
        _enqueue(db, owner, shot, model="ltx")


def test_estimates_follow_measured_jobs(db, owner, scene):
    shot = _shot(db, owner, scene, width=512, height=512, duration_s=2)
    spec, _ = service.build_spec(db, shot=shot, model_id="ltx", takes=2)
    before = service.estimate_seconds(db, spec=spec)
    for rate in (0.3, 0.5, 0.4):  # 10x slower than the table: a slow worker
        job = _enqueue(db, owner, shot, model="ltx")
        job.status, job.finished_at, job.timings = "succeeded", dt.datetime.now(dt.UTC), {"rate": rate}
    db.flush()
    assert service.measured_rates(db, model_id="ltx")[0] == 0.4  # the median
    after = service.estimate_seconds(db, spec=spec)
    assert after > before * 5


def test_queue_order_positions_and_eta(db, owner, make_user, make_project, project, scene):
    shot = _shot(db, owner, scene)
    stranger = make_project(make_user(), name="Elsewhere")
    s2 = storyboard.create_shot(db, actor=None, scene=storyboard.create_scene(db, actor=None, project=stranger,
                                heading="INT. X"), values={"width": 64, "height": 64, "duration_s": 0.7})  # fmt: skip
    a = _enqueue(db, owner, shot, model="ltx")
    theirs = _enqueue(db, None, s2, model="ltx", priority="rush")  # another project's job shares the queue
    b = _enqueue(db, owner, shot, model="ltx")
    other = _enqueue(db, owner, shot, model="animatic")
    rush = _enqueue(db, owner, shot, model="ltx", priority="rush")
    a.status, a.progress = "running", 0.5
    db.flush()
    entries = service.queue(db, project=project)
    assert [e.job.id for e in entries] == [a.id, rush.id, b.id, other.id]  # running, rush, then by time
    pos = {e.job.id: (e.position, e.starts_in_s) for e in entries}
    assert pos[a.id] == (0, 0.0) and pos[other.id] == (1, 0.0)  # the animatic has a queue of its own
    assert pos[rush.id][0] == 2 and pos[b.id][0] == 3  # the other project's rush job was queued first
    ahead = a.estimate_s * 0.5 + theirs.estimate_s + rush.estimate_s
    assert pos[b.id][1] == pytest.approx(ahead, abs=0.2)
    assert theirs.id not in pos


def test_cancel_a_queued_job_then_retry_it(db, owner, project, scene):
    shot = _shot(db, owner, scene)
    job = _enqueue(db, owner, shot, takes=3, seed=10)
    service.cancel(db, actor=owner, job=job)
    db.info.pop("after_commit", None)
    assert (job.status, job.note) == ("canceled", "canceled before it started")
    assert shot.status == "ready"
    with pytest.raises(Conflict, match="already been canceled"):
        service.cancel(db, actor=owner, job=job)
    # one take was made before the cancel: the retry renders the two missing ones with their seeds
    db.add(Take(project_id=project.id, shot_id=shot.id, job_id=job.id, index=1, number=1, seed=11, model="animatic",
                spec_hash=job.spec_hash, frames=17, fps=24, width=64, height=64, video_key="v", poster_key="p",
                filmstrip_key="f"))  # fmt: skip
    db.flush()
    again = service.retry(db, actor=owner, job=job)
    db.info.pop("after_commit", None)
    assert (again.takes, again.seeds, again.retry_of_id, again.status) == (2, [10, 12], job.id, "queued")
    assert again.spec_hash == job.spec_hash and shot.status == "generating"
    with pytest.raises(Conflict, match="only failed or canceled"):
        service.retry(db, actor=owner, job=again)


def test_cancel_a_running_job_asks_the_worker(db, owner, scene):
    shot = _shot(db, owner, scene)
    job = _enqueue(db, owner, shot)
    job.status = "running"
    db.flush()
    service.cancel(db, actor=owner, job=job)
    assert (job.status, job.cancel_requested) == ("running", True)
    job.status = "succeeded"
    with pytest.raises(Conflict, match="already succeeded"):
        service.cancel(db, actor=owner, job=job)


def test_continuity_starts_from_the_previous_shots_approved_take(db, owner, project, scene):
    first = _shot(db, owner, scene)
    second = _shot(db, owner, scene)
    _, note = service.build_spec(db, shot=second, model_id="ltx", takes=1, continuity=True)
    assert note == f"continuity skipped: shot {first.code} has no approved take yet"
    job = _enqueue(db, owner, first)
    db.add(Take(project_id=project.id, shot_id=first.id, job_id=job.id, index=0, number=1, seed=1, model="animatic",
                spec_hash="x", frames=17, fps=24, width=64, height=64, video_key="v", poster_key="p",
                filmstrip_key="f", last_frame_key="ab/cd/last.png", review_status="approved"))  # fmt: skip
    db.flush()
    spec, note = service.build_spec(db, shot=second, model_id="ltx", takes=1, continuity=True)
    assert spec.first_frame_key == "ab/cd/last.png" and note == f"starts from the last frame of {first.code} take 1"
    spec, note = service.build_spec(db, shot=second, model_id="animatic", takes=1, continuity=True)
    assert spec.first_frame_key is None and "cannot start from an image" in note
    _, note = service.build_spec(db, shot=first, model_id="ltx", takes=1, continuity=True)
    assert note == "continuity skipped: this is the first shot"
