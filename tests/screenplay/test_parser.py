"""The Fountain parser, feature by feature (no database)."""

from pathlib import Path

import pytest

from app.screenplay import parser as fp
from app.screenplay.parser import parse, plain, split_cue

SAMPLES = Path(__file__).parent / "samples"


def kinds(text: str) -> list[tuple[str, str]]:
    return [(e.kind, e.text) for e in parse(text).elements]


# ---- title page ------------------------------------------------------------------------------


def test_title_page_with_indented_multi_line_values():
    play = parse(
        "Title:\n\t_**BRICK & STEEL**_\n\t_**FULL RETIRED**_\nCredit: Written by\nAuthor: Stu Maschwitz\n"
        "Contact:\n    Next Level Productions\n    1588 Mission Dr.\nDraft date: 1/20/2012\n\n"
        "EXT. BRICK'S PATIO - DAY\n\nA gorgeous day.\n"
    )
    assert play.title_page == {
        "title": "BRICK & STEEL\nFULL RETIRED",
        "credit": "Written by",
        "author": "Stu Maschwitz",
        "contact": "Next Level Productions\n1588 Mission Dr.",
        "draft date": "1/20/2012",
    }
    assert play.title == "BRICK & STEEL FULL RETIRED"
    assert [(e.kind, e.text, e.line) for e in play.elements] == [
        (fp.SCENE_HEADING, "EXT. BRICK'S PATIO - DAY", 11),
        (fp.ACTION, "A gorgeous day.", 13),
    ]


def test_no_title_page_when_the_script_starts_with_the_story():
    assert parse("INT. HOUSE - DAY\n\nQuiet.\n").title_page == {}
    play = parse("FADE IN:\n\nINT. HOUSE - DAY\n\nQuiet.\n")
    assert play.title_page == {} and play.elements[0] == fp.Element(fp.TRANSITION, "FADE IN:", 1)
    # a heading with a colon is not a title page key; a block that is not all key: value is not a title page
    assert parse("EXT STREET: NIGHT\n\nRain.\n").title_page == {}
    assert parse("Title: X\nShe walks in.\n").title_page == {}


# ---- scene headings --------------------------------------------------------------------------


@pytest.mark.parametrize("line", [
    "INT. KITCHEN - NIGHT", "EXT. ROOF - DAY", "EST. CITY - DAWN", "INT./EXT. CAR - MOVING", "INT/EXT. CAR - DAY",
    "I/E. CAR - DAY", "int. kitchen - night", "Ext. Roof - Day", "INT KITCHEN - NIGHT", "EXT ROOF",
])  # fmt: skip
def test_scene_heading_prefixes_case_insensitive(line):
    assert kinds(f"Before.\n\n{line}\n\nAfter.\n")[1] == (fp.SCENE_HEADING, line)


@pytest.mark.parametrize("line", ["INTERIOR DECORATOR", "Extra! Extra!", "Esther waits.", "EXTERIOR. HOUSE"])
def test_words_that_only_start_like_headings_are_not_headings(line):
    assert kinds(f"{line}\n\nAfter.\n")[0][0] == fp.ACTION


def test_scene_numbers():
    text = "INT. HOUSE - DAY #1#\n\nA.\n\nEXT. YARD - NIGHT   #110A#  \n\nB.\n\nINT. SHED #I-1-A#\n\nC.\n"
    els = parse(text).headings
    assert [(e.text, e.number) for e in els] == [
        ("INT. HOUSE - DAY", "1"), ("EXT. YARD - NIGHT", "110A"), ("INT. SHED", "I-1-A"),
    ]  # fmt: skip


def test_forced_heading_but_not_ellipsis_or_a_number():
    play = parse(".FLASHBACK - 1987 #4#\n\n...and then silence.\n\n.45 calibre shells\nroll across the floor.\n")
    assert [(e.kind, e.text, e.number, e.forced) for e in play.elements] == [
        (fp.SCENE_HEADING, "FLASHBACK - 1987", "4", True),
        (fp.ACTION, "...and then silence.", None, False),
        (fp.ACTION, ".45 calibre shells\nroll across the floor.", None, False),
    ]


def test_heading_needs_a_blank_line_before_but_is_lenient_after():
    assert kinds("She walks.\nINT. HOUSE - DAY\n\nX.\n")[0] == (fp.ACTION, "She walks.\nINT. HOUSE - DAY")
    assert kinds("INT. HOUSE - DAY\nShe walks in.\n\nBOB\nHi.\n") == [
        (fp.SCENE_HEADING, "INT. HOUSE - DAY"), (fp.ACTION, "She walks in."), (fp.CHARACTER, "BOB"),
        (fp.DIALOGUE, "Hi."),
    ]  # fmt: skip
    assert kinds("INT. HOUSE - DAY\nBOB\nHi.\n")[1:] == [(fp.CHARACTER, "BOB"), (fp.DIALOGUE, "Hi.")]


