"""The virtual camera: every move of the camera vocabulary as a per-frame 2D view path.

An engine renders its frames a little larger than the take (the overscan) and the path then
crops, scales, translates and rotates a view out of each frame, so the move shows in the take
even where a model ignores the words of the prompt.

Conventions
- A `Transform` describes the view of one frame relative to the nominal framing of the shot:
  `scale` > 1 magnifies (the view covers less of the scene), `tx`/`ty` move the view's centre by
  fractions of the output width/height (positive: right/down, so the scene content moves the
  other way on screen), `rotation` rolls the view in degrees (positive: clockwise on screen, so
  the picture turns counter-clockwise), `warp` is the dolly-zoom edge magnification (0: none).
- Paths are symmetric about the nominal framing: the middle frame of a move shows the shot as
  the storyboard frames it (this also halves the overscan a move needs). Motion is linear in
  time (translation, rotation) or in log-scale (constant ratio of scale frame to frame).
- Amount: a medium move over 4 seconds covers the `_MOVES` figure (a pan: 15% of the frame
  width); slow halves, fast doubles, the amount grows with the duration (frames / fps) and is
  capped at twice the 4-second medium figure (`_CAP`), which fixes the overscan an engine needs.
- 2D approximations: pan and truck are the same horizontal translation (no parallax in 2D);
  tilt and pedestal the same vertical one; dolly and zoom are scale changes about the centre
  (a dolly a little stronger); crane = vertical translation with a slight scale (rising reveals
  more); orbit and the 180-degree arc = horizontal translation with a slight roll into the move;
  dolly zoom = a radial warp: the magnification at radius r is 1 + warp * (r / R)^2 (R: half
  diagonal), so the centre keeps its size while the edges expand, growing from 0 over the take;
  handheld = seeded smooth noise (three sinusoids per axis), deterministic per seed.
- Angles, lens and framing are not moves: they have no path (the animatic draws them).

In an engine (sizes snapped up, never down, so the margin holds; a larger source is fine):
    over = overscan(spec.camera, frames=spec.frames, fps=spec.fps, aspect=spec.width / spec.height)
    render at (snap(spec.width * over, 32, up=True), snap(spec.height * over, 32, up=True))
    path = camera_path(spec.camera, frames=spec.frames, fps=spec.fps, seed=seed)
    take = apply_path(frames, path, (spec.width, spec.height), overscan=over)

Speed of `apply_path` (Pillow, one core; `python -m workers.camera` prints it): 97 frames out of
998x666 into 768x512 cost about 0.4 s CPU for scale and translation (Pillow's box resize, ~4 ms a
frame), about 1.0 s with a roll (orbit, arc, handheld: affine, ~10 ms a frame) and 1.1-1.4 s for the
dolly-zoom warp (mesh).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from workers.vocabulary import Camera, Move, Speed


@dataclass(frozen=True)
class Transform:
    scale: float = 1.0
    tx: float = 0.0
    ty: float = 0.0
    rotation: float = 0.0  # degrees
    warp: float = 0.0  # dolly-zoom edge magnification


IDENTITY = Transform()

SPEED_FACTOR = {Speed.slow: 0.5, Speed.medium: 1.0, Speed.fast: 2.0}
REFERENCE_SECONDS = 4.0
_CAP = 2.0  # the amount never exceeds twice the 4-second medium move
_EDGE = 0.004  # extra overscan so bilinear sampling never reads past the frame

# The whole move (first frame to last) at medium speed over 4 seconds:
# tx, ty (fractions of the frame), log-scale, rotation (degrees), warp.
_MOVES: dict[Move, tuple[float, float, float, float, float]] = {
    Move.pan_left: (-0.15, 0.0, 0.0, 0.0, 0.0),
    Move.pan_right: (0.15, 0.0, 0.0, 0.0, 0.0),
    Move.tilt_up: (0.0, -0.15, 0.0, 0.0, 0.0),
    Move.tilt_down: (0.0, 0.15, 0.0, 0.0, 0.0),
    Move.truck_left: (-0.15, 0.0, 0.0, 0.0, 0.0),
    Move.truck_right: (0.15, 0.0, 0.0, 0.0, 0.0),
    Move.pedestal_up: (0.0, -0.15, 0.0, 0.0, 0.0),
    Move.pedestal_down: (0.0, 0.15, 0.0, 0.0, 0.0),
    Move.dolly_in: (0.0, 0.0, math.log(1.25), 0.0, 0.0),
    Move.dolly_out: (0.0, 0.0, -math.log(1.25), 0.0, 0.0),
    Move.zoom_in: (0.0, 0.0, math.log(1.2), 0.0, 0.0),
    Move.zoom_out: (0.0, 0.0, -math.log(1.2), 0.0, 0.0),
    Move.crane_up: (0.0, -0.15, -math.log(1.06), 0.0, 0.0),
    Move.crane_down: (0.0, 0.15, math.log(1.06), 0.0, 0.0),
    Move.dolly_zoom: (0.0, 0.0, 0.0, 0.0, 0.15),
    Move.orbit_left: (-0.16, 0.0, 0.0, -2.5, 0.0),
    Move.orbit_right: (0.16, 0.0, 0.0, 2.5, 0.0),
    Move.arc_180: (0.3, 0.0, 0.0, 4.0, 0.0),
}
_MOVE_CAP = {Move.arc_180: 4 / 3}  # the arc is already large: at most 40% of the frame

# Handheld: amplitude at medium speed (fast shakes twice as much), per axis: tx, ty, log-scale, rotation.
_SHAKE = (0.006, 0.005, 0.004, 0.35)
_SHAKE_HZ = (0.3, 2.0)


def _camera(camera: Camera | dict[str, Any] | None) -> Camera:
    return camera if isinstance(camera, Camera) else Camera.parse(camera)


def amount(camera: Camera | dict[str, Any] | None, *, frames: int, fps: float) -> float:
    """How much of the 4-second medium move this take makes (speed x duration, capped)."""
    cam = _camera(camera)
    if cam.move in (Move.static, Move.handheld):
        return 0.0
    seconds = max(frames, 1) / fps
    return min(SPEED_FACTOR[cam.speed] * seconds / REFERENCE_SECONDS, _MOVE_CAP.get(cam.move, _CAP))


def _times(frames: int) -> np.ndarray:
    if frames < 1:
        raise ValueError("a take has at least one frame")
    return np.linspace(0.0, 1.0, frames) if frames > 1 else np.array([0.5])


def _handheld(cam: Camera, *, frames: int, fps: float, seed: int) -> list[Transform]:
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x48414E44])
    seconds = np.arange(frames) / fps
    gain = SPEED_FACTOR[cam.speed]
    axes = []
    for amp in _SHAKE:
        freqs = rng.uniform(*_SHAKE_HZ, size=3)
        phases = rng.uniform(0.0, 2 * math.pi, size=3)
        weights = rng.uniform(0.2, 1.0, size=3)
        weights /= weights.sum()  # |noise| <= 1: the overscan bound holds for every seed
        noise = (weights[:, None] * np.sin(2 * math.pi * freqs[:, None] * seconds + phases[:, None])).sum(0)
        axes.append(gain * amp * noise)
    tx, ty, logs, rot = axes
    return [Transform(scale=math.exp(float(logs[i])), tx=float(tx[i]), ty=float(ty[i]), rotation=float(rot[i]))
            for i in range(frames)]


def camera_path(camera: Camera | dict[str, Any] | None, *, frames: int, fps: float, seed: int = 0) -> list[Transform]:
    """One view transform per frame for the camera's move (identity for a static camera)."""
    cam = _camera(camera)
    times = _times(frames)
    if fps <= 0:
        raise ValueError("fps must be positive")
    if cam.move == Move.handheld:
        return _handheld(cam, frames=frames, fps=fps, seed=seed)
    if cam.move == Move.static:
        return [IDENTITY] * frames
    return _linear(cam.move, amount(cam, frames=frames, fps=fps), times)


