"""The media store: content-addressed files behind one small interface.

`LocalMediaStore` keeps files under SLATE_MEDIA_DIR. An S3-compatible store can implement the
same four methods; nothing else in Slate touches the file system for media.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from app.config import get_settings


class MediaStore(Protocol):
    def put(self, data: bytes, ext: str) -> tuple[str, bool]: ...
    def path(self, key: str) -> Path: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...


def content_key(data: bytes, ext: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{digest[:2]}/{digest[2:4]}/{digest}.{ext}"


class LocalMediaStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes, ext: str) -> tuple[str, bool]:
        """Store bytes under their hash; returns (key, created) — False when the same bytes were already there."""
        key = content_key(data, ext)
        target = self.path(key)
        if target.exists():
            return key, False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".up-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)  # atomic: a reader never sees half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
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
