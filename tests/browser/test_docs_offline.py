"""The API reference works with no network: /docs and /redoc load only Slate's own files."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, expect

pytestmark = pytest.mark.browser


def _offline(context, server_url: str) -> list[str]:
    """Abort every request that does not go to the live server; return the list of what was refused."""
    local = urlsplit(server_url).netloc
    refused: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == local or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    context.route("**/*", handle)
    return refused


def test_swagger_ui_lists_the_operations_with_the_network_blocked(new_context, server):
    context = new_context(viewport={"width": 1440, "height": 900})
    refused = _offline(context, server.url)
    page = context.new_page()
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    response = page.goto("/docs")
    assert response is not None and response.status == 200
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Slate")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 50  # every JSON route of /api/v1 is listed
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/projects").first).to_be_visible()
    page.locator(".opblock-summary", has_text="/api/v1/projects").first.click()  # an operation opens
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert refused == [] and blocked == []


def test_redoc_renders_with_the_network_blocked(new_context, server):
    context = new_context(viewport={"width": 1440, "height": 900})
    refused = _offline(context, server.url)
    page = context.new_page()
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    response = page.goto("/redoc")
    assert response is not None and response.status == 200
    expect(page.locator("h1", has_text="Slate")).to_be_visible()
    expect(page.get_by_text("/api/v1/projects").first).to_be_attached()
    # Redoc's sidebar shows Redocly's logo from their CDN and hides it when it does not load: the policy
    # stops it before it leaves the browser. Nothing else may be blocked.
    assert refused == [] and [m for m in blocked if "cdn.redoc.ly/redoc/logo-mini.svg" not in m] == []
