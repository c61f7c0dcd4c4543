#!/usr/bin/env python3
"""Batching: the N takes of a shot as one batch against N single calls, on one warm engine.

Both sides use the same warm `LtxEngine` (tiny random-weight LTX built offline with
`make_tiny`, or `--folder`) in one process, render the same seeds and go through the whole
`render()` path (uint8 frames). Each side runs `--repeats` times, alternating, and the best time
of each counts; the ratio is singles / batch (higher: batching helps more). Target: at least 1.5x
for 8 takes. It also checks that take i of the batch equals the single render of seed i.

    .venv/bin/python bench/batching.py            # 8 takes, 64x64, 17 frames, 8 steps
    .venv/bin/python bench/batching.py --takes 4 --width 256 --height 160 --frames 33
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--takes", type=int, default=8)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--folder", type=Path, help="an LTX model folder (default: a tiny one built now)")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from workers.engines.ltx import LtxEngine
    from workers.engines.registry import get_model
    from workers.engines.tiny import make_tiny
    from workers.spec import RenderSpec

    folder = args.folder or make_tiny("ltx", Path(tempfile.mkdtemp(prefix="slate-bench-")) / "ltx-tiny")
    engine = LtxEngine(replace(get_model("ltx"), folder=folder))
    seeds = list(range(100, 100 + args.takes))
    spec = RenderSpec(model="ltx", prompt="a lighthouse keeper climbs the spiral stairs at night",
                      width=args.width, height=args.height, frames=args.frames, steps=args.steps, seeds=seeds)
    singles_specs = [spec.with_seeds([s]) for s in seeds]

    def batch() -> list:
        return engine.render(spec)

    def singles() -> list:
        return [engine.render(s)[0] for s in singles_specs]

    batch(), singles()  # warm-up: first-call costs out of the way
    best = {"batch": float("inf"), "singles": float("inf")}
    for _ in range(args.repeats):
        for name, fn in (("singles", singles), ("batch", batch)):
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)

    floats_batch = engine.generate(spec)
    diff = max(float(np.abs(b - engine.generate(s)[0]).max()) for b, s in zip(floats_batch, singles_specs))
    plan = engine.plan(spec)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; tiny LTX {folder}")
    print(f"{args.takes} takes of {plan['width']}x{plan['height']}, {plan['frames']} frames, {args.steps} steps, "
          f"guidance {plan['guidance']}; best of {args.repeats}")
    print(f"  {args.takes} single calls: {best['singles']:.3f} s ({best['singles'] / args.takes:.3f} s a take)")
    print(f"  one batch of {args.takes}:  {best['batch']:.3f} s ({best['batch'] / args.takes:.3f} s a take)")
    print(f"  batching speed-up: {best['singles'] / best['batch']:.2f}x (target >= 1.5x)")
    print(f"  take i of the batch vs single render of seed i: max |diff| {diff:.2e} (float frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
