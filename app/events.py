"""Live updates: project events fanned out to every open browser through Server-Sent Events.

Publishers (services after commit, workers) call `publish(project_id, kind, data)`. With
SLATE_REDIS_URL set, events go through Redis pub/sub, so any number of web processes and
workers share them; without it (the embedded mode: web and worker in one process) an
in-process hub delivers them. Each web process runs one subscriber and fans out to its clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
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
PREFIX = "slate:project:"
CLIENT_QUEUE = 256


@lru_cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def publish(project_id: int, kind: str, data: dict[str, Any]) -> None:
    """Send one event to the project's open browsers now (thread-safe; call it after the commit)."""
    message = json.dumps({"project_id": project_id, "kind": kind, "data": data}, default=str)
    url = get_settings().redis_url
    if url:
        try:
            _redis(url).publish(f"{PREFIX}{project_id}", message)
        except redis.RedisError as exc:  # live updates are best effort; the database stays the truth
            log.warning("could not publish %s for project %s: %s", kind, project_id, exc)
    else:
        hub.deliver(project_id, message)


def publish_after_commit(db: Session, project_id: int, kind: str, data: dict[str, Any]) -> None:
    """Publish once the session's transaction has committed (never for work that rolled back)."""
    queue_after_commit(db, lambda: publish(project_id, kind, data))


class EventHub:
    """Per-process fan-out: one Redis subscription (or none, embedded) to many client queues."""

    def __init__(self) -> None:
        self._clients: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]]] = {}
        self._lock = threading.Lock()
        self._listener: asyncio.Task | None = None
        self._listener_loop: asyncio.AbstractEventLoop | None = None
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
    async def subscribe(self, project_id: int) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """`async with hub.subscribe(pid) as events:` — registered (and listening) before the block starts."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(CLIENT_QUEUE)
        entry = (loop, queue)
        with self._lock:
            self._clients.setdefault(project_id, set()).add(entry)
        try:
            await self._ensure_listener()

            async def events() -> AsyncIterator[dict[str, Any]]:
                while True:
                    yield json.loads(await queue.get())

            yield events()
        finally:
            with self._lock:
                self._clients.get(project_id, set()).discard(entry)

    async def _ensure_listener(self) -> None:
        url = get_settings().redis_url
        if not url:
            return
        loop = asyncio.get_running_loop()
        if self._listener is None or self._listener.done() or self._listener_loop is not loop:
            self._listening = asyncio.Event()
            self._listener = loop.create_task(self._listen(url))
            self._listener_loop = loop
        with contextlib.suppress(TimeoutError):  # Redis down: the page still works, events come when it is back
            await asyncio.wait_for(self._listening.wait(), 3)

    async def _listen(self, url: str) -> None:
        delay = 0.5
        while True:
            try:
                client = aioredis.Redis.from_url(url)
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(f"{PREFIX}*")
                    self._listening.set()
                    delay = 0.5
                    async for msg in pubsub.listen():
                        if msg.get("type") != "pmessage":
                            continue
                        channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
                        data = msg["data"].decode() if isinstance(msg["data"], bytes) else msg["data"]
                        self.deliver(int(channel.removeprefix(PREFIX)), data)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                log.warning("live events: Redis subscription lost (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)


hub = EventHub()
