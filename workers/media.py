"""Media for takes and cuts: H.264 MP4 encoding with PyAV, poster, filmstrip, last frame, decoding, cut render.

Every video Slate writes is H.264 High profile, yuv420p, BT.709 (tagged), with the index (`moov`) before the
data (`+faststart`) so a browser can start playing and seeking before it has the whole file, and a keyframe
every second so scrubbing stays quick. yuv420p needs an even width and height: an odd frame is padded by one
pixel on the right and/or bottom by repeating the edge (never scaled or cropped) and `VideoInfo` says so.
Files are written to a temporary name in the target folder and renamed into place, so a reader never sees
half a video.

Frames are numpy arrays, uint8, RGB: one clip is (frames, height, width, 3), one frame is (height, width, 3).
A take can also arrive as it is rendered, as an iterable of frames or chunks of frames (`encode_mp4`,
`encode_take`): the encoder then holds one chunk at a time, and `encode_take` picks the poster, the
filmstrip tiles and the last frame on the way, so a take's whole frame array never exists.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation
from PIL import Image

KEYFRAME_INTERVAL_S = 1.0
POSTER_QUALITY = 88
FILMSTRIP_QUALITY = 85
JPEG_MAX_SIDE = 65_535
MAX_FPS = 1000

# BT.709 in the bitstream (VUI) and in the RGB -> YUV conversion, limited ("MPEG") range.
_BT709 = 1  # AVCOL_PRI_BT709 == AVCOL_TRC_BT709 == AVCOL_SPC_BT709
_RGB_TO_YUV = dict(
    format="yuv420p",
    dst_colorspace=Colorspace.ITU709,
    dst_color_range=ColorRange.MPEG,
    interpolation=Interpolation.BICUBIC | Interpolation.ACCURATE_RND,
)

Frames = np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    """What was written: the encoded size (even), frame count, exact rate, duration, file size, and any padding."""

    path: Path
    width: int
    height: int
    frames: int
    fps: float
    fps_rational: str  # "24000/1001": the exact rate in the file
    duration_s: float
    bytes: int
    source_width: int
    source_height: int
    codec: str = "h264"
    profile: str = "High"
    pix_fmt: str = "yuv420p"

    @property
    def padded(self) -> bool:
        return (self.width, self.height) != (self.source_width, self.source_height)

    @property
    def note(self) -> str:
        """A line for people: what was done to make the frames encodable ('' when nothing was)."""
        if not self.padded:
            return ""
        added = (("column", self.width - self.source_width), ("row", self.height - self.source_height))
        edges = [edge for edge, pixels in added if pixels]
        return (
            f"padded {self.source_width}x{self.source_height} to {self.width}x{self.height} "
            f"(H.264 yuv420p needs even sizes) by repeating the last {' and '.join(edges)}"
        )

    def to_dict(self) -> dict:
        data = asdict(self)
        data["path"] = str(self.path)
        data["padded"] = self.padded
        data["note"] = self.note
        return data


def fps_fraction(fps: float | Fraction) -> Fraction:
    """The exact frame rate for a nominal one: 24 -> 24/1, 23.976 -> 24000/1001, 29.97 -> 30000/1001, 12.5 -> 25/2."""
    if isinstance(fps, Fraction):
        rate = fps
    else:
        value = float(fps)
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"fps must be a positive number, not {fps!r}")
        nearest = round(value)
        ntsc = round(value * 1.001)
        if nearest and abs(value - nearest) < 1e-3:
            rate = Fraction(nearest)
        elif ntsc and abs(value - ntsc * 1000 / 1001) < 5e-3:
            rate = Fraction(ntsc * 1000, 1001)  # the NTSC family: 23.976, 29.97, 47.952, 59.94, 119.88
        else:
            rate = Fraction(value).limit_denominator(1001)
    if not 0 < rate <= MAX_FPS:
        raise ValueError(f"fps must be above 0 and at most {MAX_FPS}, not {fps!r}")
    return rate


def _check_frames(frames: Frames) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 RGB, not {frames.dtype}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have the shape (frames, height, width, 3), not {frames.shape}")
    if frames.shape[0] < 1 or frames.shape[1] < 1 or frames.shape[2] < 1:
        raise ValueError(f"there are no frames to use (shape {frames.shape})")
    return frames


def _as_frames(source) -> np.ndarray:
    if isinstance(source, (str, os.PathLike)):
        return _check_frames(read_frames(source))
    return _check_frames(source)


class _H264Writer:
    """Encodes RGB frames one by one into an MP4 at a temporary name; `finish()` renames it into place."""

    def __init__(self, path: Path, *, width: int, height: int, fps: float | Fraction, crf: int, preset: str) -> None:
        if not 0 <= int(crf) <= 51:
            raise ValueError(f"crf must be between 0 and 51, not {crf}")
        self.path = Path(path)
        self.rate = fps_fraction(fps)
        self.source_size = (int(width), int(height))
        self.pad_right, self.pad_bottom = width % 2, height % 2
        self.count = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.part")
        self.container = av.open(str(self.tmp), "w", format="mp4", options={"movflags": "+faststart"})
        try:
            stream = self.container.add_stream(
                "libx264", rate=self.rate, options={"crf": str(int(crf)), "preset": preset, "profile": "high"}
            )
            stream.width, stream.height = width + self.pad_right, height + self.pad_bottom
            stream.pix_fmt = "yuv420p"
            stream.time_base = 1 / self.rate
            ctx = stream.codec_context
            ctx.gop_size = max(1, round(float(self.rate) * KEYFRAME_INTERVAL_S))
            ctx.color_primaries = ctx.color_trc = ctx.colorspace = _BT709
            ctx.color_range = ColorRange.MPEG
        except BaseException:
            self.abort()
            raise
        self.stream = stream

    def write(self, rgb: np.ndarray) -> None:
        if rgb.shape != (self.source_size[1], self.source_size[0], 3):
            width, height = self.source_size
            raise ValueError(f"a frame of shape {rgb.shape} in a video of {width}x{height}")
        if self.pad_right or self.pad_bottom:
            rgb = np.pad(rgb, ((0, self.pad_bottom), (0, self.pad_right), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(**_RGB_TO_YUV)
        frame.pts = self.count
        self.count += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def finish(self) -> VideoInfo:
        if self.count == 0:
            self.abort()
            raise ValueError("there are no frames to encode")
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()  # with +faststart this rewrites the file with the index first
            with open(self.tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        width, height = self.source_size
        return VideoInfo(
            path=self.path,
            width=width + self.pad_right,
            height=height + self.pad_bottom,
            frames=self.count,
            fps=float(self.rate),
            fps_rational=f"{self.rate.numerator}/{self.rate.denominator}",
            duration_s=float(self.count / self.rate),
            bytes=self.path.stat().st_size,
            source_width=width,
            source_height=height,
        )

    def abort(self) -> None:
        with contextlib.suppress(av.FFmpegError):  # the file is thrown away anyway
            self.container.close()
        self.tmp.unlink(missing_ok=True)


def _check_frame(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 RGB, not {rgb.dtype}")
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"a frame must have the shape (height, width, 3), not {rgb.shape}")
    return rgb


def iter_frames(source: Frames | Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Frames (height, width, 3) one by one from a clip (T, H, W, 3) or an iterable of frames and chunks (k, H, W, 3).

    An iterable is read as it goes (a generator is never drawn ahead), so a rendering engine's chunks pass
    straight through; each frame is checked for dtype and shape.
    """
    if isinstance(source, np.ndarray):
        yield from _check_frames(source)
        return
    for item in source:
        item = np.asarray(item)
        if item.ndim == 4:
            for rgb in item:
                yield _check_frame(rgb)
        else:
            yield _check_frame(item)


