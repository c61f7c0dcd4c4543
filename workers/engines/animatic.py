"""The animatic engine: storyboard frames for a shot, with its camera move, on the CPU.

A team blocks timing and camera for a whole film with it before spending GPU. Each take draws
the shot's scene once, larger than the take by the camera's overscan: a textured, lit
background (soft blobs, a grid and a floor in perspective, seeded), one figure per cast member
sized by the framing (EWS a tiny figure, WS full body, MS waist up, MCU chest up, CU the head,
ECU the eyes; OTS adds a dark shoulder in the foreground) with name tags; the angle places the
horizon (high: up, low: down, overhead: none) and a dutch angle rolls the set 12 degrees; the
lighting (time of day, colour, key) tints it. The virtual camera
(workers/camera.py) then takes each frame's view of it, and a viewfinder overlay is laid on top:
rule-of-thirds guides, the shot code and location, the camera line, the action, the cast with
their looks, and a frame counter (POV adds a vignette). The same spec and seed give the same
frames; another seed gives another layout and texture. Cost: a take of 97 frames at 768x512 is
about 0.5 s CPU for moves of scale and translation, about 1 s with a roll or the dolly-zoom warp.
Memory: `stream` hands out each take in chunks of `CHUNK_FRAMES` frames, so a worker holds one
take's scene and one chunk at a time however many takes and frames a job has.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from workers import camera as vcam
from workers.engines.base import Canceled
from workers.spec import RenderSpec
from workers.vocabulary import Angle, Camera, Framing, Lighting, LightColour, LightKey, Move, Speed, TimeOfDay, label

# (dark, light) tones of the scene for the time of day; a light colour overrides it.
_TIME_TONES: dict[TimeOfDay | None, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    None: ((26, 30, 38), (72, 80, 96)),
    TimeOfDay.day: ((30, 34, 40), (86, 94, 104)),
    TimeOfDay.dawn: ((38, 28, 44), (118, 86, 98)),
    TimeOfDay.morning: ((36, 38, 38), (112, 106, 88)),
    TimeOfDay.afternoon: ((40, 34, 26), (120, 100, 70)),
    TimeOfDay.dusk: ((34, 22, 40), (124, 72, 62)),
    TimeOfDay.night: ((8, 12, 26), (34, 46, 82)),
}
_COLOUR_TONES = {
    LightColour.golden_hour: ((44, 30, 14), (152, 106, 50)),
    LightColour.blue_hour: ((12, 20, 44), (48, 78, 130)),
    LightColour.neon: ((24, 8, 36), (136, 40, 140)),
    LightColour.candlelit: ((24, 13, 5), (120, 68, 22)),
    LightColour.overcast: ((40, 42, 44), (92, 94, 96)),
}

# Framing -> (body height in frame heights, head top in frame heights); the figure's x is its centre.
_FIGURE = {
    Framing.EWS: (0.11, None),  # small, standing on the ground between the horizon and the camera
    Framing.WS: (0.78, 0.15),
    Framing.MS: (1.9, 0.14),
    Framing.MCU: (2.8, 0.12),
    Framing.CU: (5.0, 0.10),
    Framing.ECU: (11.0, -0.19),  # the eyes cross the frame at 45% of its height
    Framing.OTS: (1.9, 0.16),
    Framing.POV: (1.2, 0.20),
}
_MAX_FIGURES = {Framing.EWS: 4, Framing.WS: 3, Framing.MS: 2, Framing.MCU: 2, Framing.OTS: 1,
                Framing.POV: 2, Framing.CU: 1, Framing.ECU: 1}
_HORIZON = {None: 0.45, Angle.eye: 0.45, Angle.high: 0.24, Angle.low: 0.72, Angle.dutch: 0.45}
_DUTCH_DEGREES = 12.0
_TEXT = (236, 236, 230)
_DIM_TEXT = (190, 192, 190)

CHUNK_FRAMES = 8  # frames handed to the encoder at a time: 8 x 1920x1080 RGB is 50 MB

ProgressFn = Callable[[int, int], Any]
CancelFn = Callable[[], bool]


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: float) -> str:
    """`text`, cut with an ellipsis to fit `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…" if text else ""


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Any, width: float, lines: int) -> list[str]:
    """Greedy word wrap to `lines` lines of `width` pixels, the last one cut with an ellipsis."""
    words, out, line = " ".join(text.split()).split(" "), [], ""
    for i, word in enumerate(words):
        trial = f"{line} {word}".strip()
        if not line or draw.textlength(trial, font=font) <= width:
            line = trial
            continue
        out.append(line)
        line = word
        if len(out) == lines - 1:
            line = " ".join(words[i:])
            break
    if line:
        out.append(line)
    out = [_fit(draw, line, font, width) for line in out[:lines]]  # a word too long for a line is cut too
    return [line for line in out if line]


def camera_line(cam: Camera) -> str:
    """'camera: WS · dolly in · 35mm' (speed and angle when they say something)."""
    parts = [cam.framing.value if cam.framing else "", label(cam.move.value)]
    if cam.move not in (Move.static, Move.handheld) and cam.speed != Speed.medium:
        parts[-1] += f", {cam.speed.value}"
    if cam.lens_mm:
        parts.append(f"{cam.lens_mm}mm")
    if cam.angle and cam.angle != Angle.eye:
        parts.append(f"{cam.angle.value} angle")
    return "camera: " + " · ".join(p for p in parts if p)


class _Scene:
    """Draws the scene of one take at overscan size; coordinates in fractions of the nominal frame."""

    def __init__(self, size: tuple[int, int], out: tuple[int, int], *, roll: float) -> None:
        self.w, self.h = out
        self.ox, self.oy = (size[0] - out[0]) / 2, (size[1] - out[1]) / 2
        self.cx, self.cy = size[0] / 2, size[1] / 2
        th = math.radians(roll)
        self.c, self.s = math.cos(th), math.sin(th)

    def pt(self, x: float, y: float) -> tuple[float, float]:
        """Frame fractions (0..1 across the nominal frame, beyond for the margin) -> source pixels."""
        px, py = self.ox + x * self.w - self.cx, self.oy + y * self.h - self.cy
        return self.cx + self.c * px - self.s * py, self.cy + self.s * px + self.c * py

    def poly(self, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [self.pt(x, y) for x, y in pts]

    def ellipse(self, x: float, y: float, rx: float, ry: float) -> list[tuple[float, float]]:
        """An ellipse as a polygon (so a dutch angle can roll it); radii in frame heights."""
        a = self.h / self.w
        n = int(min(max(16, 2 * math.pi * max(rx, ry) * self.h / 6), 256))  # edges about 6 px long
        return self.poly([(x + rx * a * math.cos(2 * math.pi * i / n), y + ry * math.sin(2 * math.pi * i / n))
                          for i in range(n)])


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, int, int]:
    """The colour a fraction `t` of the way from a to b."""
    r, g, bl = (int(round(x + (y - x) * t)) for x, y in zip(a[:3], b[:3], strict=True))
    return r, g, bl


class AnimaticEngine:
    """Storyboard frames with the camera move applied; CPU only, no model."""

    id = "animatic"

    def __init__(self, model: Any | None = None, *, device: str = "cpu") -> None:
        self.model = model
        self.device = "cpu"  # nothing here runs on an accelerator

    def render(self, spec: RenderSpec, *, on_step: ProgressFn | None = None,
               should_cancel: CancelFn | None = None) -> list[np.ndarray]:
        """One uint8 array (frames, height, width, 3) per seed in spec.seeds, in order (all in memory: for
        tests and small jobs; the render task uses `stream`).

        on_step(done, total) counts frames over all takes; should_cancel() is polled before each frame.
        """
        n, h, w = int(spec.frames), int(spec.height), int(spec.width)
        takes: list[np.ndarray] = []
        try:
            for chunks in self.stream(spec, on_step=on_step, should_cancel=should_cancel):
                frames = np.empty((n, h, w, 3), dtype=np.uint8)
                i = 0
                for chunk in chunks:
                    frames[i : i + len(chunk)] = chunk
                    i += len(chunk)
                takes.append(frames)
        except Canceled as exc:
            raise Canceled(str(exc), takes=takes) from None
        return takes

    def stream(self, spec: RenderSpec, *, on_step: ProgressFn | None = None, should_cancel: CancelFn | None = None,
               chunk_frames: int = CHUNK_FRAMES) -> Iterator[Iterator[np.ndarray]]:
        """The takes of spec.seeds in order, each an iterator of chunks (at most `chunk_frames`, height, width, 3).

        Memory: one take's scene and one chunk at a time, whatever the number of takes and frames. Each take
        must be read to its end before the next one is asked for. on_step(done, total) counts frames over all
        takes; should_cancel() is polled before each frame and raises `Canceled` (its `takes` is empty: the
        caller has kept what it read). The spec is checked here, before anything is drawn.
        """
        w, h, n = int(spec.width), int(spec.height), int(spec.frames)
        if w < 1 or h < 1 or n < 1:
            raise ValueError(f"nothing to render at {w}x{h}, {n} frames")
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames must be at least 1, not {chunk_frames}")
        cam = Camera.parse(spec.camera)
        light = Lighting.parse(spec.lighting)
        over = vcam.overscan(cam, frames=n, fps=spec.fps, aspect=w / h)
        src_size = (math.ceil(w * over), math.ceil(h * over))
        over = min(src_size[0] / w, src_size[1] / h)  # the source then holds the nominal frame pixel for pixel
        hud = _Overlay(spec, cam, (w, h))
        total = n * len(spec.seeds)
        progress = {"done": 0}

        def take(index: int, seed: int) -> Iterator[np.ndarray]:
            path = vcam.camera_path(cam, frames=n, fps=spec.fps, seed=seed)
            mode = vcam.resampling(path)
            scene = self._scene(spec, cam, light, seed, src_size, (w, h))
            for first in range(0, n, chunk_frames):
                chunk = np.empty((min(chunk_frames, n - first), h, w, 3), dtype=np.uint8)
                for j in range(len(chunk)):
                    if should_cancel is not None and should_cancel():
                        raise Canceled(f"canceled after {index} of {len(spec.seeds)} takes")
                    view = vcam.apply_transform(scene, path[first + j], (w, h), overscan=over, mode=mode)
                    hud.draw(view, first + j)
                    chunk[j] = np.asarray(view)
                    progress["done"] += 1
                    if on_step is not None:
                        on_step(progress["done"], total)
                yield chunk

        return (take(index, seed) for index, seed in enumerate(spec.seeds))

    # --- the scene -----------------------------------------------------------------------

    def _scene(self, spec: RenderSpec, cam: Camera, light: Lighting, seed: int,
               size: tuple[int, int], out: tuple[int, int], *, figures: bool = True) -> Image.Image:
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x414E494D])
        sw, sh = size
        w, h = out
        dark, bright = _COLOUR_TONES.get(light.color) or _TIME_TONES.get(light.time_of_day, _TIME_TONES[None])
        contrast = {LightKey.high_key: 0.7, LightKey.low_key: 1.25}.get(light.key, 1.0)
        if light.key == LightKey.high_key:
            dark, bright = _mix(dark, bright, 0.45), _mix(bright, (235, 235, 230), 0.35)
        elif light.key == LightKey.silhouette:
            dark, bright = _mix(dark, bright, 0.6), _mix(bright, (240, 230, 210), 0.5)

        # soft blobs: random ellipses on a small canvas, blurred, then enlarged
        small = (max(sw // 8, 4), max(sh // 8, 4))
        blobs = Image.new("L", small, 0)
        bd = ImageDraw.Draw(blobs)
        for _ in range(14):
            x, y = rng.uniform(-0.1, 1.1, 2) * small
            r = rng.uniform(0.06, 0.22) * small[0]
            bd.ellipse((x - r, y - r * rng.uniform(0.6, 1.2), x + r, y + r * rng.uniform(0.6, 1.2)),
                       fill=int(rng.uniform(60, 255)))
        blobs = blobs.filter(ImageFilter.GaussianBlur(max(small[0] / 18, 1))).resize(size, Image.Resampling.BICUBIC)
        t = np.asarray(blobs, dtype=np.float32) / 255.0
        # mid-frequency grain, about 8 output pixels across, so every region has texture to follow
        grain = rng.uniform(-1, 1, (max(sh // 8, 2), max(sw // 8, 2))).astype(np.float32)
        grain_img = Image.fromarray(((grain + 1) * 127.5).astype(np.uint8)).resize(size, Image.Resampling.BILINEAR)
        t = np.clip(0.5 + (t - 0.5) * contrast + (np.asarray(grain_img, np.float32) / 127.5 - 1) * 0.09, 0, 1)
        lo, hi = np.array(dark, np.float32), np.array(bright, np.float32)
        hue = rng.uniform(-8, 8, 3).astype(np.float32)  # each seed a slightly different cast of the light
        rgb = lo + (hi - lo) * t[..., None] * 0.75 + hue
        img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))

        layer = Image.new("RGBA", size, (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        roll = _DUTCH_DEGREES if cam.angle == Angle.dutch else 0.0
        sc = _Scene(size, out, roll=roll)
        line_w = max(1, round(h / 360))
        ink = _mix(bright, (255, 255, 255), 0.35)

        # a square grid over the whole set (jittered per seed) and, unless overhead, a horizon and a floor
        step = w / rng.uniform(6.5, 8.5)
        off_x, off_y = rng.uniform(0, step, 2)
        ext = 1.0 + 2 * max(sw / w, sh / h)
        gx = np.arange(-ext * w + off_x, 2 * ext * w, step) / w
        gy = np.arange(-ext * h + off_y, 2 * ext * h, step) / h
        for x in gx:
            d.line(sc.poly([(x, -ext), (x, 1 + ext)]), fill=(*ink, 34), width=line_w)
        for y in gy:
            d.line(sc.poly([(-ext, y), (1 + ext, y)]), fill=(*ink, 34), width=line_w)
        horizon = None
        if cam.angle != Angle.overhead:
            horizon = _HORIZON.get(cam.angle, 0.45) + rng.uniform(-0.02, 0.02)
            d.line(sc.poly([(-ext, horizon), (1 + ext, horizon)]), fill=(*ink, 120), width=line_w + 1)
            vx = 0.5 + rng.uniform(-0.08, 0.08)
            for k in range(-14, 15):
                d.line(sc.poly([(vx, horizon), (vx + k * 0.32, horizon + 3.0)]), fill=(*ink, 60), width=line_w)
            depth = 0.04
            while horizon + depth < 1 + ext:
                yy = horizon + depth
                d.line(sc.poly([(-ext, yy), (1 + ext, yy)]), fill=(*ink, 50), width=line_w)
                depth *= 1.45
        if light.key == LightKey.practical:  # pools of warm light from practicals in the set
            for _ in range(3):
                x, y = rng.uniform(0.05, 0.95), rng.uniform(0.1, 0.6)
                for k in range(10):  # a glow: rings growing brighter towards the lamp
                    r = 0.13 * (1 - k / 10) + 0.015
                    d.polygon(sc.ellipse(x, y, r, r), fill=(255, 200, 120, int(14 + 200 * (k / 9) ** 3)))
        img = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
        if figures:
            self._figures(img, spec, cam, light, sc, rng, horizon)
        return img

    def _figures(self, img: Image.Image, spec: RenderSpec, cam: Camera, light: Lighting, sc: _Scene,
                 rng: np.random.Generator, horizon: float | None) -> None:
        framing = cam.framing or Framing.MS
        body, top = _FIGURE[framing]
        names = [c.name for c in spec.cast] or ["subject"]
        names = names[: _MAX_FIGURES[framing]]
        d = ImageDraw.Draw(img, "RGBA")
        silhouette = light.key == LightKey.silhouette
        n = len(names)
        if framing == Framing.OTS:
            xs = [0.64]
        elif n == 1:
            xs = [rng.choice([1 / 3, 1 / 2, 2 / 3]) if framing in (Framing.EWS, Framing.WS, Framing.MS) else 0.5]
        elif n == 2 and body >= 1.0:
            xs = [0.29, 0.71]
        else:
            xs = [(i + 1) / (n + 1) for i in range(n)]
        tags = []
        for i, (name, x) in enumerate(zip(names, xs, strict=True)):
            b = body * rng.uniform(0.96, 1.04)
            x = x + rng.uniform(-0.025, 0.025)
            if top is None:  # EWS: small figures standing on the ground between the horizon and the camera
                ground = horizon if horizon is not None else 0.45
                head = ground + (0.8 - ground) * rng.uniform(0.25, 0.5) - b
            else:
                head = top + rng.uniform(-0.015, 0.015)
            tone = int(rng.uniform(150, 205))
            colour = (16, 16, 20) if silhouette else _mix((tone, tone, tone - 6), (200, 170, 150), 0.15 * (i % 3))
            self._figure(d, sc, x, head, b, colour, face=not silhouette and body >= 1.9)
            tags.append((name, x, head - 0.07 if body < 1.0 else min(head + 0.24 * b, 0.7)))
        font = _font(max(7, round(sc.h / 30)))
        size = getattr(font, "size", 10)
        pad = max(2, size // 4)
        for name, x, y in tags:  # after every figure, so no figure hides a name
            px, py = sc.pt(min(max(x, 0.04), 0.96), min(max(y, 0.1), 0.72))
            tw = d.textlength(name, font=font)
            d.rectangle((px - tw / 2 - pad, py - pad, px + tw / 2 + pad, py + size + pad), fill=(10, 10, 12, 170))
            d.text((px - tw / 2, py), name, font=font, fill=(*_TEXT, 255))
        if framing == Framing.OTS:  # the dark shoulder and back of the head of the one we look past
            d.polygon(sc.ellipse(0.2, 0.52, 0.26, 0.34), fill=(12, 12, 14, 250))
            d.polygon(sc.poly([(-0.2, 1.2), (-0.1, 0.78), (0.12, 0.7), (0.42, 0.82), (0.55, 1.2)]),
                      fill=(12, 12, 14, 250))

    def _figure(self, d: ImageDraw.ImageDraw, sc: _Scene, x: float, head: float, b: float,
                colour: tuple[int, int, int], *, face: bool) -> None:
        """A storyboard figure: `head` is the top of the head, `b` the body height (frame heights)."""
        a = sc.h / sc.w  # body units are frame heights; x is in frame widths

        def px(dx: float) -> float:
            return x + dx * b * a

        def py(dy: float) -> float:
            return head + dy * b

        edge = _mix(colour, (0, 0, 0), 0.55)
        fill = (*colour, 255)
        parts = [
            [(px(-0.115), py(0.215)), (px(-0.095), py(0.175)), (px(-0.03), py(0.165)), (px(0.03), py(0.165)),
             (px(0.095), py(0.175)), (px(0.115), py(0.215)), (px(0.095), py(0.40)), (px(0.10), py(0.55)),
             (px(-0.10), py(0.55)), (px(-0.095), py(0.40))],  # torso
            [(px(-0.112), py(0.20)), (px(-0.15), py(0.50)), (px(-0.12), py(0.51)), (px(-0.095), py(0.27))],  # arms
            [(px(0.112), py(0.20)), (px(0.15), py(0.50)), (px(0.12), py(0.51)), (px(0.095), py(0.27))],
            [(px(-0.10), py(0.50)), (px(-0.003), py(0.50)), (px(-0.015), py(1.0)), (px(-0.085), py(1.0))],  # legs
            [(px(0.10), py(0.50)), (px(0.003), py(0.50)), (px(0.015), py(1.0)), (px(0.085), py(1.0))],
            [(px(-0.025), py(0.12)), (px(0.025), py(0.12)), (px(0.03), py(0.175)), (px(-0.03), py(0.175))],  # neck
        ]
        width = max(1, round(sc.h / 300))
        for part in parts:
            d.polygon(sc.poly(part), fill=fill, outline=(*edge, 255), width=width)
        d.polygon(sc.ellipse(x, py(0.065), 0.05 * b, 0.065 * b), fill=fill, outline=(*edge, 255), width=width)
        if face:  # eyes and a brow line, readable from MS in
            for side in (-1, 1):
                d.polygon(sc.ellipse(px(0.018 * side), py(0.058), 0.009 * b, 0.0045 * b), fill=(*edge, 255))
                d.polygon(sc.ellipse(px(0.018 * side), py(0.058), 0.0035 * b, 0.0035 * b), fill=(20, 20, 24, 255))
            d.line(sc.poly([(px(-0.012), py(0.095)), (px(0.012), py(0.095))]), fill=(*edge, 255),
                   width=max(1, round(0.002 * b * sc.h)))


class _Overlay:
    """The viewfinder laid over every frame: guides, bands of text, vignette; only the counter changes."""

    def __init__(self, spec: RenderSpec, cam: Camera, size: tuple[int, int]) -> None:
        w, h = size
        self.spec, self.size = spec, size
        fs = max(7, round(h / 32))
        font, small = _font(fs), _font(max(7, round(fs * 0.85)))
        self.font = small
        layer = Image.new("RGBA", size, (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        pad = max(2, fs // 2)
        line_h = round(fs * 1.3)

        if cam.framing == Framing.POV:  # a soft vignette: the look through someone's eyes
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            r = np.sqrt(((xx + 0.5) / w - 0.5) ** 2 * 4 + ((yy + 0.5) / h - 0.5) ** 2 * 4)
            alpha = (np.clip((r - 0.55) / 0.6, 0, 1) ** 1.5 * 230).astype(np.uint8)
            layer = Image.merge("RGBA", (*Image.new("RGB", size, (0, 0, 0)).split(), Image.fromarray(alpha)))
            d = ImageDraw.Draw(layer)

        # rule-of-thirds guides (the frame's, so they stay put while the camera moves) and a centre mark
        guide = (255, 255, 255, 46)
        for k in (1, 2):
            x, y = round(w * k / 3), round(h * k / 3)
            d.line((x, 0, x, h), fill=guide, width=1)
            d.line((0, y, w, y), fill=guide, width=1)
        c = max(3, fs // 2)
        d.line((w // 2 - c, h // 2, w // 2 + c, h // 2), fill=guide, width=1)
        d.line((w // 2, h // 2 - c, w // 2, h // 2 + c), fill=guide, width=1)

        # top band: shot code and location; the camera line on the right
        top_h = min(line_h + pad, h)
        d.rectangle((0, 0, w, top_h), fill=(0, 0, 0, 150))
        cam_text = camera_line(cam)
        cam_w = min(d.textlength(cam_text, font=small), w * 0.5)
        d.text((w - pad - cam_w, pad // 2 + max(fs - getattr(small, "size", fs), 0) // 2),
               _fit(d, cam_text, small, w * 0.5), font=small, fill=(*_DIM_TEXT, 255))
        where = spec.scene_heading or spec.location
        if spec.scene_heading and spec.location and spec.location.lower() not in spec.scene_heading.lower():
            where = f"{spec.scene_heading} ({spec.location})"
        head = " · ".join(p for p in (spec.shot_code, where) if p)
        d.text((pad, pad // 2), _fit(d, head, font, w - cam_w - 3 * pad), font=font, fill=(*_TEXT, 255))

        # bottom band: the action (wrapped), a line of dialogue, the cast with their looks and the counter
        max_action = 2 if h >= 256 else 1
        action = _wrap(d, spec.action, font, w - 2 * pad, max_action) if spec.action.strip() else []
        dialogue = []
        if spec.dialogue.strip() and h >= 360:
            dialogue = [_fit(d, "“" + " ".join(spec.dialogue.split()) + "”", small, w - 2 * pad)]
        lines = len(action) + len(dialogue) + 1
        bottom_h = min(lines * line_h + pad, h)
        y0 = h - bottom_h
        d.rectangle((0, y0, w, h), fill=(0, 0, 0, 150))
        y = y0 + pad // 2
        for text in action:
            d.text((pad, y), text, font=font, fill=(*_TEXT, 255))
            y += line_h
        for text in dialogue:
            d.text((pad, y), text, font=small, fill=(*_DIM_TEXT, 255))
            y += line_h
        self.counter_xy = (w - pad, y)
        counter_w = d.textlength(self._counter(spec.frames - 1), font=small)
        cast = " · ".join(f"{c.name} ({c.look})" if c.look else c.name for c in spec.cast)
        if cast:
            d.text((pad, y), _fit(d, cast, small, w - 3 * pad - counter_w), font=small, fill=(*_DIM_TEXT, 255))
        self.rgb = layer.convert("RGB")
        self.alpha = layer.getchannel("A")

    def _counter(self, i: int) -> str:
        n = self.spec.frames
        return f"{i + 1:0{len(str(n))}d}/{n} · {i / self.spec.fps:5.2f}s"

    def draw(self, frame: Image.Image, i: int) -> None:
        frame.paste(self.rgb, (0, 0), self.alpha)
        d = ImageDraw.Draw(frame)
        text = self._counter(i)
        x, y = self.counter_xy
        d.text((x - d.textlength(text, font=self.font), y), text, font=self.font, fill=_TEXT)


def sketch(spec: RenderSpec, *, at: float = 0.5, figures: bool = True) -> Image.Image:
    """The storyboard sketch of a shot: one frame of the first take of `spec` (the one at fraction `at` of it),
    drawn as a take would draw it but without the viewfinder overlay. One scene and one view: about 20 ms at
    640x360 on one CPU core.

    `figures=False` leaves the set empty (a location's card). No text is drawn: the cards print their own names.
    """
    w, h, n = int(spec.width), int(spec.height), int(spec.frames)
    if w < 1 or h < 1 or n < 1:
        raise ValueError(f"nothing to draw at {w}x{h}, {n} frames")
    cam = Camera.parse(spec.camera)
    light = Lighting.parse(spec.lighting)
    over = vcam.overscan(cam, frames=n, fps=spec.fps, aspect=w / h)
    src_size = (math.ceil(w * over), math.ceil(h * over))
    over = min(src_size[0] / w, src_size[1] / h)
    seed = int(spec.seeds[0]) if spec.seeds else 0
    path = vcam.camera_path(cam, frames=n, fps=spec.fps, seed=seed)
    scene = AnimaticEngine()._scene(spec, cam, light, seed, src_size, (w, h), figures=figures)
    index = min(n - 1, max(0, round(at * (n - 1))))
    return vcam.apply_transform(scene, path[index], (w, h), overscan=over, mode=vcam.resampling(path))


__all__ = ["AnimaticEngine", "camera_line", "sketch"]