# ---- action ----------------------------------------------------------------------------------


def test_action_paragraphs_keep_line_breaks_and_indentation():
    play = parse("INT. A - DAY\n\nOne line.\nAnother line.\n\n\tIndented with a tab.\n    And spaces.   \n")
    assert [(e.kind, e.text, e.line) for e in play.elements[1:]] == [
        (fp.ACTION, "One line.\nAnother line.", 3),
        (fp.ACTION, "    Indented with a tab.\n    And spaces.", 6),
    ]


def test_forced_action():
    # without "!", an all-caps line followed by text is a character cue
    assert kinds("THE LIGHTS GO OUT.\nOne by one.\n")[0] == (fp.CHARACTER, "THE LIGHTS GO OUT.")
    els = parse("!THE LIGHTS GO OUT.\nOne by one.\n\n!INT. NOT A HEADING\n\n!!CLOSE ON HER HANDS\n").elements
    assert [(e.kind, e.text, e.forced) for e in els] == [
        (fp.ACTION, "THE LIGHTS GO OUT.\nOne by one.", True),
        (fp.ACTION, "INT. NOT A HEADING", True),
        (fp.ACTION, "CLOSE ON HER HANDS", True),
    ]


# ---- characters, parentheticals, dialogue ----------------------------------------------------


def test_character_dialogue_and_parentheticals():
    els = parse("\nSTEEL\n(beat)\nYou know what?\nI'm done.\n(walking off)\nDone.\n").elements
    assert [(e.kind, e.text, e.line) for e in els] == [
        (fp.CHARACTER, "STEEL", 2), (fp.PARENTHETICAL, "(beat)", 3), (fp.DIALOGUE, "You know what?\nI'm done.", 4),
        (fp.PARENTHETICAL, "(walking off)", 6), (fp.DIALOGUE, "Done.", 7),
    ]  # fmt: skip


@pytest.mark.parametrize(("cue", "name", "extension"), [
    ("MOM (V.O.)", "MOM", "(V.O.)"),
    ("HANS (on the radio)", "HANS", "(on the radio)"),
    ("BOB (O.S.)", "BOB", "(O.S.)"),
    ("BOB (CONT'D)", "BOB", "(CONT'D)"),
    ("BOB (CONT’D)", "BOB", "(CONT’D)"),
    ("BOB (cont'd)", "BOB", "(cont'd)"),
    ("BOB (V.O.) (CONT'D)", "BOB", "(V.O.) (CONT'D)"),
    ("BOB CONT'D", "BOB", "(CONT'D)"),
    ("R2D2", "R2D2", ""),
    ("OLD   MAN", "OLD MAN", ""),
])  # fmt: skip
def test_character_extensions_are_split_off(cue, name, extension):
    (el,) = [e for e in parse(f"\n{cue}\nLine.\n").elements if e.kind == fp.CHARACTER]
    assert (el.name, el.extension) == (name, extension)
    assert split_cue(cue) == (name, extension)


def test_forced_character_and_what_is_not_a_cue():
    els = parse("@McCLANE\nYippee ki-yay.\n\n23\nA number is not a name.\n\nBANG\n\nBob\nis not shouting.\n").elements
    assert [(e.kind, e.text, e.name) for e in els] == [
        (fp.CHARACTER, "McCLANE", "McCLANE"), (fp.DIALOGUE, "Yippee ki-yay.", ""),
        (fp.ACTION, "23\nA number is not a name.", ""),
        (fp.ACTION, "BANG", ""),  # a cue needs dialogue right after it
        (fp.ACTION, "Bob\nis not shouting.", ""),
    ]  # fmt: skip
    assert els[0].forced


def test_dialogue_continues_over_a_line_of_two_spaces():
    els = parse("\nDEALER\nTen.\nFour.\n  \nDealer gets twenty.\n\nThat's action.\n").elements
    assert [(e.kind, e.text) for e in els] == [
        (fp.CHARACTER, "DEALER"), (fp.DIALOGUE, "Ten.\nFour.\n\nDealer gets twenty."), (fp.ACTION, "That's action."),
    ]  # fmt: skip


def test_indented_cue_and_dialogue():
    assert kinds("\n\t\tTOMAS\n\tWho's that?\n") == [(fp.CHARACTER, "TOMAS"), (fp.DIALOGUE, "Who's that?")]


