"""Tasks of the system domain: the queue round trip."""

from __future__ import annotations

from app.system import service
from workers.celery_app import celery, task_db


@celery.task(name=service.PROBE_TASK, bind=True, acks_late=True)
def answer_probe(self, probe_id: int) -> None:
    """Mark a probe answered by this worker (by id; a redelivery is a no-op)."""
    with task_db() as db:
        service.answer_probe(db, probe_id=probe_id, worker=self.request.hostname or "unknown")
