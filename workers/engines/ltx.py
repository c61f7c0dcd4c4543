"""The LTX-Video engine: `LTXConditionPipeline` from a local folder, loaded once and kept warm.

Text-to-video, image-to-video (the first frame from `spec.first_frame_key`) and first/last keyframe
conditioning (`LTXVideoCondition` at frame 0 and at the last frame). The N takes of a job are one
batch: a list of N prompts and N generators seeded with `spec.seeds`, so take i equals a single
render of seed i (to ~1e-6). Conditioning images are encoded to their latent mean, so every take of
a batch sees the same condition whatever its seed (see `_batch_safe_conditioning`).
The virtual camera (workers/camera.py) moves a view over frames rendered with overscan, except
when first/last frames condition the take (they must come out as they went in).

The small helpers at the top (memory options, LoRA, progress and cancel, out-of-memory) are shared
with the Wan engine, which imports them from here.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from PIL import Image

from workers.engines.base import Canceled
from workers.engines.loader import OutOfMemory
from workers.engines.lora_path import LoraPathRefused, worker_lora_file
from workers.engines.registry import ModelInfo, get_model, snap
from workers.spec import RenderSpec

log = logging.getLogger(__name__)
# LTXConditionPipeline passes its own timesteps; the scheduler warns about it on every call.
logging.getLogger("diffusers.schedulers.scheduling_flow_match_euler_discrete").setLevel(logging.ERROR)

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]
Resolve = Callable[[str], Path]


# --- shared helpers (the Wan engine uses them too) --------------------------------------------------

def resolver(spec: RenderSpec, resolve: Resolve | None) -> Resolve:
    """How an engine finds the file of a media key: the engine's own `resolve` where it was given one (tests,
    benches), else the local files the worker's task listed in `spec.files` (an engine never opens the media store)."""
    return resolve or spec.path


def quiet_progress_bars() -> None:
    """No tqdm bars from diffusers and transformers while loading and saving (workers log instead)."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()


def has_accelerator() -> bool:
    return torch.cuda.is_available()


def torch_dtype(name: str, device: str) -> torch.dtype:
    """The compute dtype: `auto` is bfloat16 on an accelerator and float32 on a CPU."""
    if name == "auto":
        return torch.float32 if str(device) == "cpu" else torch.bfloat16
    return getattr(torch, name)


def prepare_pipeline(pipe: Any, model: ModelInfo, *, device: str, dtype: torch.dtype) -> list[str]:
    """Put a freshly loaded pipeline in inference shape with the model's memory options; returns what was applied.

    Eval mode everywhere (dropout off: results would differ run to run), no progress bars,
    VAE tiling, layerwise casting of the transformer's weights, CPU offload (only where an
    accelerator exists: it raises on a CPU-only machine), then the device and `torch.compile`.
    """
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()
    pipe.set_progress_bar_config(disable=True)
    applied = []
    if model.vae_tiling:
        pipe.vae.enable_tiling()
        applied.append("vae_tiling")
    if model.layerwise_casting:
        pipe.transformer.enable_layerwise_casting(storage_dtype=getattr(torch, model.layerwise_casting),
                                                  compute_dtype=dtype)
        applied.append(f"layerwise_casting:{model.layerwise_casting}")
    if model.cpu_offload and has_accelerator() and str(device) != "cpu":
        if model.cpu_offload == "sequential":
            pipe.enable_sequential_cpu_offload(device=device)
        else:
            pipe.enable_model_cpu_offload(device=device)
        applied.append(f"cpu_offload:{model.cpu_offload}")
    else:
        if model.cpu_offload:
            log.info("model %s: cpu_offload skipped (no accelerator)", model.id)
        pipe.to(device)
    if model.compile == "regional":
        pipe.transformer.compile_repeated_blocks()
        applied.append("compile:regional")
    elif model.compile == "full":
        pipe.transformer.compile()
        applied.append("compile:full")
    return applied


def memory_saving(pipe: Any, *, device: str) -> list[str]:
    """Turn on the options that trade speed for memory on a loaded pipeline (the retry after an OOM)."""
    applied = []
    if hasattr(pipe.vae, "enable_tiling"):
        pipe.vae.enable_tiling()
        applied.append("vae_tiling")
    if hasattr(pipe.vae, "enable_slicing"):
        pipe.vae.enable_slicing()  # decode the takes of a batch one at a time
        applied.append("vae_slicing")
    if has_accelerator() and str(device) != "cpu":
        pipe.enable_model_cpu_offload(device=device)
        applied.append("cpu_offload:model")
    return applied


def generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per take: the same noise on any device, so a seed means the same take everywhere."""
    return [torch.Generator(device="cpu").manual_seed(int(seed)) for seed in seeds]


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Float frames in [0, 1] -> uint8, rounded."""
    return np.clip(np.asarray(frames, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def load_image(path: Path, width: int, height: int) -> Image.Image:
    """An RGB image scaled to cover `width` x `height` and centre-cropped to it (no distortion)."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        scale = max(width / im.width, height / im.height)
        w, h = max(round(im.width * scale), width), max(round(im.height * scale), height)
        im = im.resize((w, h), Image.Resampling.LANCZOS)
        left, top = (w - width) // 2, (h - height) // 2
        return im.crop((left, top, left + width, top + height))


