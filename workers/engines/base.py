"""Small things every engine shares, and the two ways an engine hands out takes.

- `render(spec, *, on_step, should_cancel) -> list of arrays (frames, height, width, 3)`, one per seed: every
  engine has it. A diffusers pipeline decodes a batch at once, so its output is what it is.
- `stream(spec, *, on_step, should_cancel) -> iterator of takes, each an iterator of chunks (k, height, width, 3)`:
  engines that draw frame by frame (the animatic) also have it, and the render task then encodes and stores
  each take as it comes, holding one chunk at a time (`streams(engine)`).
- `plan(spec)`, `generate(spec, *, on_step, should_cancel, plan) -> the model's own frames per seed` and
  `finish_take(frames, spec, seed, plan) -> uint8 take` (the diffusers engines): `render` split in two, so that the
  render task runs the accelerator part (`generate`) on its own thread and the CPU part (to uint8, the virtual
  camera) with the encoding of the take, while the next take renders (`splits(engine)`). `Canceled.takes` from
  `generate` are the model's own frames too.
"""

from __future__ import annotations

import math
from typing import Any


class Canceled(Exception):
    """Raised by `render` when `should_cancel()` turned True; `takes` holds the takes finished before it."""

    def __init__(self, message: str = "canceled", *, takes: list[Any] | None = None) -> None:
        super().__init__(message)
        self.takes = list(takes or [])


def snap(value: float, multiple: int, *, plus: int = 0, minimum: int | None = None, up: bool = False) -> int:
    """The nearest `multiple * n + plus` to `value` (with `up`: the smallest one not below it), at least `minimum`
    (by default one multiple + plus).

    Sizes: `snap(770, 32)` -> 768, `snap(770, 32, up=True)` -> 800 (an overscan must not shrink).
    Frame counts of 8k+1: `snap(100, 8, plus=1)` -> 97; `snap(1, 8, plus=1, minimum=1)` -> 1.
    """
    n = (value - plus) / multiple
    n = max(math.ceil(n - 1e-9) if up else round(n), 0)
    least = multiple + plus if minimum is None else minimum
    out = n * multiple + plus
    if out < least:  # the smallest allowed value of the form multiple * n + plus
        out = least + (plus - least) % multiple
    return int(out)


def streams(engine: Any) -> bool:
    """Whether the engine hands out its takes chunk by chunk (`stream`) instead of a whole batch (`render`)."""
    return callable(getattr(engine, "stream", None))


def splits(engine: Any) -> bool:
    """Whether the engine's `render` comes in two parts, `generate` (the model) and `finish_take` (the CPU's share)."""
    return all(callable(getattr(engine, name, None)) for name in ("plan", "generate", "finish_take"))
