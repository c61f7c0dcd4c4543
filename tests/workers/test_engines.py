"""The diffusers engines, the model registry and the tiny models: real pipelines, tiny random weights, CPU."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from app.config import get_settings
from workers.engines import Canceled
from workers.engines import loader
from workers.engines.loader import OutOfMemory
from workers.engines.ltx import LtxEngine, load_image, out_of_memory
from workers.engines.registry import (
    RegistryError,
    UnknownModel,
    get_model,
    load_registry,
    reload_registry,
    snap,
)
from workers.engines.tiny import make_tiny
from workers.engines.wan import WanEngine
from workers.spec import CastMember, RenderSpec

# diffusers' FlowMatchEulerDiscreteScheduler under numpy 2 (not ours)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

LTX = dict(model="ltx", prompt="a lighthouse keeper climbs the stairs", width=96, height=64, frames=17, steps=4)
WAN = dict(model="wan", prompt="a lighthouse keeper climbs the stairs", width=64, height=64, frames=9, steps=3)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(((np.asarray(a, np.float32) - np.asarray(b, np.float32)) ** 2).mean())


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Conditioning images: strong shapes and colours, 96x64."""
    root = tmp_path_factory.mktemp("media")
    first = np.zeros((64, 96, 3), np.uint8)
    first[:, :48] = (230, 40, 40)
    first[:, 48:] = (30, 60, 220)
    Image.fromarray(first).save(root / "first.png")
    last = np.zeros((64, 96, 3), np.uint8)
    last[:32] = (240, 240, 60)
    last[32:] = (20, 120, 20)
    Image.fromarray(last).save(root / "last.png")
    face = np.full((48, 32, 3), 200, np.uint8)
    face[8:24, 8:24] = (250, 200, 160)
    Image.fromarray(face).save(root / "face.png")
    return root


@pytest.fixture(scope="module")
def ltx(tiny_models: dict[str, Path], media: Path) -> LtxEngine:
    model = replace(get_model("ltx"), folder=tiny_models["ltx"], max_sequence_length=64)
    return LtxEngine(model, resolve=lambda key: media / key)


@pytest.fixture(scope="module")
def wan(tiny_models: dict[str, Path], media: Path) -> WanEngine:
    model = replace(get_model("wan"), folder=tiny_models["wan"], max_sequence_length=64)
    return WanEngine(model, resolve=lambda key: media / key)


# --- the registry ----------------------------------------------------------------------------------

def test_default_registry_has_the_three_engines() -> None:
    reg = load_registry(override="")
    assert reg.default == "animatic"
    assert {m.id: m.engine for m in reg} == {"animatic": "animatic", "ltx": "ltx", "wan": "wan"}
    ltx, wan = reg.get("ltx"), reg.get("wan")
    assert (ltx.size_multiple, ltx.frame_rule, wan.size_multiple, wan.frame_rule) == (32, "8k+1", 16, "4k+1")
    assert ltx.capabilities == {"t2v", "i2v", "keyframes", "lora"}
    assert "references" in wan.capabilities and "references" not in ltx.capabilities
    assert ltx.folder == get_settings().data_dir / "models" / "ltx-tiny"
    assert ltx.cpu_offload is None and ltx.compile is None and not ltx.vae_tiling
    with pytest.raises(UnknownModel, match="unknown model 'sora'.*animatic, ltx, wan"):
        reg.get("sora")


def test_snapping_says_what_changed() -> None:
    reg = load_registry(override="")
    ltx, wan, animatic = reg.get("ltx"), reg.get("wan"), reg.get("animatic")
    assert snap(ltx, 1280, 720, 100) == (1280, 704, 97, "1280x720 -> 1280x704; 100 frames -> 97")
    assert snap(ltx, 768, 512, 97) == (768, 512, 97, "")
    assert snap(wan, 832, 480, 80) == (832, 480, 81, "80 frames -> 81")
    assert snap(wan, 850, 470, 81)[:3] == (848, 464, 81)
    w, h, f, note = snap(ltx, 4000, 512, 10000)
    assert (w, h, f) == (1280, 512, 257) and "maximum" in note
    assert snap(ltx, 10, 10, 2)[:3] == (32, 32, 1)
    assert snap(animatic, 767, 431, 100) == (768, 432, 100, "767x431 -> 768x432")
    with pytest.raises(ValueError):
        snap(ltx, 0, 512, 97)


