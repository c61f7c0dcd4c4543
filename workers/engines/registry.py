"""The model registry: which models a worker can render with, and the rules each one follows.

The default registry is `workers/models.toml`; `SLATE_MODELS_FILE` names an optional second TOML
file whose entries add models or change settings of existing ones (only the keys it sets).
`SLATE_MODEL_<ID>_FOLDER` (id in capitals, `-` as `_`) moves one model's folder, and a folder may
use `{data_dir}` (SLATE_DATA_DIR, default `data`). Relative folders are taken from the current
directory. Every entry is checked when the registry is read, with messages that name the file,
the model and the setting.

```toml
default = "animatic"

[models.ltx]
engine = "ltx"                         # animatic | ltx | wan
folder = "{data_dir}/models/ltx-tiny"  # a diffusers folder (real LTX-Video, or `slate models make-tiny`)
capabilities = ["t2v", "i2v", "keyframes", "lora"]
default_steps = 40
```
Everything else has per-engine defaults (`ENGINE_DEFAULTS`).
"""

from __future__ import annotations

import os
import re
import threading
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from workers.engines.base import snap as _snap
from workers.engines.tiny import is_tiny

# What menus and take cards say of a model whose folder is a tiny random-weight build.
TEST_WEIGHTS_NOTE = "test weights: noise"

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "models.toml"
ENV_FILE = "SLATE_MODELS_FILE"

# Engine name -> "module:Class"; imported only when a worker loads a model of that engine.
ENGINES: dict[str, str] = {
    "animatic": "workers.engines.animatic:AnimaticEngine",
    "ltx": "workers.engines.ltx:LtxEngine",
    "wan": "workers.engines.wan:WanEngine",
}
CAPABILITIES = ("t2v", "i2v", "keyframes", "references", "lora")
DTYPES = ("auto", "float32", "bfloat16", "float16")
LAYERWISE_STORAGE = ("float8_e4m3fn", "float8_e5m2", "bfloat16", "float16")
OFFLOAD = ("model", "sequential")
COMPILE = ("regional", "full")

# Sizes: every engine renders from `min_width` x `min_height` (64, the smallest side a shot may have) up to
# `max_width` x `max_height`, frames from `min_frames` (the rule's shortest take) to `max_frames`, and Wan at
# most `max_area` pixels a frame. A job outside the range is refused before it is queued (`size_problem`).
ENGINE_DEFAULTS: dict[str, dict[str, Any]] = {
    "animatic": dict(
        label="Animatic", capabilities=["t2v"], size_multiple=2, frames="1k+0", min_width=64, min_height=64,
        max_width=3840, max_height=2160, max_frames=2400, default_steps=1, default_guidance=0.0, accelerated=False,
    ),
    # LTX-Video: the VAE compresses 32x in space and 8x in time (plus the first frame).
    "ltx": dict(
        label="LTX-Video", capabilities=["t2v", "i2v", "keyframes", "lora"], size_multiple=32, frames="8k+1",
        min_width=64, min_height=64, max_width=1280, max_height=1280, max_frames=257, default_steps=40,
        default_guidance=3.0, max_sequence_length=128,
    ),
    # Wan 2.1: the VAE compresses 8x in space and 4x in time, the transformer patches 2x2. Its sizes are
    # 1280x720 and 832x480 either way round (the 14B checkpoints; 1.3B is trained at 832x480 only): at most
    # 1280x720 pixels a frame.
    "wan": dict(
        label="Wan 2.1", capabilities=["t2v", "i2v", "keyframes", "references", "lora"], size_multiple=16,
        frames="4k+1", min_width=64, min_height=64, max_width=1280, max_height=1280, max_area=1280 * 720,
        max_frames=129, default_steps=50, default_guidance=5.0,
        max_sequence_length=512,
    ),
}


class RegistryError(ValueError):
    """A models file that cannot be used; the message says which file, model and setting."""