def _member(member: Any, key: str, default: Any = None) -> Any:
    return member.get(key, default) if isinstance(member, dict) else getattr(member, key, default)


def cast_loras(spec: RenderSpec) -> list[dict[str, Any]]:
    """The LoRAs of the spec's cast: [{"name", "key" or "path", "weight"}], in cast order."""
    out = []
    for member in spec.cast:
        lora = _member(member, "lora")
        if not lora:
            continue
        if not (lora.get("key") or lora.get("path")):
            raise ValueError(f"the LoRA of {_member(member, 'name', '?')} has neither a media key nor a path")
        out.append({"name": _member(member, "name", ""), "key": lora.get("key"), "path": lora.get("path"),
                    "weight": float(lora.get("weight", 1.0))})
    return out


def reference_keys(spec: RenderSpec) -> list[str]:
    """Reference images of the spec and of its cast, each once, in order."""
    keys = list(spec.reference_keys)
    for member in spec.cast:
        keys.extend(_member(member, "reference_keys", []) or [])
    return list(dict.fromkeys(keys))


@contextmanager
def lora_adapters(pipe: Any, loras: list[dict[str, Any]], resolve: Resolve) -> Iterator[list[str]]:
    """Load the cast's LoRAs with their weights for one call and unload them after, whatever happens.

    Each file is read afresh (nothing of it is kept), so the pipeline renders exactly as before once
    the block ends.
    """
    if not loras:
        yield []
        return
    from safetensors.torch import load_file

    names: list[str] = []
    try:
        for i, lora in enumerate(loras):
            who = lora.get("name") or f"cast member {i + 1}"
            if lora.get("path"):
                try:
                    path = worker_lora_file(lora["path"])  # inside this worker's SLATE_LORA_DIR, or refused
                except LoraPathRefused as exc:
                    raise ValueError(f"the LoRA of {who}: {exc}") from None
            else:
                path = resolve(lora["key"])
            try:
                state = load_file(str(path))
            except (OSError, ValueError) as exc:  # missing file, not safetensors
                raise ValueError(f"the LoRA of {who} ({path.name}) cannot be read: {exc}") from exc
            name = f"slate_lora_{i}"
            pipe.load_lora_weights(state, adapter_name=name)
            names.append(name)
        pipe.set_adapters(names, adapter_weights=[lora["weight"] for lora in loras])
        yield names
    finally:
        if names:
            pipe.unload_lora_weights()


@contextmanager
def out_of_memory(model: ModelInfo, what: str) -> Iterator[None]:
    """Turn a CUDA out-of-memory error into `OutOfMemory`, with what to change."""
    try:
        yield
    except torch.OutOfMemoryError as exc:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise OutOfMemory(
            f"{model.label or model.id} ran out of GPU memory rendering {what}. Render fewer takes at once, "
            f"a smaller size or fewer frames, or turn on memory options for model {model.id!r} "
            "(vae_tiling, layerwise_casting, cpu_offload in the models file)."
        ) from exc


