#!/usr/bin/env python3
"""Batching: the N takes of a shot as one batch against N single calls, per take, on one warm model.

What the figure means depends on where it runs, and the script says which one it printed:

- **CUDA, real size** (default where a GPU exists): 768x512, 97 frames. With `--folder` (a real
  LTX-Video diffusers folder) both sides go through Slate's `LtxEngine.render` (uint8 frames, virtual
  camera included); without one, through the stock diffusers `LTXPipeline` built from the published
  LTX-Video 2B configs with random weights and random text embeddings (`bench/gpu_engine.py`'s builder:
  same kernels and shapes as the trained model, no text encoder). This is the GPU batching gain per
  take (docs/gpu-benchmark.md measured 1.01-1.04x on an H200).
- **CPU, tiny size** (default elsewhere): 64x64, 17 frames, the tiny random-weight LTX built offline
  with `make_tiny`, through `LtxEngine.render`. The model does almost no arithmetic, so the ratio
  shows Python and scheduler overhead per pipeline call, not GPU batching gains: it has no target.

Each repeat runs the N single calls and the one batch back to back (alternating which goes first);
the figures are the median per-take time of each side over `--repeats` and its spread (min-max),
and the median of the per-repeat ratios singles / batch (higher: batching helps more).

    .venv/bin/python bench/batching.py                       # CPU: 4 takes, 64x64, 17 frames, 8 steps
    .venv/bin/python bench/batching.py --takes 2 --repeats 3 # a quick check
    python3 bench/batching.py --device cuda                  # GPU: 4 takes, 768x512, 97 frames, 8 steps
    python3 bench/batching.py --device cuda --folder /models/LTX-Video-0.9.7-diffusers --steps 40
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPT = "a lighthouse keeper climbs the spiral stairs at night"
CPU_LABEL = "CPU, tiny random-weight model: shows Python/scheduler overhead per call, not GPU batching gains"
SIZES = {"cuda": (768, 512, 97), "cpu": (64, 64, 17)}


def spread(values: list[float], digits: int = 3) -> str:
    """`median (min-max)` of `values`."""
    return (f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})")


def slate_sides(args, device: str, width: int, height: int, frames: int, tmp: Path):
    """(label, batch(), single(seed), check()) through Slate's `LtxEngine.render`."""
    import numpy as np

    from workers.engines.ltx import LtxEngine
    from workers.engines.registry import get_model
    from workers.engines.tiny import make_tiny
    from workers.spec import RenderSpec

    folder = args.folder or make_tiny("ltx", tmp / "ltx-tiny")
    # max_batch = takes: no chunking, the batch side really is one pipeline call of all the takes
    engine = LtxEngine(replace(get_model("ltx"), folder=folder), device=device, max_batch=args.takes)
    seeds = list(range(100, 100 + args.takes))
    spec = RenderSpec(model="ltx", prompt=PROMPT, width=width, height=height, frames=frames, steps=args.steps,
                      seeds=seeds)  # fmt: skip
    plan = engine.plan(spec)
    what = "tiny random-weight LTX" if args.folder is None else f"LTX from {folder}"
    label = (f"Slate's LtxEngine.render, {what}, {device}, {engine.dtype}; {plan['width']}x{plan['height']}, "
             f"{plan['frames']} frames, {args.steps} steps, guidance {plan['guidance']}")  # fmt: skip

    def check() -> str:
        floats = engine.generate(spec)
        diff = max(float(np.abs(b - engine.generate(spec.with_seeds([s]))[0]).max()) for b, s in zip(floats, seeds))
        return f"take i of the batch vs the single render of seed i: max |diff| {diff:.2e} (float frames)"

    # the check renders every take twice more: cheap on a CPU, minutes at real size
    return label, lambda: engine.render(spec), lambda seed: engine.render(spec.with_seeds([seed])), (
        check if device == "cpu" else None)