def test_override_file_env_folder_and_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "models.toml"
    extra.write_text(
        'default = "ltx"\n'
        "[models.ltx]\ndefault_steps = 8\nvae_tiling = true\ncpu_offload = \"model\"\n"
        "layerwise_casting = \"float8_e4m3fn\"\ncompile = \"regional\"\n"
        '[models.ltx-big]\nengine = "ltx"\nfolder = "/models/LTX-Video"\nmax_width = 1216\n'
        '[models.wan-vace]\nengine = "wan"\nfolder = "{data_dir}/wan"\nvace_folder = "vace-14b"\n'
    )
    monkeypatch.setenv("SLATE_MODELS_FILE", str(extra))
    monkeypatch.setenv("SLATE_MODEL_LTX_BIG_FOLDER", "/fast/ltx")
    reg = load_registry()
    assert reg.default == "ltx"
    ltx = reg.get("ltx")
    assert ltx.default_steps == 8 and ltx.default_guidance == 3.0  # only the keys it sets change
    assert (ltx.vae_tiling, ltx.cpu_offload, ltx.layerwise_casting, ltx.compile) == (
        True, "model", "float8_e4m3fn", "regional")
    big = reg.get("ltx-big")
    assert big.folder == Path("/fast/ltx") and big.max_width == 1216 and big.frame_rule == "8k+1"
    vace = reg.get("wan-vace")
    assert vace.folder == get_settings().data_dir / "wan"
    assert vace.vace_folder == vace.folder / "vace-14b"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[models.x]\nengine = "ltx"\nfolder = "f"\nsteps = 3\n', "model 'x': unknown setting 'steps'"),
        ('[models.x]\nengine = "sora"\n', "engine must be one of animatic, ltx, wan"),
        ('[models.x]\nengine = "ltx"\n', "a ltx model needs a folder"),
        ('[models.x]\nengine = "wan"\nfolder = "f"\nframes = "4k-1"\n', 'frames must be a rule like "8k\\+1"'),
        ('[models.x]\nengine = "ltx"\nfolder = "f"\nmax_width = 1000\n', "max_width 1000 is not a multiple of"),
        ('[models.x]\nengine = "ltx"\nfolder = "f"\ncapabilities = ["t2v", "audio"]\n', "unknown capability 'audio'"),
        ('[models.x]\nengine = "ltx"\nfolder = "f"\ncpu_offload = "disk"\n', "cpu_offload: must be false or one of"),
        ('[models.x]\nengine = "ltx"\nfolder = "f"\ndefault_steps = 0\n', "default_steps: must be a whole number"),
        ('default = "nope"\n', "default model 'nope' is not defined"),
        ("[models\n", "not valid TOML"),
    ],
)
def test_registry_errors_name_file_model_and_setting(tmp_path: Path, toml: str, message: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(toml)
    with pytest.raises(RegistryError, match=message) as err:
        load_registry(override=bad)
    assert "bad.toml" in str(err.value)


# --- tiny models -----------------------------------------------------------------------------------

def test_make_tiny_is_deterministic(tiny_models: dict[str, Path], tmp_path: Path, media: Path) -> None:
    again = make_tiny("ltx", tmp_path / "ltx-again", seed=0)
    files = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tiny_models["ltx"]) for p in tiny_models["ltx"].rglob("*") if p.is_file())
    for rel in files:
        assert (again / rel).read_bytes() == (tiny_models["ltx"] / rel).read_bytes(), rel
    other = make_tiny("ltx", tmp_path / "ltx-seed1", seed=1)
    weights = Path("transformer/diffusion_pytorch_model.safetensors")
    assert (other / weights).read_bytes() != (again / weights).read_bytes()
    # and the rebuilt folder renders what the first one renders
    spec = RenderSpec(**{**LTX, "steps": 2, "frames": 9}, seeds=[4])
    a = LtxEngine(replace(get_model("ltx"), folder=tiny_models["ltx"]), resolve=lambda k: media / k).render(spec)
    b = LtxEngine(replace(get_model("ltx"), folder=again), resolve=lambda k: media / k).render(spec)
    assert np.array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="unknown tiny model kind"):
        make_tiny("sora", tmp_path / "x")


# --- LTX -------------------------------------------------------------------------------------------

def test_ltx_text_to_video_shape_dtype_and_progress(ltx: LtxEngine) -> None:
    steps: list[tuple[int, int]] = []
    takes = ltx.render(RenderSpec(**LTX, seeds=[1, 2]), on_step=lambda done, total: steps.append((done, total)))
    assert len(takes) == 2
    for take in takes:
        assert take.shape == (17, 64, 96, 3) and take.dtype == np.uint8
        assert take.std() > 1  # pictures, not a flat field
    assert not np.array_equal(takes[0], takes[1])
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]  # one batch: the steps are shared by both takes
    timing = ltx.last_timing
    assert timing["steps"] == 4 and timing["denoise_s"] > 0 and timing["decode_s"] > 0
    assert ltx.load_seconds > 0