def _linear(move: Move, a: float, times: np.ndarray) -> list[Transform]:
    tx, ty, logs, rot, warp = (a * v for v in _MOVES[move])
    path = []
    for t in times:
        t = float(t)
        c = t - 0.5  # symmetric about the nominal framing
        path.append(Transform(scale=math.exp(logs * c), tx=tx * c, ty=ty * c, rotation=rot * c, warp=warp * t))
    return path


def path_overscan(path: Sequence[Transform], *, aspect: float = 1.5) -> float:
    """The smallest overscan (source size / output size) under which no view of `path` leaves the frame."""
    need = 1.0
    for tr in path:
        th = math.radians(tr.rotation)
        c, s = abs(math.cos(th)), abs(math.sin(th))
        # a positive warp only pulls samples towards the centre, so it needs no margin of its own
        shrink = 1.0 if tr.warp >= 0 else 1.0 / (1.0 + tr.warp)
        need_x = 2 * abs(tr.tx) + shrink * (c + s / aspect) / tr.scale
        need_y = 2 * abs(tr.ty) + shrink * (s * aspect + c) / tr.scale
        need = max(need, need_x, need_y)
    return need


def overscan(camera: Camera | dict[str, Any] | None, *, frames: int | None = None, fps: float | None = None,
             aspect: float = 1.5) -> float:
    """How much larger than the take (both sides) an engine renders so the camera path never shows an edge.

    Without `frames`/`fps`: the margin for the move at its capped amount (enough for any duration).
    With them: the exact margin for this take. Never depends on the seed, so a batch of takes shares it.
    """
    cam = _camera(camera)
    if cam.move == Move.static:
        return 1.0
    if cam.move == Move.handheld:
        g = SPEED_FACTOR[cam.speed]
        ax, ay, alogs, arot = (g * v for v in _SHAKE)
        bound = [Transform(scale=math.exp(-alogs), tx=ax, ty=ay, rotation=arot)]
        return math.ceil((path_overscan(bound, aspect=aspect) + _EDGE) * 1e4) / 1e4
    if frames is None or fps is None:
        path = _linear(cam.move, _MOVE_CAP.get(cam.move, _CAP), np.array([0.0, 1.0]))
    else:
        path = camera_path(cam, frames=frames, fps=fps)
    return math.ceil((path_overscan(path, aspect=aspect) + _EDGE) * 1e4) / 1e4


