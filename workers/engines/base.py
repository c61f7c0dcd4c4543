"""Small things every engine shares."""

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
