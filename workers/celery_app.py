"""The Celery application: Redis in production, an in-process broker and worker when embedded.

Delivery settings follow the design: the database is the truth, messages carry
ids, tasks are acknowledged late and re-queued when a worker dies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery
from kombu import pools
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.db import commit, discard_pending, engine_for, session_factory

TASK_MODULES = ["app.system.tasks", "app.generation.tasks", "app.frames.tasks", "workers.reconcile"]

celery = Celery("slate")


def configure(settings: Settings | None = None) -> Celery:
    """(Re)configure the one Celery app from settings."""
    settings = settings or get_settings()
    _drop_connections()
    memory = settings.broker_url.startswith("memory://")
    transport: dict = {"visibility_timeout": settings.visibility_timeout_s}
    if memory:
        transport["polling_interval"] = settings.worker_polling_interval
    else:
        # On Redis, priority 0 is the highest; rush jobs use 0, normal ones 5.
        transport.update(priority_steps=list(range(10)), sep=":", queue_order_strategy="priority")
    celery.conf.update(
        broker_url=settings.broker_url,
        broker_connection_retry_on_startup=True,
        result_backend=None,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="default",
        task_default_priority=5,
        broker_transport_options=transport,
        worker_hijack_root_logger=False,
        worker_send_task_events=not memory,
        task_send_sent_event=not memory,
        include=TASK_MODULES,
        timezone="UTC",
    )
    celery.slate_settings = settings  # type: ignore[attr-defined]
    return celery


def _drop_connections() -> None:
    """Forget pooled broker connections, so a changed broker URL takes effect."""
    # kombu keeps its pools in process-wide registries: a pool closed but left registered would be
    # handed out again for the same URL and fail every later send ("Acquire on closed pool").
    pools.reset()
    celery._pool = None
    amqp = celery.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextmanager
def task_db() -> Iterator[Session]:
    """A session for one task: committed when the block ends, rolled back on error."""
    settings: Settings = getattr(celery, "slate_settings", None) or get_settings()
    db = session_factory(engine_for(settings.database_url))()
    try:
        yield db
        commit(db)
    except BaseException:
        db.rollback()
        discard_pending(db)
        raise
    finally:
        db.close()


configure()
