from app.storyboard.camera import Camera, Lighting, badge, label, vocabulary
from app.storyboard.compiler import CastPart, compile_prompt


def test_sentences_end_once_and_keep_their_own_punctuation():
    out = compile_prompt(prompt="Is anyone there? ", cast=[CastPart(name="Mara", fragment="grey hair.")],
                         location_fragment="The pier!", camera=Camera.parse({"move": "static"}))  # fmt: skip
    assert out.prompt == "Is anyone there? Mara: grey hair. The pier! locked-off static camera."
    assert compile_prompt().prompt == ""


def test_same_input_same_output():
    kw = {"prompt": "Waves", "style_negative": "noise",
          "cast": [CastPart(name="A", fragment="x", negative="blur, text"), CastPart(name="B", negative="Text, noise")],
          "camera": Camera.parse({"framing": "CU"}), "lighting": Lighting.parse({"mood": "calm"})}
    first, second = compile_prompt(**kw), compile_prompt(**kw)
    assert first == second
    assert first.negative == "blur, text, noise"  # merged, case-insensitive duplicates once


def test_vocabulary_labels_and_badge():
    vocab = vocabulary()
    assert {"value": "arc_180", "label": "180° arc", "phrase": "the camera arcs 180 degrees around the subject"} in \
        vocab["moves"]  # fmt: skip
    assert [f["lens_mm"] for f in vocab["framings"]][:3] == [18, 24, 40]
    assert label("dolly_in") == "dolly in" and label("high_key") == "high-key"
    assert badge({"framing": "CU", "move": "dolly_in", "lens_mm": 85}) == "CU · dolly in · 85mm"
    assert badge({}) == "static"
