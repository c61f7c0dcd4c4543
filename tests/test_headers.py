"""Security headers on every answer, a Content-Security-Policy without inline script, and templates that need none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def _assert_guarded(r) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    csp = _directives(r.headers["content-security-policy"])
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no other origin
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]


def test_headers_on_a_page_an_api_answer_a_static_file_and_a_404(client, sign_in, make_user):
    answers = {
        "page": client.get("/login"),
        "signed-in page": sign_in(make_user()).get("/projects"),
        "api": client.get("/api/v1/auth/me"),
        "api error": client.post("/api/v1/auth/tokens", json={}),
        "health": client.get("/healthz"),
        "static": client.get("/static/js/slate.js"),
        "missing page": client.get("/no-such-page"),
        "missing static": client.get("/static/no-such-file.js"),
    }
    assert [k for k, r in answers.items() if r.status_code >= 500] == []
    assert answers["static"].status_code == 200 and answers["missing page"].status_code == 404
    for name, r in answers.items():
        try:
            _assert_guarded(r)
        except (AssertionError, KeyError) as exc:
            raise AssertionError(f"{name} ({r.request.url.path}, {r.status_code}): {exc!r}") from None
        assert "strict-transport-security" not in r.headers  # the test base URL is http


def test_static_files_pass_through_whole(client):
    body = (Path(__file__).resolve().parent.parent / "static/js/slate.js").read_bytes()
    r = client.get("/static/js/slate.js")
    assert r.content == body
    part = client.get("/static/js/slate.js", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == body[:10]
    assert part.headers["content-security-policy"]


def test_hsts_only_when_the_base_url_is_https(settings):
    with TestClient(create_app(settings)) as c:
        assert "strict-transport-security" not in c.get("/healthz").headers
    settings.base_url = "https://slate.example.org"
    with TestClient(create_app(settings), base_url="https://slate.example.org") as c:
        for url in ("/healthz", "/login", "/nothing-here"):
            r = c.get(url)
            assert r.headers["strict-transport-security"].startswith("max-age="), url
            assert int(r.headers["strict-transport-security"].split("=")[1]) >= 180 * 86400


def test_the_api_reference_answers_with_its_own_policy(client):
    r = client.get("/docs")
    assert r.status_code == 200
    csp = _directives(r.headers["content-security-policy"])
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert client.get("/openapi.json").headers["content-security-policy"] == client.get("/login").headers[
        "content-security-policy"
    ]


# ---- the templates need no inline script -----------------------------------------------------------

TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.S)
INLINE_HANDLER = re.compile(r"(?:^|\s)on[a-z]+\s*=", re.I)
HTMX_SCRIPT = re.compile(r"(?:^|\s)(?:data-)?hx-on[:\-a-z]*\s*=|(?:^|\s)(?:data-)?hx-vars\s*=", re.I)
JS_VALUE = re.compile(r"""=\s*["']\s*(?:javascript|js):""", re.I)


def inline_script_problems(text: str) -> list[str]:
    """What in one template the CSP would block: inline <script>, on*= handlers, hx-on, javascript:/js: values."""
    problems = []
    for m in TAG.finditer(text):
        name, attrs = m.group(1).lower(), m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        if name == "script" and not re.search(r"(?:^|\s)src\s*=", attrs):
            problems.append(f"line {line}: inline <script>")
        if INLINE_HANDLER.search(attrs):
            problems.append(f"line {line}: inline event handler in <{name}>")
        if HTMX_SCRIPT.search(attrs):
            problems.append(f"line {line}: hx-on/hx-vars script in <{name}>")
        if JS_VALUE.search(attrs):
            problems.append(f"line {line}: javascript: value in <{name}>")
    return problems


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        '<script type="module">x()</script>',
        '<input onclick="this.select()">',
        "<body onload='go()'>",
        '<a href="/x"\n   onmouseover="x()">',
        '<div hx-on:click="x()">',
        '<div hx-on::after-request="x()">',
        '<form data-hx-on-submit="x()">',
        '<a href="javascript:void(0)">',
        "<div hx-vals='js:{a: 1}'>",
    ],
)
def test_the_scan_finds_inline_script(snippet):
    assert inline_script_problems(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="/static/js/slate.js" defer></script>',
        '<button data-copy="#invite-link">Copy</button>',
        "<body hx-headers='{\"X-CSRF-Token\": \"{{ csrf_token }}\"}'>",
        '<div hx-trigger="sse:job" hx-swap="innerHTML">',
        '<p class="note">Click on=the button</p>',
        '<input name="only" value="{{ x }}" {% if y %}checked{% endif %}>',
    ],
)
def test_the_scan_lets_plain_markup_through(snippet):
    assert inline_script_problems(snippet) == []


def test_no_template_has_inline_script_or_handlers():
    found = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        problems = inline_script_problems(path.read_text())
        if problems:
            found[str(path.relative_to(TEMPLATES))] = problems
    assert found == {}, "move these into static/js (the Content-Security-Policy blocks them): " + repr(found)
    assert len(list(TEMPLATES.rglob("*.html"))) > 20  # the scan saw the templates
