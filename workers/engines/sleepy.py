"""A test engine with a known render time: each take "denoises" for `take_seconds` (a sleep, in steps that report
progress and poll for a cancel) and comes out as real frames of the spec's size, so encoding it costs what a real
take of that size costs. It can run out of memory above a batch size, as a GPU would.

It is not in the registry's engines: tests and `bench/pipeline.py` add it with `install(folder)`, which writes a
models file with a `sleepy` model and points `SLATE_MODELS_FILE` at it. Users never see it in the model menu.
"""

from __future__ import annotations

import gc
import os
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from workers.engines.base import Canceled
from workers.engines.loader import OutOfMemory

MODEL_ID = "sleepy"


class _Activations:
    """Stands for the tensors a failed attempt held (a weakref to it says whether they were let go)."""

    def __init__(self, nbytes: int) -> None:
        self.data = bytearray(nbytes)


class SleepyEngine:
    """`plan`, `generate` (sleep + frames) and `finish_take`, like the diffusers engines."""

    id = "sleepy"
    take_seconds = 0.2  # render time of one take; a batch of n takes renders in n x take_seconds
    oom_above: int | None = None  # batches larger than this run out of memory (None: never)
    oom_above_saving: int | None = None  # the same once `enable_memory_saving` ran
    attempts: list[int] = []  # batch sizes asked for, in order (class-wide, for tests)
    released: list[bool] = []  # at each call: whether every earlier failed attempt's activations were let go
    _failed: list[weakref.ref] = []

    def __init__(self, model: Any = None, *, device: str = "cpu") -> None:
        self.model, self.device = model, device
        self.saving = False
        self.last_timing: dict[str, float] = {}

    @classmethod
    def reset(cls, *, take_seconds: float = 0.2, oom_above: int | None = None,
              oom_above_saving: int | None = None) -> None:  # fmt: skip
        cls.take_seconds, cls.oom_above, cls.oom_above_saving = take_seconds, oom_above, oom_above_saving
        cls.attempts, cls.released, cls._failed = [], [], []

    def enable_memory_saving(self) -> list[str]:
        self.saving = True
        return ["smaller activations"]

    def plan(self, spec: Any) -> dict[str, Any]:
        steps = int(spec.steps or 4)
        return {"width": spec.width, "height": spec.height, "frames": spec.frames, "steps": steps,
                "seeds": list(spec.seeds)}  # fmt: skip

    def generate(self, spec: Any, *, on_step: Any = None, should_cancel: Any = None,
                 plan: dict[str, Any] | None = None) -> list[np.ndarray]:  # fmt: skip
        plan = plan or self.plan(spec)
        seeds = list(spec.seeds)
        cls = type(self)
        started = time.perf_counter()
        if cls._failed:
            gc.collect()  # only where an attempt failed: a full collection costs a render tenths of a second
        cls.released.append(all(ref() is None for ref in cls._failed))
        cls.attempts.append(len(seeds))
        activations = _Activations(len(seeds) * 2**20)
        limit = cls.oom_above_saving if self.saving else cls.oom_above
        if limit is not None and len(seeds) > limit:
            cls._failed.append(weakref.ref(activations))
            raise OutOfMemory(f"sleepy ran out of memory rendering {len(seeds)} takes")
        takes = [_frames(seed, plan["width"], plan["height"], plan["frames"]) for seed in seeds]
        steps, due = plan["steps"], cls.take_seconds * len(seeds)
        for i in range(steps):
            time.sleep(max(started + due * (i + 1) / steps - time.perf_counter(), 0.0))
            if on_step is not None:
                on_step(i + 1, steps)
            if should_cancel is not None and should_cancel():
                raise Canceled(f"canceled at step {i + 1} of {steps}")
        self.last_timing = {"total_s": round(time.perf_counter() - started, 4)}
        return takes

    def finish_take(self, frames: np.ndarray, spec: Any, seed: int, plan: dict[str, Any]) -> np.ndarray:
        return frames

    def render(self, spec: Any, *, on_step: Any = None, should_cancel: Any = None) -> list[np.ndarray]:
        return self.generate(spec, on_step=on_step, should_cancel=should_cancel)


def _frames(seed: int, width: int, height: int, count: int) -> np.ndarray:
    """A take that moves: a seeded smooth pattern with some grain, sliding a few pixels a frame."""
    rng = np.random.default_rng(seed)
    y, x = np.ogrid[0:height, 0:width]
    phase = rng.uniform(0, 6.28, 3)
    base = np.stack([127 + 100 * np.sin(x / (37 + 9 * c) + y / (53 + 7 * c) + phase[c]) for c in range(3)], -1)
    base = (base + rng.integers(-8, 9, base.shape)).clip(0, 255).astype(np.uint8)
    out = np.empty((count, height, width, 3), np.uint8)
    for i in range(count):
        shift = (3 * i) % width
        out[i, :, shift:], out[i, :, :shift] = base[:, :width - shift], base[:, width - shift:]
    return out


def install(folder: Path, *, batch: int = 1, max_frames: int = 240) -> Path:
    """Add the `sleepy` model to this process's registry (tests and benches only); returns the models file."""
    from workers.engines import loader, registry

    registry.ENGINES[MODEL_ID] = "workers.engines.sleepy:SleepyEngine"
    path = Path(folder) / "sleepy-models.toml"
    path.write_text(
        f'[models.{MODEL_ID}]\nengine = "{MODEL_ID}"\nlabel = "Sleepy (test engine)"\nfolder = "{folder}"\n'
        f'size_multiple = 16\nframes = "1k+0"\nmax_width = 1280\nmax_height = 1280\nmax_frames = {max_frames}\n'
        f"default_steps = 4\ndefault_guidance = 1.0\nbatch = {batch}\naccelerated = false\nvirtual_camera = false\n"
    )  # fmt: skip
    os.environ[registry.ENV_FILE] = str(path)
    registry.reload_registry()
    loader.forget(MODEL_ID)
    return path
