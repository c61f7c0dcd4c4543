"""The sketch task: `slate.frames.draw_sketch(shot_id)` draws a shot's storyboard sketch on the `media` queue.

By id and idempotent: it re-reads the shot, returns at once when the shot is gone or its sketch is
current, and otherwise draws one frame with the animatic engine, stores the JPEG (content-addressed,
so a redelivered message writes the same file) and records it on the shot. After the commit it
publishes a `sketch` event ({shot_id, url}) so every open board of the project swaps the picture in.
Database or broker hiccups are retried by Celery with backoff.
"""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from app.events import publish
from app.frames import service
from workers.celery_app import celery, task_db


@celery.task(name=service.TASK, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=5)  # fmt: skip
def draw_sketch(shot_id: int) -> str:
    """Draw the sketch of shot `shot_id` if it has none current. -> "drawn", "current" or "gone"."""
    with task_db() as db:
        key, drawn, project_id = service.refresh_sketch(db, shot_id=int(shot_id))
        token = service.sketch_token(db, shot_id=int(shot_id)) if drawn else ""
    if key is None:
        return "gone"
    if not drawn:
        return "current"
    publish(project_id, "sketch", {"shot_id": int(shot_id), "url": service.frame_url(int(shot_id), token)})
    return "drawn"
