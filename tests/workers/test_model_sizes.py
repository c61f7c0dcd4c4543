"""Every model at its smallest, its default and its largest allowed size: it renders (tiny weights, two steps, one
take), or the shot is refused with a 422 that names the model and its range before anything is queued.

The sizes come from the registry (workers/models.toml) and the work limits (`SLATE_JOB_*`). Each render keeps
the costly axis small: the largest frame at the fewest frames the model allows, the longest take at the smallest
frame (the transformers' positions and the VAEs' caches run per axis), and the default frames (Wan's own 832x480,
LTX's 768x512 at 9 frames, a new project's 1280x720) with a camera move, so the overscanned render size is
exercised too.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import func, select

from app.generation import limits, service
from app.generation.models import GenerationJob
from app.storyboard import service as storyboard
from workers.engines.animatic import AnimaticEngine
from workers.engines.ltx import LtxEngine
from workers.engines.registry import RegistryError, get_model, load_registry, snap
from workers.engines.wan import WanEngine
from workers.spec import RenderSpec

# diffusers' FlowMatchEulerDiscreteScheduler under numpy 2 (not ours)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

# model -> case -> (width, height, frames, camera move)
SIZES: dict[str, dict[str, tuple[int, int, int, str]]] = {
    "animatic": {
        "smallest": (64, 64, 480, "static"),  # the longest take the limits allow: 20 s at 24 fps
        "default": (1280, 720, 24, "pan_left"),
        "largest": (1920, 1920, 1, "static"),  # the limits' frame (the animatic itself goes to 3840x2160)
    },
    "ltx": {
        "smallest": (64, 64, 257, "static"),
        "native": (768, 512, 9, "pan_left"),
        "default": (1280, 720, 1, "pan_left"),  # 1280x704 on its rules
        "largest": (1280, 1280, 1, "dolly_in"),
    },
    "wan": {
        "smallest": (64, 64, 129, "static"),
        "default": (832, 480, 1, "pan_left"),
        "largest": (1280, 720, 1, "pan_left"),  # 1280x720 is also a new project's frame; 1280x1280 is refused
    },
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a busy 2-core host two threads spin against each other (10x slower here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def engines(tiny_models: dict[str, Path]) -> dict[str, object]:
    return {
        "animatic": AnimaticEngine(),
        "ltx": LtxEngine(replace(get_model("ltx"), folder=tiny_models["ltx"], max_sequence_length=64)),
        "wan": WanEngine(replace(get_model("wan"), folder=tiny_models["wan"], max_sequence_length=64)),
    }


def test_the_registry_states_each_models_size_range() -> None:
    reg = load_registry(override="")
    ltx, wan, animatic = reg.get("ltx"), reg.get("wan"), reg.get("animatic")
    assert ltx.size_range == "64x64 to 1280x1280, 1 to 257 frames (8k+1)"
    assert wan.size_range == "64x64 to 1280x1280 (at most 921,600 pixels a frame), 1 to 129 frames (4k+1)"
    assert animatic.size_range == "64x64 to 3840x2160, 1 to 2400 frames (1k+0)"
    assert ltx.to_dict()["size_range"] == ltx.size_range and wan.to_dict()["max_area"] == 1280 * 720
    for model_id, cases in SIZES.items():
        model = reg.get(model_id)
        for case, (w, h, f, _) in cases.items():
            assert model.size_problem(w, h, f) is None, (model_id, case)
            sw, sh, sf, _ = snap(model, w, h, f)
            limits.check(RenderSpec(model=model_id, prompt="x", width=sw, height=sh, frames=sf, fps=24.0, seeds=[1]),
                         settings=service.JobSettings(_env_file=None))  # fmt: skip


@pytest.mark.parametrize("toml,says", [
    ('min_width = 48\n', "min_width 48 is not a multiple of size_multiple 32"),
    ('min_height = 1312\n', "min_height 1312 is above max_height 1280"),
    ('min_frames = 300\n', "min_frames 300 is above max_frames 257"),
    ('max_area = -1\n', "max_area: must be a whole number of at least 1"),
])  # fmt: skip
def test_a_size_range_that_cannot_hold_is_refused_when_the_registry_is_read(tmp_path, toml, says) -> None:
    extra = tmp_path / "models.toml"
    extra.write_text('[models.ltx]\nengine = "ltx"\n' + toml)
    with pytest.raises(RegistryError, match=says):
        load_registry(override=extra)


def test_a_models_file_can_narrow_a_range(tmp_path) -> None:
    extra = tmp_path / "models.toml"
    extra.write_text('[models.ltx]\nengine = "ltx"\nmax_area = 921600\nmin_width = 256\n')
    ltx = load_registry(override=extra).get("ltx")
    assert ltx.size_problem(1280, 704, 9) is None
    message, field = ltx.size_problem(1280, 1280, 9)
    assert field == "height" and message.startswith("LTX-Video (ltx) renders 256x64 to 1280x1280 (at most 921,600 ")
    assert ltx.size_problem(224, 704, 9)[1] == "width"


@pytest.mark.parametrize("model_id,case", [(m, c) for m, cases in SIZES.items() for c in cases])
def test_every_model_renders_at_its_smallest_default_and_largest_size(engines, model_id, case) -> None:
    w, h, f, move = SIZES[model_id][case]
    model = get_model(model_id)
    width, height, frames, _ = snap(model, w, h, f)
    spec = RenderSpec(model=model_id, prompt="a lighthouse on a cliff at dusk", width=width, height=height,
                      frames=frames, fps=24.0, steps=2, seeds=[3],
                      camera={"move": move, "speed": "medium"})  # fmt: skip
    (take,) = engines[model_id].render(spec)
    assert take.shape == (frames, height, width, 3) and take.dtype == np.uint8
    assert take.std() > 0  # pictures, not NaN turned black (LTX's scheduler gives NaN at a single step)


def test_a_wan_folder_with_too_few_positions_says_so_instead_of_a_tensor_error(tiny_models, tmp_path) -> None:
    """A tiny folder made before the fix (32 rotary positions) fails at 832x480 with a message, not a shape error."""
    old = tmp_path / "wan-old"
    shutil.copytree(tiny_models["wan"], old)
    config = old / "transformer" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "rope_max_seq_len": 32}))
    engine = WanEngine(replace(get_model("wan"), folder=old, max_sequence_length=64))
    assert engine.plan(RenderSpec(model="wan", prompt="x", width=512, height=512, frames=9, seeds=[1]))  # 32 fit
    with pytest.raises(ValueError, match=r"rotary positions for 32 .* 832x480, 9 frames needs 52: make the tiny "
                                         r"folder again \(`slate models make-tiny`\)"):  # fmt: skip
        engine.plan(RenderSpec(model="wan", prompt="x", width=832, height=480, frames=9, seeds=[1]))


# ---- through the API: the range is checked before anything is queued --------------------------------------------


@pytest.fixture
def owner(make_user):
    return make_user(name="Director")


@pytest.fixture
def make_shot(db, owner, make_project):
    scene = storyboard.create_scene(db, actor=owner, project=make_project(owner, name="Sizes"), heading="EXT. CLIFF")

    def _make(width: int, height: int, duration_s: float):
        shot = storyboard.create_shot(db, actor=owner, scene=scene, values={
            "action": "The lamp turns.", "width": width, "height": height, "fps": 24,
            "duration_s": duration_s})  # fmt: skip
        db.commit()
        return shot

    return _make


def _jobs(db, shot) -> int:
    return db.scalar(select(func.count()).select_from(GenerationJob).where(GenerationJob.shot_id == shot.id))


@pytest.mark.parametrize("model_id", list(SIZES))
def test_a_shot_at_each_end_of_a_models_range_is_queued(client, db, api_token, owner, make_shot, model_id) -> None:
    h = api_token(owner)
    for w, hh, f, _ in SIZES[model_id].values():
        shot = make_shot(w, hh, max(round(f / 24, 3), 0.5))  # a shot lasts at least 0.5 s (12 frames)
        r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"model": model_id, "takes": 1}, headers=h)
        assert r.status_code == 202, (model_id, w, hh, f, r.text)
    if model_id == "wan":  # portrait too
        r = client.post(f"/api/v1/shots/{make_shot(720, 1280, 0.5).id}/generate", json={"model": "wan"}, headers=h)
        assert r.status_code == 202, r.text


@pytest.mark.parametrize("model_id,width,height,duration_s,field", [
    ("ltx", 1312, 720, 0.5, "width"),  # one multiple past 1280 (it used to be capped, changing the aspect)
    ("ltx", 720, 1312, 0.5, "height"),
    ("wan", 1296, 720, 0.5, "width"),
    ("wan", 1280, 1280, 0.5, "height"),  # within 1280 a side, past 1280x720 pixels
    ("wan", 976, 960, 0.5, "height"),  # 936,960 pixels
])  # fmt: skip
def test_a_shot_outside_a_models_range_is_refused_before_anything_is_queued(client, db, api_token, owner, make_shot,
                                                                            model_id, width, height, duration_s,
                                                                            field) -> None:  # fmt: skip
    shot = make_shot(width, height, duration_s)
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"model": model_id, "takes": 1},
                    headers=api_token(owner))  # fmt: skip
    assert r.status_code == 422, r.text
    model = get_model(model_id)
    assert r.json()["detail"].startswith(f"{model.label} ({model_id}) renders {model.size_range}; this shot asks "
                                         f"for {width}x{height}, ")  # fmt: skip
    assert r.json()["field"] == field
    assert _jobs(db, shot) == 0


@pytest.mark.parametrize("model_id,frames", [("ltx", 258), ("wan", 130)])
def test_a_take_longer_than_the_model_renders_is_refused_before_anything_is_queued(client, db, api_token, owner,
                                                                                   make_shot, model_id, frames):
    shot = make_shot(64, 64, round(frames / 24, 3))
    r = client.post(f"/api/v1/shots/{shot.id}/generate", json={"model": model_id}, headers=api_token(owner))
    assert r.status_code == 422 and r.json()["field"] == "duration_s"
    assert f"renders at most {get_model(model_id).max_frames} frames" in r.json()["detail"]
    assert _jobs(db, shot) == 0