def encode_mp4(
    frames: Frames | Iterable[np.ndarray], *, fps: float | Fraction, path: str | os.PathLike[str], crf: int = 18,
    preset: str = "medium",
) -> VideoInfo:
    """Encode RGB frames to an H.264 High / yuv420p / faststart MP4 at `path`, atomically.

    `frames` is a clip (T, H, W, 3) uint8 or an iterable of frames (H, W, 3) and chunks (k, H, W, 3), read
    as it is encoded; the size is the first frame's.
    """
    return _encode(iter_frames(frames), fps=fps, path=path, crf=crf, preset=preset)


def _encode(frames: Iterator[np.ndarray], *, fps: float | Fraction, path: str | os.PathLike[str], crf: int,
            preset: str, seen: Callable[[int, np.ndarray], None] | None = None) -> VideoInfo:
    """Encode frames as they come; `seen(i, rgb)`, if given, is called with each frame after it is written."""
    rgb = next(frames, None)  # one name for the frame in hand, so no earlier chunk stays referenced
    if rgb is None:
        raise ValueError("there are no frames to encode")
    writer = _H264Writer(Path(path), width=rgb.shape[1], height=rgb.shape[0], fps=fps, crf=crf, preset=preset)
    try:
        while rgb is not None:
            writer.write(rgb)
            if seen is not None:
                seen(writer.count - 1, rgb)
            rgb = next(frames, None)
    except BaseException:
        writer.abort()
        raise
    return writer.finish()


