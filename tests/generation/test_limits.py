"""Work limits and strict generate requests: what a job may ask is refused with the limit's figure, before any row.

On PostgreSQL with no worker (jobs stay queued), then in the embedded mode (`slate up`: SQLite, the
in-process worker): the worker refuses a job past its own limits, and a render that runs out of memory
fails its job with a reason while the pages keep answering and the next job renders. The memory a large
job takes is measured in tests/workers/test_memory.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.errors import Invalid
from app.generation import limits, service
from app.generation.models import GenerationJob
from app.storyboard import service as storyboard
from tests.generation.test_embedded import studio  # noqa: F401 (the embedded studio fixture)


@pytest.fixture
def owner(make_user):
    return make_user(name="Director")


@pytest.fixture
def project(make_project, owner):
    return make_project(owner, name="Long Take")


@pytest.fixture
def scene(db, owner, project):
    return storyboard.create_scene(db, actor=owner, project=project, heading="EXT. DESERT - DAY")


@pytest.fixture
def make_shot(db, owner, scene):
    def _make(width: int, height: int, duration_s: float, fps: float = 24):
        shot = storyboard.create_shot(db, actor=owner, scene=scene, values={
            "action": "The caravan crosses.", "width": width, "height": height, "fps": fps,
            "duration_s": duration_s})  # fmt: skip
        db.commit()
        return shot

    return _make


class _Shot:
    """A shot known by its id only (the embedded studio's shots are JSON)."""

    def __init__(self, id: int) -> None:
        self.id = id


def _jobs(db, shot) -> int:
    return db.scalar(select(func.count()).select_from(GenerationJob).where(GenerationJob.shot_id == shot.id))


def _generate(client, h, shot, **body):
    return client.post(f"/api/v1/shots/{shot.id}/generate", json={"model": "animatic", **body}, headers=h)


def test_the_giant_animatic_job_is_refused_before_anything_is_written(client, db, api_token, owner, make_shot):
    shot = make_shot(3840, 2160, 60)  # 1440 frames at 24 fps
    r = _generate(client, api_token(owner), shot, takes=16)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "a frame may be at most 1920x1920; this shot asks for 3840x2160: lower the frame size"
    assert r.json()["field"] == "width"
    assert _jobs(db, shot) == 0


def test_each_limit_names_its_figure(client, db, api_token, owner, make_shot, monkeypatch):
    h = api_token(owner)
    r = _generate(client, h, make_shot(640, 360, 30), takes=1)  # 720 frames
    assert r.status_code == 422 and r.json()["field"] == "duration_s"
    assert r.json()["detail"] == ("a take may last at most 20 s; this shot asks for 30.00 s (720 frames at 24 fps): "
                                  "shorten it")  # fmt: skip
    r = _generate(client, h, make_shot(1920, 1080, 8), takes=1)  # 192 frames
    assert r.status_code == 422 and r.json()["field"] == "duration_s"
    assert r.json()["detail"] == ("a take may have at most 237 megapixel-frames (1280x720 x 257 frames); this shot "
                                  "asks for 1920x1080 x 192 = 398.1: shorten it or lower the frame size")  # fmt: skip
    # where the frame is allowed, the giant take meets the pixel-frames limit with its own figure
    monkeypatch.setenv("SLATE_JOB_MAX_WIDTH", "3840")
    monkeypatch.setenv("SLATE_JOB_MAX_HEIGHT", "2160")
    monkeypatch.setenv("SLATE_JOB_MAX_DURATION_S", "60")
    giant = make_shot(3840, 2160, 60)
    r = _generate(client, h, giant, takes=16)
    assert r.status_code == 422
    assert r.json()["detail"] == ("a take may have at most 237 megapixel-frames (1280x720 x 257 frames); this shot "
                                  "asks for 3840x2160 x 1440 = 11,944: shorten it or lower the frame size")  # fmt: skip
    assert _jobs(db, giant) == 0


def test_a_job_at_the_limits_is_accepted_and_one_past_them_is_not(client, db, api_token, owner, make_shot,
                                                                  monkeypatch):  # fmt: skip
    h = api_token(owner)
    at_limit = make_shot(1280, 720, round(257 / 24, 3))  # 257 frames: one take at the per-take limit
    r = _generate(client, h, at_limit, takes=16)  # 16 such takes: the per-job limit
    assert r.status_code == 202, r.text
    assert (r.json()["spec"]["width"], r.json()["spec"]["height"], r.json()["spec"]["frames"]) == (1280, 720, 257)
    monkeypatch.setenv("SLATE_JOB_MAX_JOB_MEGAPIXEL_FRAMES", "1000")
    r = _generate(client, h, at_limit, takes=5)
    assert r.status_code == 422 and r.json()["field"] == "takes"
    assert r.json()["detail"] == ("a job may have at most 1,000 megapixel-frames (1,085 frames of 1280x720 in all); "
                                  "this one asks for 5 takes of 1280x720 x 257 = 1,184: render fewer takes, shorten "
                                  "the shot or lower the frame size")  # fmt: skip
    assert _generate(client, h, at_limit, takes=4).status_code == 202
    assert _jobs(db, at_limit) == 2
    monkeypatch.setenv("SLATE_JOB_MAX_TAKES", "3")
    r = _generate(client, h, at_limit, takes=4)
    assert r.status_code == 422 and r.json()["detail"] == "takes must be a whole number from 1 to 3"


def test_the_shot_page_shows_the_limit_and_queues_nothing(db, sign_in, owner, make_shot):
    shot = make_shot(1920, 1080, 8)
    r = sign_in(owner).post(f"/shots/{shot.id}/generate", data={"takes": "4", "model": "animatic"},
                            headers={"HX-Request": "true"})  # fmt: skip
    assert r.status_code == 422 and r.headers["HX-Retarget"] == "#flash"
    assert "a take may have at most 237 megapixel-frames (1280x720 x 257 frames)" in r.text
    assert _jobs(db, shot) == 0


def test_a_retry_meets_the_limits_of_today(client, db, api_token, owner, project, make_shot):
    """A failed job written when the limits were wider (or by hand) is not retried past today's limits."""
    shot = make_shot(64, 64, 1)
    spec = service.build_spec(db, shot=shot, model_id="animatic", takes=2)[0].to_dict()
    spec.update(width=3840, height=2160, frames=1440, duration_s=60.0)
    job = GenerationJob(project_id=project.id, shot_id=shot.id, model="animatic", spec=spec, spec_hash="h", takes=2,
                        seeds=[1, 2], status="failed", task_id="old")  # fmt: skip
    db.add(job)
    db.commit()
    r = client.post(f"/api/v1/jobs/{job.id}/retry", headers=api_token(owner))
    assert r.status_code == 422 and r.json()["detail"].startswith("a frame may be at most 1920x1920; ")
    assert _jobs(db, shot) == 1


def test_limits_hold_on_the_spec_after_the_model_snapped_it(db, make_shot):
    # 1290x720 x 257 frames is 238.7 megapixel-frames; LTX-Video renders it at 1280x704 (231.6): allowed
    shot = make_shot(1290, 720, round(257 / 24, 3))
    spec, note = service.build_spec(db, shot=shot, model_id="ltx", takes=1)
    assert (spec.width, spec.height, spec.frames) == (1280, 704, 257) and (
        "renders at most 1280x1280, in multiples of 32: the take is 1280x704, letterboxed to your 1290x720" in note)
    with pytest.raises(Invalid, match="1290x720 x 257 = 238.7"):
        service.build_spec(db, shot=shot, model_id="animatic", takes=1)  # the animatic keeps 1290x720


def test_the_limits_are_settings(monkeypatch):
    cfg = service.JobSettings(_env_file=None)
    assert (cfg.max_width, cfg.max_height, cfg.max_duration_s, cfg.max_takes) == (1920, 1920, 20.0, 16)
    assert (cfg.max_take_megapixel_frames, cfg.max_job_megapixel_frames) == (237.0, 3790.0)
    assert limits.megapixel_frames(1280, 720, 257) <= cfg.max_take_megapixel_frames
    assert 16 * limits.megapixel_frames(1280, 720, 257) <= cfg.max_job_megapixel_frames
    monkeypatch.setenv("SLATE_JOB_MAX_TAKE_MEGAPIXEL_FRAMES", "0")
    with pytest.raises(ValueError):
        service.JobSettings(_env_file=None)


@pytest.mark.parametrize(("body", "says"), [
    ({"takes": "5"}, "takes: Input should be a valid integer"),
    ({"takes": True}, "takes: Input should be a valid integer"),
    ({"takes": 2.0}, "takes: Input should be a valid integer"),
    ({"takes": 0}, "takes must be a whole number from 1 to 16"),
    ({"model": ""}, "model: Value error, name a model (e.g. \"animatic\"), or leave model out for the shot's default"),
    ({"model": "  "}, "model: Value error, name a model"),
    ({"model": 5}, "model: Input should be a valid string"),
    ({"seed": "7"}, "seed: Input should be a valid integer"),
    ({"seed": True}, "seed: Input should be a valid integer"),
    ({"seed": -1}, "the seed must be between 0 and 4294967295"),
    ({"continuity": "yes"}, "continuity: Input should be a valid boolean"),
    ({"continuity": 1}, "continuity: Input should be a valid boolean"),
    ({"priority": "asap"}, "priority: Input should be 'normal' or 'rush'"),
])  # fmt: skip
def test_generate_requests_are_strict(client, db, api_token, owner, make_shot, body, says):
    shot = make_shot(64, 64, 1)
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"takes": 1, **body}, headers=api_token(owner))
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(says), r.json()["detail"]
    assert _jobs(db, shot) == 0