def stock_sides(args, device: str, width: int, height: int, frames: int, tmp: Path):
    """(label, batch(), single(seed), None) through diffusers' `LTXPipeline`, real LTX-Video 2B configs (random)."""
    import torch

    from bench import gpu_engine

    tiny = device == "cpu"  # the real 2B model on a CPU would take hours: its tiny configs check the code path
    dev = torch.device(device)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    pipe, info = gpu_engine.build("ltx", tiny, dev, dtype)
    texts = {n: gpu_engine.fake_text("ltx", n, tiny, dev, dtype, seed=0) for n in {1, args.takes}}

    def call(seeds: list[int]):
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        out = pipe(height=height, width=width, num_frames=frames, num_inference_steps=args.steps, output_type="pt",
                   generator=generators, **texts[len(seeds)]).frames  # fmt: skip
        gpu_engine.sync(dev)
        return out

    seeds = list(range(100, 100 + args.takes))
    size = "tiny configs" if tiny else "LTX-Video 2B configs"
    label = (f"stock diffusers LTXPipeline, {size} with random weights ({info['transformer_params_m']} M "
             f"transformer), no text encoder, {device}, {dtype}; {width}x{height}, {frames} frames, "
             f"{args.steps} steps")  # fmt: skip
    return label, lambda: call(seeds), lambda seed: call([seed]), None


def measure(batch: Callable, single: Callable, seeds: list[int], repeats: int) -> tuple[list[float], list[float]]:
    """Per-take seconds of each side, one figure per repeat; the side that goes first alternates."""

    def singles() -> None:
        for seed in seeds:
            single(seed)

    sides = {"singles": singles, "batch": batch}
    per_take: dict[str, list[float]] = {"singles": [], "batch": []}
    for r in range(repeats):
        order = ("singles", "batch") if r % 2 == 0 else ("batch", "singles")
        for name in order:
            started = time.perf_counter()
            sides[name]()
            per_take[name].append((time.perf_counter() - started) / len(seeds))
    return per_take["singles"], per_take["batch"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                    help="auto: cuda where a GPU exists, else cpu")  # fmt: skip
    ap.add_argument("--takes", type=int, default=4)
    ap.add_argument("--width", type=int, help="default: 768 on cuda, 64 on cpu")
    ap.add_argument("--height", type=int, help="default: 512 on cuda, 64 on cpu")
    ap.add_argument("--frames", type=int, help="default: 97 on cuda, 17 on cpu")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--folder", type=Path, help="an LTX model folder (cpu default: a tiny one built now; cuda "
                                                "default: random-weight real-size stock pipeline)")  # fmt: skip
    ap.add_argument("--stock", action="store_true", help="the stock diffusers pipeline even on a cpu (tiny configs)")
    args = ap.parse_args(argv)
    if args.takes < 2 or args.repeats < 1:
        ap.error("--takes must be at least 2 and --repeats at least 1")

    import torch

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device here")
    w, h, n = SIZES[device]
    width, height, frames = args.width or w, args.height or h, args.frames or n
    stock = args.folder is None and (device == "cuda" or args.stock)
    with tempfile.TemporaryDirectory(prefix="slate-bench-batching-") as tmp:
        return run(args, device, (width, height, frames), stock_sides if stock else slate_sides, Path(tmp))


def run(args, device: str, size: tuple[int, int, int], sides: Callable, tmp: Path) -> int:
    import torch

    label, batch, single, check = sides(args, device, *size, tmp)
    seeds = list(range(100, 100 + args.takes))

    batch()  # warm-up: first-call costs (allocations, kernel selection) out of the way of both sides
    single(seeds[0])
    singles, batched = measure(batch, single, seeds, args.repeats)
    ratios = [s / b for s, b in zip(singles, batched)]

    print(CPU_LABEL if device == "cpu" else
          "CUDA, real size: what batching the takes of a shot gains per take on this GPU")  # fmt: skip
    print(f"  {label}")
    gpu = f", {torch.cuda.get_device_name()}" if device == "cuda" else ""
    print(f"  torch {torch.__version__}, {torch.get_num_threads()} CPU threads{gpu}; {args.takes} takes; "
          f"median (min-max) of {args.repeats} repeats, singles and batch alternating")  # fmt: skip
    print(f"  single calls: {spread(singles)} s a take")
    print(f"  one batch:    {spread(batched)} s a take")
    if device == "cpu":
        print(f"  singles / batch: {spread(ratios, 2)}x (no target: overhead per call, not a GPU figure)")
    else:
        print(f"  singles / batch: {spread(ratios, 2)}x (batching gain per take at this size on this GPU)")
    if check is not None:
        print(f"  {check()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
