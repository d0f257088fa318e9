"""The web app factory: HTML pages and a JSON API over one :class:`Library`."""

from __future__ import annotations

from importlib.resources import files

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from .. import __version__
from ..follow.settings import DigestSettings, MailSettings
from ..library import Library
from . import (
    api,
    ask,
    auth,
    authors,
    export,
    feeds,
    headers,
    pages,
    review,
    signin,
    signup,
    sources,
    subscribe,
    votes,
    write_api,
    write_pages,
    writes,
)
from .context import AppContext, WebSettings
from .errors import install_error_handlers
from .hosts import TrustedHosts, trusted


def _offline_docs(app: FastAPI, title: str) -> None:
    """``/docs``: Swagger UI 5 (it reads OpenAPI 3.1) from the ``fastapi-offline`` package's
    files (FastAPI's default loads it from a CDN, which a machine without internet cannot
    reach)."""
    app.mount("/swagger-ui", StaticFiles(directory=str(files("fastapi_offline") / "static")),
              name="swagger-ui")

    page = bytes(get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json", title=f"{title} API",
        swagger_js_url="/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/swagger-ui/favicon.png",
        swagger_ui_parameters={"validatorUrl": None}).body).decode()  # no badge from afar
    policy = headers.docs_policy(page)  # its inline script, by hash

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})


def create_app(library: Library, settings: WebSettings | None = None, *,
               digest: DigestSettings | None = None,
               mail: MailSettings | None = None) -> FastAPI:
    """The ASGI app: pages at ``/``, the JSON API at ``/api`` (docs at ``/docs``).

    ``digest`` sets the links and limits of subscription messages (default: links to
    this server); with ``mail``, confirmation messages are sent right away (else by the
    next ``paperatlas digest run`` or ``digest send``).

    Nothing is created at import time: each call makes a new app around ``library``.
    """
    settings = settings or WebSettings()
    app = headers.SecuredApp(  # security headers on every answer; HEAD as GET
        title=settings.title, version=__version__,
        description="Search, read and explore a paperatlas library. Every page has a JSON "
                    "twin under `/api`; errors are `{\"error\": {\"type\", \"message\"}}`.",
        openapi_tags=[{"name": "papers"}, {"name": "search"}, {"name": "trees"},
                      {"name": "sources"}],
        dependencies=[Depends(auth.guard)],  # API tokens; private mode
        docs_url=None, redoc_url=None,  # /docs below, served without a CDN
    )
    app.state.paperatlas = AppContext(library, settings)
    app.mount("/static", StaticFiles(directory=str(files("paperatlas.web") / "static")),
              name="static")
    _offline_docs(app, settings.title)
    app.include_router(api.router)
    app.include_router(pages.router)
    for router in (write_api.router, signin.router, write_pages.router, votes.router,
                   feeds.router, sources.router, ask.router, review.router,
                   authors.router, export.router):
        app.include_router(router)
    subscribe.install(app, digest, mail)
    signup.install(app)
    install_error_handlers(app)
    auth.install(app, settings.secret_key, settings.session_days)
    writes.install(app)
    app.add_middleware(TrustedHosts, hosts=trusted(  # links never come from Host: see hosts.py
        (settings.public_url, digest.base_url if digest else ""), settings.host,
        settings.allowed_hosts))
    return app