class UnknownModel(RegistryError):
    """No model with that id in the registry."""


_FRAMES_RE = re.compile(r"^\s*(\d+)\s*k\s*(?:\+\s*(\d+))?\s*$")


@dataclass(frozen=True)
class ModelInfo:
    """One model a worker can render with: where it lives, what it can do and the rules it follows."""

    id: str
    engine: str
    folder: Path | None = None
    label: str = ""
    capabilities: frozenset[str] = frozenset()
    size_multiple: int = 2  # width and height are multiples of this
    frame_step: int = 1  # frames = frame_step * k + frame_offset
    frame_offset: int = 0
    min_width: int = 64
    min_height: int = 64
    min_frames: int = 1
    max_width: int = 3840
    max_height: int = 2160
    max_frames: int = 2400
    max_area: int | None = None  # pixels of one frame (width x height); None: max_width x max_height
    default_steps: int = 30
    default_guidance: float = 5.0
    dtype: str = "auto"  # auto: bfloat16 on an accelerator, float32 on a CPU
    max_sequence_length: int | None = None  # text tokens
    max_batch: int | None = None  # takes in one pipeline call (None: all the takes of a job)
    batch: int = 1  # takes the render task hands the engine at once (1: each take is stored as soon as it exists)
    # memory options
    vae_tiling: bool = False
    layerwise_casting: str | None = None  # storage dtype of the transformer's weights (computed in `dtype`)
    cpu_offload: str | None = None  # "model" or "sequential"; only where an accelerator exists
    compile: str | None = None  # "regional" (compile_repeated_blocks) or "full" (torch.compile)
    virtual_camera: bool = True  # render with overscan and move a view over the frames (workers/camera.py)
    accelerated: bool = True  # False: a CPU engine, never given an accelerator
    # Wan: folders of the image-to-video and VACE variants (default: `i2v/` and `vace/` inside `folder`)
    i2v_folder: Path | None = None
    vace_folder: Path | None = None

    @property
    def test_weights(self) -> bool:
        """True when the folder is a tiny random-weight build (`slate models make-tiny`): its takes are noise.

        Read from the folder each time (the marker file `make_tiny` writes), so a folder made or replaced by
        real weights after the registry was read is labelled as it is now."""
        return self.folder is not None and is_tiny(self.folder)

    @property
    def menu_label(self) -> str:
        """The model as menus show it: "LTX-Video · test weights: noise" for a tiny folder."""
        name = self.label or self.id
        return f"{name} · {TEST_WEIGHTS_NOTE}" if self.test_weights else name

    @property
    def frame_rule(self) -> str:
        return f"{self.frame_step}k+{self.frame_offset}"

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def snap(self, width: int, height: int, frames: int) -> tuple[int, int, int, str]:
        return snap(self, width, height, frames)

    @property
    def size_range(self) -> str:
        """The sizes the model renders, in words: "64x64 to 1280x1280, 1 to 257 frames (8k+1)"."""
        area = f" (at most {self.max_area:,} pixels a frame)" if self.max_area else ""
        return (f"{self.min_width}x{self.min_height} to {self.max_width}x{self.max_height}{area}, "
                f"{self.min_frames} to {self.max_frames} frames ({self.frame_rule})")

    def size_problem(self, width: int, height: int, frames: int) -> tuple[str, str] | None:
        return size_problem(self, width, height, frames)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["capabilities"] = sorted(self.capabilities)
        data["frame_rule"] = self.frame_rule
        data["test_weights"] = self.test_weights
        data["size_range"] = self.size_range
        for key in ("folder", "i2v_folder", "vace_folder"):
            data[key] = str(data[key]) if data[key] is not None else None
        return data


