"""Frames of shot cards (approved take > newest take > sketch), the sketch task and its cache, the frame routes."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from app.db import utcnow
from app.frames import service as frames
from app.frames import tasks
from app.generation.models import GenerationJob, Take
from app.media.store import get_store
from app.storyboard import service
from app.storyboard.models import Shot
from tests.images import jpeg_bytes
from tests.storyboard import factories as f


@pytest.fixture
def world(db, make_user, make_project, sign_in):
    owner = make_user(name="Director")
    project = make_project(owner, name="Lighthouse")
    mara = f.character(db, project, "Mara", "an old keeper")
    rocks = f.location(db, project, "Rocks", "black wet rocks")
    scene = service.create_scene(db, actor=owner, project=project, heading="EXT. ROCKS - NIGHT")
    shot = service.create_shot(db, actor=owner, scene=scene, values={
        "action": "Mara fights the wind.", "character_ids": [mara.id], "location_id": rocks.id,
        "camera": {"framing": "WS", "move": "dolly_in"}, "lighting": {"time_of_day": "night"}})  # fmt: skip
    db.info.pop("after_commit", None)  # no worker here: the tests draw sketches themselves
    db.commit()
    return {"owner": owner, "project": project, "mara": mara, "rocks": rocks, "scene": scene, "shot": shot,
            "browser": sign_in(owner)}  # fmt: skip


def _image(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    return np.asarray(img.convert("RGB"))


def _take(db, shot: Shot, *, number: int, colour, approved: bool = False) -> Take:
    job = GenerationJob(project_id=shot.project_id, shot_id=shot.id, model="animatic", spec={}, spec_hash="s",
                        takes=1, seeds=[number], status="succeeded", task_id=f"t{number}")  # fmt: skip
    db.add(job)
    db.flush()
    poster, _ = get_store().put(jpeg_bytes(64, 36, colour), "jpg")
    take = Take(project_id=shot.project_id, shot_id=shot.id, job_id=job.id, index=0, number=number, seed=number,
                model="animatic", spec_hash=job.spec_hash, frames=9, fps=24.0, width=64, height=36, video_key=poster,
                poster_key=poster, filmstrip_key=poster, filmstrip={"count": 10, "columns": 10, "rows": 1},
                review_status="approved" if approved else "pending", decided_at=utcnow() if approved else None)  # fmt: skip
    db.add(take)
    db.commit()
    return take


def test_a_shot_without_takes_shows_its_sketch_drawn_by_the_animatic(world, db):
    shot = world["shot"]
    frame = frames.shot_frames(db, shot_ids=[shot.id], backfill=False)[shot.id]
    assert (frame.kind, frame.url, frame.take_count) == ("pending", None, 0)  # not drawn yet
    key, drawn, project_id = frames.refresh_sketch(db, shot_id=shot.id)
    assert drawn and project_id == world["project"].id
    pixels = _image(get_store().path(key).read_bytes())
    assert pixels.shape == (360, 640, 3)  # the project's 16:9 frame at sketch size
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # a picture, not a flat box
    frame = frames.shot_frames(db, shot_ids=[shot.id], backfill=False)[shot.id]
    assert frame.kind == "sketch" and frame.url == f"/shots/{shot.id}/frame?v={db.get(Shot, shot.id).sketch_hash}"
    assert frames.refresh_sketch(db, shot_id=shot.id) == (key, False, project_id)  # current: left as it is


def test_frame_choice_approved_then_newest_then_sketch(world, db):
    shot = world["shot"]
    first = _take(db, shot, number=1, colour=(200, 30, 30))
    second = _take(db, shot, number=2, colour=(30, 200, 30))
    frame = frames.shot_frames(db, shot_ids=[shot.id])[shot.id]
    assert (frame.kind, frame.take_id, frame.take_count, frame.approved_number) == ("take", second.id, 2, None)
    first.review_status, first.decided_at = "approved", utcnow()
    db.commit()
    frame = frames.shot_frames(db, shot_ids=[shot.id])[shot.id]
    assert (frame.kind, frame.take_id, frame.approved_number) == ("approved", first.id, 1)
    assert frame.url == f"/shots/{shot.id}/frame?v=t{first.id}" and frame.filmstrip["count"] == 10
    page = world["browser"].get(f"/projects/{world['project'].id}/storyboard").text
    assert f'data-take="{first.id}" data-tiles="10"' in page and "2 takes · <b>take 1</b> approved" in page
    r = world["browser"].get(frame.url)
    assert r.status_code == 200 and r.content == get_store().path(first.poster_key).read_bytes()


def test_a_camera_change_redraws_a_stale_sketch(world, db, monkeypatch):
    shot = world["shot"]
    old_key, _, _ = frames.refresh_sketch(db, shot_id=shot.id)
    old_hash = db.get(Shot, shot.id).sketch_hash
    sent: list[tuple] = []
    monkeypatch.setattr("workers.celery_app.celery.send_task",
                        lambda name, args, queue: sent.append((name, args, queue)))  # fmt: skip
    service.update_shot(db, actor=world["owner"], shot=shot, changes={"action": "Only the words change."})
    for dispatch in db.info.pop("after_commit", []):
        dispatch()
    assert sent == []  # the picture does not depend on the action: nothing to draw
    service.update_shot(db, actor=world["owner"], shot=shot, changes={"camera": {"framing": "CU", "move": "static"}})
    for dispatch in db.info.pop("after_commit"):
        dispatch()
    assert sent == [("slate.frames.draw_sketch", [shot.id], "media")]
    db.commit()
    assert frames.shot_frames(db, shot_ids=[shot.id], backfill=False)[shot.id].kind == "pending"  # stale now
    events = []
    monkeypatch.setattr(tasks, "publish", lambda pid, kind, data: events.append((pid, kind, data)))
    monkeypatch.setattr(tasks, "task_db", lambda: contextlib.nullcontext(db))
    assert tasks.draw_sketch.run(shot.id) == "drawn"  # the task's own code, on this test's session
    row = db.get(Shot, shot.id)
    assert row.sketch_hash != old_hash and row.sketch_key != old_key
    assert not np.array_equal(_image(get_store().path(old_key).read_bytes()),
                              _image(get_store().path(row.sketch_key).read_bytes()))  # fmt: skip
    assert events == [(world["project"].id, "sketch",
                       {"shot_id": shot.id, "url": f"/shots/{shot.id}/frame?v={row.sketch_hash}"})]  # fmt: skip
    assert tasks.draw_sketch.run(shot.id) == "current" and tasks.draw_sketch.run(10**9) == "gone"


def test_a_board_with_shots_missing_a_sketch_queues_them_once(world, db, monkeypatch):
    shot = world["shot"]
    frames._queued.clear()
    sent: list[int] = []
    monkeypatch.setattr("workers.celery_app.celery.send_task", lambda name, args, queue: sent.append(args[0]))
    for _ in range(2):
        frames.shot_frames(db, shot_ids=[shot.id])
        for dispatch in db.info.pop("after_commit", []):
            dispatch()
    assert sent == [shot.id]  # the second board within REQUEUE_AFTER_S does not queue it again


def test_the_frame_route(world, db, make_user, sign_in):
    shot, b = world["shot"], world["browser"]
    r = b.get(f"/shots/{shot.id}/frame")  # no sketch yet: drawn on the spot
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert _image(r.content).std() > 10
    token = db.scalar(select(Shot.sketch_hash).where(Shot.id == shot.id))
    assert r.headers["etag"] == f'"{token}"' and r.headers["cache-control"] == "private, no-cache"
    r = b.get(f"/shots/{shot.id}/frame?v={token}")
    assert r.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert b.get(f"/shots/{shot.id}/frame", headers={"If-None-Match": f'"{token}"'}).status_code == 304
    assert b.get(f"/shots/{10**9}/frame").status_code == 404
    assert b.get("/shots/nope/frame").status_code == 404
    outsider = sign_in(make_user(name="Outsider"))
    assert outsider.get(f"/shots/{shot.id}/frame").status_code == 404
    assert outsider.get(f"/characters/{world['mara'].id}/picture").status_code == 404
    assert outsider.get(f"/locations/{world['rocks'].id}/picture").status_code == 404


def test_characters_and_locations_show_a_reference_else_a_sketch(world, db):
    mara, rocks, b = world["mara"], world["rocks"], world["browser"]
    pics = frames.pictures(db, kind="character", ids=[mara.id])
    assert pics[mara.id].kind == "sketch" and pics[mara.id].url.startswith(f"/characters/{mara.id}/picture?v=")
    r = b.get(pics[mara.id].url)
    assert r.status_code == 200 and _image(r.content).shape == (360, 480, 3)
    assert r.headers["cache-control"] == "private, max-age=31536000, immutable"
    db.expire_all()  # the request wrote the sketch on its own session
    first_key = mara.sketch_key
    assert first_key
    mara.description = "a young keeper at dawn"
    db.commit()
    again = frames.pictures(db, kind="character", ids=[mara.id])[mara.id]
    assert again.url != pics[mara.id].url  # a new description: a new picture
    assert b.get(again.url).status_code == 200
    db.expire_all()
    assert mara.sketch_key not in (None, first_key)
    place = frames.pictures(db, kind="location", ids=[rocks.id])[rocks.id]
    assert b.get(place.url).status_code == 200
    ref = f.reference(db, world["project"], location=rocks)
    db.commit()
    assert frames.pictures(db, kind="location", ids=[rocks.id])[rocks.id].url == f"/media/{ref.asset_id}/thumb"
