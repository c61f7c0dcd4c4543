"""Encoding takes and cuts with PyAV: real H.264 files written, parsed and decoded back."""

from __future__ import annotations

import io
import struct
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from workers.media import (
    concat_mp4,
    encode_mp4,
    filmstrip_jpeg,
    fps_fraction,
    last_frame_png,
    poster_jpeg,
    read_frames,
)


def smooth_clip(frames: int, height: int, width: int) -> np.ndarray:
    """Gradients that drift a little every frame: the kind of picture a camera move produces."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        phase = t / 24
        r = 128 + 90 * np.sin(2 * np.pi * (x / width + phase / 4))
        g = 128 + 90 * np.cos(2 * np.pi * (y / height - phase / 6))
        b = 128 + 60 * np.sin(2 * np.pi * ((x + y) / (width + height) + phase / 3))
        out[t] = np.stack([r, g, b], axis=-1).round().astype(np.uint8)
    return out


def flat_clip(frames: int, height: int, width: int, first: int = 0) -> np.ndarray:
    """One flat grey per frame (frame i is 10 + 8 (first + i)), so each frame can be told apart after coding."""
    levels = 10 + 8 * (first + np.arange(frames))
    assert levels.max() < 256
    return np.broadcast_to(levels.astype(np.uint8)[:, None, None, None], (frames, height, width, 3)).copy()


def frame_number(rgb: np.ndarray) -> int:
    """Which frame of a `flat_clip` this picture shows."""
    value = float(np.asarray(rgb, np.float64).mean())
    number = round((value - 10) / 8)
    assert abs(value - (10 + 8 * number)) < 2.5, f"{value} is no frame's grey"
    return number


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / mse)) if mse else float("inf")


def top_level_boxes(path: Path) -> list[str]:
    """The types of the top-level ISO-BMFF boxes of an MP4, in file order."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
        elif size == 0:
            size = len(data) - offset
        assert size >= 8, f"a broken box at {offset}"
        boxes.append(kind.decode("latin-1"))
        offset += size
    assert offset == len(data), "the boxes do not add up to the file"
    return boxes


def test_h264_high_yuv420p_with_index_first(tmp_path: Path) -> None:
    frames = smooth_clip(12, 64, 96)
    info = encode_mp4(frames, fps=24, path=tmp_path / "take.mp4")

    with av.open(str(tmp_path / "take.mp4")) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        assert (ctx.name, ctx.profile, ctx.pix_fmt) == ("h264", "High", "yuv420p")
        assert (ctx.width, ctx.height) == (96, 64)
        assert (ctx.colorspace, ctx.color_primaries, ctx.color_trc) == (1, 1, 1)  # BT.709, tagged
    boxes = top_level_boxes(tmp_path / "take.mp4")
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    assert (info.codec, info.profile, info.pix_fmt) == ("h264", "High", "yuv420p")
    assert info.bytes == (tmp_path / "take.mp4").stat().st_size
    assert not info.padded and info.note == ""
    assert [p.name for p in tmp_path.iterdir()] == ["take.mp4"]  # no temporary file left behind