def test_ltx_same_seed_same_frames_across_instances(ltx: LtxEngine, tiny_models: dict[str, Path]) -> None:
    other = LtxEngine(replace(get_model("ltx"), folder=tiny_models["ltx"], max_sequence_length=64))
    spec = RenderSpec(**LTX, seeds=[7])
    take = ltx.render(spec)[0]
    assert np.array_equal(take, other.render(spec)[0])
    assert not np.array_equal(take, other.render(RenderSpec(**LTX, seeds=[8]))[0])


def test_ltx_batch_take_i_equals_single_render_of_seed_i(ltx: LtxEngine) -> None:
    seeds = [11, 12, 13]
    batch = ltx.generate(RenderSpec(**LTX, seeds=seeds))
    for seed, take in zip(seeds, batch, strict=True):
        single = ltx.generate(RenderSpec(**LTX, seeds=[seed]))[0]
        assert np.abs(take - single).max() < 1e-4, seed
    assert np.abs(batch[0] - batch[1]).max() > 0.05


def test_ltx_first_frame_conditions_the_take(ltx: LtxEngine, media: Path) -> None:
    seeds = [21, 22]
    free = ltx.generate(RenderSpec(**LTX, seeds=seeds))
    spec = RenderSpec(**LTX, seeds=seeds, first_frame_key="first.png")
    assert ltx.plan(spec)["conditioning"]["first_frame"] == "first.png"
    held = ltx.generate(spec)
    # What the first frame must show: the condition image through the VAE (random weights cannot
    # reproduce the picture itself, but conditioning must reproduce exactly this).
    image = load_image(media / "first.png", 96, 64)
    x = torch.from_numpy(np.asarray(image, np.float32) / 127.5 - 1).permute(2, 0, 1)[None, :, None]
    with torch.no_grad():
        vae = ltx.pipe.vae
        trip = vae.decode(vae.encode(x).latent_dist.mode()).sample[0, :, 0].permute(1, 2, 0).numpy()
    trip = np.clip((trip + 1) / 2, 0, 1)
    for h, f in zip(held, free, strict=True):
        assert mse(h[0], trip) < 0.35 * mse(f[0], trip)
    # the takes share their first frame far more than free takes do, and the batch stays reproducible
    assert mse(held[0][0], held[1][0]) < 0.5 * mse(free[0][0], free[1][0])
    single = ltx.generate(RenderSpec(**LTX, seeds=[22], first_frame_key="first.png"))[0]
    assert np.abs(held[1] - single).max() < 1e-4


def test_ltx_first_and_last_keyframes(ltx: LtxEngine) -> None:
    spec = RenderSpec(**LTX, seeds=[31, 32], first_frame_key="first.png", last_frame_key="last.png")
    plan = ltx.plan(spec)
    assert plan["conditioning"] == {"first_frame": "first.png", "last_frame": "last.png", "references": []}
    assert not plan["virtual_camera"]
    both = ltx.generate(spec)
    assert [t.shape for t in both] == [(17, 64, 96, 3)] * 2
    first_only = ltx.generate(RenderSpec(**LTX, seeds=[31], first_frame_key="first.png"))[0]
    assert np.abs(both[0] - first_only).max() > 1e-3  # the last keyframe changes the take
    single = ltx.generate(RenderSpec(**LTX, seeds=[32], first_frame_key="first.png", last_frame_key="last.png"))[0]
    assert np.abs(both[1] - single).max() < 1e-4


def _tiny_lora(transformer: torch.nn.Module, path: Path, *, rank: int = 4) -> Path:
    """A LoRA file in the diffusers/PEFT layout for the attention projections of `transformer`."""
    gen = torch.Generator().manual_seed(0)
    state = {}
    for name, module in transformer.named_modules():
        if isinstance(module, torch.nn.Linear) and name.split(".")[-1] in ("to_q", "to_k", "to_v"):
            state[f"transformer.{name}.lora_A.weight"] = torch.randn(rank, module.in_features, generator=gen) * 0.5
            state[f"transformer.{name}.lora_B.weight"] = torch.randn(module.out_features, rank, generator=gen) * 0.5
    assert state
    save_file(state, str(path))
    return path