# --- applying a path -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Geometry:
    out_w: int
    out_h: int
    src_w: int
    src_h: int
    k: float  # source pixels per output pixel at the nominal framing


def _geometry(src_size: tuple[int, int], out_size: tuple[int, int], over: float) -> _Geometry:
    (sw, sh), (w, h) = src_size, out_size
    return _Geometry(w, h, sw, sh, min(sw / (w * over), sh / (h * over)))


def _map(tr: Transform, g: _Geometry, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Output coordinates (pixel edges at integers) -> source coordinates."""
    u, v = x - g.out_w / 2, y - g.out_h / 2
    if tr.warp:
        m = 1.0 + tr.warp * (u * u + v * v) / ((g.out_w / 2) ** 2 + (g.out_h / 2) ** 2)
        u, v = u / m, v / m
    th = math.radians(tr.rotation)
    c, s = math.cos(th), math.sin(th)
    p = (c * u - s * v) / tr.scale + tr.tx * g.out_w
    q = (s * u + c * v) / tr.scale + tr.ty * g.out_h
    return g.src_w / 2 + g.k * p, g.src_h / 2 + g.k * q


def resampling(path: Sequence[Transform]) -> str:
    """One resampling method for the whole take, so the filter never changes mid-shot."""
    if any(tr.warp for tr in path):
        return "mesh"
    if any(tr.rotation for tr in path):
        return "affine"
    return "box"


_MESH_CELL = 32  # output pixels per mesh cell for the dolly-zoom warp


def apply_transform(image: Image.Image, tr: Transform, out_size: tuple[int, int], *, overscan: float,
                    mode: str | None = None) -> Image.Image:
    """The view `tr` of one source frame rendered with `overscan`, as an image of `out_size`."""
    g = _geometry(image.size, out_size, overscan)
    w, h = out_size
    mode = mode or resampling([tr])
    if mode == "box" and not tr.rotation and not tr.warp:
        (x0, x1), (y0, y1) = _map(tr, g, np.array([0.0, w]), np.array([0.0, h]))
        return image.resize((w, h), Image.Resampling.BILINEAR, box=(float(x0), float(y0), float(x1), float(y1)))
    if mode != "mesh" and not tr.warp:
        th = math.radians(tr.rotation)
        c, s = math.cos(th), math.sin(th)
        a, b = g.k * c / tr.scale, -g.k * s / tr.scale
        d, e = g.k * s / tr.scale, g.k * c / tr.scale
        x0, y0 = _map(tr, g, np.array(0.0), np.array(0.0))
        return image.transform((w, h), Image.Transform.AFFINE, (a, b, float(x0), d, e, float(y0)),
                               resample=Image.Resampling.BILINEAR)
    xs = np.unique(np.r_[np.arange(0, w, _MESH_CELL), w]).astype(float)
    ys = np.unique(np.r_[np.arange(0, h, _MESH_CELL), h]).astype(float)
    gx, gy = np.meshgrid(xs, ys)
    sx, sy = _map(tr, g, gx, gy)
    mesh = []
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            box = (int(xs[i]), int(ys[j]), int(xs[i + 1]), int(ys[j + 1]))
            quad = (sx[j, i], sy[j, i], sx[j + 1, i], sy[j + 1, i],
                    sx[j + 1, i + 1], sy[j + 1, i + 1], sx[j, i + 1], sy[j, i + 1])
            mesh.append((box, tuple(float(q) for q in quad)))
    return image.transform((w, h), Image.Transform.MESH, mesh, resample=Image.Resampling.BILINEAR)


def apply_path(frames: np.ndarray, path: Sequence[Transform], out_size: tuple[int, int], *,
               overscan: float | None = None) -> np.ndarray:
    """Move the camera over frames rendered with overscan: (T, H', W', 3) uint8 -> (T, h, w, 3) uint8.

    `out_size` is (width, height). `overscan` is the margin the frames were rendered with; by default the
    least the path needs. The nominal framing is the centred region of `out_size`'s aspect covering
    1/overscan of the source (exactly `out_size` pixels when the source is `overscan` times larger).
    A single source frame (T == 1) serves every transform of the path.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got {frames.shape}")
    if frames.shape[0] not in (1, len(path)):
        raise ValueError(f"{frames.shape[0]} frames for a path of {len(path)}")
    w, h = int(out_size[0]), int(out_size[1])
    if overscan is None:
        overscan = path_overscan(path, aspect=w / h) + _EDGE
    mode = resampling(path)
    out = np.empty((len(path), h, w, 3), dtype=np.uint8)
    source = Image.fromarray(np.ascontiguousarray(frames[0], dtype=np.uint8))
    for i, tr in enumerate(path):
        if i and frames.shape[0] > 1:
            source = Image.fromarray(np.ascontiguousarray(frames[i], dtype=np.uint8))
        out[i] = np.asarray(apply_transform(source, tr, (w, h), overscan=overscan, mode=mode))
    return out


def _bench() -> None:  # pragma: no cover - prints the figures quoted in the module docstring
    import time

    rng = np.random.default_rng(0)
    src = rng.integers(0, 256, size=(1, 666, 998, 3), dtype=np.uint8)
    for move in ("pan_right", "dolly_in", "orbit_left", "handheld", "dolly_zoom"):
        path = camera_path({"move": move}, frames=97, fps=24)
        wall, cpu = time.perf_counter(), time.process_time()
        apply_path(src, path, (768, 512), overscan=998 / 768)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{move:12s} 97 frames 998x666 -> 768x512 ({resampling(path)}): {wall:.2f} s wall, {cpu:.2f} s CPU")


if __name__ == "__main__":  # pragma: no cover
    _bench()
