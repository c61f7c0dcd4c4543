"""One request straight through the ASGI app, its body streamed from an iterator of chunks.

The test client builds a request's whole body in memory and hands it over at once; this sends it
chunk by chunk, as a server would, and counts what the app pulled, so tests can show that a body was
never read, or read only up to its cap, and measure the memory of handling a large upload.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    pulled: int  # body bytes the app took from `receive`
    receives: int  # times the app called `receive` for body chunks

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def call(app, method: str, path: str, *, headers: dict[str, str] | None = None,
         chunks: Iterable[bytes] = ()) -> Answer:  # fmt: skip
    """Send one request (no Content-Length unless `headers` says so: a chunked body) and collect the answer.

    The call runs on a loop of its own in another thread: the browser tests' Playwright keeps a loop running in
    the main thread for the whole session."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _call(app, method, path, headers or {}, chunks)).result()


async def _call(app, method: str, path: str, headers: dict[str, str], chunks: Iterable[bytes]) -> Answer:
    source = iter(chunks)
    pulled = receives = 0
    body_done = False
    finished = asyncio.Event()
    status, out_headers, body = 0, {}, bytearray()

    async def receive() -> dict:
        nonlocal pulled, receives, body_done
        if body_done:
            await finished.wait()  # after the body: the app only listens for a disconnect
            return {"type": "http.disconnect"}
        receives += 1
        chunk = next(source, None)
        if chunk is None:
            body_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            out_headers.update({k.decode("latin-1"): v.decode("latin-1") for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if not any(k == b"content-length" for k, _ in raw):
        raw.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": raw,
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    await app(scope, receive, send)
    finished.set()
    return Answer(status, out_headers, bytes(body), pulled, receives)
