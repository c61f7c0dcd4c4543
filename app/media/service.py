"""Store and find a project's media files."""

from __future__ import annotations

import hashlib
import json
import struct

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.config import get_settings
from app.db import undo_on_rollback
from app.errors import Invalid, NotFound, TooLarge, Unsupported
from app.media.images import clean_image
from app.media.models import MediaAsset
from app.media.store import get_store


def _put(db: Session, data: bytes, ext: str) -> str:
    store = get_store()
    key, created = store.put(data, ext)
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


def check_safetensors(data: bytes) -> dict:
    """The header of a .safetensors file, or `Invalid`: 8-byte little-endian length, then JSON."""
    if len(data) < 10:
        raise Invalid("that is not a .safetensors file (too short)", field="file")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(len(data) - 8, 100 * 1024 * 1024):
        raise Unsupported("that is not a .safetensors file (bad header length)")
    try:
        header = json.loads(data[8 : 8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Unsupported("that is not a .safetensors file (header is not JSON)") from None
    if not isinstance(header, dict) or not any(isinstance(v, dict) and "dtype" in v for v in header.values()):
        raise Unsupported("that .safetensors file holds no tensors")
    return header


def store_lora(db: Session, *, project_id: int, data: bytes, filename: str, actor: User | None) -> MediaAsset:
    """Store LoRA weights (.safetensors only: no pickles)."""
    settings = get_settings()
    if len(data) > settings.lora_max_bytes:
        raise TooLarge(f"LoRA files are limited to {settings.lora_max_bytes // (1024 * 1024)} MB")
    check_safetensors(data)
    sha = hashlib.sha256(data).hexdigest()
    found = _existing(db, project_id=project_id, sha=sha, kind="lora")
    if found is not None:
        return found
    asset = MediaAsset(project_id=project_id, kind="lora", key=_put(db, data, "safetensors"),
                       mime="application/octet-stream", sha256=sha, bytes=len(data),
                       original_name=(filename or "")[:255], created_by_id=actor.id if actor else None)  # fmt: skip
    db.add(asset)
    db.flush()
    return asset


def get_asset(db: Session, *, asset_id: int, project_id: int) -> MediaAsset:
    asset = db.get(MediaAsset, asset_id)
    if asset is None or asset.project_id != project_id:
        raise NotFound("no such file")
    return asset
