"""A parser for Fountain, the plain-text screenplay format (https://fountain.io/syntax).

`parse(text)` returns a `Screenplay`: the title page and a flat list of typed `Element`s, each
with the line of the source it starts on. Notes `[[...]]` and the boneyard `/* ... */` are removed
(also across lines), emphasis markers (`*italic*`, `**bold**`, `_underline_`) are stripped to plain
text, line endings may be LF, CRLF or CR, tabs and trailing spaces do not change the meaning.

Deliberate leniencies, because screenplays come from many editors:
- a scene heading (`INT.`, `EXT.` ...) needs the blank line before it but not the one after it;
  a forced heading (`.HEADING`) needs both, so action that starts with `.45 calibre` stays action.
- `FADE IN:`, `FADE OUT.`, `FADE TO BLACK.` and `CUT TO BLACK.` on a line of their own are
  transitions, as screenplay apps treat them, although they do not end in `TO:`.
- an unclosed `/*` or `[[` (or a note that spans an empty line) is kept as text, with a warning,
  instead of swallowing the rest of the script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

SCENE_HEADING = "scene_heading"
ACTION = "action"
CHARACTER = "character"
PARENTHETICAL = "parenthetical"
DIALOGUE = "dialogue"
TRANSITION = "transition"
CENTERED = "centered"
SECTION = "section"
SYNOPSIS = "synopsis"
PAGE_BREAK = "page_break"
LYRICS = "lyrics"

KINDS = (SCENE_HEADING, ACTION, CHARACTER, PARENTHETICAL, DIALOGUE, TRANSITION, CENTERED, SECTION, SYNOPSIS,
         PAGE_BREAK, LYRICS)  # fmt: skip


@dataclass(frozen=True)
class Element:
    """One element of the screenplay; `line` is 1-based in the source text."""

    kind: str
    text: str
    line: int
    number: str | None = None  # scene heading: the scene number from `#12#`
    name: str = ""  # character: the name without extensions, `@` or `^`
    extension: str = ""  # character: "(V.O.)", "(O.S.) (CONT'D)" ...
    dual: bool = False  # character: one of the two cues of a dual dialogue
    depth: int = 0  # section: 1 for `#`, 2 for `##` ...
    forced: bool = False  # written with a forcing mark (`.`, `!`, `@`, `>`)
    in_dialogue: bool = False  # lyrics: sung inside a character's speech


@dataclass
class Screenplay:
    title_page: dict[str, str] = field(default_factory=dict)  # keys lower-cased: "title", "draft date" ...
    elements: list[Element] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return " ".join(self.title_page.get("title", "").split())

    @property
    def headings(self) -> list[Element]:
        return [e for e in self.elements if e.kind == SCENE_HEADING]

    def of_kind(self, kind: str) -> list[Element]:
        return [e for e in self.elements if e.kind == kind]


# ---- patterns ---------------------------------------------------------------------------

_HIDDEN_OPEN = re.compile(r"/\*|\[\[|\n")
_EMPTY_LINE = re.compile(r"\n[ \t]?\n")  # a note may not contain an empty line (two spaces connect it)
_HEADING = re.compile(r"^(?:int\.?/ext|ext\.?/int|int/ext|i/e|e/i|int|ext|est)(?:\.|\s)", re.IGNORECASE)
_SCENE_NUMBER = re.compile(r"#([A-Za-z0-9][A-Za-z0-9.\-]*)#$")
_FADES = re.compile(r"^(?:FADE (?:IN|OUT|TO BLACK)|CUT TO BLACK)[.:]?$")
_PAGE_BREAK = re.compile(r"^={3,}$")
_TITLE_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9 _\-]*):(.*)$")
_EXTENSION = re.compile(r" ?\(([^()]*)\)$")  # on text whose spaces are collapsed
_BARE_CONTD = re.compile(r" CONT(?:['\u2019]?D|\.)$", re.IGNORECASE)
MAX_EXTENSIONS = 4
MAX_WARNINGS = 50

_ESCAPES = {"\\*": "\ue000", "\\_": "\ue001"}
# The text between two marks never holds the same mark, so a scan stops at the next one (linear time).
_EMPHASIS = [
    re.compile(r"\*\*\*(?=\S)((?:[^*]|\*(?!\*\*))+?)(?<=\S)\*\*\*"),
    re.compile(r"\*\*(?=\S)((?:[^*]|\*(?!\*))+?)(?<=\S)\*\*"),
    re.compile(r"\*(?=[^\s*])([^*]*?)(?<=[^\s*])\*"),
    re.compile(r"(?<!\w)_(?=[^\s_])([^_]*?)(?<=[^\s_])_(?!\w)"),
]
EMPHASIS_PASSES = 3  # nesting deeper than this is not emphasis anyone writes


def plain(text: str) -> str:
    """Strip Fountain emphasis (`***`, `**`, `*`, `_`) from one line; `\\*` and `\\_` stay as `*` and `_`."""
    if "*" not in text and "_" not in text:
        return text
    for esc, mark in _ESCAPES.items():
        text = text.replace(esc, mark)
    for pattern in _EMPHASIS:
        for _ in range(EMPHASIS_PASSES):
            new = pattern.sub(r"\1", text)
            if new == text:
                break
            text = new
    return text.replace("\ue000", "*").replace("\ue001", "_")


def split_cue(cue: str) -> tuple[str, str]:
    """`"BOB (V.O.) (CONT'D)"` -> `("BOB", "(V.O.) (CONT'D)")`; a bare trailing `CONT'D` counts as one."""
    name, exts = " ".join(cue.split()), []
    while len(exts) < MAX_EXTENSIONS and (m := _EXTENSION.search(name)):
        if not name[: m.start()].strip():
            break  # the whole cue is in brackets: that is not a name
        exts.insert(0, "(" + m.group(1).strip() + ")")
        name = name[: m.start()]
    if m := _BARE_CONTD.search(name):
        exts.insert(0, "(" + m.group(0).strip() + ")")
        name = name[: m.start()]
    return name.strip(), " ".join(exts)


def _is_centered(s: str) -> bool:
    return len(s) > 1 and s.startswith(">") and s.endswith("<")


def _is_upper_name(name: str) -> bool:
    return any(c.isalpha() for c in name) and name == name.upper()


# ---- stage 1: lines without notes and boneyard ---------------------------------------------


def _visible_lines(text: str, warnings: list[str]) -> list[tuple[int, str]]:
    """The text as (line number, line) pairs, with notes and boneyard cut out.

    A removed span that crosses lines joins what stood before and after it, so every line keeps
    the number it has in the source; a line that only held hidden text disappears entirely.
    """
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    line_no = start_no = 1
    hidden = False
    pos = 0
    closes: dict[str, int | None] = {"/*": None, "[[": None}
    empty_line: int | None = None

    def emit() -> None:
        joined = "".join(buf)
        if not (hidden and not joined.strip()):
            out.append((start_no, joined))

    while True:
        m = _HIDDEN_OPEN.search(text, pos)
        if m is None:
            buf.append(text[pos:])
            break
        buf.append(text[pos : m.start()])
        token = m.group()
        if token == "\n":
            emit()
            buf, hidden = [], False
            line_no += 1
            start_no = line_no
            pos = m.end()
            continue
        closing = "*/" if token == "/*" else "]]"
        # Both searches only move forward, and are remembered: many unclosed marks stay linear.
        end = closes[token]
        if end is not None and end != -1 and end < m.end():
            end = None
        if end is None:
            end = closes[token] = text.find(closing, m.end())
        if token == "[[" and end != -1:
            if empty_line is not None and empty_line != -1 and empty_line < m.end():
                empty_line = None
            if empty_line is None:
                found = _EMPTY_LINE.search(text, m.end())
                empty_line = found.start() if found else -1
            if empty_line != -1 and empty_line < end:
                end = -1
        if end == -1:
            if len(warnings) < MAX_WARNINGS:
                what = "boneyard “/*”" if token == "/*" else "note “[[”"
                warnings.append(f"line {line_no}: a {what} is never closed; it was kept as text")
            buf.append(token)
            pos = m.end()
            continue
        line_no += text.count("\n", m.start(), end)
        hidden = True
        pos = end + len(closing)
        if buf and buf[-1].endswith((" ", "\t")):  # "a [[note]] b" -> "a b"
            while text[pos : pos + 1] in (" ", "\t"):
                pos += 1
    emit()
    return out


# ---- stage 2: the title page ---------------------------------------------------------------


def _title_page(lines: list[tuple[int, str]]) -> tuple[dict[str, str], int]:
    """`Key: value` lines at the very start (values may continue on indented lines), up to a blank line."""
    i = 0
    while i < len(lines) and not lines[i][1].strip():
        i += 1
    entries: list[tuple[str, list[str]]] = []
    j = i
    while j < len(lines) and lines[j][1].strip():
        raw = lines[j][1]
        m = _TITLE_KEY.match(raw)
        if _HEADING.match(raw):
            return {}, 0  # "EXT STREET: NIGHT" is a scene, not a title page key
        if m and not raw[:1].isspace():
            value = m.group(2).strip()
            entries.append((m.group(1).strip(), [value] if value else []))
        elif raw[:1] in (" ", "\t") and entries:
            entries[-1][1].append(raw.strip())
        else:
            return {}, 0
        j += 1
    if not entries or not entries[0][1]:
        return {}, 0  # "FADE IN:" alone is not a title page
    page: dict[str, str] = {}
    for key, values in entries:
        page.setdefault(" ".join(key.lower().split()), "\n".join(plain(v) for v in values))
    return page, j


# ---- stage 3: the body ---------------------------------------------------------------------


class _Body:
    """The line-by-line state machine that turns the body into elements."""

    def __init__(self, lines: list[tuple[int, str]]) -> None:
        self.lines = lines
        self.out: list[Element] = []
        self.action: list[str] = []
        self.action_line = 0
        self.action_forced = False
        self.speech: list[str] = []
        self.speech_line = 0
        self.lyrics: list[str] = []
        self.lyrics_line = 0
        self.lyrics_in_dialogue = False
        self.in_dialogue = False
        self.block_start = True

    # -- buffers

    def flush(self) -> None:
        if self.action:
            while self.action and not self.action[-1].strip():
                self.action.pop()
            self.out.append(Element(ACTION, "\n".join(self.action), self.action_line, forced=self.action_forced))
            self.action, self.action_forced = [], False
        self.flush_speech()
        self.flush_lyrics()

    def flush_speech(self) -> None:
        if self.speech:
            while self.speech and not self.speech[-1]:
                self.speech.pop()
            if self.speech:
                self.out.append(Element(DIALOGUE, "\n".join(self.speech), self.speech_line))
            self.speech = []

    def flush_lyrics(self) -> None:
        if self.lyrics:
            self.out.append(Element(LYRICS, "\n".join(self.lyrics), self.lyrics_line,
                                    in_dialogue=self.lyrics_in_dialogue))  # fmt: skip
            self.lyrics = []

    def emit(self, element: Element) -> None:
        self.flush()
        self.out.append(element)

    def add_action(self, no: int, text: str, forced: bool = False) -> None:
        self.flush_speech()
        self.flush_lyrics()
        if not self.action:
            self.action_line = no
            self.action_forced = forced
        self.action.append(text)

    def add_lyric(self, no: int, text: str, in_dialogue: bool) -> None:
        if self.action:
            self.flush()
        self.flush_speech()
        if self.lyrics and self.lyrics_in_dialogue != in_dialogue:
            self.flush_lyrics()
        if not self.lyrics:
            self.lyrics_line = no
            self.lyrics_in_dialogue = in_dialogue
        self.lyrics.append(text)

    # -- the machine

    def run(self) -> list[Element]:
        n = len(self.lines)
        for idx, (no, raw) in enumerate(self.lines):
            if not raw.strip():
                if self.in_dialogue and raw == "  ":  # two spaces keep a speech going over an empty line
                    self.flush_lyrics()
                    if self.speech:
                        self.speech.append("")
                    continue
                self.flush()
                self.in_dialogue = False
                self.block_start = True
                continue
            next_blank = idx + 1 >= n or not self.lines[idx + 1][1].strip()
            s = plain(raw.strip())
            if self.in_dialogue:
                self.dialogue_line(no, s)
            elif self.structural(no, s):
                self.block_start = True
            elif self.block_start:
                self.block_first_line(no, raw, s, next_blank)
            else:
                self.continuation_line(no, raw, s)
        self.flush()
        return self.out

    def dialogue_line(self, no: int, s: str) -> None:
        if s.startswith("(") and s.endswith(")"):
            self.flush_speech()
            self.flush_lyrics()
            self.out.append(Element(PARENTHETICAL, s, no))
        elif s.startswith("~"):
            self.add_lyric(no, s[1:].strip(), in_dialogue=True)
        else:
            self.flush_lyrics()
            if not self.speech:
                self.speech_line = no
            self.speech.append(s)

    def structural(self, no: int, s: str) -> bool:
        """Page breaks, sections and synopses stand on their own line wherever they occur."""
        if _PAGE_BREAK.match(s):
            self.emit(Element(PAGE_BREAK, "", no))
        elif s.startswith("#"):
            depth = len(s) - len(s.lstrip("#"))
            self.emit(Element(SECTION, s[depth:].strip(), no, depth=depth))
        elif s.startswith("=") and not s.startswith("=="):
            self.emit(Element(SYNOPSIS, s[1:].strip(), no))
        else:
            return False
        return True

    def block_first_line(self, no: int, raw: str, s: str, next_blank: bool) -> None:
        self.block_start = False
        if s.startswith("!"):
            self.add_action(no, _action_text(raw, forced=True), forced=True)
        elif s.startswith("@") and split_cue(s[1:].rstrip("^"))[0] and not next_blank:
            self.character(no, s[1:], forced=True)
        elif s.startswith("@"):
            self.add_action(no, s[1:].strip() or s)
        elif s.startswith("~"):
            self.add_lyric(no, s[1:].strip(), in_dialogue=False)
        elif s.startswith(".") and len(s) > 1 and s[1].isalnum() and next_blank:
            self.heading(no, s[1:], forced=True)
        elif _HEADING.match(s):
            self.heading(no, s, forced=False)
        elif _is_centered(s):
            self.emit(Element(CENTERED, s[1:-1].strip(), no))
        elif s.startswith(">"):
            self.emit(Element(TRANSITION, s[1:].strip(), no, forced=True))
            self.block_start = True
        elif next_blank and s == s.upper() and (s.endswith("TO:") or _FADES.match(s)):
            self.emit(Element(TRANSITION, s, no))
            self.block_start = True
        elif not next_blank and self.is_cue(s):
            self.character(no, s, forced=False)
        else:
            self.add_action(no, _action_text(raw, forced=False))

    def continuation_line(self, no: int, raw: str, s: str) -> None:
        if s.startswith("~"):
            self.add_lyric(no, s[1:].strip(), in_dialogue=False)
        elif _is_centered(s):
            self.emit(Element(CENTERED, s[1:-1].strip(), no))
        else:
            forced = s.startswith("!")
            self.add_action(no, _action_text(raw, forced=forced), forced=forced and not self.action)

    @staticmethod
    def is_cue(s: str) -> bool:
        body = s[:-1].rstrip() if s.endswith("^") else s
        name, _ = split_cue(body)
        return bool(name) and _is_upper_name(name) and not name.startswith(("(", "[", "!", "~", ">", "="))

    def heading(self, no: int, s: str, *, forced: bool) -> None:
        number = None
        s = " ".join(s.split())
        if s.endswith("#") and (m := _SCENE_NUMBER.search(s, max(0, s.rfind("#", 0, len(s) - 1)))):
            number = m.group(1)
            s = s[: m.start()]
        self.emit(Element(SCENE_HEADING, " ".join(s.split()), no, number=number, forced=forced))
        self.block_start = True  # what follows a heading starts a new block, blank line or not

    def character(self, no: int, s: str, *, forced: bool) -> None:
        s = s.strip()
        dual = s.endswith("^")
        if dual:
            s = s[:-1].rstrip()
        name, extension = split_cue(s)
        if dual:  # the cue before it is the other half of the pair
            for i in range(len(self.out) - 1, -1, -1):
                prev = self.out[i]
                if prev.kind == CHARACTER:
                    self.out[i] = replace(prev, dual=True)
                    break
                if prev.kind not in (PARENTHETICAL, DIALOGUE, LYRICS):
                    break
        self.emit(Element(CHARACTER, " ".join(s.split()), no, name=name, extension=extension, dual=dual,
                          forced=forced))  # fmt: skip
        self.in_dialogue = True


def _action_text(raw: str, *, forced: bool) -> str:
    """An action line keeps its indentation (tabs as four spaces); `!` and emphasis go."""
    line = raw.replace("\t", "    ").rstrip()
    indent = line[: len(line) - len(line.lstrip())]
    body = line.lstrip()
    if forced:
        body = body.lstrip("!")  # `!!` (a shot, in some apps) is action too
    return indent + plain(body)


def parse(text: str) -> Screenplay:
    """Parse Fountain text into its title page and elements (never raises on odd input)."""
    warnings: list[str] = []
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = _visible_lines(text, warnings)
    title_page, start = _title_page(lines)
    elements = _Body(lines[start:]).run()
    return Screenplay(title_page=title_page, elements=elements, warnings=warnings)
