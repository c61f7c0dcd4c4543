"""The Wan 2.1 engine: text-to-video, image-to-video and character references from local folders.

A Wan model folder is a diffusers folder (`WanPipeline`, or a `WanImageToVideoPipeline` /
`WanVACEPipeline` folder on its own) with two optional variants that share its text encoder and
VAE, loaded once with it:
- `i2v/` (or `i2v_folder`): `WanImageToVideoPipeline`, with a CLIP image encoder: the first frame
  from `spec.first_frame_key` (continuity from the previous shot);
- `vace/` (or `vace_folder`): `WanVACEPipeline`: `reference_images=` for the characters' reference
  images, and first/last keyframes as kept frames of a masked video (also a first frame when no
  I2V variant exists, or together with references).
Capabilities are the registry's, less what the folders cannot do (no I2V and no VACE: no i2v).

Batching: text-to-video and image-to-video run the N takes as one call with a list of N prompts
and N generators (one image for I2V, never `num_videos_per_prompt`, which crashes there); VACE
does not batch, so it renders the takes one by one (progress counts steps over all of them).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from workers.engines.base import Canceled
from workers.engines.ltx import (
    CancelFn,
    ProgressFn,
    Resolve,
    StepCallback,
    Timing,
    apply_camera,
    camera_setup,
    cast_loras,
    chunks,
    generators,
    load_image,
    lora_adapters,
    memory_saving,
    out_of_memory,
    prepare_pipeline,
    quiet_progress_bars,
    reference_keys,
    resolver,
    to_uint8,
    torch_dtype,
)
from workers.engines.registry import ModelInfo, get_model, snap
from workers.spec import RenderSpec

PIPELINES = ("WanPipeline", "WanImageToVideoPipeline", "WanVACEPipeline")


def _pipeline_class(folder: Path) -> str:
    try:
        name = json.loads((folder / "model_index.json").read_text())["_class_name"]
    except (OSError, ValueError, KeyError) as exc:
        raise FileNotFoundError(
            f"{folder} is not a diffusers model folder (no readable model_index.json); make the tiny one with "
            "`slate models make-tiny` or point the registry at a real Wan 2.1 folder"
        ) from exc
    if name not in PIPELINES:
        raise ValueError(f"{folder} holds a {name}; a Wan model folder holds one of {', '.join(PIPELINES)}")
    return name


class WanEngine:
    """Wan 2.1 through `WanPipeline`, `WanImageToVideoPipeline` and `WanVACEPipeline`; loaded once, kept warm."""

    id = "wan"

    def __init__(self, model: ModelInfo | None = None, *, device: str = "cpu", resolve: Resolve | None = None,
                 max_batch: int | None = None) -> None:
        import diffusers
        from diffusers import AutoencoderKLWan

        self.model = model or get_model("wan")
        if self.model.folder is None:
            raise ValueError(f"model {self.model.id!r} has no folder")
        folder = Path(self.model.folder)
        self.device = str(device)
        self.resolve = resolve  # None: the files the task listed in the spec
        self.max_batch = max_batch if max_batch is not None else self.model.max_batch
        self.dtype = torch_dtype(self.model.dtype, self.device)
        quiet_progress_bars()
        started = time.perf_counter()
        main = _pipeline_class(folder)
        # Wan's VAE in float32, as Wan's own examples load it; the rest in `dtype`.
        vae = AutoencoderKLWan.from_pretrained(folder, subfolder="vae", dtype=torch.float32,
                                               local_files_only=True)
        extra = self._image_encoder(folder) if main == "WanImageToVideoPipeline" else {}
        base = getattr(diffusers, main).from_pretrained(folder, vae=vae, dtype=self.dtype, local_files_only=True,
                                                        **extra)
        self.t2v = base if main == "WanPipeline" else None
        self.i2v = base if main == "WanImageToVideoPipeline" else None
        self.vace = base if main == "WanVACEPipeline" else None
        shared = {"vae": base.vae, "text_encoder": base.text_encoder, "tokenizer": base.tokenizer}
        if self.i2v is None and self.model.supports("i2v"):
            sub = self._variant(folder, self.model.i2v_folder, "i2v", "WanImageToVideoPipeline")
            if sub is not None:
                self.i2v = diffusers.WanImageToVideoPipeline.from_pretrained(
                    sub, dtype=self.dtype, local_files_only=True, **shared, **self._image_encoder(sub)
                )
        if self.vace is None and (self.model.supports("references") or self.model.supports("keyframes")):
            sub = self._variant(folder, self.model.vace_folder, "vace", "WanVACEPipeline")
            if sub is not None:
                self.vace = diffusers.WanVACEPipeline.from_pretrained(
                    sub, dtype=self.dtype, local_files_only=True, **shared
                )
        self.memory_options: list[str] = []
        for pipe in self._pipes():
            self.memory_options = prepare_pipeline(pipe, self.model, device=self.device, dtype=self.dtype)
        # CPU offload hooks the shared text encoder and VAE for one pipeline at a time (the last one
        # offloaded); before another pipeline runs it is offloaded again (`_offload_for`).
        self._offload_owner = self._pipes()[-1]
        self.load_seconds = time.perf_counter() - started
        self.last_timing: dict[str, float] = {}

    @staticmethod
    def _variant(folder: Path, configured: Path | None, name: str, expected: str) -> Path | None:
        sub = Path(configured) if configured else folder / name
        if not (sub / "model_index.json").exists():
            if configured:
                raise FileNotFoundError(f"{sub}: no {expected} folder there (no model_index.json)")
            return None
        found = _pipeline_class(sub)
        if found != expected:
            raise ValueError(f"{sub} holds a {found}, expected a {expected}")
        return sub

    @staticmethod
    def _image_encoder(folder: Path) -> dict[str, Any]:
        """An I2V folder's CLIP image encoder, in float32 as Wan's own examples load it."""
        if not (folder / "image_encoder").exists():
            return {}
        from transformers import CLIPVisionModel

        return {"image_encoder": CLIPVisionModel.from_pretrained(folder, subfolder="image_encoder",
                                                                 dtype=torch.float32, local_files_only=True)}

    def _pipes(self) -> list[Any]:
        seen: list[Any] = []
        for pipe in (self.t2v, self.i2v, self.vace):
            if pipe is not None and all(pipe is not p for p in seen):
                seen.append(pipe)
        return seen

    @property
    def capabilities(self) -> frozenset[str]:
        have = set()
        if self.t2v is not None or self.vace is not None:
            have.add("t2v")
        if self.i2v is not None or self.vace is not None:
            have.add("i2v")
        if self.vace is not None:
            have |= {"references", "keyframes"}
        have.add("lora")
        return self.model.capabilities & have

    def enable_memory_saving(self) -> list[str]:
        """VAE tiling and slicing, and (on an accelerator) model CPU offload: the retry after an out-of-memory error.

        They stay on for the rest of the process. Takes stay reproducible (each has its own generator);
        setting `max_batch` lower as well splits a job into smaller batches.
        """
        applied: list[str] = []
        for pipe in self._pipes():
            applied = memory_saving(pipe, device=self.device)
        self._offload_owner = self._pipes()[-1]
        self.memory_options = sorted(set(self.memory_options) | set(applied))
        return applied

    def _offload_for(self, pipe: Any) -> None:
        """With CPU offload on, hook the shared components to `pipe` before it runs."""
        if pipe is self._offload_owner or not any(o.startswith("cpu_offload") for o in self.memory_options):
            return
        if "cpu_offload:sequential" in self.memory_options:
            pipe.enable_sequential_cpu_offload(device=self.device)
        else:
            pipe.enable_model_cpu_offload(device=self.device)
        self._offload_owner = pipe

    def plan(self, spec: RenderSpec) -> dict[str, Any]:
        """What a render of `spec` will do: pipeline, snapped size, steps, conditioning images, LoRAs, camera."""
        caps = self.capabilities
        width, height, frames, note = snap(self.model, spec.width, spec.height, spec.frames)
        refs = reference_keys(spec) if "references" in caps else []
        first, last = spec.first_frame_key, spec.last_frame_key
        if first and "i2v" not in caps:
            raise ValueError(f"model {self.model.id!r} cannot start from an image (no i2v)")
        if last and "keyframes" not in caps:
            raise ValueError(f"model {self.model.id!r} cannot take a last keyframe (no VACE variant)")
        loras = cast_loras(spec)
        if loras and "lora" not in caps:
            raise ValueError(f"model {self.model.id!r} does not take LoRAs")
        if refs or last or (first and self.i2v is None):
            pipeline = "WanVACEPipeline"
        elif first:
            pipeline = "WanImageToVideoPipeline"
        elif self.t2v is not None:
            pipeline = "WanPipeline"
        elif self.vace is not None:
            pipeline = "WanVACEPipeline"
        else:
            raise ValueError(f"model {self.model.id!r} cannot render from text alone (an image-to-video folder)")
        rw, rh, over = camera_setup(spec, self.model, width, height, frames, bool(first or last))
        self._check_positions(pipeline, rw, rh, frames + len(refs))
        return {
            "model": self.model.id, "pipeline": pipeline,
            "width": width, "height": height, "frames": frames, "snap": note,
            "render_width": rw, "render_height": rh, "overscan": over, "virtual_camera": over is not None,
            "steps": int(spec.steps or self.model.default_steps),
            "guidance": float(self.model.default_guidance if spec.guidance is None else spec.guidance),
            "conditioning": {"first_frame": first, "last_frame": last, "references": refs},
            "loras": [{k: v for k, v in lora.items() if v is not None} for lora in loras],
            "seeds": list(spec.seeds),
        }

    def finish_take(self, frames: np.ndarray, spec: RenderSpec, seed: int, plan: dict[str, Any]) -> np.ndarray:
        """One take of `generate` as it is shown: uint8, with the virtual camera moved over it (on the CPU: the
        render task runs it while the next take renders)."""
        return apply_camera(to_uint8(frames), spec, seed, plan["width"], plan["height"], plan["overscan"])

    def _check_positions(self, pipeline: str, width: int, height: int, frames: int) -> None:
        """Refuse, naming the fix, a size the transformer has too few rotary positions for (a tiny folder made when
        they were fewer: 32 stopped 832x480), instead of a tensor shape error deep inside the pipeline."""
        pipe = {"WanPipeline": self.t2v, "WanImageToVideoPipeline": self.i2v, "WanVACEPipeline": self.vace}[pipeline]
        cfg = pipe.transformer.config
        pt, ph, pw = cfg.patch_size
        space, time_ = pipe.vae_scale_factor_spatial, pipe.vae_scale_factor_temporal
        need = max(((frames - 1) // time_ + 1) // pt, height // space // ph, width // space // pw)
        if need > cfg.rope_max_seq_len:
            raise ValueError(
                f"model {self.model.id!r}: its transformer has rotary positions for {cfg.rope_max_seq_len} latent "
                f"frames, rows or columns and {width}x{height}, {frames} frames needs {need}: make the tiny folder "
                "again (`slate models make-tiny`) or render a smaller size"
            )

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
        name = plan["pipeline"]
        pipe = {"WanPipeline": self.t2v, "WanImageToVideoPipeline": self.i2v, "WanVACEPipeline": self.vace}[name]
        common: dict[str, Any] = dict(
            width=w, height=h, num_frames=n, num_inference_steps=plan["steps"], guidance_scale=plan["guidance"],
            output_type="np", max_sequence_length=self.model.max_sequence_length or 512,
        )
        cond = plan["conditioning"]
        resolve = resolver(spec, self.resolve)
        if name == "WanImageToVideoPipeline":
            common["image"] = load_image(resolve(cond["first_frame"]), w, h)
        elif name == "WanVACEPipeline":
            common.update(self._vace_inputs(cond, w, h, n, resolve))
        # VACE takes one generator per call: one take a call. The others batch (up to max_batch).
        if name == "WanVACEPipeline":
            batches = [[s] for s in seeds]
        else:
            batches = chunks(seeds, self.max_batch)
        total = plan["steps"] * len(batches)
        timing = Timing()
        finished: list[np.ndarray] = []
        self._offload_for(pipe)
        with lora_adapters(pipe, cast_loras(spec), resolve):
            for k, batch in enumerate(batches):
                cb = StepCallback(offset=k * plan["steps"], total=total, on_step=on_step,
                                  should_cancel=should_cancel, finished=finished)
                gens: Any = generators(batch)
                if name == "WanVACEPipeline":
                    prompts: Any = spec.prompt
                    negatives: Any = spec.negative_prompt or ""
                    gens = gens[0]
                else:
                    prompts = [spec.prompt] * len(batch)
                    negatives = [spec.negative_prompt or ""] * len(batch)
                call_start = time.perf_counter()
                with out_of_memory(self.model, f"{len(batch)} takes at {w}x{h}, {n} frames"):
                    out = pipe(prompt=prompts, negative_prompt=negatives, generator=gens,
                               callback_on_step_end=cb, **common).frames
                timing.add(call_start, cb, time.perf_counter())
                finished.extend(np.asarray(v, dtype=np.float32) for v in out)
        self.last_timing = timing.as_dict()
        return finished

    def _vace_inputs(self, cond: dict[str, Any], w: int, h: int, n: int, resolve: Resolve) -> dict[str, Any]:
        """VACE conditioning: reference images, and first/last frames as kept frames of a masked video."""
        out: dict[str, Any] = {}
        if cond["references"]:
            out["reference_images"] = [_fit(Image.open(resolve(key)), w, h) for key in cond["references"]]
        if cond["first_frame"] or cond["last_frame"]:
            gray, keep, make = Image.new("RGB", (w, h), (128, 128, 128)), Image.new("L", (w, h), 0), \
                Image.new("L", (w, h), 255)
            video, mask = [gray] * n, [make] * n
            if cond["first_frame"]:
                video[0], mask[0] = load_image(resolve(cond["first_frame"]), w, h), keep
            if cond["last_frame"]:
                video[-1], mask[-1] = load_image(resolve(cond["last_frame"]), w, h), keep
            out.update(video=video, mask=mask)
        return out


def _fit(image: Image.Image, w: int, h: int) -> Image.Image:
    """A reference image as RGB, no larger than the take (VACE pads it to the frame itself)."""
    image = image.convert("RGB")
    scale = min(w / image.width, h / image.height, 1.0)
    if scale < 1.0:
        image = image.resize((max(round(image.width * scale), 1), max(round(image.height * scale), 1)),
                             Image.Resampling.LANCZOS)
    return image
