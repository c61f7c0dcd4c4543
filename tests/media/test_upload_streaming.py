"""A large LoRA upload streams to disk: the web process never holds it in memory.

The request is sent chunk by chunk through the ASGI app (tests/asgi.py), as a server would send it,
so nothing on the client side of the test holds the body either. Measured two ways:
- tracemalloc's peak over the request: every Python allocation of the parser, the spooled upload,
  the safetensors check, the hashing and the copy into the media store (a `read()` of the whole
  file would show as one 200 MiB block);
- the process's peak RSS (ru_maxrss) before and after: it may not grow by the file's size.
"""

from __future__ import annotations

import json
import resource
import struct
import tracemalloc

from app.characters import service as characters
from app.characters.models import Character
from app.media.store import get_store
from tests.asgi import call

MIB = 1024 * 1024
LORA_BYTES = 200 * MIB
MEMORY_BOUND = 64 * MIB
BOUNDARY = "slate-lora-boundary"


def _lora_upload(data_bytes: int):
    """A multipart body holding one valid .safetensors file of `data_bytes` bytes of tensor data, made lazily."""
    header = json.dumps({"lora.weight": {"dtype": "F32", "shape": [data_bytes // 4],
                                         "data_offsets": [0, data_bytes]}}).encode()  # fmt: skip
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"mara.safetensors\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode() + struct.pack("<Q", len(header)) + header  # fmt: skip
    block = bytes(MIB)  # one chunk object, sent again and again
    for _ in range(data_bytes // MIB):
        yield block
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def test_a_200_mib_lora_upload_does_not_grow_the_web_process(app, db, make_user, make_project, api_token):
    owner = make_user()
    p = make_project(owner)
    mara = characters.create_character(db, actor=owner, project=p, name="Mara")
    db.commit()
    headers = {**api_token(owner), "content-type": f"multipart/form-data; boundary={BOUNDARY}"}

    rss_before = _peak_rss()
    tracemalloc.start()
    try:
        answer = call(app, "POST", f"/api/v1/characters/{mara.id}/lora", headers=headers,
                      chunks=_lora_upload(LORA_BYTES))  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = _peak_rss() - rss_before
    print(f"\n200 MiB LoRA upload: traced peak {peak / MIB:.1f} MiB, peak RSS grew {rss_growth / MIB:.1f} MiB")

    assert answer.status == 200, answer.text[:300]
    db.expire_all()
    asset = db.get(Character, mara.id).lora_asset
    path = get_store().path(asset.key)
    try:
        assert asset.bytes == path.stat().st_size > LORA_BYTES  # the whole file arrived in the store
        assert peak < MEMORY_BOUND, f"handling the upload allocated {peak / MIB:.0f} MiB at its peak"
        assert rss_growth < MEMORY_BOUND, f"the process's peak RSS grew by {rss_growth / MIB:.0f} MiB"
    finally:
        path.unlink(missing_ok=True)  # 200 MiB: not left in the test run's media folder