class StepCallback:
    """`callback_on_step_end` for one pipeline call: progress, cancel and step timing.

    Steps count over the whole job (`offset` steps were done by earlier calls of the same job), so
    `on_step(done, total)` only ever goes up. When `should_cancel()` turns True the callback raises
    `Canceled` at once (no decoding of the unfinished batch), carrying the takes finished by earlier calls.
    """

    def __init__(self, *, offset: int, total: int, on_step: ProgressFn | None, should_cancel: CancelFn | None,
                 finished: list[np.ndarray]) -> None:
        self.offset, self.total = offset, total
        self.on_step, self.should_cancel = on_step, should_cancel
        self.finished = finished
        self.times: list[float] = []

    def __call__(self, pipe: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        self.times.append(time.perf_counter())
        done = self.offset + i + 1
        if self.on_step is not None:
            self.on_step(done, self.total)
        if self.should_cancel is not None and self.should_cancel():
            raise Canceled(f"canceled at step {done} of {self.total}", takes=list(self.finished))
        return {}


class Timing:
    """Where a render's time went: before the first step, denoising, decoding (seconds)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first_step_end: float | None = None
        self.steps = 0
        self.step_s = 0.0
        self.decode_s = 0.0

    def add(self, call_start: float, cb: StepCallback, call_end: float) -> None:
        if not cb.times:
            return
        n = len(cb.times)
        per = (cb.times[-1] - cb.times[0]) / (n - 1) if n > 1 else cb.times[0] - call_start
        if self.first_step_end is None:
            self.first_step_end = cb.times[0]
            self.first_step_s = per
        self.steps += n
        self.step_s += cb.times[-1] - cb.times[0] + per
        self.decode_s += call_end - cb.times[-1]

    def as_dict(self) -> dict[str, float]:
        total = time.perf_counter() - self.start
        before = 0.0
        if self.first_step_end is not None:
            before = max(self.first_step_end - self.start - self.first_step_s, 0.0)
        return {"total_s": round(total, 4), "before_first_step_s": round(before, 4),
                "denoise_s": round(self.step_s, 4), "decode_s": round(self.decode_s, 4), "steps": self.steps,
                "step_s": round(self.step_s / self.steps, 5) if self.steps else 0.0}


def camera_setup(spec: RenderSpec, model: ModelInfo, width: int, height: int, frames: int,
                 conditioned: bool) -> tuple[int, int, float | None]:
    """The render size for the virtual camera: (render width, render height, overscan or None for no camera).

    The frames are rendered larger by the move's overscan (rounded up to the model's size multiple)
    and a view moves over them. Not with first/last frame conditioning: the condition frames must
    come out as they went in.
    """
    move = (spec.camera or {}).get("move") if isinstance(spec.camera, dict) else getattr(spec.camera, "move", None)
    if not model.virtual_camera or conditioned or move in (None, "", "static"):
        return width, height, None
    from workers import camera as vcam

    over = vcam.overscan(spec.camera, frames=frames, fps=spec.fps, aspect=width / height)
    if over <= 1.0:
        return width, height, None
    m = model.size_multiple
    rw, rh = math.ceil(width * over / m) * m, math.ceil(height * over / m) * m
    return rw, rh, min(rw / width, rh / height)


def apply_camera(frames: np.ndarray, spec: RenderSpec, seed: int, width: int, height: int,
                 overscan: float | None) -> np.ndarray:
    """Move the virtual camera over one take's uint8 frames (identity when there is no overscan)."""
    if overscan is None:
        return frames
    from workers import camera as vcam

    path = vcam.camera_path(spec.camera, frames=frames.shape[0], fps=spec.fps, seed=seed)
    return vcam.apply_path(frames, path, (width, height), overscan=overscan)


def chunks(seeds: Sequence[int], size: int | None) -> list[list[int]]:
    seeds = list(seeds)
    if not size or size >= len(seeds):
        return [seeds]
    return [seeds[i:i + size] for i in range(0, len(seeds), size)]


# --- the engine -------------------------------------------------------------------------------------

