#!/usr/bin/env python3
"""GPU throughput benchmark for Slate's two video engines: LTX-Video and Wan 2.1.

What it measures
----------------
For each engine it builds the real-size diffusion transformer and VAE from the
published model configs (copied below, not downloaded), fills them with random
weights, moves them to CUDA in bf16 and runs the stock diffusers pipeline
(``LTXPipeline`` / ``WanPipeline``) at 768x512, 97 frames, classifier-free
guidance on (the pipelines' defaults: LTX 3.0, Wan 5.0).  For every
configuration (engine x batch 1/4 x eager/torch.compile) it records:

* seconds per denoising step (mean of ``--steps`` timed steps after
  ``--warmup`` untimed ones; CUDA is synchronised at every step boundary via
  the pipeline's ``callback_on_step_end``),
* seconds of VAE decode (everything after the last step: unpack, de-normalise,
  ``vae.decode`` and post-processing to a tensor), eager runs only, since the
  VAE is not compiled,
* the first (warm-up) step of a compiled run, i.e. the compile cost,
* peak GPU memory (``torch.cuda.max_memory_allocated``) while denoising and
  while decoding,
* derived: seconds per take at the default step count (LTX 40, Wan 50):
  ``(steps * step_s + decode_s) / batch``.

The T5 text encoders (T5-v1.1-XXL for LTX, UMT5-XXL for Wan) are NOT built:
the pipelines get random ``prompt_embeds`` / ``negative_prompt_embeds`` of the
right shape instead (LTX: 128 tokens x 4096 with an attention mask; Wan: 512
tokens x 4096, zero-padded after the "prompt" like the real pipeline does).
Text encoding runs once per take and is not part of these figures.

torch.compile is applied as regional compilation by default
(``transformer.compile_repeated_blocks(dynamic=False)``: ``torch.compile`` in
its default mode on each repeated transformer block, the diffusers-recommended
way, with one compile shared by all blocks); ``--full-compile`` compiles the
whole transformer instead (several times slower to compile).

Why random weights are good enough
----------------------------------
The work a diffusion step does is fixed by the shapes: dense matmuls,
attention and convolutions with no data-dependent branching, sparsity or early
exit.  A model built from the published config with random (normally
distributed) weights runs the same kernels on the same shapes as the trained
checkpoint, so it times the same and uses the same memory.  (The outputs are
of course noise.)  Only near-degenerate data such as all-zero tensors runs
measurably faster on the GPU; random weights are not that.

How to run
----------
On a CUDA machine with torch and diffusers 0.42.x::

    PYTHONUNBUFFERED=1 python3 bench/gpu_engine.py --out results/gpu_results.json

Quick check of every code path on a CPU in seconds (tiny configs, fp32)::

    python3 bench/gpu_engine.py --tiny --out /tmp/gpu_results.json

Each result line is printed (and the JSON file rewritten) as soon as it is
measured, so a run cut short still leaves the figures measured so far.
Options: ``--models ltx,wan``, ``--batches 1,4``, ``--no-compile``,
``--full-compile``, ``--steps``, ``--warmup``, ``--deadline-s``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
import traceback

import torch

# --------------------------------------------------------------------------
# Published configs (diffusers format).
# --------------------------------------------------------------------------

# Lightricks/LTX-Video (2B, 0.9.x diffusers folders): transformer/config.json
LTX_TRANSFORMER = {
    "activation_fn": "gelu-approximate",
    "attention_bias": True,
    "attention_head_dim": 64,
    "attention_out_bias": True,
    "caption_channels": 4096,
    "cross_attention_dim": 2048,
    "in_channels": 128,
    "norm_elementwise_affine": False,
    "norm_eps": 1e-06,
    "num_attention_heads": 32,
    "num_layers": 28,
    "out_channels": 128,
    "patch_size": 1,
    "patch_size_t": 1,
    "qk_norm": "rms_norm_across_heads",
}
# Lightricks/LTX-Video: vae/config.json
LTX_VAE = {
    "block_out_channels": [128, 256, 512, 512],
    "decoder_causal": False,
    "encoder_causal": True,
    "in_channels": 3,
    "latent_channels": 128,
    "layers_per_block": [4, 3, 3, 3, 4],
    "out_channels": 3,
    "patch_size": 4,
    "patch_size_t": 1,
    "resnet_norm_eps": 1e-06,
    "scaling_factor": 1.0,
    "spatio_temporal_scaling": [True, True, True, False],
}
# Lightricks/LTX-Video: scheduler/scheduler_config.json
LTX_SCHEDULER = {
    "base_image_seq_len": 1024,
    "base_shift": 0.95,
    "invert_sigmas": False,
    "max_image_seq_len": 4096,
    "max_shift": 2.05,
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "shift_terminal": 0.1,
    "use_beta_sigmas": False,
    "use_dynamic_shifting": True,
    "use_exponential_sigmas": False,
    "use_karras_sigmas": False,
}

# Wan-AI/Wan2.1-T2V-1.3B-Diffusers: transformer/config.json
WAN_TRANSFORMER = {
    "added_kv_proj_dim": None,
    "attention_head_dim": 128,
    "cross_attn_norm": True,
    "eps": 1e-06,
    "ffn_dim": 8960,
    "freq_dim": 256,
    "image_dim": None,
    "in_channels": 16,
    "num_attention_heads": 12,
    "num_layers": 30,
    "out_channels": 16,
    "patch_size": [1, 2, 2],
    "qk_norm": "rms_norm_across_heads",
    "rope_max_seq_len": 1024,
    "text_dim": 4096,
}
# Wan-AI/Wan2.1-T2V-1.3B-Diffusers: vae/config.json
WAN_VAE = {
    "attn_scales": [],
    "base_dim": 96,
    "dim_mult": [1, 2, 4, 4],
    "dropout": 0.0,
    "latents_mean": [
        -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
        0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
    ],
    "latents_std": [
        2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
        3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916,
    ],
    "num_res_blocks": 2,
    "temperal_downsample": [False, True, True],
    "z_dim": 16,
}
# Wan-AI/Wan2.1-T2V-1.3B-Diffusers: scheduler/scheduler_config.json (UniPC)
WAN_SCHEDULER = {
    "flow_shift": 3.0,
    "num_train_timesteps": 1000,
    "prediction_type": "flow_prediction",
    "solver_order": 2,
    "use_flow_sigmas": True,
}

# Tiny stand-ins (shapes of diffusers' own fast tests) for --tiny on a CPU.
TINY = {
    "ltx": {
        "transformer": dict(
            in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
            num_attention_heads=4, attention_head_dim=8, cross_attention_dim=32,
            num_layers=2, caption_channels=32,
        ),
        "vae": dict(
            in_channels=3, out_channels=3, latent_channels=8,
            block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, False, False),
            decoder_spatio_temporal_scaling=(True, True, False, False),
            decoder_inject_noise=(False, False, False, False, False),
            upsample_residual=(False, False, False, False), upsample_factor=(1, 1, 1, 1),
            timestep_conditioning=False, patch_size=1, patch_size_t=1,
            encoder_causal=True, decoder_causal=False,
        ),
        "text_dim": 32, "text_len": 16, "width": 32, "height": 32, "frames": 9,
    },
    "wan": {
        "transformer": dict(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
            in_channels=16, out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32,
            num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        ),
        "vae": dict(
            base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
            temperal_downsample=[False, True, True],
        ),
        "text_dim": 32, "text_len": 16, "width": 32, "height": 32, "frames": 9,
    },
}

REAL = {
    "ltx": {"text_dim": 4096, "text_len": 128, "default_steps": 40},
    "wan": {"text_dim": 4096, "text_len": 512, "default_steps": 50},
}
GIB = 1024 ** 3


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

class Recorder:
    """Prints each record at once and rewrites the JSON file after each one."""

    def __init__(self, path: str | None, env: dict, settings: dict):
        self.path = path
        self.data = {"env": env, "settings": settings, "results": [], "errors": [],
                     "skipped": [], "summary": {}, "complete": False}
        self.flush()

    def flush(self):
        if not self.path:
            return
        d = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(d, exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=2, default=str)
        os.replace(tmp, self.path)

    def add(self, kind: str, rec: dict):
        self.data[kind].append(rec)
        print(f"[{kind}] " + json.dumps(rec, default=str), flush=True)
        self.flush()


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def peak_gib(dev):
    return round(torch.cuda.max_memory_allocated(dev) / GIB, 2) if dev.type == "cuda" else None


def reset_peak(dev):
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)


def free_memory(dev):
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.empty_cache()


def nparams(m) -> int:
    return sum(p.numel() for p in m.parameters())


def environment(dev) -> dict:
    import diffusers

    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "diffusers": diffusers.__version__,
        "device": str(dev),
        "cpu_count": os.cpu_count(),
    }
    if dev.type == "cuda":
        p = torch.cuda.get_device_properties(dev)
        env["sdpa"] = {k: getattr(torch.backends.cuda, f"{k}_sdp_enabled")()
                       for k in ("flash", "mem_efficient", "cudnn", "math")
                       if hasattr(torch.backends.cuda, f"{k}_sdp_enabled")}
        env.update(gpu=p.name, gpu_mem_gib=round(p.total_memory / GIB, 1),
                   sm_count=p.multi_processor_count, capability=f"{p.major}.{p.minor}")
        try:
            env["nvidia_smi"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit",
                 "--format=csv,noheader"], capture_output=True, text=True, timeout=15).stdout.strip()
        except Exception as e:  # noqa: BLE001
            env["nvidia_smi"] = f"unavailable: {e}"
    return env


# --------------------------------------------------------------------------
# Building the engines
# --------------------------------------------------------------------------

def build(model: str, tiny: bool, dev, dtype):
    """Return (pipeline, info) with random weights, on dev in dtype."""
    from diffusers import (AutoencoderKLLTXVideo, AutoencoderKLWan,
                           FlowMatchEulerDiscreteScheduler, LTXPipeline,
                           LTXVideoTransformer3DModel, UniPCMultistepScheduler,
                           WanPipeline, WanTransformer3DModel)

    torch.manual_seed(0)
    t0 = time.perf_counter()
    with torch.device(dev):  # initialise directly on the GPU: seconds, not minutes
        if model == "ltx":
            tcfg = TINY["ltx"]["transformer"] if tiny else LTX_TRANSFORMER
            vcfg = TINY["ltx"]["vae"] if tiny else LTX_VAE
            transformer = LTXVideoTransformer3DModel.from_config(tcfg)
            vae = AutoencoderKLLTXVideo.from_config(vcfg)
            scheduler = FlowMatchEulerDiscreteScheduler.from_config(LTX_SCHEDULER)
        else:
            tcfg = TINY["wan"]["transformer"] if tiny else WAN_TRANSFORMER
            vcfg = TINY["wan"]["vae"] if tiny else WAN_VAE
            transformer = WanTransformer3DModel.from_config(tcfg)
            vae = AutoencoderKLWan.from_config(vcfg)
            scheduler = UniPCMultistepScheduler.from_config(WAN_SCHEDULER)
    transformer = cast_like_from_pretrained(transformer.to(dev), dtype).eval()
    vae = cast_like_from_pretrained(vae.to(dev), dtype).eval()
    if model == "ltx":
        pipe = LTXPipeline(scheduler=scheduler, vae=vae, text_encoder=None,
                           tokenizer=None, transformer=transformer)
    else:
        pipe = WanPipeline(tokenizer=None, text_encoder=None, vae=vae,
                           scheduler=scheduler, transformer=transformer)
    pipe.set_progress_bar_config(disable=True)
    # Pay the one-time costs of the first VAE call (cuDNN handles, kernel
    # loading) on a tiny latent, so they do not land in the first decode figure.
    with torch.no_grad():
        c = vae.config.z_dim if model == "wan" else vae.config.latent_channels
        vae.decode(torch.randn(1, c, 2, 4, 4, device=dev, dtype=dtype), return_dict=False)
    sync(dev)
    info = {"model": model, "build_s": round(time.perf_counter() - t0, 2),
            "transformer_params_m": round(nparams(transformer) / 1e6, 1),
            "vae_params_m": round(nparams(vae) / 1e6, 1),
            # resident = weights as loaded; build peak also counts the fp32 init before the cast
            "resident_gib": round(torch.cuda.memory_allocated(dev) / GIB, 2) if dev.type == "cuda" else None,
            "build_peak_gib": peak_gib(dev)}
    return pipe, info


def cast_like_from_pretrained(model, dtype):
    """Cast to dtype the way ``from_pretrained(torch_dtype=dtype)`` leaves a model.

    Without ``_keep_in_fp32_modules`` that is a plain cast.  With it (the Wan
    transformer keeps rope, time_embedder, scale_shift_table and its norms in
    fp32), checkpoint tensors under those modules stay fp32, the others are
    cast, and non-persistent buffers (e.g. the rope tables) keep the dtype they
    were created with.
    """
    keep = getattr(model, "_keep_in_fp32_modules", None) or []
    if not keep:
        return torch.nn.Module.to(model, dtype=dtype)

    persistent = set(model.state_dict().keys())

    def want(name):
        return torch.float32 if any(k in name.split(".") for k in keep) else dtype

    for mname, mod in model.named_modules():
        prefix = f"{mname}." if mname else ""
        for pname, p in mod.named_parameters(recurse=False):
            if p.is_floating_point():
                p.data = p.data.to(want(prefix + pname))
        for bname, b in list(mod.named_buffers(recurse=False)):
            if b is not None and b.is_floating_point() and prefix + bname in persistent:
                mod._buffers[bname] = b.to(want(prefix + bname))
    return model


def fake_text(model: str, batch: int, tiny: bool, dev, dtype, seed: int):
    """Random stand-ins for T5 outputs: (cond, uncond) kwargs for the pipeline."""
    spec = TINY[model] if tiny else REAL[model]
    dim, n = spec["text_dim"], spec["text_len"]
    g = torch.Generator("cpu").manual_seed(seed)
    used = min(n, 40)  # a ~40-token prompt; the rest is padding, like the real encoders

    def emb():
        e = torch.randn(batch, n, dim, generator=g)
        if model == "wan":
            e[:, used:] = 0  # WanPipeline zero-pads embeddings past the prompt
        return e.to(dev, dtype)

    if model == "ltx":
        mask = torch.zeros(batch, n, dtype=torch.long)
        mask[:, :used] = 1
        mask = mask.to(dev)
        return dict(prompt_embeds=emb(), prompt_attention_mask=mask,
                    negative_prompt_embeds=emb(), negative_prompt_attention_mask=mask.clone())
    return dict(prompt_embeds=emb(), negative_prompt_embeds=emb())


def set_compiled(transformer, on: bool, full: bool):
    """Turn torch.compile (default mode, static shapes) on or off in place."""
    if on:
        if full:
            transformer.compile(dynamic=False)
        else:
            transformer.compile_repeated_blocks(dynamic=False)
    else:
        for m in transformer.modules():
            m._compiled_call_impl = None  # what nn.Module.compile() sets


# --------------------------------------------------------------------------
# One measured configuration
# --------------------------------------------------------------------------

def run_config(pipe, model, batch, compiled, args, dev, dtype, size):
    """Run warmup+steps denoising steps (and the decode when eager)."""
    n_steps = args.warmup + args.steps
    kw = fake_text(model, batch, args.tiny, dev, dtype, seed=batch)
    stamps: list[float] = []
    mem = {}

    def on_step(p, i, t, cb_kwargs):
        sync(dev)
        stamps.append(time.perf_counter())
        if i == n_steps - 1:
            mem["denoise"] = peak_gib(dev)
            reset_peak(dev)
        return cb_kwargs

    decode = not compiled  # the VAE is the same in both modes: decode once, eager
    free_memory(dev)
    reset_peak(dev)
    sync(dev)
    t0 = time.perf_counter()
    pipe(height=size["height"], width=size["width"], num_frames=size["frames"],
         num_inference_steps=n_steps, output_type="pt" if decode else "latent",
         callback_on_step_end=on_step, **kw)
    sync(dev)
    t_end = time.perf_counter()

    bounds = [t0] + stamps
    step_times = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
    timed = step_times[args.warmup:]
    rec = {
        "model": model, "batch": batch, "mode": "compile" if compiled else "eager",
        "first_step_s": round(step_times[0], 3),
        "step_s": round(sorted(timed)[len(timed) // 2], 4),  # median: robust to one hiccup
        "step_mean_s": round(sum(timed) / len(timed), 4),
        "step_times_s": [round(s, 4) for s in step_times],
        "peak_denoise_gib": mem.get("denoise"),
    }
    if decode:
        rec["decode_s"] = round(t_end - stamps[-1], 3)
        rec["peak_decode_gib"] = peak_gib(dev)
    if compiled:
        # first step = compile + one ordinary step; report the compile share too
        rec["compile_warmup_s"] = round(step_times[0], 2)
    return rec


def decode_only(pipe, model, batch, dev, vae_dtype, size):
    """Time vae.decode alone on random latents with the VAE in vae_dtype."""
    vae = pipe.vae
    old = vae.dtype
    torch.nn.Module.to(vae, dtype=vae_dtype)
    try:
        if model == "wan":
            z = vae.config.z_dim
            lat = torch.randn(batch, z, (size["frames"] - 1) // 4 + 1,
                              size["height"] // 8, size["width"] // 8, device=dev, dtype=vae_dtype)
        else:
            c = vae.config.latent_channels
            lat = torch.randn(batch, c, (size["frames"] - 1) // vae.temporal_compression_ratio + 1,
                              size["height"] // vae.spatial_compression_ratio,
                              size["width"] // vae.spatial_compression_ratio, device=dev, dtype=vae_dtype)
        free_memory(dev)
        reset_peak(dev)
        sync(dev)
        t0 = time.perf_counter()
        with torch.no_grad():
            vae.decode(lat, return_dict=False)
        sync(dev)
        return {"model": model, "batch": batch, "mode": f"decode-only vae {str(vae_dtype).split('.')[-1]}",
                "decode_s": round(time.perf_counter() - t0, 3), "peak_decode_gib": peak_gib(dev)}
    finally:
        torch.nn.Module.to(vae, dtype=old)


# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------

def summarise(results, default_steps) -> dict:
    by = {(r["model"], r["batch"], r["mode"]): r for r in results}
    out = {}
    for model in sorted({r["model"] for r in results}):
        steps = default_steps[model]
        s = {"default_steps": steps}
        for batch in sorted({r["batch"] for r in results if r["model"] == model}):
            e = by.get((model, batch, "eager"))
            c = by.get((model, batch, "compile"))
            dec = e.get("decode_s") if e else None
            row = {}
            if e and dec is not None:
                row["take_s_eager"] = round((steps * e["step_s"] + dec) / batch, 2)
            if c and dec is not None:
                row["take_s_compile"] = round((steps * c["step_s"] + dec) / batch, 2)
            if e and c:
                row["compile_step_speedup"] = round(e["step_s"] / c["step_s"], 2)
            s[f"b{batch}"] = row
        for mode in ("eager", "compile"):
            a, b = s.get("b1", {}).get(f"take_s_{mode}"), s.get("b4", {}).get(f"take_s_{mode}")
            if a and b:
                s[f"batch4_vs_1_take_speedup_{mode}"] = round(a / b, 2)
        out[model] = s
    return out


def print_table(results):
    print("\n| model | batch | mode | s/step | first step s | decode s | peak denoise GiB | peak decode GiB |",
          flush=True)
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['model']} | {r['batch']} | {r['mode']} | {r.get('step_s', '')} | "
              f"{r.get('first_step_s', '')} | {r.get('decode_s', '')} | "
              f"{r.get('peak_denoise_gib', '')} | {r.get('peak_decode_gib', '')} |", flush=True)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny configs (fp32 on CPU unless CUDA): check code paths")
    ap.add_argument("--out", default=None, help="JSON results file, rewritten after each measurement")
    ap.add_argument("--models", default="ltx,wan", help="comma list of ltx,wan")
    ap.add_argument("--batches", default="1,4", help="comma list of batch sizes")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile runs")
    ap.add_argument("--full-compile", action="store_true",
                    help="compile the whole transformer instead of its repeated blocks")
    ap.add_argument("--steps", type=int, default=3, help="timed denoising steps per configuration")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps before them")
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--height", type=int, default=None)
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--deadline-s", type=float, default=0,
                    help="skip a configuration whose estimated cost would end past this many seconds "
                         "from start (0: no limit)")
    ap.add_argument("--no-fp32-decode", action="store_true",
                    help="skip the extra decode-only timing of the Wan VAE in fp32")
    args = ap.parse_args(argv)
    start = time.perf_counter()

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    if dev.type != "cuda" and not args.tiny:
        print("No CUDA device: real-size models on a CPU would take hours. Use --tiny.", file=sys.stderr)
        return 2

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    batches = [int(b) for b in args.batches.split(",")]
    default_steps = {m: REAL[m]["default_steps"] for m in models}
    settings = {"tiny": args.tiny, "dtype": str(dtype), "models": models, "batches": batches,
                "warmup_steps": args.warmup, "timed_steps": args.steps,
                "compile": None if args.no_compile else ("full" if args.full_compile else "regional"),
                "default_steps": default_steps, "cfg": {"ltx": 3.0, "wan": 5.0},
                "argv": sys.argv[1:]}
    sizes = {}
    for m in models:
        base = TINY[m] if args.tiny else {"width": 768, "height": 512, "frames": 97}
        sizes[m] = {"width": args.width or base["width"], "height": args.height or base["height"],
                    "frames": args.frames or base["frames"]}
    settings["sizes"] = sizes

    env = environment(dev)
    print(json.dumps(env, indent=1), flush=True)
    rec = Recorder(args.out, env, settings)

    def elapsed():
        return time.perf_counter() - start

    # Plan, cheapest first.  LTX (cheap): eager b1, b4, then compiled b1, b4.
    # Wan (dear): eager b1, compiled b1, eager b4, fp32 decode, compiled b4 last.
    comp = [] if args.no_compile else [True]
    small, big = [b for b in batches if b == 1], [b for b in batches if b != 1]
    plan = []
    for m in models:
        if m == "ltx":
            plan += [(m, b, False) for b in batches] + [(m, b, c) for c in comp for b in batches]
        else:
            plan += [(m, b, False) for b in small] + [(m, b, c) for c in comp for b in small]
            plan += [(m, b, False) for b in big]
            if not args.no_fp32_decode:
                plan.append((m, 1, "fp32-decode"))
            plan += [(m, b, c) for c in comp for b in big]
    print("plan:", plan, flush=True)

    measured = {}  # (model, batch, mode) -> record
    current, pipe, is_compiled = None, None, False
    for model, batch, mode in plan:
        key = f"{model} b{batch} {'compile' if mode is True else ('eager' if mode is False else mode)}"
        # Cost estimate from what was measured so far (only used with --deadline-s).
        if args.deadline_s and mode is True and batch != 1:
            e = measured.get((model, batch, "eager"))
            c1 = measured.get((model, 1, "compile"))
            if e and c1:
                est = c1["compile_warmup_s"] + (args.warmup + args.steps) * e["step_s"]
                if elapsed() + est > args.deadline_s:
                    rec.add("skipped", {"config": key, "reason": f"estimated {est:.0f}s would pass the "
                                        f"{args.deadline_s:.0f}s deadline at {elapsed():.0f}s"})
                    continue
        try:
            if model != current:
                if pipe is not None:
                    del pipe
                    pipe = None
                    torch._dynamo.reset()
                    free_memory(dev)
                reset_peak(dev)
                pipe, info = build(model, args.tiny, dev, dtype)
                info["t_s"] = round(elapsed(), 1)
                rec.add("results", {**info, "mode": "build", "batch": 0})
                current, is_compiled = model, False
            if mode == "fp32-decode":
                r = decode_only(pipe, model, batch, dev, torch.float32, sizes[model])
            else:
                if mode != is_compiled:
                    set_compiled(pipe.transformer, mode, args.full_compile)
                    is_compiled = mode
                try:
                    r = run_config(pipe, model, batch, mode, args, dev, dtype, sizes[model])
                except torch.OutOfMemoryError:
                    if mode or getattr(pipe.vae, "use_tiling", False):
                        raise
                    # Decode ran out of memory: retry once with the tiled VAE decode.
                    rec.add("errors", {"config": key, "error": "OOM; retrying with vae.enable_tiling()"})
                    free_memory(dev)
                    pipe.vae.enable_tiling()
                    r = run_config(pipe, model, batch, mode, args, dev, dtype, sizes[model])
                    r["vae_tiling"] = True
                    pipe.vae.disable_tiling()
                measured[(model, batch, r["mode"])] = r
            r["t_s"] = round(elapsed(), 1)
            rec.add("results", r)
        except Exception as e:  # noqa: BLE001 - keep going, record what failed
            rec.add("errors", {"config": key, "error": f"{type(e).__name__}: {e}"[:2000],
                               "trace": traceback.format_exc()[-3000:]})
            free_memory(dev)
        rec.data["summary"] = summarise([r for r in rec.data["results"] if "step_s" in r], default_steps)
        rec.flush()

    rec.data["complete"] = True
    rec.data["total_s"] = round(elapsed(), 1)
    rec.flush()
    print_table([r for r in rec.data["results"] if r["mode"] != "build"])
    print("\nsummary:", json.dumps(rec.data["summary"], indent=1), flush=True)
    print(f"total {elapsed():.1f}s, errors: {len(rec.data['errors'])}", flush=True)
    return 1 if rec.data["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
