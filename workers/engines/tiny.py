"""Tiny random-weight LTX-Video and Wan 2.1 model folders, built offline for tests and the demo.

`make_tiny("ltx", folder)` and `make_tiny("wan", folder)` write ordinary diffusers folders
(`save_pretrained`) that the engines load exactly like a real LTX-Video or Wan 2.1 folder.
The weights are random but seeded: the same seed gives the same bytes and the same pictures.

Shapes follow diffusers' own fast tests (one or two transformer layers, a T5 text encoder
with d_model 32, a VAE with 8 channels a block). Some choices keep them useful beyond tests:
- the tokenizer is a SentencePiece-style unigram vocabulary built in code (no hub);
- the VAEs compress like the real ones (LTX: 32x in space and 8x in time, Wan: 8x and 4x), so
  the real snapping rules apply and a demo can render 768x512, 97 frames on a CPU (tiny LTX:
  about 0.2 s a step and 3.5 s of decoding on 2 cores);
- every size and frame count the registry allows renders (tests/workers/test_model_sizes.py): the tiny Wan
  transformer has Wan 2.1's own 1024 rotary positions a latent axis (a folder made with 32 cannot render
  832x480 or 129 frames: the Wan engine says to make it again);
- the tiny LTX VAE decodes causally in time, so a first-frame condition comes out in frame 0
  exactly as the VAE sees it (random weights cannot reproduce the picture itself).

A Wan folder holds the text-to-video pipeline and two optional variants beside it, sharing
its text encoder and VAE: `i2v/` (WanImageToVideoPipeline with a tiny CLIP image encoder)
and `vace/` (WanVACEPipeline, reference images for characters).

Command line: ``python -m workers.engines.tiny [--out data/models] [--seed 0] [ltx wan]``
(`main(argv)`; `slate models make-tiny` calls it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import string
import sys
from pathlib import Path

# Folder names under the output folder (the registry's defaults point at them).
FOLDERS = {"ltx": "ltx-tiny", "wan": "wan-tiny"}
# Written into every folder `make_tiny` builds: the registry labels such a model "test weights: noise".
MARKER = "slate_tiny.json"
TEXT_DIM = 32


def _vocab() -> list[tuple[str, float]]:
    """pad=0, eos=1, unk=2, then "▁", single characters and "▁"+character, so nothing maps to unk."""
    chars = string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation
    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    for i, ch in enumerate(chars):
        pieces.append((ch, -2.0 - i * 0.01))
        pieces.append(("▁" + ch, -1.5 - i * 0.01))
    return pieces


def _tokenizer():
    from transformers import T5Tokenizer

    return T5Tokenizer(vocab=_vocab(), extra_ids=0)


def _text_encoder(kind: str, vocab_size: int, seed: int):
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    cfg = dict(
        vocab_size=vocab_size, d_model=TEXT_DIM, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, dropout_rate=0.0, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0,
    )
    torch.manual_seed(seed)
    if kind == "wan":
        return UMT5EncoderModel(UMT5Config(**cfg)).eval()
    return T5EncoderModel(T5Config(**cfg)).eval()


def _make_ltx(folder: Path, seed: int) -> None:
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXConditionPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(seed)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
        attention_head_dim=8, cross_attention_dim=32, num_layers=1, caption_channels=TEXT_DIM,
    )
    torch.manual_seed(seed + 1)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8,
        block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True),
        decoder_inject_noise=(False, False, False, False),
        upsample_residual=(False, False, False), upsample_factor=(1, 1, 1),
        timestep_conditioning=False, patch_size=4, patch_size_t=1,
        encoder_causal=True, decoder_causal=True,
    )
    # LTX-Video 0.9.5+ scheduler settings (LTXConditionPipeline passes its own sigmas).
    scheduler = FlowMatchEulerDiscreteScheduler(
        base_image_seq_len=1024, base_shift=0.95, max_image_seq_len=4096, max_shift=2.05,
        shift=1.0, shift_terminal=0.1, use_dynamic_shifting=False,
    )
    tokenizer = _tokenizer()
    text_encoder = _text_encoder("ltx", len(tokenizer), seed + 2)
    pipe = LTXConditionPipeline(
        transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer
    )
    pipe.save_pretrained(folder)


def _wan_parts(seed: int):
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler

    torch.manual_seed(seed + 1)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    # Wan 2.1's own scheduler settings.
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0, num_train_timesteps=1000,
        solver_order=2,
    )
    tokenizer = _tokenizer()
    text_encoder = _text_encoder("wan", len(tokenizer), seed + 2)
    return vae, scheduler, tokenizer, text_encoder


def _wan_transformer_kwargs() -> dict:
    return dict(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, out_channels=16,
        text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=1024,  # Wan 2.1's own: positions for every latent frame, row and column
    )


def _make_wan(folder: Path, seed: int) -> None:
    import torch
    from diffusers import (
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
        WanVACEPipeline,
        WanVACETransformer3DModel,
    )
    from transformers import CLIPVisionConfig, CLIPVisionModel

    try:  # the Pillow processor (the default one wants torchvision); both load as CLIPImageProcessor
        from transformers import CLIPImageProcessorPil as CLIPImageProcessor
    except ImportError:
        from transformers import CLIPImageProcessor

    vae, scheduler, tokenizer, text_encoder = _wan_parts(seed)
    torch.manual_seed(seed)
    transformer = WanTransformer3DModel(in_channels=16, num_layers=2, **_wan_transformer_kwargs())
    WanPipeline(
        transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer
    ).save_pretrained(folder)

    # Image-to-video: 16 noise + 4 mask + 16 image latent channels, and a tiny CLIP image encoder.
    torch.manual_seed(seed + 3)
    i2v_transformer = WanTransformer3DModel(in_channels=36, num_layers=2, image_dim=4, **_wan_transformer_kwargs())
    torch.manual_seed(seed + 4)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=32,
            intermediate_size=16, patch_size=1,
        )
    ).eval()
    image_processor = CLIPImageProcessor(crop_size=32, size=32)
    WanImageToVideoPipeline(
        transformer=i2v_transformer, vae=vae, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer,
        image_encoder=image_encoder, image_processor=image_processor,
    ).save_pretrained(folder / "i2v")

    # VACE: reference images (characters) and masked video conditioning.
    torch.manual_seed(seed + 5)
    vace_transformer = WanVACETransformer3DModel(
        in_channels=16, num_layers=3, vace_layers=[0, 2], vace_in_channels=96, **_wan_transformer_kwargs()
    )
    WanVACEPipeline(
        transformer=vace_transformer, vae=vae, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer
    ).save_pretrained(folder / "vace")


def make_tiny(kind: str, folder: Path, seed: int = 0) -> Path:
    """Build a tiny random-weight `kind` ("ltx" or "wan") model folder at `folder`; returns the folder.

    Any earlier content of `folder` is replaced. Same seed, same bytes.
    """
    if kind not in FOLDERS:
        raise ValueError(f"unknown tiny model kind {kind!r}: choose one of {', '.join(FOLDERS)}")
    from workers.engines.ltx import quiet_progress_bars

    quiet_progress_bars()
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (_make_ltx if kind == "ltx" else _make_wan)(folder, seed)
    (folder / MARKER).write_text(
        json.dumps({"kind": kind, "seed": seed}, indent=2) + "\n"
    )
    return folder


def is_tiny(folder: Path) -> bool:
    """True for a folder that `make_tiny` wrote (its random weights render noise)."""
    return (Path(folder) / MARKER).is_file()


def make_all(out: Path, *, seed: int = 0, kinds: tuple[str, ...] = ("ltx", "wan")) -> dict[str, Path]:
    """Build every tiny model under `out` (`out/ltx-tiny`, `out/wan-tiny`); returns kind -> folder."""
    return {kind: make_tiny(kind, Path(out) / FOLDERS[kind], seed=seed) for kind in kinds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slate models make-tiny", description=__doc__.splitlines()[0])
    parser.add_argument("kinds", nargs="*", metavar="KIND", help="ltx and/or wan (default: both)")
    parser.add_argument("--out", type=Path, default=Path("data/models"), help="parent folder (default: data/models)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    unknown = [k for k in args.kinds if k not in FOLDERS]
    if unknown:
        parser.error(f"unknown kind {unknown[0]!r}: choose from {', '.join(FOLDERS)}")
    for kind, folder in make_all(args.out, seed=args.seed, kinds=tuple(args.kinds or FOLDERS)).items():
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"{kind}: {folder} ({size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
