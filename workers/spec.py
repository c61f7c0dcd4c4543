"""The render spec: everything a worker needs to render the takes of one job, self-contained.

The web side compiles it when a job is queued and stores it on the job (JSON). Workers render
from it alone, so a take can always be reproduced from its spec and seed.

Media are named by key (the web's media store names files by their content). An engine never
reaches the media store: the worker's task looks up the local file of every key the spec names
(`media_keys()`) and hands the spec over with `files` filled in (`with_files`); engines read them
with `spec.path(key)`. `files` is not part of what makes the pictures: it is left out of `hash()`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CastMember:
    name: str
    look: str = ""
    character_version: int | None = None
    look_version: int | None = None
    reference_keys: list[str] = field(default_factory=list)  # media keys of reference images
    lora: dict[str, Any] | None = None  # {"key" or "path": ..., "weight": float}


@dataclass(frozen=True)
class RenderSpec:
    model: str  # registry id, e.g. "animatic", "ltx", "wan"
    prompt: str
    negative_prompt: str = ""
    width: int = 768
    height: int = 512
    frames: int = 97
    fps: float = 24.0
    steps: int | None = None  # None: the model's default
    guidance: float | None = None
    seeds: list[int] = field(default_factory=lambda: [0])  # one per take
    camera: dict[str, Any] = field(default_factory=dict)  # workers.vocabulary.Camera.to_dict()
    lighting: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 4.0
    # storyboard context (the animatic draws it; models ignore it)
    shot_code: str = ""
    scene_heading: str = ""
    action: str = ""
    dialogue: str = ""
    location: str = ""
    cast: list[CastMember] = field(default_factory=list)
    # conditioning (media keys)
    first_frame_key: str | None = None
    last_frame_key: str | None = None
    reference_keys: list[str] = field(default_factory=list)
    # media key -> local file, filled in by the worker's task just before rendering (not hashed)
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderSpec:
        data = dict(data)
        data["cast"] = [CastMember(**c) for c in data.get("cast", [])]
        return cls(**data)

    def hash(self) -> str:
        """A stable hash of what makes the pictures (seeds excluded: each take has its own)."""
        payload = {k: v for k, v in self.to_dict().items() if k not in ("seeds", "files")}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def with_seeds(self, seeds: list[int]) -> RenderSpec:
        data = self.to_dict()
        data["seeds"] = list(seeds)
        return RenderSpec.from_dict(data)

    def media_keys(self) -> list[str]:
        """Every media key the spec names: first and last frame, references, the cast's references and LoRAs."""
        keys = [self.first_frame_key, self.last_frame_key, *self.reference_keys]
        for member in self.cast:
            keys.extend(member.reference_keys)
            if member.lora and member.lora.get("key"):
                keys.append(member.lora["key"])
        return list(dict.fromkeys(k for k in keys if k))

    def with_files(self, files: dict[str, str | Path]) -> RenderSpec:
        """The same spec with the local file of each media key (the worker's task resolves them)."""
        data = self.to_dict()
        data["files"] = {**self.files, **{key: str(path) for key, path in files.items()}}
        return RenderSpec.from_dict(data)

    def path(self, key: str) -> Path:
        """The local file of media key `key`, as the worker's task listed it in `files`."""
        try:
            return Path(self.files[key])
        except KeyError:
            raise LookupError(f"media {key!r} has no local file: the worker's task lists the spec's media in "
                              "`files` before rendering (RenderSpec.with_files)") from None