def test_ltx_lora_changes_the_take_and_unloads_after(ltx: LtxEngine, media: Path, monkeypatch) -> None:
    monkeypatch.setenv("SLATE_LORA_DIR", str(media))  # a LoRA path is read only inside the admin's folder
    _tiny_lora(ltx.pipe.transformer, media / "ada.safetensors")
    spec = RenderSpec(**LTX, seeds=[5])
    before = ltx.generate(spec)[0]
    cast = [CastMember(name="Ada", lora={"key": "ada.safetensors", "weight": 1.0})]
    with_lora = ltx.generate(RenderSpec(**LTX, seeds=[5], cast=cast))[0]
    assert np.abs(with_lora - before).max() > 1e-3
    assert not any("lora" in name for name, _ in ltx.pipe.transformer.named_modules())
    after = ltx.generate(spec)[0]
    assert np.array_equal(after, before)
    half = ltx.generate(RenderSpec(**LTX, seeds=[5], cast=[CastMember(name="Ada", lora={
        "path": str(media / "ada.safetensors"), "weight": 0.5})]))[0]
    assert 1e-4 < np.abs(half - before).max() and np.abs(half - with_lora).max() > 1e-4
    with pytest.raises(ValueError, match="LoRA of Bo"):
        ltx.generate(RenderSpec(**LTX, seeds=[5], cast=[CastMember(name="Bo", lora={"key": "missing.safetensors"})]))
    assert np.array_equal(ltx.generate(spec)[0], before)


def test_ltx_cancel_raises_at_the_requested_step(ltx: LtxEngine) -> None:
    seen: list[int] = []
    with pytest.raises(Canceled, match="step 2 of 4") as err:
        ltx.render(RenderSpec(**LTX, seeds=[1, 2]), on_step=lambda done, total: seen.append(done),
                   should_cancel=lambda: len(seen) >= 2)
    assert seen == [1, 2] and err.value.takes == []
    # in chunks, the takes finished before the cancel come back with it
    ltx.max_batch = 1
    try:
        seen.clear()
        with pytest.raises(Canceled, match="step 6 of 12") as err:
            ltx.render(RenderSpec(**LTX, seeds=[1, 2, 3]), on_step=lambda done, total: seen.append(done),
                       should_cancel=lambda: len(seen) >= 6)
    finally:
        ltx.max_batch = None
    assert len(err.value.takes) == 1
    assert err.value.takes[0].shape == (17, 64, 96, 3) and err.value.takes[0].dtype == np.uint8
    assert np.array_equal(err.value.takes[0], ltx.render(RenderSpec(**LTX, seeds=[1]))[0])


def test_ltx_snaps_and_moves_the_virtual_camera(ltx: LtxEngine) -> None:
    spec = RenderSpec(**{**LTX, "width": 100, "height": 70, "frames": 15, "steps": 2},
                      camera={"move": "pan_right", "speed": "fast"}, seeds=[3])
    plan = ltx.plan(spec)
    assert (plan["width"], plan["height"], plan["frames"]) == (96, 64, 17)
    assert plan["snap"] == "100x70 -> 96x64; 15 frames -> 17"
    assert plan["virtual_camera"] and plan["render_width"] > 96 and plan["render_width"] % 32 == 0
    raw = ltx.generate(spec)[0]
    assert raw.shape == (17, plan["render_height"], plan["render_width"], 3)
    take = ltx.render(spec)[0]
    assert take.shape == (17, 64, 96, 3)
    still = ltx.render(RenderSpec(**{**LTX, "width": 100, "height": 70, "frames": 15, "steps": 2}, seeds=[3]))[0]
    assert still.shape == (17, 64, 96, 3) and not np.array_equal(take, still)


def test_ltx_refuses_what_it_cannot_do(ltx: LtxEngine) -> None:
    plan = ltx.plan(RenderSpec(**LTX, reference_keys=["face.png"]))
    assert plan["conditioning"]["references"] == []  # no reference images on LTX: recorded as unused
    text_only = LtxEngine(replace(ltx.model, capabilities=frozenset({"t2v"})))
    assert text_only.capabilities == {"t2v"}
    with pytest.raises(ValueError, match="cannot start from an image"):
        text_only.plan(RenderSpec(**LTX, first_frame_key="first.png"))
    with pytest.raises(ValueError, match="does not take LoRAs"):
        text_only.plan(RenderSpec(**LTX, cast=[CastMember(name="Ada", lora={"key": "ada.safetensors"})]))
    with pytest.raises(ValueError, match="no seeds"):
        ltx.generate(RenderSpec(**LTX, seeds=[]))