def test_a_strict_request_of_the_right_types_is_accepted(client, api_token, owner, make_shot):
    shot = make_shot(64, 64, 1)
    r = client.post(f"/api/v1/shots/{shot.id}/generate", headers=api_token(owner),
                    json={"takes": 2, "model": "animatic", "seed": 7, "priority": "normal", "continuity": False})
    assert r.status_code == 202, r.text
    assert r.json()["seeds"] == [7, 8]


# ---- the embedded worker (`slate up`) -------------------------------------------------------------


def test_the_worker_refuses_a_job_past_its_limits(studio):
    from app.db import commit
    from app.generation.tasks import render_job
    from tests.generation.test_embedded import _db, _wait

    api, h, shot, settings = studio
    job = _wait(api, h, _generate(api, h, _Shot(shot["id"]), takes=1).json()["id"])
    with _db(settings) as db:  # written by hand (an older release, a wider web): 3840x2160 x 1440 frames
        row = db.get(GenerationJob, job["id"])
        spec = dict(row.spec, width=3840, height=2160, frames=1440, duration_s=60.0)
        big = GenerationJob(project_id=row.project_id, shot_id=row.shot_id, model="animatic", spec=spec,
                            spec_hash=row.spec_hash, takes=1, seeds=[1], task_id="big-1")  # fmt: skip
        db.add(big)
        commit(db)
        big_id = big.id
    render_job.apply_async(args=[big_id], task_id="big-1", queue="gen.animatic")
    refused = _wait(api, h, big_id)
    assert refused["status"] == "failed" and refused["takes"] == [] and refused["gpu_seconds"] == 0
    assert refused["error"] == ("This worker's limits refuse this shot: a frame may be at most 1920x1920; this shot "
                                "asks for 3840x2160: lower the frame size")  # fmt: skip


