"""The phases a real render reports, through the embedded worker and the real task (the `sleepy` test engine: a
known render time per take, real frames): loading the model, rendering take k of n step by step, encoding each take
(on the encoder's thread, while the next renders), and the page's words for them. A forced model error (a tensor
shape error, as Wan raised at 1280x720) fails the job with one sentence, the exception kept as its detail."""

from __future__ import annotations

import html
import re

from app.generation import service
from tests.generation.test_pipeline import _generate, _wait, studio  # noqa: F401 (the fixture)
from workers.engines.sleepy import SleepyEngine

SHAPE = "shape '[1, 47, 1, -1]' is invalid for input of size 128"


def test_a_render_reports_loading_rendering_and_encoding_take_by_take(studio, monkeypatch):  # noqa: F811
    api, h, shot, _ = studio
    written: list[dict] = []
    heartbeat = service.heartbeat

    def watched(db, **kw):
        if kw.get("phase") is not None:
            written.append(dict(kw["phase"], step=kw.get("step"), total=kw.get("total_steps")))
        return heartbeat(db, **kw)

    monkeypatch.setattr(service, "heartbeat", watched)
    job = _wait(api, h, _generate(api, h, shot, 3))
    assert job["status"] == "succeeded", job["error"]
    assert (job["phase"], job["progress_text"]) == ("ready", "Ready: 3 takes")
    names = [p["name"] for p in written]
    assert names[0] == "loading"  # a fresh model: loaded first
    rendering = [p["take"] for p in written if p["name"] == "rendering"]
    assert sorted(set(rendering)) == [1, 2, 3] and rendering == sorted(rendering)  # take by take, in order
    encoding = {p["take"] for p in written if p["name"] == "encoding"} | {
        p["encoding"] for p in written if p["name"] == "rendering" and p.get("encoding")}  # fmt: skip
    assert encoding == {1, 2, 3}  # every take was said to be encoded
    assert written[names.index("rendering")]["step"] == 0  # a take starts at step 0, not at the last one's end


def test_a_model_error_fails_the_job_with_a_sentence_and_keeps_the_exception_as_detail(studio, monkeypatch):  # noqa: F811
    api, h, shot, _ = studio
    generate = SleepyEngine.generate
    calls = [0]

    def broken(self, spec, **kwargs):
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError(SHAPE)
        return generate(self, spec, **kwargs)

    monkeypatch.setattr(SleepyEngine, "generate", broken)
    job = _wait(api, h, _generate(api, h, shot, 3))
    assert job["status"] == "failed" and [t["index"] for t in job["takes"]] == [0]
    assert job["error"] == ("Sleepy (test engine) failed while rendering take 2 of 3 at 64x64, 17 frames: try "
                            "another frame size, fewer frames or another model")  # fmt: skip
    assert job["error_detail"] == f"RuntimeError: {SHAPE}"
    panel = api.get(f"/shots/{shot['id']}/takes", headers={**h, "HX-Request": "true"}).text
    visible = re.sub(r"<details.*?</details>", "", panel, flags=re.S)
    assert job["error"] in html.unescape(visible) and "RuntimeError" not in visible
    assert "(1 of 3 takes were stored and are kept)" in html.unescape(visible)
    assert f"RuntimeError: {SHAPE}" in html.unescape(panel)  # behind the toggle
    feed = api.get(f"/projects/{job['project_id']}/activity", headers=h)
    assert feed.status_code == 200 and "generating" in feed.text and "failed" in feed.text
    assert "RuntimeError" not in feed.text and "shape" not in feed.text
