"""A Celery worker inside the web process, for `slate up` (memory broker, solo pool).

Same task code as production; only the transport differs.
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

    def start(self) -> None:
        # Without these the thread's current_app is a hidden default app that ignores our configuration.
        celery.set_default()
        celery.finalize()
        celery.loader.import_default_modules()
        self._worker = WorkController(
            app=celery,
            pool="solo",
            concurrency=1,
            queues=self.queues,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
            hostname="embedded@slate",
        )
        self._thread = threading.Thread(target=self._worker.start, name="slate-worker", daemon=True)
        self._thread.start()
        log.info("embedded worker consuming %s", ", ".join(self.queues))

    def stop(self, timeout: float = 10.0) -> None:
        """Warm shutdown: the running task finishes."""
        if self._worker is not None:
            self._worker.stop(in_sighandler=False)
        if self._thread is not None:
            self._thread.join(timeout)
        self._worker = None
        self._thread = None