@pytest.mark.parametrize(
    ("fps", "rate"),
    [(24, Fraction(24)), (25.0, Fraction(25)), (23.976, Fraction(24000, 1001))],
)
def test_frame_count_rate_and_duration(tmp_path: Path, fps: float, rate: Fraction) -> None:
    frames = flat_clip(25, 32, 48)
    info = encode_mp4(frames, fps=fps, path=tmp_path / "take.mp4", preset="ultrafast")

    with av.open(str(tmp_path / "take.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.frames == 25
        assert stream.average_rate == rate
        assert float(stream.duration * stream.time_base) == pytest.approx(float(25 / rate), abs=1e-6)
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(decoded) == 25
    assert [frame_number(f) for f in decoded] == list(range(25))  # every frame, in order, none dropped or doubled
    assert info.frames == 25
    assert info.fps_rational == f"{rate.numerator}/{rate.denominator}"
    assert info.duration_s == pytest.approx(float(25 / rate), abs=1e-9)


@pytest.mark.parametrize(
    ("fps", "rate"),
    [
        (24, Fraction(24)),
        (23.976, Fraction(24000, 1001)),
        (23.98, Fraction(24000, 1001)),
        (29.97, Fraction(30000, 1001)),
        (59.94, Fraction(60000, 1001)),
        (12.5, Fraction(25, 2)),
        (Fraction(48), Fraction(48)),
    ],
)
def test_fps_is_a_proper_rational(fps: float, rate: Fraction) -> None:
    assert fps_fraction(fps) == rate


@pytest.mark.parametrize("fps", [0, -24, float("nan"), float("inf"), 5000])
def test_impossible_fps_is_refused(fps: float) -> None:
    with pytest.raises(ValueError):
        fps_fraction(fps)


@pytest.mark.parametrize(("width", "height"), [(129, 97), (128, 97), (129, 96)])
def test_odd_sizes_are_padded_by_one_pixel_not_scaled(tmp_path: Path, width: int, height: int) -> None:
    frames = smooth_clip(6, height, width)
    info = encode_mp4(frames, fps=24, path=tmp_path / "odd.mp4")

    even = (width + width % 2, height + height % 2)
    assert (info.width, info.height) == even
    assert (info.source_width, info.source_height) == (width, height)
    assert info.padded and info.note.startswith(f"padded {width}x{height} to {even[0]}x{even[1]}")
    decoded = read_frames(tmp_path / "odd.mp4")
    assert decoded.shape == (6, even[1], even[0], 3)
    # the picture is where it was (no scaling), and the extra column/row repeats the edge
    assert psnr(decoded[:, :height, :width], frames) > 35
    if width % 2:
        assert psnr(decoded[:, :height, width], frames[:, :, width - 1]) > 30
    if height % 2:
        assert psnr(decoded[:, height, :width], frames[:, height - 1]) > 30


def test_quality_at_crf_18(tmp_path: Path) -> None:
    frames = smooth_clip(24, 96, 128)
    encode_mp4(frames, fps=24, path=tmp_path / "take.mp4", crf=18)

    decoded = read_frames(tmp_path / "take.mp4")
    assert decoded.shape == frames.shape
    value = psnr(decoded, frames)
    assert value > 35, f"PSNR {value:.1f} dB"


def test_atomic_replace_and_nothing_left_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "take.mp4"
    first = encode_mp4(flat_clip(4, 32, 32), fps=24, path=target)
    second = encode_mp4(flat_clip(9, 32, 32), fps=24, path=target)  # replaces the file whole
    assert (first.frames, second.frames) == (4, 9)
    assert len(read_frames(target)) == 9

    with pytest.raises(ValueError, match="uint8"):
        encode_mp4(np.zeros((3, 32, 32, 3), np.float32), fps=24, path=tmp_path / "float.mp4")
    with pytest.raises(ValueError, match="shape"):
        encode_mp4(np.zeros((32, 32, 3), np.uint8), fps=24, path=tmp_path / "one.mp4")
    # a cut that fails half way (the clip is shorter than asked) leaves no file and no temporary
    with pytest.raises(ValueError, match="has 9 frames"):
        concat_mp4([(target, 0, 5), (target, 5, 12)], fps=24, size=(32, 32), path=tmp_path / "cut.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.mp4"]


def test_poster_is_the_frame_a_third_in_scaled_down(tmp_path: Path) -> None:
    frames = flat_clip(20, 96, 144)
    poster = Image.open(io.BytesIO(poster_jpeg(frames, max_side=64)))
    assert poster.format == "JPEG"
    assert poster.size == (64, 43)  # 144x96 scaled to a longest side of 64, aspect kept
    assert frame_number(np.asarray(poster)) == 20 // 3

    chosen = Image.open(io.BytesIO(poster_jpeg(frames, index=-1)))
    assert chosen.size == (144, 96)  # never scaled up
    assert frame_number(np.asarray(chosen)) == 19

    encode_mp4(frames, fps=24, path=tmp_path / "take.mp4")
    from_file = Image.open(io.BytesIO(poster_jpeg(tmp_path / "take.mp4", index=5)))
    assert frame_number(np.asarray(from_file)) == 5
    with pytest.raises(ValueError):
        poster_jpeg(frames, index=20)


def test_filmstrip_geometry_and_tiles() -> None:
    frames = flat_clip(30, 90, 160)
    data, geometry = filmstrip_jpeg(frames, tiles=10, tile_height=45)
    sprite = Image.open(io.BytesIO(data))

    assert sprite.format == "JPEG"
    assert geometry["tile_width"] == 80 and geometry["tile_height"] == 45
    assert geometry["count"] == geometry["columns"] == 10 and geometry["rows"] == 1
    assert sprite.size == (geometry["width"], geometry["height"]) == (800, 45)
    assert geometry["frame_indices"] == [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]  # the middle of each tenth
    assert geometry["source_frames"] == 30
    pixels = np.asarray(sprite)
    for i, index in enumerate(geometry["frame_indices"]):
        tile = pixels[:, i * 80 + 4 : (i + 1) * 80 - 4]
        assert frame_number(tile) == index

    short, short_geometry = filmstrip_jpeg(frames[:4], tiles=10)
    assert short_geometry["count"] == 4 and short_geometry["frame_indices"] == [0, 1, 2, 3]
    assert short_geometry["tile_height"] == 90 and short_geometry["tile_width"] == 160
    assert Image.open(io.BytesIO(short)).size == (640, 90)


def test_last_frame_png_is_the_decoded_last_frame(tmp_path: Path) -> None:
    frames = smooth_clip(10, 64, 96)
    encode_mp4(frames, fps=24, path=tmp_path / "take.mp4")

    png = Image.open(io.BytesIO(last_frame_png(tmp_path / "take.mp4")))
    assert png.format == "PNG"
    decoded = read_frames(tmp_path / "take.mp4")
    np.testing.assert_array_equal(np.asarray(png), decoded[-1])
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(last_frame_png(frames)))), frames[-1])
    np.testing.assert_array_equal(read_frames(tmp_path / "take.mp4", start=7, stop=9), decoded[7:9])


