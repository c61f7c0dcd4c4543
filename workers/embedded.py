"""A Celery worker inside the web process, for `slate up` (memory broker, solo pool).

Same task code as production; only the transport differs. Besides the queues it is given it
consumes every model's generation queue (`gen.<model id>`; models load on first use), and a
timer thread runs the job reconciler (production runs it from Celery beat).
"""

from __future__ import annotations

import logging
import threading

from celery.worker import WorkController

from workers.celery_app import celery

log = logging.getLogger("slate.worker")


class EmbeddedWorker:
    """Start and stop an in-process worker thread that consumes the given queues."""

    def __init__(self, queues: list[str]) -> None:
        self.queues = queues
        self._worker: WorkController | None = None
        self._thread: threading.Thread | None = None
        self._reconciler = None

    def start(self) -> None:
        # Without these the thread's current_app is a hidden default app that ignores our configuration.
        celery.set_default()
        celery.finalize()
        celery.loader.import_default_modules()
        from app.generation.service import queue_name
        from workers import reconcile
        from workers.engines.registry import get_registry

        queues = list(dict.fromkeys(self.queues + [queue_name(m.id) for m in get_registry()]))
        self._worker = WorkController(
            app=celery,
            pool="solo",
            concurrency=1,
            queues=queues,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
            hostname="embedded@slate",
        )
        self._thread = threading.Thread(target=self._worker.start, name="slate-worker", daemon=True)
        self._thread.start()
        reconcile.memory_broker_started()  # jobs sent before now went with the last process's memory
        self._reconciler = reconcile.Timer().start()
        log.info("embedded worker consuming %s", ", ".join(queues))

    def stop(self, timeout: float = 10.0) -> None:
        """Warm shutdown: the running task finishes."""
        if self._reconciler is not None:
            self._reconciler.stop()
            self._reconciler = None
        if self._worker is not None:
            self._worker.stop(in_sighandler=False)
        if self._thread is not None:
            self._thread.join(timeout)
        self._worker = None
        self._thread = None