def test_dual_dialogue_marks_both_cues():
    els = parse("\nBRICK\nScrew retirement.\n\nSTEEL ^\nScrew retirement.\n\nBRICK\nAgain.\n").elements
    assert [(e.text, e.dual) for e in els if e.kind == fp.CHARACTER] == [("BRICK", True), ("STEEL", True),
                                                                          ("BRICK", False)]  # fmt: skip
    assert parse("\nSTEEL^\nHi.\n").elements[0].name == "STEEL"


# ---- transitions, centered, lyrics -----------------------------------------------------------


def test_transitions():
    text = "A.\n\nCUT TO:\n\nB.\n\n> BURN TO WHITE.\n\nC.\n\nFADE OUT.\n\nD.\n\nCut to:\n\nCUT TO:\nthe chase.\n"
    assert kinds(text) == [
        (fp.ACTION, "A."), (fp.TRANSITION, "CUT TO:"), (fp.ACTION, "B."), (fp.TRANSITION, "BURN TO WHITE."),
        (fp.ACTION, "C."), (fp.TRANSITION, "FADE OUT."), (fp.ACTION, "D."), (fp.ACTION, "Cut to:"),
        (fp.CHARACTER, "CUT TO:"), (fp.DIALOGUE, "the chase."),
    ]  # fmt: skip


def test_centered_text():
    assert kinds(">THE END<\n\n> INTERMISSION <\n\n>FADE TO:\n") == [
        (fp.CENTERED, "THE END"), (fp.CENTERED, "INTERMISSION"), (fp.TRANSITION, "FADE TO:"),
    ]  # fmt: skip


def test_lyrics_alone_and_sung_in_a_speech():
    els = parse("~Row me over,\n~row me home.\n\nELSIE\n(singing)\n~Leave the lantern\nDon't wait.\n").elements
    assert [(e.kind, e.text, e.in_dialogue) for e in els] == [
        (fp.LYRICS, "Row me over,\nrow me home.", False),
        (fp.CHARACTER, "ELSIE", False), (fp.PARENTHETICAL, "(singing)", False),
        (fp.LYRICS, "Leave the lantern", True), (fp.DIALOGUE, "Don't wait.", False),
    ]  # fmt: skip


# ---- notes, boneyard, sections, synopses, page breaks ----------------------------------------


def test_notes_are_removed_inline_standalone_and_across_lines():
    text = "INT. A - DAY\n\nShe runs. [[check the timing]] He follows.\n[[a note alone]]\nThey stop.\n\n" \
           "He opens the case. [[Props: a case\nwith a broken latch]] Empty.\nShe laughs.\n\nBOB\nHi.\n"  # fmt: skip
    play = parse(text)
    assert [(e.kind, e.text, e.line) for e in play.elements] == [
        (fp.SCENE_HEADING, "INT. A - DAY", 1),
        (fp.ACTION, "She runs. He follows.\nThey stop.", 3),
        (fp.ACTION, "He opens the case. Empty.\nShe laughs.", 7),
        (fp.CHARACTER, "BOB", 11),
        (fp.DIALOGUE, "Hi.", 12),
    ]
    assert play.warnings == []


def test_a_note_cannot_span_an_empty_line_and_unclosed_marks_stay_as_text():
    play = parse("A [[broken\n\nnote]] here.\n\nB /* never closed\n")
    assert [e.text for e in play.elements] == ["A [[broken", "note]] here.", "B /* never closed"]
    assert play.warnings == [
        "line 1: a note “[[” is never closed; it was kept as text",
        "line 5: a boneyard “/*” is never closed; it was kept as text",
    ]


def test_boneyard_is_removed_across_lines_keeping_line_numbers():
    text = "/*\nINT. CUT SCENE - DAY\n\nGone.\n*/\nINT. KEPT - DAY\n\nStays /* not this */ here.\n"
    play = parse(text)
    assert [(e.kind, e.text, e.line) for e in play.elements] == [
        (fp.SCENE_HEADING, "INT. KEPT - DAY", 6), (fp.ACTION, "Stays here.", 8),
    ]  # fmt: skip


def test_sections_synopses_and_page_breaks():
    els = parse("# ACT ONE\n\n## Sequence\n\n= The setup.\n\nINT. A - DAY\n\n=== \n\n===========\n\n=x\n").elements
    assert [(e.kind, e.text, e.depth) for e in els] == [
        (fp.SECTION, "ACT ONE", 1), (fp.SECTION, "Sequence", 2), (fp.SYNOPSIS, "The setup.", 0),
        (fp.SCENE_HEADING, "INT. A - DAY", 0), (fp.PAGE_BREAK, "", 0), (fp.PAGE_BREAK, "", 0),
        (fp.SYNOPSIS, "x", 0),
    ]  # fmt: skip