def test_concat_takes_the_ranges_in_order_and_fits_other_sizes(tmp_path: Path) -> None:
    wide = tmp_path / "wide.mp4"
    square = tmp_path / "square.mp4"
    encode_mp4(flat_clip(12, 48, 64), fps=24, path=wide)  # frames 0..11
    encode_mp4(flat_clip(8, 96, 96, first=20), fps=24, path=square)  # frames 20..27

    info = concat_mp4([(wide, 2, 10), (square, 0, 5), (wide, 9, 12)], fps=24, size=(64, 48), path=tmp_path / "cut.mp4")

    cut = read_frames(tmp_path / "cut.mp4")
    assert info.frames == len(cut) == 8 + 5 + 3
    assert cut.shape[1:] == (48, 64, 3) and (info.width, info.height) == (64, 48)
    assert [frame_number(f) for f in cut[:8]] == list(range(2, 10))
    # the square take is scaled to 48x48 and pillarboxed: black bars of 8 pixels left and right
    assert [frame_number(f[:, 10:54]) for f in cut[8:13]] == list(range(20, 25))
    assert cut[8:13, :, :6].max() < 24 and cut[8:13, :, 58:].max() < 24
    assert [frame_number(f) for f in cut[13:]] == [9, 10, 11]
    with av.open(str(tmp_path / "cut.mp4")) as container:
        assert container.streams.video[0].codec_context.profile == "High"


def test_encode_time_97_frames_768x512(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = smooth_clip(97, 512, 768)
    started = time.perf_counter()
    info = encode_mp4(frames, fps=24, path=tmp_path / "take.mp4")
    seconds = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nencode_mp4: 97 frames of 768x512, crf 18, preset medium: {seconds:.2f} s, {info.bytes / 1024:.0f} KiB")
    assert info.frames == 97