def snap(model: ModelInfo, width: int, height: int, frames: int) -> tuple[int, int, int, str]:
    """The nearest size and frame count the model accepts, and a note of what changed ("" if nothing).

    Sizes snap to the model's multiple, frames to its rule (LTX 8k+1, Wan 4k+1), each then capped at
    the model's maximum: `1280x720, 100 frames` on LTX -> `(1280, 704, 97, "1280x720 -> 1280x704; 100 frames -> 97")`.
    """
    w0, h0, f0 = int(width), int(height), int(frames)
    if w0 < 1 or h0 < 1 or f0 < 1:
        raise ValueError(f"size and frames must be positive, got {w0}x{h0}, {f0} frames")
    m = model.size_multiple
    w = min(_snap(w0, m), _floor(model.max_width, m))
    h = min(_snap(h0, m), _floor(model.max_height, m))
    step, off = model.frame_step, model.frame_offset
    f = _snap(f0, step, plus=off, minimum=max(off, 1))
    top = _floor(model.max_frames - off, step) + off
    f = min(f, top)
    notes = []
    if (w, h) != (w0, h0):
        capped = " (the model's maximum)" if (w < _snap(w0, m) or h < _snap(h0, m)) else ""
        notes.append(f"{w0}x{h0} -> {w}x{h}{capped}")
    if f != f0:
        capped = " (the model's maximum)" if f < _snap(f0, step, plus=off, minimum=max(off, 1)) else ""
        notes.append(f"{f0} frames -> {f}{capped}")
    return w, h, f, "; ".join(notes)


def size_problem(model: ModelInfo, width: int, height: int, frames: int) -> tuple[str, str] | None:
    """Why the model cannot render `width` x `height`, `frames` frames once snapped to its rules, as (message, field);
    None when it can.

    The message names the model and its range: a job outside it is refused before it is queued, not capped
    (a capped side would change the shot's aspect) and not left to fail on a worker.
    """
    m, step, off = model.size_multiple, model.frame_step, model.frame_offset
    w, h = _snap(int(width), m), _snap(int(height), m)
    f = _snap(int(frames), step, plus=off, minimum=max(off, 1))
    asked = f"{int(width)}x{int(height)}, {int(frames)} frames"
    if (w, h) != (int(width), int(height)) or f != int(frames):
        asked += f" ({w}x{h}, {f} frames on its rules)"
    field = None
    if not model.min_width <= w <= model.max_width:
        field = "width"
    elif not model.min_height <= h <= model.max_height or (model.max_area and w * h > model.max_area):
        field = "height"
    elif not model.min_frames <= f <= model.max_frames:
        field = "duration_s"
    if field is None:
        return None
    return (f"{model.label or model.id} ({model.id}) renders {model.size_range}; this shot asks for {asked}: "
            "change the shot's size or duration, or pick another model", field)