def test_a_render_out_of_memory_fails_its_job_and_the_studio_keeps_serving(studio, monkeypatch):
    from app.generation.tasks import OUT_OF_MEMORY
    from tests.generation.test_embedded import _wait
    from workers.engines.animatic import AnimaticEngine

    api, h, shot, _ = studio
    real = AnimaticEngine.stream
    runs = []

    def runs_out(self, spec, **kw):  # the first job runs out of memory after its first chunk of frames
        takes = real(self, spec, **kw)
        runs.append(spec.seeds)
        if len(runs) > 1:
            return takes

        def take(chunks):
            yield next(chunks)
            raise MemoryError

        return (take(chunks) for chunks in takes)

    monkeypatch.setattr(AnimaticEngine, "stream", runs_out)
    failed = _wait(api, h, _generate(api, h, _Shot(shot["id"]), takes=2, seed=3).json()["id"])
    assert failed["status"] == "failed" and failed["takes"] == []
    assert api.get("/healthz").status_code == 200
    page = api.get(f"/projects/{shot['project_id']}", headers=h)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert api.get(f"/api/v1/shots/{shot['id']}", headers=h).json()["status"] == "ready"
    after = _wait(api, h, _generate(api, h, _Shot(shot["id"]), takes=1).json()["id"], 30)  # the worker is still there
    assert after["status"] == "succeeded" and len(after["takes"]) == 1 and len(runs) == 2
    assert failed["error"] == OUT_OF_MEMORY
    again = _wait(api, h, api.post(f"/api/v1/jobs/{failed['id']}/retry", headers=h).json()["id"])
    assert again["status"] == "succeeded" and [t["seed"] for t in again["takes"]] == [3, 4]