@dataclass(frozen=True)
class TakeMedia:
    """A take's files: the video and, picked while it was encoded, its poster, filmstrip and last frame."""

    video: VideoInfo
    poster_jpeg: bytes
    filmstrip_jpeg: bytes
    filmstrip: dict  # the geometry of `filmstrip_jpeg`
    last_frame_png: bytes


def encode_take(
    frames: Frames | Iterable[np.ndarray], *, count: int, fps: float | Fraction, path: str | os.PathLike[str],
    crf: int = 18, preset: str = "medium", tiles: int = 10, tile_height: int = 90, poster_max_side: int = 1280,
) -> TakeMedia:
    """Encode a take of `count` frames (a clip or frames and chunks as they are rendered) with its poster, filmstrip
    and last frame, in one pass: memory holds one chunk, one poster frame and the small filmstrip tiles.

    The same bytes as `encode_mp4`, `poster_jpeg`, `filmstrip_jpeg` and `last_frame_png` of the whole clip; a
    source with another number of frames than `count` is an error (the partial video is thrown away).
    """
    if count < 1:
        raise ValueError(f"a take has at least one frame, not {count}")
    if tiles < 1 or tile_height < 1:
        raise ValueError(f"tiles and tile_height must be at least 1 (got {tiles}, {tile_height})")
    poster_at = count // 3
    strip_at = filmstrip_indices(count, tiles)
    wanted = {index: column for column, index in enumerate(strip_at)}
    picked: dict[str, object] = {"tiles": [None] * len(strip_at)}

    def seen(i: int, rgb: np.ndarray) -> None:
        if i >= count:
            raise ValueError(f"the take was to have {count} frames; more came")
        if i == 0:
            height, width = rgb.shape[:2]
            tile_width = max(1, round(tile_height * width / height))
            if tile_width * len(strip_at) > JPEG_MAX_SIDE or tile_height > JPEG_MAX_SIDE:
                raise ValueError(f"a filmstrip of {len(strip_at)} tiles of {tile_width}x{tile_height} is too wide "
                                 "for a JPEG")  # fmt: skip
            picked["tile_size"] = (tile_width, tile_height)
        if i == poster_at:
            picked["poster"] = _poster_image(rgb, poster_max_side)
        if i in wanted:
            picked["tiles"][wanted[i]] = _tile(rgb, picked["tile_size"])
        if i == count - 1:
            picked["last"] = rgb.copy()

    info = _encode(iter_frames(frames), fps=fps, path=path, crf=crf, preset=preset, seen=seen)
    if info.frames != count:
        Path(info.path).unlink(missing_ok=True)
        raise ValueError(f"the take was to have {count} frames; {info.frames} came")
    strip, geometry = _filmstrip(picked["tiles"], picked["tile_size"], strip_at, count)
    return TakeMedia(video=info, poster_jpeg=_jpeg(picked["poster"], POSTER_QUALITY), filmstrip_jpeg=strip,
                     filmstrip=geometry, last_frame_png=_png(picked["last"]))  # fmt: skip


def _decoded(path: str | os.PathLike[str]) -> Iterator[av.VideoFrame]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield from container.decode(stream)


