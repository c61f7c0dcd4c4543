"""Read a form back out of a page, the way a browser would show it: what each field holds, which fields are
marked invalid, and the message printed next to each (the `field_error` macro's `<p id="NAME-error">`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class ShownForm:
    action: str
    values: dict[str, str] = field(default_factory=dict)  # the first control of each name: what it shows
    invalid: set[str] = field(default_factory=set)  # names of controls with aria-invalid="true"
    described_by: dict[str, str] = field(default_factory=dict)  # control name -> id of its message


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[ShownForm] = []
        self.messages: dict[str, str] = {}  # element id -> text, for .field-error paragraphs
        self._form: ShownForm | None = None
        self._textarea: str | None = None
        self._select: str | None = None
        self._option: dict[str, str | None] | None = None
        self._message: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._form = ShownForm(action=a.get("action") or "")
            self.forms.append(self._form)
            return
        if tag == "p" and "field-error" in (a.get("class") or "").split() and a.get("id"):
            self._message = a["id"]
            self.messages[self._message] = ""
        if self._form is None:
            return
        name = a.get("name")
        if tag in ("input", "textarea", "select") and name:
            if a.get("aria-invalid") == "true":
                self._form.invalid.add(name)
            if a.get("aria-describedby"):
                self._form.described_by[name] = a["aria-describedby"] or ""
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self._form.values.setdefault(name, a.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self._form.values.setdefault(name, "")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            self._option = {"value": a.get("value"), "selected": "selected" if "selected" in a else None, "text": ""}

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "p":
            self._message = None
        elif tag == "option" and self._option is not None and self._select and self._form is not None:
            value = self._option["value"] if self._option["value"] is not None else (self._option["text"] or "").strip()
            if self._option["selected"] or self._select not in self._form.values:  # the browser shows the first
                self._form.values[self._select] = value or ""
            self._option = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self._form is not None:
            self._form.values[self._textarea] += data
        if self._option is not None:
            self._option["text"] = (self._option["text"] or "") + data
        if self._message:
            self.messages[self._message] += data


def shown_form(html: str, action: str) -> tuple[ShownForm, dict[str, str]]:
    """The form posting to `action` as the page shows it, and every field message on the page by element id."""
    reader = _Reader()
    reader.feed(html)
    for form in reader.forms:
        if form.action == action:
            return form, reader.messages
    raise AssertionError(f"no form posts to {action}; forms: {[f.action for f in reader.forms]}")


def message_for(html: str, action: str, name: str) -> str:
    """The message shown next to field `name` of the form posting to `action` (it must be marked invalid)."""
    form, messages = shown_form(html, action)
    assert name in form.invalid, f"{name} is not marked invalid (invalid: {sorted(form.invalid)})"
    text = messages.get(form.described_by.get(name, f"{name}-error"), "").strip()
    assert text, f"no message next to {name}"
    return text