def _floor(value: int, multiple: int) -> int:
    return max(value // multiple, 1) * multiple


# --- reading the files ---------------------------------------------------------------------------

_KEYS = {f.name for f in fields(ModelInfo)} - {"id", "frame_step", "frame_offset"} | {"frames"}


def _data_dir() -> str:
    """SLATE_DATA_DIR from the environment or the `.env` file, as the web's settings read it (default `data`).

    The registry reads its own environment and never the web's settings: a worker renders without app/."""
    if os.environ.get("SLATE_DATA_DIR"):
        return os.environ["SLATE_DATA_DIR"]
    try:
        lines = Path(".env").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip().removeprefix("export ").strip() == "SLATE_DATA_DIR" and value.strip():
            return value.strip().strip("\"'")
    return "data"


def _folder(value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise RegistryError(f"{where}: must be a folder path (a non-empty string)")
    try:
        text = value.format(data_dir=_data_dir())
    except (KeyError, IndexError, ValueError) as exc:
        raise RegistryError(f"{where}: {value!r}: only {{data_dir}} may be used in a folder") from exc
    return Path(text).expanduser()


def _check_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise RegistryError(f"{where}: must be true or false, got {value!r}")
    return value


def _check_int(value: Any, where: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RegistryError(f"{where}: must be a whole number of at least {minimum}, got {value!r}")
    return value


def _check_choice(value: Any, where: str, choices: tuple[str, ...], *, allow_off: bool = True) -> str | None:
    if allow_off and (value is False or value is None or value == ""):
        return None
    if value is True and choices:
        return choices[0]
    if value not in choices:
        off = "false or " if allow_off else ""
        raise RegistryError(f"{where}: must be {off}one of {', '.join(choices)}, got {value!r}")
    return value


def _build(model_id: str, raw: dict[str, Any], source: str) -> ModelInfo:
    where = f"{source}: model {model_id!r}"
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", model_id):
        raise RegistryError(f"{where}: ids are lowercase letters, digits, '-', '_' or '.' (at most 64)")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise RegistryError(f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    engine = raw.get("engine")
    if engine not in ENGINES:
        raise RegistryError(f"{where}: engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    data = {**ENGINE_DEFAULTS.get(engine, {}), **raw}
    out: dict[str, Any] = {"id": model_id, "engine": engine, "label": str(data.get("label") or model_id)}

    env = f"SLATE_MODEL_{re.sub(r'[^A-Z0-9]', '_', model_id.upper())}_FOLDER"
    if os.environ.get(env):
        out["folder"] = _folder(os.environ[env], f"{env} (environment)")
    elif data.get("folder") is not None:
        out["folder"] = _folder(data["folder"], f"{where}: folder")
    elif engine != "animatic":
        raise RegistryError(f"{where}: a {engine} model needs a folder (or {env} in the environment)")
    for key in ("i2v_folder", "vace_folder"):
        if data.get(key) is not None:
            sub = _folder(data[key], f"{where}: {key}")
            out[key] = sub if sub.is_absolute() or out.get("folder") is None else out["folder"] / sub

    caps = data.get("capabilities", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise RegistryError(f"{where}: capabilities must be a list of names ({', '.join(CAPABILITIES)})")
    bad = [c for c in caps if c not in CAPABILITIES]
    if bad:
        raise RegistryError(f"{where}: unknown capability {bad[0]!r} (known: {', '.join(CAPABILITIES)})")
    out["capabilities"] = frozenset(caps)

    out["size_multiple"] = _check_int(data["size_multiple"], f"{where}: size_multiple")
    rule = data.get("frames")
    match = _FRAMES_RE.match(rule) if isinstance(rule, str) else None
    if not match or int(match.group(1)) < 1:
        raise RegistryError(f"{where}: frames must be a rule like \"8k+1\" (frames = 8k + 1), got {rule!r}")
    out["frame_step"], out["frame_offset"] = int(match.group(1)), int(match.group(2) or 0)
    for key in ("max_width", "max_height", "max_frames", "default_steps"):
        out[key] = _check_int(data[key], f"{where}: {key}")
    for key in ("min_width", "min_height", "min_frames"):
        if key in data:
            out[key] = _check_int(data[key], f"{where}: {key}")
    for key in ("min_width", "min_height", "max_width", "max_height"):
        if key in out and out[key] % out["size_multiple"]:
            raise RegistryError(f"{where}: {key} {out[key]} is not a multiple of size_multiple {out['size_multiple']}")
    for side in ("width", "height", "frames"):
        if out.get(f"min_{side}", 1) > out[f"max_{side}"]:
            raise RegistryError(f"{where}: min_{side} {out[f'min_{side}']} is above max_{side} {out[f'max_{side}']}")
    if data.get("max_area"):
        out["max_area"] = _check_int(data["max_area"], f"{where}: max_area")
    if out["max_frames"] < out["frame_step"] + out["frame_offset"]:
        raise RegistryError(f"{where}: max_frames {out['max_frames']} is below the shortest take the rule allows")
    guidance = data["default_guidance"]
    if isinstance(guidance, bool) or not isinstance(guidance, int | float) or guidance < 0:
        raise RegistryError(f"{where}: default_guidance must be a number of at least 0, got {guidance!r}")
    out["default_guidance"] = float(guidance)
    for key in ("max_sequence_length", "max_batch"):
        if data.get(key):  # absent, 0 or false: no limit of its own
            out[key] = _check_int(data[key], f"{where}: {key}")
    if "batch" in data:
        out["batch"] = _check_int(data["batch"], f"{where}: batch")

    dtype = data.get("dtype", "auto")
    if dtype not in DTYPES:
        raise RegistryError(f"{where}: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    out["dtype"] = dtype
    for key in ("vae_tiling", "virtual_camera", "accelerated"):
        if key in data:
            out[key] = _check_bool(data[key], f"{where}: {key}")
    out["layerwise_casting"] = _check_choice(data.get("layerwise_casting"), f"{where}: layerwise_casting",
                                             LAYERWISE_STORAGE)
    out["cpu_offload"] = _check_choice(data.get("cpu_offload"), f"{where}: cpu_offload", OFFLOAD)
    out["compile"] = _check_choice(data.get("compile"), f"{where}: compile", COMPILE)
    return ModelInfo(**out)


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise RegistryError(f"models file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(doc) - {"default", "models"})
    if unknown:
        raise RegistryError(f"{path}: unknown top-level key {unknown[0]!r} (known: default, models)")
    models = doc.get("models", {})
    if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()):
        raise RegistryError(f"{path}: models must be tables, like [models.ltx]")
    return doc


@dataclass(frozen=True)
class Registry:
    models: dict[str, ModelInfo]
    default: str
    sources: tuple[str, ...] = ()

    def get(self, model_id: str) -> ModelInfo:
        try:
            return self.models[model_id]
        except KeyError:
            raise UnknownModel(f"unknown model {model_id!r} (known: {', '.join(self.models)})") from None

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.models

    def __iter__(self):
        return iter(self.models.values())

    def test_weight_ids(self) -> frozenset[str]:
        """Ids of the models whose folder is a tiny random-weight build (read from the folders now)."""
        return frozenset(m.id for m in self.models.values() if m.test_weights)


def load_registry(path: Path | str | None = None, override: Path | str | None = None) -> Registry:
    """Read the registry: `path` (default workers/models.toml), then `override` (default $SLATE_MODELS_FILE)."""
    files = [Path(path) if path else DEFAULT_FILE]
    override = override if override is not None else os.environ.get(ENV_FILE) or None
    if override:
        files.append(Path(override))
    raw: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    default = None
    for file in files:
        doc = _read(file)
        default = doc.get("default", default)
        for model_id, entry in doc.get("models", {}).items():
            raw[model_id] = {**raw.get(model_id, {}), **entry}
            origin[model_id] = str(file)
    models = {model_id: _build(model_id, entry, origin[model_id]) for model_id, entry in raw.items()}
    if not models:
        raise RegistryError(f"{', '.join(map(str, files))}: no models")
    default = default or next(iter(models))
    if default not in models:
        raise RegistryError(f"{files[-1]}: default model {default!r} is not defined (known: {', '.join(models)})")
    return Registry(models=models, default=default, sources=tuple(str(f) for f in files))


_lock = threading.Lock()
_current: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, read once (`reload_registry()` reads the files again)."""
    global _current
    with _lock:
        if _current is None:
            _current = load_registry()
        return _current


def reload_registry() -> Registry:
    global _current
    with _lock:
        _current = None
    return get_registry()


def get_model(model_id: str) -> ModelInfo:
    """The registry's entry for `model_id`; raises `UnknownModel` with the known ids."""
    return get_registry().get(model_id)


def engine_class(name: str) -> type:
    """The engine class registered under `name` (imported on first use)."""
    import importlib

    try:
        target = ENGINES[name]
    except KeyError:
        raise RegistryError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)