def test_out_of_memory_becomes_a_clear_error(ltx: LtxEngine) -> None:
    with pytest.raises(OutOfMemory, match="ran out of GPU memory rendering 8 takes.*memory options for model 'ltx'"):
        with out_of_memory(ltx.model, "8 takes at 768x512, 97 frames"):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    assert ltx.enable_memory_saving() == ["vae_tiling", "vae_slicing"]  # no accelerator here: no offload
    assert ltx.pipe.vae.use_tiling and ltx.pipe.vae.use_slicing
    assert ltx.render(RenderSpec(**LTX, seeds=[1, 2]))[0].shape == (17, 64, 96, 3)
    ltx.pipe.vae.disable_tiling()
    ltx.pipe.vae.disable_slicing()


# --- Wan -------------------------------------------------------------------------------------------

def test_wan_text_to_video_batch_equals_singles(wan: WanEngine) -> None:
    assert wan.capabilities == {"t2v", "i2v", "keyframes", "references", "lora"}
    seeds = [3, 4]
    spec = RenderSpec(**WAN, seeds=seeds)
    assert wan.plan(spec)["pipeline"] == "WanPipeline"
    batch = wan.generate(spec)
    assert [t.shape for t in batch] == [(9, 64, 64, 3)] * 2
    assert np.abs(batch[0] - batch[1]).max() > 0.05
    single = wan.generate(RenderSpec(**WAN, seeds=[4]))[0]
    assert np.abs(batch[1] - single).max() < 1e-4


def test_wan_image_to_video_batches_with_one_image(wan: WanEngine) -> None:
    spec = RenderSpec(**WAN, seeds=[5, 6], first_frame_key="first.png")
    assert wan.plan(spec)["pipeline"] == "WanImageToVideoPipeline"
    batch = wan.generate(spec)
    assert [t.shape for t in batch] == [(9, 64, 64, 3)] * 2
    single = wan.generate(RenderSpec(**WAN, seeds=[6], first_frame_key="first.png"))[0]
    assert np.abs(batch[1] - single).max() < 1e-4
    assert np.abs(batch[0] - batch[1]).max() > 0.05


def test_wan_vace_takes_character_references(wan: WanEngine) -> None:
    cast = [CastMember(name="Ada", reference_keys=["face.png"])]
    spec = RenderSpec(**{**WAN, "steps": 2}, seeds=[8], cast=cast)
    plan = wan.plan(spec)
    assert plan["pipeline"] == "WanVACEPipeline" and plan["conditioning"]["references"] == ["face.png"]
    steps: list[tuple[int, int]] = []
    with_ref = wan.render(spec, on_step=lambda d, t: steps.append((d, t)))[0]
    assert with_ref.shape == (9, 64, 64, 3) and steps == [(1, 2), (2, 2)]
    plain = wan.render(RenderSpec(**{**WAN, "steps": 2}, seeds=[8]))[0]
    assert not np.array_equal(with_ref, plain)


def test_wan_without_variants_is_text_to_video_only(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    folder = shutil.copytree(tiny_models["wan"], tmp_path / "wan-t2v", ignore=shutil.ignore_patterns("i2v", "vace"))
    engine = WanEngine(replace(get_model("wan"), folder=folder, max_sequence_length=64))
    assert engine.i2v is None and engine.vace is None
    assert engine.capabilities == {"t2v", "lora"}
    with pytest.raises(ValueError, match="cannot start from an image"):
        engine.plan(RenderSpec(**WAN, first_frame_key="first.png"))
    assert engine.plan(RenderSpec(**WAN, reference_keys=["face.png"]))["conditioning"]["references"] == []


# --- the per-process cache -------------------------------------------------------------------------

def test_loader_loads_once_and_keeps_warm(tiny_registry: dict[str, Path]) -> None:
    loader.forget()
    try:
        assert loader.load_seconds("ltx") is None
        seconds = loader.warm("ltx")
        engine = loader.get_engine("ltx")
        assert isinstance(engine, LtxEngine) and engine.device == "cpu"
        assert engine.model.folder == tiny_registry["ltx"]
        assert loader.get_engine("ltx") is engine and loader.load_seconds("ltx") == seconds > 0
        assert loader.loaded() == ["ltx"]
        with pytest.raises(UnknownModel):
            loader.get_engine("sora")
    finally:
        loader.forget()
        reload_registry()