# ---- emphasis, line endings ------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "clean"), [
    ("*italics*", "italics"), ("**bold**", "bold"), ("***bold italics***", "bold italics"),
    ("_underline_", "underline"), ("_**BRICK & STEEL**_", "BRICK & STEEL"),
    ("He's *really* *sure*.", "He's really sure."),
    ("\\*not italic\\*", "*not italic*"), ("a \\_b\\_", "a _b_"), ("5 * 3 * 2", "5 * 3 * 2"),
    ("file_name_here", "file_name_here"), ("**bold *and italic* inside**", "bold and italic inside"),
])  # fmt: skip
def test_emphasis_is_stripped_to_plain_text(raw, clean):
    assert plain(raw) == clean


def test_emphasis_in_elements():
    assert kinds("**INT. HOUSE - DAY**\n\nShe is *late*.\n\n_BOB_\n**Hi.**\n") == [
        (fp.SCENE_HEADING, "INT. HOUSE - DAY"), (fp.ACTION, "She is late."), (fp.CHARACTER, "BOB"),
        (fp.DIALOGUE, "Hi."),
    ]  # fmt: skip


def test_crlf_cr_and_bom_parse_like_lf():
    text = (SAMPLES / "last_ferry.fountain").read_text(encoding="utf-8")
    lf = parse(text)
    for variant in (text.replace("\n", "\r\n"), text.replace("\n", "\r"), "\ufeff" + text):
        other = parse(variant)
        assert other.elements == lf.elements and other.title_page == lf.title_page


def test_the_sample_screenplay():
    play = parse((SAMPLES / "last_ferry.fountain").read_text(encoding="utf-8"))
    assert play.title == "THE LAST FERRY"
    assert play.title_page["contact"] == "Harbour Lane 4\nTidewater\nines@example.com"
    assert [(e.text, e.number, e.line) for e in play.headings] == [
        ("EXT. FERRY LANDING - DAWN", "1", 31), ("INT. FERRY WHEELHOUSE - CONTINUOUS", "2", 56),
        ("EXT. OPEN WATER - DAY", None, 75), ("int./ext. ferry car deck - day", None, 82),
        ("FLASHBACK - THE HARBOUR, 1987", None, 100), ("EST. TIDEWATER ISLAND - DUSK", None, 113),
        ("INT. ELSIE'S COTTAGE - NIGHT", "7", 124),
    ]  # fmt: skip
    assert "Nobody should ever see this scene." not in str(play.elements)  # boneyard
    assert "Check:" not in str(play.elements)  # note
    assert {e.name for e in play.of_kind(fp.CHARACTER)} == {"MARA", "TOMAS", "ELSIE", "McKENNA"}
    assert [e.text for e in play.of_kind(fp.TRANSITION)] == ["FADE IN:", "CUT TO:", "BURN TO WHITE.", "FADE OUT."]
    assert [e.text for e in play.of_kind(fp.CENTERED)] == ["THE END"]
    assert [e.text for e in play.of_kind(fp.SECTION)] == ["ACT ONE", "ACT TWO"]
    assert len(play.of_kind(fp.PAGE_BREAK)) == 1 and play.warnings == []


def test_garbage_never_raises():
    import random

    rng = random.Random(7)
    alphabet = "INTEXT./#@!^~>< =*_[]()\n\n\t  abcXYZ:'"
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        play = parse(text)
        assert all(e.kind in fp.KINDS for e in play.elements)


@pytest.mark.parametrize("text", [
    ">" + " " * 200_000 + "x",
    "a" + " " * 200_000 + "\n",
    "\nBOB" + " " * 200_000 + "X\nhi\n",
    "\nINT. A" + " " * 200_000 + "x #1#\n",
    "*a " * 200_000,
    "*a " * 100_000 + " a*" * 100_000,
    "[[" * 300_000,
    "[[ " * 200_000 + "\n\n]]",
    "\nBOB" + "(a)" * 200_000 + "\nhi\n",
    "/*" * 300_000,
])  # fmt: skip
def test_hostile_input_parses_in_linear_time(text):
    """Each of these took minutes to hours with backtracking patterns; now they are a blink (no timing asserted)."""
    play = parse(text)
    assert len(play.warnings) <= fp.MAX_WARNINGS
