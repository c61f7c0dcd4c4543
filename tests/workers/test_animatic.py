"""The animatic engine: the engine interface, determinism, cancel, sizes, what the frames show, its speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from workers.vocabulary import Camera
from workers.engines import Canceled
from workers.engines.base import snap
from workers.engines.animatic import AnimaticEngine, camera_line
from workers.spec import CastMember, RenderSpec

CAST = [CastMember(name="NADIA", look="yellow coat"), CastMember(name="THEO", look="fisherman's sweater")]


def spec(**kw) -> RenderSpec:
    base = dict(
        model="animatic", prompt="Nadia walks to the end of the pier", width=256, height=160, frames=9, fps=12.0,
        seeds=[5], camera={"move": "pan_right", "framing": "WS", "lens_mm": 35}, lighting={"time_of_day": "dusk"},
        shot_code="4B-02", scene_heading="EXT. PIER - DUSK", location="Brighton pier",
        action="Nadia walks to the end of the pier and looks back at Theo.", dialogue="Don't follow me.", cast=CAST,
    )
    base.update(kw)
    return RenderSpec(**base)


def test_same_seed_same_frames_other_seed_other_frames():
    a = AnimaticEngine().render(spec())[0]
    b = AnimaticEngine().render(spec())[0]
    assert np.array_equal(a, b)
    c = AnimaticEngine().render(spec(seeds=[6]))[0]
    assert not np.array_equal(a, c)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 2  # another layout and texture, not a pixel or two


def test_takes_come_one_per_seed_in_order_and_match_single_renders():
    engine = AnimaticEngine()
    takes = engine.render(spec(seeds=[3, 9, 4]))
    assert len(takes) == 3
    for seed, frames in zip([3, 9, 4], takes, strict=True):
        assert np.array_equal(frames, engine.render(spec(seeds=[seed]))[0])


@pytest.mark.parametrize(("width", "height", "frames", "fps"), [(256, 160, 9, 12.0), (127, 65, 5, 23.976),
                                                               (33, 17, 3, 24.0), (96, 200, 1, 8.0)])
def test_exact_size_and_dtype_even_for_odd_sizes(width, height, frames, fps):
    for move in ("static", "dolly_zoom", "orbit_left", "handheld"):
        out = AnimaticEngine().render(spec(width=width, height=height, frames=frames, fps=fps,
                                           camera={"move": move}))
        assert len(out) == 1
        assert out[0].shape == (frames, height, width, 3)
        assert out[0].dtype == np.uint8
        assert out[0].std() > 5  # a picture, not a blank


def test_progress_is_reported_per_frame_over_all_takes():
    steps = []
    AnimaticEngine().render(spec(seeds=[1, 2]), on_step=lambda step, total: steps.append((step, total)))
    assert steps == [(i, 18) for i in range(1, 19)]


def test_cancel_stops_at_the_next_frame_and_keeps_finished_takes():
    polls = []

    def should_cancel() -> bool:
        polls.append(1)
        return len(polls) > 12  # during the second take (9 frames each)

    steps = []
    with pytest.raises(Canceled) as caught:
        AnimaticEngine().render(spec(seeds=[1, 2, 3]), should_cancel=should_cancel,
                                on_step=lambda step, total: steps.append(step))
    assert len(polls) == 13 and steps[-1] == 12  # nothing rendered after the poll said stop
    assert len(caught.value.takes) == 1
    assert np.array_equal(caught.value.takes[0], AnimaticEngine().render(spec(seeds=[1]))[0])
    with pytest.raises(Canceled):
        AnimaticEngine().render(spec(), should_cancel=lambda: True)


def test_the_engine_interface():
    engine = AnimaticEngine(None, device="cuda")  # nothing to put on a device: it stays on the CPU
    assert engine.id == "animatic" and engine.device == "cpu"
    assert issubclass(Canceled, Exception) and Canceled().takes == []
    with pytest.raises(ValueError):
        engine.render(spec(frames=0))


def test_snap_to_model_rules():
    assert snap(770, 32) == 768 and snap(770, 32, up=True) == 800 and snap(768, 32, up=True) == 768
    assert snap(100, 8, plus=1) == 97 and snap(97, 4, plus=1) == 97 and snap(2, 8, plus=1) == 9
    assert snap(5, 16) == 16  # never below one multiple ...
    assert snap(1, 8, plus=1, minimum=1) == 1 and snap(3, 8, plus=1, minimum=5) == 9  # ... unless told


def _subject_area(frames: np.ndarray) -> float:
    """Share of the picture (between the text bands) covered by the light storyboard figures."""
    picture = frames[0, 30:120].astype(int)
    light = picture.min(axis=-1) > 120  # the figures are light grey on a dark dusk set
    return light.mean()


def test_framing_sizes_the_subject():
    area = {}
    for framing in ("EWS", "WS", "MS", "MCU", "CU", "ECU"):
        out = AnimaticEngine().render(spec(camera={"move": "static", "framing": framing}, cast=CAST[:1]))
        area[framing] = _subject_area(out[0])
    assert area["EWS"] < 0.02 < area["WS"]
    assert area["WS"] < area["MS"] < area["MCU"] < area["CU"]
    assert area["ECU"] > 0.5, area


def test_ots_foreground_shoulder_and_pov_vignette():
    def render(framing: str) -> np.ndarray:
        return AnimaticEngine().render(spec(camera={"move": "static", "framing": framing}))[0][0].astype(float)

    ms, ots, pov = render("MS"), render("OTS"), render("POV")
    # a dark shoulder fills the lower left of the frame
    assert ots[60:140, 10:60].mean() < 0.5 * ms[60:140, 10:60].mean()
    # the corners of a POV shot fall off to dark; its centre does not
    corner = (slice(20, 40), slice(0, 20))
    assert pov[corner].mean() < 0.6 * ms[corner].mean()
    assert abs(pov[70:90, 118:138].mean() - ms[70:90, 118:138].mean()) < 40


def test_lighting_tints_the_set():
    def mean_rgb(lighting: dict) -> np.ndarray:
        out = AnimaticEngine().render(spec(lighting=lighting, camera={"move": "static", "framing": "EWS"}))
        return out[0][0, 30:120].reshape(-1, 3).mean(axis=0)

    night, golden, high = mean_rgb({"time_of_day": "night"}), mean_rgb({"color": "golden_hour"}), \
        mean_rgb({"key": "high_key"})
    assert night[2] > night[0] + 10  # blue
    assert golden[0] > golden[2] + 30  # amber
    assert high.mean() > night.mean() + 30  # a brighter set


def test_camera_line():
    assert camera_line(Camera.parse({"framing": "WS", "move": "dolly_in", "lens_mm": 35})) == \
        "camera: WS · dolly in · 35mm"
    assert camera_line(Camera.parse({"move": "pan_left", "speed": "fast", "angle": "low"})) == \
        "camera: pan left, fast · low angle"


def test_every_option_renders():
    engine = AnimaticEngine()
    for framing, angle, key in [("EWS", "overhead", "silhouette"), ("MCU", "dutch", "practical"),
                                ("OTS", "high", "low_key"), ("POV", "low", "high_key"), (None, None, None)]:
        camera = {k: v for k, v in {"move": "crane_down", "framing": framing, "angle": angle}.items() if v}
        out = engine.render(spec(camera=camera, lighting={"key": key} if key else {}, cast=[], action="",
                                 dialogue="", shot_code="", scene_heading="", location=""))
        assert out[0].shape == (9, 160, 256, 3)


def test_render_time_97_frames_768x512():
    """Not a timed test: prints the figure (run with -s to see it)."""
    engine = AnimaticEngine()
    for move in ("static", "dolly_in", "handheld"):
        wall, cpu = time.perf_counter(), time.process_time()
        out = engine.render(spec(width=768, height=512, frames=97, fps=24.0, camera={"move": move, "framing": "MS"}))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert out[0].shape == (97, 512, 768, 3)
        print(f"\nanimatic: one take of 97 frames at 768x512, {move}: {wall:.2f} s wall, {cpu:.2f} s CPU")
