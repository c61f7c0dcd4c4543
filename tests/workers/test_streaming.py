"""Takes as they are rendered: the animatic hands out chunks, the encoder takes them as they come.

The streamed take is the same as the whole one, frame for frame and byte for byte (video, poster,
filmstrip, last frame), and nothing holds more than a chunk: chunks are read one at a time, and the
encoder lets each go before it asks for the next.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
import pytest

from tests.workers.test_animatic import spec
from workers.engines.animatic import CHUNK_FRAMES, AnimaticEngine
from workers.engines.base import Canceled, streams
from workers.media import encode_mp4, encode_take, filmstrip_jpeg, last_frame_png, poster_jpeg, read_frames


def test_the_animatic_streams_the_same_frames_it_renders_in_chunks():
    s = spec(frames=19, seeds=[5, 6])
    whole = AnimaticEngine().render(s)
    streamed = []
    for chunks in AnimaticEngine().stream(s, chunk_frames=8):
        parts = list(chunks)
        assert [len(p) for p in parts] == [8, 8, 3]
        streamed.append(np.concatenate(parts))
    assert len(streamed) == 2 and all(np.array_equal(a, b) for a, b in zip(whole, streamed, strict=True))
    assert streams(AnimaticEngine()) and not streams(object())
    assert CHUNK_FRAMES * 1920 * 1080 * 3 <= 64 * 2**20  # a chunk of the largest frame stays small


def test_streaming_reports_progress_and_stops_at_the_next_frame():
    steps, polls = [], []

    def should_cancel() -> bool:
        polls.append(1)
        return len(polls) > 12  # in the second take of 9 frames

    takes = AnimaticEngine().stream(spec(seeds=[1, 2, 3]), on_step=lambda done, total: steps.append((done, total)),
                                    should_cancel=should_cancel)  # fmt: skip
    first = np.concatenate(list(next(takes)))
    with pytest.raises(Canceled, match="canceled after 1 of 3 takes"):
        list(next(takes))
    assert first.shape == (9, 160, 256, 3) and steps[-1] == (12, 27) and len(polls) == 13
    with pytest.raises(ValueError):
        AnimaticEngine().stream(spec(frames=0))  # a spec that cannot be rendered is refused at the call


def test_a_streamed_take_encodes_to_the_same_files_as_the_whole_take(tmp_path: Path):
    s = spec(frames=23, seeds=[8])
    whole = AnimaticEngine().render(s)[0]
    out = encode_take(next(AnimaticEngine().stream(s, chunk_frames=5)), count=23, fps=12, path=tmp_path / "a.mp4",
                      preset="ultrafast")  # fmt: skip
    ref = encode_mp4(whole, fps=12, path=tmp_path / "b.mp4", preset="ultrafast")
    assert (out.video.frames, out.video.width, out.video.height) == (23, 256, 160)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes() and ref.frames == 23
    assert out.poster_jpeg == poster_jpeg(whole)
    assert (out.filmstrip_jpeg, out.filmstrip) == filmstrip_jpeg(whole)
    assert out.last_frame_png == last_frame_png(whole)
    # frames one by one and a mix of frames and chunks are the same take
    mixed = [whole[0], whole[1:4], *whole[4:]]
    assert encode_take(iter(mixed), count=23, fps=12, path=tmp_path / "c.mp4", preset="ultrafast").poster_jpeg == (
        out.poster_jpeg)  # fmt: skip
    assert np.array_equal(read_frames(tmp_path / "c.mp4"), read_frames(tmp_path / "a.mp4"))


def test_a_take_with_another_count_or_broken_frames_leaves_no_file(tmp_path: Path):
    frames = np.zeros((6, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="to have 5 frames; more came"):
        encode_take(iter(frames), count=5, fps=24, path=tmp_path / "long.mp4")
    with pytest.raises(ValueError, match="to have 7 frames; 6 came"):
        encode_take(iter(frames), count=7, fps=24, path=tmp_path / "short.mp4")
    with pytest.raises(ValueError, match="uint8"):
        encode_mp4(iter([frames[0], frames[1].astype(np.float32)]), fps=24, path=tmp_path / "float.mp4")
    with pytest.raises(ValueError, match="no frames"):
        encode_mp4(iter([]), fps=24, path=tmp_path / "none.mp4")

    def canceled():
        yield frames[:3]
        raise Canceled("canceled after 0 of 1 takes")

    with pytest.raises(Canceled):
        encode_take(canceled(), count=6, fps=24, path=tmp_path / "canceled.mp4")
    assert list(tmp_path.iterdir()) == []


def test_the_encoder_lets_each_chunk_go_before_it_asks_for_the_next_but_one(tmp_path: Path):
    made = []

    def chunks():
        for i in range(6):
            gc.collect()
            # chunk i-1 is still referenced (here and by the frame being written); none before it may be
            held = [k for k, marker in enumerate(made) if marker.alive]
            assert held in ([], [i - 1]), f"before chunk {i}, chunks {held} are still held"
            chunk = np.full((4, 32, 48, 3), 20 * i, np.uint8)
            made.append(weakref.finalize(chunk, lambda: None))
            yield chunk

    out = encode_take(chunks(), count=24, fps=24, path=tmp_path / "take.mp4", preset="ultrafast")
    assert out.video.frames == 24 and len(made) == 6
