"""The virtual camera, measured on real animatic takes.

Phase correlation (numpy FFT) between consecutive frames recovers the direction and the amount of
every move of the vocabulary that has a 2D component: translation from the whole frame, and scale
(divergence) and roll (curl) from the shifts of patches around the centre. The amounts are checked
against the figures the camera documents (a medium pan: 15% of the frame width per 4 seconds).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from workers.vocabulary import Move
from workers import camera as vcam
from workers.engines.animatic import AnimaticEngine
from workers.spec import CastMember, RenderSpec

W, H, FRAMES, FPS = 320, 192, 13, 4.0  # 3.25 s: a few pixels of motion per frame
SECONDS = FRAMES / FPS
R_X = 96  # patch offset from the centre for scale and roll
PATCH = 62  # rows 65..126: between the horizontal thirds guides (rows 64 and 128)

ENGINE = AnimaticEngine()


@functools.lru_cache(maxsize=64)
def take(move: str, **kw) -> np.ndarray:
    """A take, rendered once per test run (tests only read it)."""
    return render(move, **kw)


def render(move: str, *, speed: str = "medium", frames: int = FRAMES, fps: float = FPS, seed: int = 3,
         width: int = W, height: int = H, framing: str = "WS") -> np.ndarray:
    spec = RenderSpec(
        model="animatic", prompt="", width=width, height=height, frames=frames, fps=fps, seeds=[seed],
        camera={"move": move, "speed": speed, "framing": framing}, shot_code="4B-02",
        scene_heading="EXT. PIER - DUSK", action="Nadia walks to the end of the pier.",
        cast=[CastMember(name="NADIA", look="yellow coat")], lighting={"time_of_day": "dusk"},
    )
    return ENGINE.render(spec)[0]


def gray(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def phase_shift(a: np.ndarray, b: np.ndarray, sigma: float = 1.2) -> tuple[float, float]:
    """How far the content moved from a to b, (dx, dy) in pixels (b(x) ~ a(x - d)), to a fraction of a pixel.

    The normalised cross-power spectrum is weighted by a Gaussian, so the correlation peak is a
    Gaussian whose logarithm is a parabola: three samples each way give the sub-pixel position.
    """
    h, w = a.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    fa = np.fft.fft2((a - a.mean()) * window)
    fb = np.fft.fft2((b - b.mean()) * window)
    cross = fb * np.conj(fa)
    cross /= np.abs(cross) + 1e-9
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    corr = np.real(np.fft.ifft2(cross * np.exp(-2 * math.pi**2 * sigma**2 * (fx**2 + fy**2))))
    iy, ix = np.unravel_index(np.argmax(corr), corr.shape)

    def refine(m: float, c: float, p: float) -> float:
        m, c, p = (math.log(max(v, 1e-12)) for v in (m, c, p))
        den = m - 2 * c + p
        return 0.0 if den >= 0 else 0.5 * (m - p) / den

    dy = refine(corr[iy - 1, ix], corr[iy, ix], corr[(iy + 1) % h, ix])
    dx = refine(corr[iy, ix - 1], corr[iy, ix], corr[iy, (ix + 1) % w])
    sx = ix if ix <= w // 2 else ix - w
    sy = iy if iy <= h // 2 else iy - h
    return sx + dx, sy + dy


def patch(frame: np.ndarray, cx: int, cy: int, size: int = PATCH) -> np.ndarray:
    return frame[cy - size // 2: cy + size // 2, cx - size // 2: cx + size // 2]


def flow(a: np.ndarray, b: np.ndarray, rx: int = R_X) -> dict[str, float]:
    """Translation of the whole frame; divergence (scale change - 1), curl (content roll, clockwise positive,
    radians) and the translation at the centre from two patches left and right of it, on the horizontal
    midline (between the rule-of-thirds guides, which stay put)."""
    a, b = gray(a), gray(b)
    h, w = a.shape
    cx, cy = w // 2, h // 2
    dx, dy = phase_shift(a, b)
    left = phase_shift(patch(a, cx - rx, cy), patch(b, cx - rx, cy))
    right = phase_shift(patch(a, cx + rx, cy), patch(b, cx + rx, cy))
    return {"dx": dx, "dy": dy, "div": (right[0] - left[0]) / (2 * rx), "curl": (right[1] - left[1]) / (2 * rx),
            "left": left[0], "right": right[0], "cx": (left[0] + right[0]) / 2, "cy": (left[1] + right[1]) / 2}


def measure(frames: np.ndarray, **kw) -> dict[str, np.ndarray]:
    """Per consecutive pair of frames."""
    pairs = [flow(frames[i], frames[i + 1], **kw) for i in range(len(frames) - 1)]
    return {k: np.array([p[k] for p in pairs]) for k in pairs[0]}


# What the content does on screen over the take (first to last frame), from the documented figures:
# dx, dy in pixels, log-scale, roll in degrees (clockwise positive; the view rolls the other way).
PAN = 0.15 * SECONDS / 4  # a medium pan: 15% of the frame per 4 s
PER_4S = SECONDS / 4
EXPECTED = {
    "pan_left": (PAN * W, 0, 0, 0), "pan_right": (-PAN * W, 0, 0, 0),
    "truck_left": (PAN * W, 0, 0, 0), "truck_right": (-PAN * W, 0, 0, 0),
    "tilt_up": (0, PAN * H, 0, 0), "tilt_down": (0, -PAN * H, 0, 0),
    "pedestal_up": (0, PAN * H, 0, 0), "pedestal_down": (0, -PAN * H, 0, 0),
    "crane_up": (0, PAN * H, -math.log(1.06) * PER_4S, 0), "crane_down": (0, -PAN * H, math.log(1.06) * PER_4S, 0),
    "dolly_in": (0, 0, math.log(1.25) * PER_4S, 0), "dolly_out": (0, 0, -math.log(1.25) * PER_4S, 0),
    "zoom_in": (0, 0, math.log(1.2) * PER_4S, 0), "zoom_out": (0, 0, -math.log(1.2) * PER_4S, 0),
    "orbit_left": (0.16 * PER_4S * W, 0, 0, 2.5 * PER_4S), "orbit_right": (-0.16 * PER_4S * W, 0, 0, -2.5 * PER_4S),
    "arc_180": (-0.3 * PER_4S * W, 0, 0, -4 * PER_4S),
}


def test_every_move_of_the_vocabulary_is_covered():
    assert set(EXPECTED) | {"static", "handheld", "dolly_zoom"} == {m.value for m in Move}


@pytest.mark.parametrize("move", sorted(EXPECTED))
def test_phase_correlation_recovers_the_move(move):
    m = measure(take(move))
    dx, dy, logs, roll = EXPECTED[move]
    scale_only = not (dx or dy)
    for key, want, size in (("dx", dx, W), ("dy", dy, H)):
        per_pair = m[key]
        if want:
            assert np.sign(per_pair.sum()) == np.sign(want), (move, key, per_pair.sum(), want)
            assert per_pair.sum() == pytest.approx(want, rel=0.1), (move, key)
            assert (np.sign(per_pair) == np.sign(want)).all(), (move, key, per_pair)  # every frame, not on average
        elif scale_only:  # a scale about the centre: the centre stays put
            centre = m["cx" if key == "dx" else "cy"].sum()
            assert abs(centre) <= 0.01 * size, (move, key, centre)
        else:
            assert abs(per_pair.sum()) <= 0.01 * size, (move, key, per_pair.sum())  # no motion on the other axis
    if logs:
        assert np.sign(m["div"].sum()) == np.sign(logs), (move, m["div"])
        assert m["div"].sum() == pytest.approx(logs, rel=0.15), move
        assert (np.sign(m["div"]) == np.sign(logs)).all(), (move, m["div"])
    else:
        assert abs(m["div"].sum()) < 0.01, (move, m["div"])
    if roll:
        assert math.degrees(m["curl"].sum()) == pytest.approx(roll, rel=0.15), (move, m["curl"])
        assert (np.sign(m["curl"]) == np.sign(roll)).all(), (move, m["curl"])
    else:
        assert abs(math.degrees(m["curl"].sum())) < 0.3, (move, m["curl"])


def test_dolly_is_a_little_stronger_than_zoom():
    dolly, zoom = measure(take("dolly_in"))["div"].sum(), measure(take("zoom_in"))["div"].sum()
    assert dolly > zoom * 1.1 > 0


def test_dolly_zoom_keeps_the_centre_while_the_edges_expand():
    frames = take("dolly_zoom")
    centre = measure(frames, rx=24)
    edges = measure(frames, rx=124)
    zoom_centre = measure(take("zoom_in"), rx=24)
    # the centre keeps its size (a zoom magnifies it) ...
    assert abs(centre["div"].sum()) < 0.25 * zoom_centre["div"].sum()
    assert abs(centre["cx"].sum()) < 1 and abs(centre["cy"].sum()) < 1
    # ... while the edges move outwards, every frame
    assert (edges["left"] < 0).all() and (edges["right"] > 0).all(), (edges["left"], edges["right"])
    assert edges["right"].sum() - edges["left"].sum() > 4  # pixels over the take
    assert edges["div"].sum() > 2 * abs(centre["div"].sum())


def test_static_camera_does_not_move():
    m = measure(take("static"))
    for key in ("dx", "dy"):
        assert np.abs(m[key]).max() < 0.05
    assert np.abs(m["div"]).max() < 1e-3 and np.abs(m["curl"]).max() < 1e-3


def test_handheld_moves_a_little_and_not_one_way():
    frames = take("handheld", fps=24, frames=25)
    m = measure(frames)
    step = np.hypot(m["dx"], m["dy"])
    assert step.mean() > 0.05  # it moves ...
    assert step.max() < 0.02 * W  # ... a little
    drift = np.hypot(m["dx"].sum(), m["dy"].sum())
    assert drift < step.sum()  # and wanders rather than travelling one way
    assert (np.sign(m["dx"]) > 0).any() or (np.sign(m["dy"]) > 0).any()
    # another seed shakes differently, the same seed the same
    assert np.array_equal(frames, render("handheld", fps=24, frames=25))
    other = measure(take("handheld", fps=24, frames=25, seed=4))
    assert not np.allclose(other["dx"], m["dx"], atol=0.05)


def test_speed_and_duration_set_the_amount():
    pan = {s: -measure(take("pan_right", speed=s))["dx"].sum() for s in ("slow", "medium", "fast")}
    assert pan["slow"] > 0
    assert pan["medium"] / pan["slow"] == pytest.approx(2, rel=0.15)
    assert pan["fast"] / pan["medium"] == pytest.approx(2, rel=0.15)
    longer = -measure(take("pan_right", frames=25))["dx"].sum()
    assert longer / pan["medium"] == pytest.approx(25 / FRAMES, rel=0.15)
    # a very long fast pan stops at the cap (twice the 4-second medium move: 30% of the frame)
    capped = -measure(take("pan_right", speed="fast", frames=41))["dx"].sum()
    assert capped == pytest.approx(0.30 * W, rel=0.15)


# --- the path itself -------------------------------------------------------------------------

@pytest.mark.parametrize("move", [m.value for m in Move])
def test_the_path_never_shows_the_edge_of_the_overscan(move):
    """A white source exactly the overscan size: every view of the move stays white to the edges."""
    w, h = 160, 96
    cases = [("fast", 41, 4.0, None), ("slow", 9, 24.0, 9), ("medium", 49, 12.0, 49), ("medium", 33, 2.0, None)]
    for speed, frames, fps, exact in cases:
        cam = {"move": move, "speed": speed}
        over = vcam.overscan(cam, frames=exact, fps=fps if exact else None, aspect=w / h)
        assert over >= 1
        if exact:  # the exact figure for a take never exceeds the move's capped figure
            assert over <= vcam.overscan(cam, aspect=w / h)
        path = vcam.camera_path(cam, frames=frames, fps=fps, seed=11)
        src = np.full((1, math.ceil(h * over), math.ceil(w * over), 3), 255, np.uint8)
        out = vcam.apply_path(src, path, (w, h), overscan=over)
        assert out.shape == (frames, h, w, 3)
        assert out.min() == 255, (move, speed, frames)


def test_static_path_is_the_identity_crop():
    rng = np.random.default_rng(0)
    src = rng.integers(0, 256, (2, 120, 160, 3), dtype=np.uint8)
    path = vcam.camera_path({"move": "static"}, frames=2, fps=24)
    assert path == [vcam.Transform()] * 2
    out = vcam.apply_path(src, path, (100, 80), overscan=1.5)
    assert np.array_equal(out, src[:, 20:100, 30:130])


def test_paths_are_pure_and_symmetric():
    a = vcam.camera_path({"move": "pan_right"}, frames=97, fps=24)
    assert a == vcam.camera_path({"move": "pan_right"}, frames=97, fps=24, seed=9)  # only handheld reads the seed
    assert a[48] == vcam.Transform()  # the middle frame is the storyboard's framing
    assert a[0].tx == pytest.approx(-a[-1].tx)
    four_seconds = vcam.camera_path({"move": "pan_right"}, frames=96, fps=24)
    assert four_seconds[-1].tx - four_seconds[0].tx == pytest.approx(0.15)  # medium: 15% of the frame per 4 s
    shake = vcam.camera_path({"move": "handheld"}, frames=97, fps=24, seed=1)
    assert shake == vcam.camera_path({"move": "handheld"}, frames=97, fps=24, seed=1)
    assert shake != vcam.camera_path({"move": "handheld"}, frames=97, fps=24, seed=2)
    assert vcam.camera_path({"move": "zoom_in"}, frames=1, fps=24) == [vcam.Transform()]


def test_apply_path_moves_content_the_opposite_way_of_the_view():
    rng = np.random.default_rng(1)
    src = rng.integers(0, 256, (1, 100, 140, 3), dtype=np.uint8)
    right = vcam.apply_path(src, [vcam.Transform(tx=0.1)], (100, 60), overscan=1.4)  # view 10 px right
    assert np.array_equal(right[0], src[0, 20:80, 30:130])
    down = vcam.apply_path(src, [vcam.Transform(ty=-0.25)], (100, 60), overscan=1.4)  # view 15 px up
    assert np.array_equal(down[0], src[0, 5:65, 20:120])
    with pytest.raises(ValueError):
        vcam.apply_path(src[0], [vcam.Transform()], (100, 60))