def read_frames(path: str | os.PathLike[str], *, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Decode a video back to RGB frames (T, H, W, 3) uint8; `start`/`stop` pick the frames [start, stop)."""
    out: list[np.ndarray] = []
    size = None
    for i, frame in enumerate(_decoded(path)):
        size = (frame.height, frame.width)
        if stop is not None and i >= stop:
            break
        if i >= start:
            out.append(frame.to_ndarray(format="rgb24"))
    if not out:
        height, width = size or (0, 0)
        return np.empty((0, height, width, 3), np.uint8)
    return np.stack(out)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def _poster_image(rgb: np.ndarray, max_side: int) -> Image.Image:
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, not {max_side}")
    image = Image.fromarray(rgb)
    width, height = image.size
    scale = max_side / max(width, height)
    if scale < 1:
        image = image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS)
    return image


def poster_jpeg(frames, *, index: int | None = None, max_side: int = 1280) -> bytes:
    """A JPEG of one frame (default: the frame a third of the way in), scaled down to at most `max_side`."""
    frames = _as_frames(frames)
    count = len(frames)
    index = count // 3 if index is None else index
    if not -count <= index < count:
        raise ValueError(f"frame {index} is outside the clip's {count} frames")
    return _jpeg(_poster_image(frames[index], max_side), POSTER_QUALITY)


def filmstrip_indices(count: int, tiles: int) -> list[int]:
    """Evenly spaced frames for `tiles` tiles: tile i shows the middle frame of the i-th equal part of the clip."""
    n = min(tiles, count)
    return [min(count - 1, int((i + 0.5) * count / n)) for i in range(n)]


def _tile(rgb: np.ndarray, size: tuple[int, int]) -> Image.Image:
    return Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS)


def _filmstrip(tiles: list, size: tuple[int, int], indices: list[int], count: int) -> tuple[bytes, dict]:
    tile_width, tile_height = size
    sprite = Image.new("RGB", (tile_width * len(tiles), tile_height))
    for column, tile in enumerate(tiles):
        sprite.paste(tile, (column * tile_width, 0))
    geometry = {
        "width": sprite.width,
        "height": sprite.height,
        "tile_width": tile_width,
        "tile_height": tile_height,
        "count": len(tiles),
        "columns": len(tiles),
        "rows": 1,
        "frame_indices": indices,
        "source_frames": count,
    }
    return _jpeg(sprite, FILMSTRIP_QUALITY), geometry


def filmstrip_jpeg(frames, *, tiles: int = 10, tile_height: int = 90) -> tuple[bytes, dict]:
    """A horizontal JPEG sprite of evenly spaced frames for scrubbing, and its geometry for the UI.

    Geometry: width, height (the sprite), tile_width, tile_height, count, columns, rows (always 1),
    frame_indices (the clip frame each tile shows, left to right), source_frames. Tile i covers the
    frames [i * source_frames / count, (i + 1) * source_frames / count).
    """
    frames = _as_frames(frames)
    if tiles < 1 or tile_height < 1:
        raise ValueError(f"tiles and tile_height must be at least 1 (got {tiles}, {tile_height})")
    count, height, width = frames.shape[:3]
    tile_width = max(1, round(tile_height * width / height))
    indices = filmstrip_indices(count, tiles)
    if tile_width * len(indices) > JPEG_MAX_SIDE or tile_height > JPEG_MAX_SIDE:
        raise ValueError(f"a filmstrip of {len(indices)} tiles of {tile_width}x{tile_height} is too wide for a JPEG")
    size = (tile_width, tile_height)
    return _filmstrip([_tile(frames[index], size) for index in indices], size, indices, count)


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def last_frame_png(path_or_frames) -> bytes:
    """The last frame as PNG (lossless): the first-frame condition of the next shot for continuity."""
    if isinstance(path_or_frames, (str, os.PathLike)):
        last = None
        for frame in _decoded(path_or_frames):
            last = frame
        if last is None:
            raise ValueError(f"{path_or_frames} has no video frames")
        return _png(last.to_ndarray(format="rgb24"))
    return _png(_check_frames(path_or_frames)[-1])


def _fit(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """The frame as RGB at width x height: scaled to fit, aspect kept, centred on black (letterbox/pillarbox)."""
    if (frame.width, frame.height) == (width, height):
        return frame.to_ndarray(format="rgb24")
    scale = min(width / frame.width, height / frame.height)
    fit_w = min(width, max(1, round(frame.width * scale)))
    fit_h = min(height, max(1, round(frame.height * scale)))
    # scale in YUV, then convert: swscale's combined scale+convert path drifts by a few levels
    scaled = frame.reformat(width=fit_w, height=fit_h, interpolation=Interpolation.BICUBIC | Interpolation.ACCURATE_RND)
    rgb = scaled.to_ndarray(format="rgb24")
    if (fit_w, fit_h) == (width, height):
        return rgb
    canvas = np.zeros((height, width, 3), np.uint8)
    x, y = (width - fit_w) // 2, (height - fit_h) // 2
    canvas[y : y + fit_h, x : x + fit_w] = rgb
    return canvas


def concat_mp4(
    clips: Sequence[tuple[str | os.PathLike[str], int, int]],
    *,
    fps: float | Fraction,
    size: tuple[int, int],
    path: str | os.PathLike[str],
    crf: int = 18,
    preset: str = "medium",
) -> VideoInfo:
    """Render a cut: the frames [in_frame, out_frame) of each clip in order, fitted to `size` (width, height), encoded once.

    Frames are taken one for one at the cut's `fps` (no retiming), video only.
    """
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, not {size}")
    if not clips:
        raise ValueError("a cut needs at least one clip")
    for clip_path, in_frame, out_frame in clips:
        if not 0 <= in_frame < out_frame:
            raise ValueError(f"{clip_path}: the range [{in_frame}, {out_frame}) is empty or negative")
    writer = _H264Writer(Path(path), width=width, height=height, fps=fps, crf=crf, preset=preset)
    try:
        for clip_path, in_frame, out_frame in clips:
            seen = 0
            for frame in _decoded(clip_path):
                if seen >= in_frame:
                    writer.write(_fit(frame, width, height))
                seen += 1
                if seen == out_frame:
                    break
            if seen < out_frame:
                raise ValueError(f"{clip_path} has {seen} frames; the cut asks for [{in_frame}, {out_frame})")
    except BaseException:
        writer.abort()
        raise
    return writer.finish()
