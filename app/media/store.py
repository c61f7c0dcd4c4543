"""The media store: content-addressed files behind one small interface.

`LocalMediaStore` keeps files under SLATE_MEDIA_DIR. An S3-compatible store can implement the
same five methods; nothing else in Slate touches the file system for media.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from app.config import get_settings


class MediaStore(Protocol):
    def put(self, data: bytes, ext: str) -> tuple[str, bool]: ...
    def put_file(self, src: BinaryIO, ext: str) -> tuple[str, bool]: ...
    def path(self, key: str) -> Path: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...


COPY_CHUNK = 1024 * 1024


def _key(digest: str, ext: str) -> str:
    return f"{digest[:2]}/{digest[2:4]}/{digest}.{ext}"


def content_key(data: bytes, ext: str) -> str:
    return _key(hashlib.sha256(data).hexdigest(), ext)


class LocalMediaStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes, ext: str) -> tuple[str, bool]:
        """Store bytes under their hash; returns (key, created) — False when the same bytes were already there."""
        return self.put_file(io.BytesIO(data), ext)

    def put_file(self, src: BinaryIO, ext: str) -> tuple[str, bool]:
        """Store a file's contents (from its start) under their hash, copied in chunks: never whole in memory."""
        src.seek(0)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".up-")  # same file system: the rename below is atomic
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as fh:
                while chunk := src.read(COPY_CHUNK):
                    digest.update(chunk)
                    fh.write(chunk)
            key = _key(digest.hexdigest(), ext)
            target = self.path(key)
            if target.exists():
                return key, False
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)  # atomic: a reader never sees half a file
        finally:
            Path(tmp).unlink(missing_ok=True)
        return key, True

    def path(self, key: str) -> Path:
        if ".." in key or key.startswith("/"):
            raise ValueError("bad media key")
        return self.root / key

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


def get_store() -> LocalMediaStore:
    return LocalMediaStore(get_settings().media_dir)
