"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from app import models  # noqa: F401  (every mapper configured before the first query)
from app.activity import views as activity_views
from app.auth import api as auth_api
from app.auth import views as auth_views
from app.bodies import BodyLimit
from app.characters import api as characters_api
from app.characters import views as characters_views
from app.config import Settings, get_settings, use_settings
from app.db import engine_for, session_factory
from app.deps import csrf_protect, known_ids
from app.design import api as design_api
from app.design import views as design_views
from app.errors import install_error_handlers
from app.frames import views as frames_views
from app.generation import api as generation_api
from app.generation import views as generation_views
from app.media import views as media_views
from app.projects import api as projects_api
from app.projects import views as projects_views
from app.screenplay import api as screenplay_api
from app.screenplay import views as screenplay_views
from app.storyboard import api as storyboard_api
from app.storyboard import views as storyboard_views
from app.system import api as system_api
from app.system import views as system_views
from app.web import ROOT, error_page

API_ROUTERS = [
    auth_api.router,
    projects_api.router,
    characters_api.router,
    design_api.router,
    storyboard_api.router,
    screenplay_api.router,
    generation_api.router,
    system_api.router,
]
PAGE_ROUTERS = [
    auth_views.router,
    projects_views.router,
    characters_views.router,
    design_views.router,
    storyboard_views.router,
    screenplay_views.router,
    generation_views.router,
    media_views.router,
    frames_views.router,
    activity_views.router,
    system_views.router,
]
EMBEDDED_QUEUES = ["default", "media"]

# The API reference, from files vendored by `npm run vendor` (no CDN: it works with no network). Swagger UI
# starts from /static/js/api-docs.js, Redoc from its own <redoc> element: no inline script.
API_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="icon" href="/static/vendor/swagger-favicon.png">{head}</head>
<body>{body}</body></html>"""
SWAGGER_UI = API_DOCS_PAGE.format(
    title="Slate API",
    head='<link rel="stylesheet" href="/static/vendor/swagger-ui.css">',
    body='<div id="swagger-ui" data-openapi-url="/openapi.json"></div>'
    '<script src="/static/vendor/swagger-ui-bundle.js"></script><script src="/static/js/api-docs.js"></script>',
)
REDOC = API_DOCS_PAGE.format(
    title="Slate API · reference",
    head="",
    body='<redoc spec-url="/openapi.json"></redoc><script src="/static/vendor/redoc.standalone.js"></script>',
)


class SecurityHeaders:
    """Security headers on every answer: pages, API, static files, errors (pure ASGI; bodies stream untouched).

    The Content-Security-Policy allows no inline script and no inline event handler:
    page behaviour lives in /static/js (tests/test_headers.py scans the templates).
    Styles may be inline (`style=` attributes, htmx's indicator style). The API
    reference (/docs, /redoc) runs from vendored files with no inline script either;
    its policy only adds the blob: worker Redoc starts for its search. HSTS only where
    the base URL is https. A header the route set itself is left as it is.
    """

    CSP = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    DOCS_CSP = CSP + "; worker-src 'self' blob:"
    DOCS_PATHS = frozenset({"/docs", "/redoc"})
    HSTS = b"max-age=31536000"

    def __init__(self, app, *, hsts: bool = False) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
        ] + ([(b"strict-transport-security", self.HSTS)] if hsts else [])
        self.headers = common + [(b"content-security-policy", self.CSP.encode())]
        self.docs_headers = common + [(b"content-security-policy", self.DOCS_CSP.encode())]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = self.docs_headers if scope.get("path") in self.DOCS_PATHS else self.headers

        async def _send(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [(k, v) for k, v in extra if k not in present]
            await send(message)

        return await self.app(scope, receive, _send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app for `settings` (default: the process settings)."""
    settings = settings or get_settings()
    use_settings(settings)  # services read the same settings the app was built with
    settings.resolved_secret_key()  # refuses a missing secret in production, before serving anything

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if settings.embedded_worker:
            from workers.celery_app import configure
            from workers.embedded import EmbeddedWorker

            configure(settings)
            worker = EmbeddedWorker(EMBEDDED_QUEUES)
            worker.start()
        app.state.worker = worker
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="Slate",
        version="0.1.0",
        description="Collaborative AI film studio. Personal access tokens: `Authorization: Bearer slt_...`.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(known_ids), Depends(csrf_protect)],
    )
    app.state.settings = settings
    app.state.sessionmaker = session_factory(engine_for(settings.database_url))
    install_error_handlers(app, page=error_page)
    app.add_middleware(BodyLimit, settings=settings)  # inside SecurityHeaders: its refusals get the headers too
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    # Pages, JSON, CSS and JS go out gzipped (a 300-shot storyboard: see bench/storyboard.py). Starlette leaves
    # the live event stream, images, video, audio and range answers as they are, so nothing is buffered.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    app.mount(
        "/static",
        StaticFiles(directory=str(ROOT / "static"), check_dir=False),
        name="static",
    )
    for router in API_ROUTERS + PAGE_ROUTERS:
        app.include_router(router)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(SWAGGER_UI)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return HTMLResponse(REDOC)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
