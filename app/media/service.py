"""Store and find a project's media files."""

from __future__ import annotations

import hashlib
import io
import json
import struct
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.bodies import size_text
from app.config import get_settings
from app.db import undo_on_rollback
from app.errors import Invalid, NotFound, TooLarge, Unsupported
from app.media.images import clean_image
from app.media.models import MediaAsset
from app.media.store import COPY_CHUNK, get_store
from app.media.uploads import size_of


def _put(db: Session, data: bytes | BinaryIO, ext: str) -> str:
    store = get_store()
    key, created = store.put(data, ext) if isinstance(data, bytes) else store.put_file(data, ext)
    if created:
        undo_on_rollback(db, lambda: store.delete(key))  # nothing left behind if the row is never committed
    return key


def _existing(db: Session, *, project_id: int, sha: str, kind: str) -> MediaAsset | None:
    return db.scalar(
        select(MediaAsset).where(MediaAsset.project_id == project_id, MediaAsset.sha256 == sha, MediaAsset.kind == kind)
    )


def store_image(db: Session, *, project_id: int, data: bytes, filename: str, actor: User | None) -> MediaAsset:
    """Validate, re-encode and store an uploaded image with its thumbnail (the same picture twice is one asset)."""
    settings = get_settings()
    img = clean_image(data, max_bytes=settings.upload_max_bytes, max_pixels=settings.image_max_pixels)
    sha = hashlib.sha256(img.data).hexdigest()
    found = _existing(db, project_id=project_id, sha=sha, kind="image")
    if found is not None:
        return found
    asset = MediaAsset(
        project_id=project_id, kind="image", key=_put(db, img.data, img.ext), thumb_key=_put(db, img.thumb, "jpg"),
        mime=img.mime, sha256=sha, bytes=len(img.data), width=img.width, height=img.height,
        original_name=(filename or "")[:255], created_by_id=actor.id if actor else None,
    )  # fmt: skip
    db.add(asset)
    db.flush()
    return asset


def sha256_of(src: BinaryIO) -> str:
    """The SHA-256 of a file's contents, read in chunks; the file is left at its start."""
    src.seek(0)
    digest = hashlib.sha256()
    while chunk := src.read(COPY_CHUNK):
        digest.update(chunk)
    src.seek(0)
    return digest.hexdigest()


SAFETENSORS_HEADER_MAX = 8 * 1024 * 1024  # a LoRA's header lists its tensors: ~150 bytes each, a few thousand


def check_safetensors(src: BinaryIO, *, size: int) -> dict:
    """The header of a .safetensors file of `size` bytes, read from `src` (only the header is read), or an error.

    Layout: 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
    data offsets, then the tensor data, which every tensor's offsets must lie within.
    """
    src.seek(0)
    if size < 10:
        raise Invalid("that is not a .safetensors file (too short)", field="file")
    (length,) = struct.unpack("<Q", src.read(8))
    if length > min(size - 8, SAFETENSORS_HEADER_MAX):
        raise Unsupported("that is not a .safetensors file (bad header length)")
    try:
        header = json.loads(src.read(length))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Unsupported("that is not a .safetensors file (header is not JSON)") from None
    finally:
        src.seek(0)
    if not isinstance(header, dict) or not any(isinstance(v, dict) and "dtype" in v for v in header.values()):
        raise Unsupported("that .safetensors file holds no tensors")
    data_bytes = size - 8 - length
    for name, tensor in header.items():
        offsets = tensor.get("data_offsets") if isinstance(tensor, dict) and name != "__metadata__" else None
        if offsets is not None and not (isinstance(offsets, list) and len(offsets) == 2
                                        and all(isinstance(o, int) for o in offsets)
                                        and 0 <= offsets[0] <= offsets[1] <= data_bytes):  # fmt: skip
            raise Unsupported("that .safetensors file is cut short or damaged (a tensor lies outside the file)")
    return header


def store_lora(db: Session, *, project_id: int, data: bytes | BinaryIO, filename: str, actor: User | None) -> MediaAsset:
    """Store LoRA weights (.safetensors only: no pickles), streamed from a file (or bytes) into the media store."""
    settings = get_settings()
    src = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    size = size_of(src)
    if size > settings.lora_max_bytes:
        raise TooLarge(f"the LoRA file is larger than {size_text(settings.lora_max_bytes)}", field="file")
    check_safetensors(src, size=size)
    sha = sha256_of(src)
    found = _existing(db, project_id=project_id, sha=sha, kind="lora")
    if found is not None:
        return found
    asset = MediaAsset(project_id=project_id, kind="lora", key=_put(db, src, "safetensors"),
                       mime="application/octet-stream", sha256=sha, bytes=size, original_name=(filename or "")[:255],
                       created_by_id=actor.id if actor else None)  # fmt: skip
    db.add(asset)
    db.flush()
    return asset


def get_asset(db: Session, *, asset_id: int, project_id: int) -> MediaAsset:
    asset = db.get(MediaAsset, asset_id)
    if asset is None or asset.project_id != project_id:
        raise NotFound("no such file")
    return asset
