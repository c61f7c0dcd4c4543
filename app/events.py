"""Live updates: project events fanned out to every open browser through Server-Sent Events.

Publishers (services after commit, workers) call `publish(project_id, kind, data)`. With
SLATE_REDIS_URL set, events go through Redis pub/sub, so any number of web processes and
workers share them; without it (the embedded mode: web and worker in one process) an
in-process hub delivers them. Each web process runs one subscriber and fans out to its clients.

Channels are `<SLATE_EVENTS_PREFIX><project id>`. Redis pub/sub ignores the database number, so
the prefix is what keeps two installations on one Redis server apart; by default it is derived
from the database URL (`app.config.events_prefix_for`), which every process of one installation shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

import redis
import redis.asyncio as aioredis
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import queue_after_commit

log = logging.getLogger("slate.events")
CLIENT_QUEUE = 256
_GLOB = re.compile(r"([*?\[\]\\])")


def _pattern(prefix: str) -> str:
    """The psubscribe pattern for every project channel under `prefix` (glob characters in it escaped)."""
    return _GLOB.sub(r"\\\1", prefix) + "*"


@lru_cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def publish(project_id: int, kind: str, data: dict[str, Any]) -> None:
    """Send one event to the project's open browsers now (thread-safe; call it after the commit)."""
    message = json.dumps({"project_id": project_id, "kind": kind, "data": data}, default=str)
    settings = get_settings()
    url = settings.redis_url
    if url:
        try:
            _redis(url).publish(f"{settings.events_prefix}{project_id}", message)
        except redis.RedisError as exc:  # live updates are best effort; the database stays the truth
            log.warning("could not publish %s for project %s: %s", kind, project_id, exc)
    else:
        hub.deliver(project_id, message)


def publish_after_commit(db: Session, project_id: int, kind: str, data: dict[str, Any]) -> None:
    """Publish once the session's transaction has committed (never for work that rolled back)."""
    queue_after_commit(db, lambda: publish(project_id, kind, data))


class Subscription:
    """One open page's events of one project, oldest first (a stalled reader loses the oldest)."""

    def __init__(self, queue: asyncio.Queue) -> None:
        self._queue = queue

    async def next(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event, or None when `timeout` seconds pass without one (the event then stays queued)."""
        try:
            async with asyncio.timeout(timeout):
                message = await self._queue.get()
        except TimeoutError:
            return None
        return json.loads(message)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return json.loads(await self._queue.get())


class EventHub:
    """Per-process fan-out: one Redis subscription (or none, embedded) to many client queues."""

    def __init__(self) -> None:
        self._clients: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]]] = {}
        self._lock = threading.Lock()
        self._listener: asyncio.Task | None = None
        self._listener_loop: asyncio.AbstractEventLoop | None = None
        self._listener_for: tuple[str, str] | None = None
        self._listening = asyncio.Event()

    def deliver(self, project_id: int, message: str) -> None:
        with self._lock:
            targets = list(self._clients.get(project_id, ()))
        for loop, queue in targets:
            with contextlib.suppress(RuntimeError):  # loop closed: the client is gone
                loop.call_soon_threadsafe(self._offer, queue, message)

    @staticmethod
    def _offer(queue: asyncio.Queue, message: str) -> None:
        if queue.full():  # a stalled client loses the oldest event, never blocks the others
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
        queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscribe(self, project_id: int) -> AsyncIterator[Subscription]:
        """`async with hub.subscribe(pid) as events:` — registered (and listening) before the block starts."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(CLIENT_QUEUE)
        entry = (loop, queue)
        with self._lock:
            self._clients.setdefault(project_id, set()).add(entry)
        try:
            await self._ensure_listener()
            yield Subscription(queue)
        finally:
            with self._lock:
                self._clients.get(project_id, set()).discard(entry)

    async def _ensure_listener(self) -> None:
        settings = get_settings()
        url, prefix = settings.redis_url, settings.events_prefix
        if not url:
            return
        loop = asyncio.get_running_loop()
        if (self._listener is None or self._listener.done() or self._listener_loop is not loop
                or self._listener_for != (url, prefix)):  # fmt: skip
            if self._listener is not None and not self._listener.done() and self._listener_loop is loop:
                self._listener.cancel()
            self._listening = asyncio.Event()
            self._listener = loop.create_task(self._listen(url, prefix))
            self._listener_loop = loop
            self._listener_for = (url, prefix)
        with contextlib.suppress(TimeoutError):  # Redis down: the page still works, events come when it is back
            await asyncio.wait_for(self._listening.wait(), 3)

    async def _listen(self, url: str, prefix: str) -> None:
        delay = 0.5
        while True:
            try:
                client = aioredis.Redis.from_url(url)
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(_pattern(prefix))
                    self._listening.set()
                    delay = 0.5
                    async for msg in pubsub.listen():
                        if msg.get("type") != "pmessage":
                            continue
                        channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
                        data = msg["data"].decode() if isinstance(msg["data"], bytes) else msg["data"]
                        project = channel.removeprefix(prefix)
                        if project.isdigit():  # not another installation's channel under a longer prefix
                            self.deliver(int(project), data)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                log.warning("live events: Redis subscription lost (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)


hub = EventHub()