class LtxEngine:
    """LTX-Video through `LTXConditionPipeline`; one instance per worker process, kept warm."""

    id = "ltx"

    def __init__(self, model: ModelInfo | None = None, *, device: str = "cpu", resolve: Resolve | None = None,
                 max_batch: int | None = None) -> None:
        from diffusers import LTXConditionPipeline

        self.model = model or get_model("ltx")
        if self.model.folder is None:
            raise ValueError(f"model {self.model.id!r} has no folder")
        folder = Path(self.model.folder)
        if not (folder / "model_index.json").exists():
            raise FileNotFoundError(
                f"model {self.model.id!r}: {folder} is not a diffusers model folder (no model_index.json); "
                "make the tiny one with `slate models make-tiny` or point the registry at a real LTX-Video folder"
            )
        self.device = str(device)
        self.resolve = resolve  # None: the files the task listed in the spec
        self.max_batch = max_batch if max_batch is not None else self.model.max_batch
        self.dtype = torch_dtype(self.model.dtype, self.device)
        quiet_progress_bars()
        started = time.perf_counter()
        self.pipe = LTXConditionPipeline.from_pretrained(folder, dtype=self.dtype, local_files_only=True)
        self.memory_options = prepare_pipeline(self.pipe, self.model, device=self.device, dtype=self.dtype)
        self.load_seconds = time.perf_counter() - started
        self.last_timing: dict[str, float] = {}

    @property
    def capabilities(self) -> frozenset[str]:
        return self.model.capabilities & {"t2v", "i2v", "keyframes", "lora"}

    def enable_memory_saving(self) -> list[str]:
        """VAE tiling and slicing, and (on an accelerator) model CPU offload: the retry after an out-of-memory error.

        They stay on for the rest of the process. Takes stay reproducible (each has its own generator);
        setting `max_batch` lower as well splits a job into smaller batches.
        """
        applied = memory_saving(self.pipe, device=self.device)
        self.memory_options = sorted(set(self.memory_options) | set(applied))
        return applied

    def plan(self, spec: RenderSpec) -> dict[str, Any]:
        """What a render of `spec` will do: snapped size, steps, conditioning images, LoRAs, camera."""
        width, height, frames, note = snap(self.model, spec.width, spec.height, spec.frames)
        if spec.first_frame_key and "i2v" not in self.capabilities:
            raise ValueError(f"model {self.model.id!r} cannot start from an image (no i2v)")
        if spec.last_frame_key and "keyframes" not in self.capabilities:
            raise ValueError(f"model {self.model.id!r} cannot take a last keyframe")
        loras = cast_loras(spec)
        if loras and "lora" not in self.capabilities:
            raise ValueError(f"model {self.model.id!r} does not take LoRAs")
        conditioned = bool(spec.first_frame_key or spec.last_frame_key)
        rw, rh, over = camera_setup(spec, self.model, width, height, frames, conditioned)
        return {
            "model": self.model.id, "pipeline": "LTXConditionPipeline",
            "width": width, "height": height, "frames": frames, "snap": note,
            "render_width": rw, "render_height": rh, "overscan": over, "virtual_camera": over is not None,
            "steps": int(spec.steps or self.model.default_steps),
            "guidance": float(self.model.default_guidance if spec.guidance is None else spec.guidance),
            "conditioning": {"first_frame": spec.first_frame_key, "last_frame": spec.last_frame_key,
                             "references": []},  # LTX takes no reference images
            "loras": [{k: v for k, v in lora.items() if v is not None} for lora in loras],
            "seeds": list(spec.seeds),
        }

    def finish_take(self, frames: np.ndarray, spec: RenderSpec, seed: int, plan: dict[str, Any]) -> np.ndarray:
        """One take of `generate` as it is shown: uint8, with the virtual camera moved over it (on the CPU: the
        render task runs it while the next take renders)."""
        return apply_camera(to_uint8(frames), spec, seed, plan["width"], plan["height"], plan["overscan"])

    def render(self, spec: RenderSpec, *, on_step: ProgressFn | None = None,
               should_cancel: CancelFn | None = None) -> list[np.ndarray]:
        """One uint8 array (frames, height, width, 3) per seed in spec.seeds, in order."""
        plan = self.plan(spec)

        def finish(takes: list[np.ndarray]) -> list[np.ndarray]:
            return [apply_camera(to_uint8(v), spec, seed, plan["width"], plan["height"], plan["overscan"])
                    for v, seed in zip(takes, spec.seeds, strict=False)]

        try:
            return finish(self.generate(spec, on_step=on_step, should_cancel=should_cancel, plan=plan))
        except Canceled as exc:
            exc.takes = finish(exc.takes)  # the takes finished before the cancel, as takes
            raise

    def generate(self, spec: RenderSpec, *, on_step: ProgressFn | None = None, should_cancel: CancelFn | None = None,
                 plan: dict[str, Any] | None = None) -> list[np.ndarray]:
        """The model's own frames, float32 in [0, 1], (frames, render height, render width, 3) per seed."""
        plan = plan or self.plan(spec)
        seeds = list(spec.seeds)
        if not seeds:
            raise ValueError("no seeds: a job renders at least one take")
        w, h, n = plan["render_width"], plan["render_height"], plan["frames"]
        conditions = self._conditions(spec, w, h, n)
        batches = chunks(seeds, self.max_batch)
        total = plan["steps"] * len(batches)
        timing = Timing()
        finished: list[np.ndarray] = []
        with lora_adapters(self.pipe, cast_loras(spec), resolver(spec, self.resolve)):
            for k, batch in enumerate(batches):
                gens = generators(batch)
                cb = StepCallback(offset=k * plan["steps"], total=total, on_step=on_step,
                                  should_cancel=should_cancel, finished=finished)
                kwargs: dict[str, Any] = {}
                if getattr(self.pipe.vae.config, "timestep_conditioning", False):
                    kwargs.update(decode_timestep=0.05, decode_noise_scale=0.025)  # LTX-Video 0.9.1+ defaults
                call_start = time.perf_counter()
                with out_of_memory(self.model, f"{len(batch)} takes at {w}x{h}, {n} frames"), \
                        _batch_safe_conditioning(self.pipe, gens, conditions):
                    out = self.pipe(
                        conditions=conditions or None,
                        prompt=[spec.prompt] * len(batch),
                        negative_prompt=[spec.negative_prompt or ""] * len(batch),
                        width=w, height=h, num_frames=n, frame_rate=float(spec.fps),
                        num_inference_steps=plan["steps"], guidance_scale=plan["guidance"],
                        generator=gens, output_type="np",
                        max_sequence_length=self.model.max_sequence_length or 128,
                        callback_on_step_end=cb, **kwargs,
                    ).frames
                timing.add(call_start, cb, time.perf_counter())
                finished.extend(np.asarray(v, dtype=np.float32) for v in out)
        self.last_timing = timing.as_dict()
        return finished

    def _conditions(self, spec: RenderSpec, width: int, height: int, frames: int) -> list[Any]:
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        out = []
        if spec.first_frame_key:
            image = load_image(resolver(spec, self.resolve)(spec.first_frame_key), width, height)
            out.append(LTXVideoCondition(image=image, frame_index=0, strength=1.0))
        if spec.last_frame_key:
            image = load_image(resolver(spec, self.resolve)(spec.last_frame_key), width, height)
            out.append(LTXVideoCondition(image=image, frame_index=frames - 1, strength=1.0))
        return out


@contextmanager
def _batch_safe_conditioning(pipe: Any, gens: list[torch.Generator], conditions: list[Any]) -> Iterator[None]:
    """Make conditioned batches work and reproducible take by take.

    `LTXConditionPipeline` encodes each condition image once, as a batch of one: the VAE sample
    draws from the first generator only, the noise of a keyframe after frame 0 too, and a keyframe
    after frame 0 then fails to join a batch of several takes. For the duration of one call, the VAE
    encode returns the latent mean (no draw) repeated for every take, so each generator draws
    exactly what a single render of its seed draws.
    """
    if not conditions:
        yield
        return
    vae = pipe.vae
    original = vae.encode

    def encode(x: torch.Tensor, *args: Any, **kwargs: Any) -> SimpleNamespace:
        latents = original(x, *args, **kwargs).latent_dist.mode()
        return SimpleNamespace(latents=latents.repeat(len(gens), *([1] * (latents.ndim - 1))))

    vae.encode = encode
    try:
        yield
    finally:
        del vae.encode  # the class's method again
