"""Engines get files, never the media store: the render task lists the local file of each media key in the spec."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workers.engines.ltx import LtxEngine
from workers.engines.registry import get_model
from workers.spec import CastMember, RenderSpec

# diffusers' FlowMatchEulerDiscreteScheduler under numpy 2 (not ours)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_the_spec_names_its_media_and_carries_their_files_outside_its_hash() -> None:
    lora = {"key": "lo/ra/wren.safetensors", "weight": 0.8}
    spec = RenderSpec(model="ltx", prompt="p", first_frame_key="ab/cd/first.png", last_frame_key="ab/cd/last.png",
                      reference_keys=["ab/cd/ref.png"],
                      cast=[CastMember(name="WREN", reference_keys=["ab/cd/ref.png", "ef/gh/face.png"], lora=lora)])
    assert spec.media_keys() == ["ab/cd/first.png", "ab/cd/last.png", "ab/cd/ref.png", "ef/gh/face.png",
                                 "lo/ra/wren.safetensors"]  # fmt: skip
    local = spec.with_files({"ab/cd/first.png": Path("/media/ab/cd/first.png")})
    assert local.path("ab/cd/first.png") == Path("/media/ab/cd/first.png")
    assert local.with_seeds([4, 5]).path("ab/cd/first.png") == Path("/media/ab/cd/first.png")  # chunks keep them
    assert local.hash() == spec.hash()  # where a file lies does not change the pictures
    assert RenderSpec.from_dict(local.to_dict()) == local
    with pytest.raises(LookupError, match="'ab/cd/last.png' has no local file"):
        local.path("ab/cd/last.png")


def test_the_render_task_resolves_every_media_key_in_the_media_store(tmp_path: Path) -> None:
    from app.generation.tasks import with_local_files
    from app.media.store import get_store

    spec = RenderSpec(model="ltx", prompt="p", first_frame_key="ab/cd/first.png",
                      cast=[CastMember(name="WREN", reference_keys=["ef/gh/face.png"])])
    local = with_local_files(spec)
    assert local.files == {key: str(get_store().path(key)) for key in ("ab/cd/first.png", "ef/gh/face.png")}


def test_an_engine_reads_the_first_frame_from_the_files_in_the_spec(tiny_models: dict[str, Path],
                                                                    tmp_path: Path) -> None:  # fmt: skip
    picture = np.zeros((64, 96, 3), np.uint8)
    picture[:, :48] = (230, 40, 40)
    Image.fromarray(picture).save(tmp_path / "first.png")
    engine = LtxEngine(replace(get_model("ltx"), folder=tiny_models["ltx"], max_sequence_length=64))  # no resolve
    spec = RenderSpec(model="ltx", prompt="a lighthouse", width=96, height=64, frames=9, steps=2, seeds=[3],
                      first_frame_key="ab/cd/first.png")
    with pytest.raises(LookupError, match="has no local file"):
        engine.generate(spec)
    (from_files,) = engine.generate(spec.with_files({"ab/cd/first.png": tmp_path / "first.png"}))
    engine.resolve = {"ab/cd/first.png": tmp_path / "first.png"}.__getitem__  # the same file, handed over directly
    (given,) = engine.generate(spec)
    assert np.abs(from_files - given).max() < 1e-5
    (free,) = engine.generate(replace(spec, first_frame_key=None))
    assert np.abs(from_files - free).max() > 0.05  # the file did condition the take


def test_the_registry_reads_its_own_environment_not_the_web_settings(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from workers.engines.registry import DEFAULT_FILE, load_registry

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLATE_DATA_DIR", raising=False)
    monkeypatch.delenv("SLATE_MODEL_LTX_FOLDER", raising=False)
    assert load_registry(DEFAULT_FILE, override="").get("ltx").folder == Path("data/models/ltx-tiny")
    (tmp_path / ".env").write_text('# the studio\nexport SLATE_DATA_DIR="/srv/slate"\n')
    assert load_registry(DEFAULT_FILE, override="").get("ltx").folder == Path("/srv/slate/models/ltx-tiny")
    monkeypatch.setenv("SLATE_DATA_DIR", "/fast")  # the environment first, as the web's settings read it
    assert load_registry(DEFAULT_FILE, override="").get("ltx").folder == Path("/fast/models/ltx-tiny")
