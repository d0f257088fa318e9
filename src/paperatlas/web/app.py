"""The web app factory: HTML pages and a JSON API over one :class:`Library`."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..library import Library
from . import api, pages
from .context import AppContext, WebSettings
from .errors import install_error_handlers


def create_app(library: Library, settings: WebSettings | None = None) -> FastAPI:
    """The ASGI app: pages at ``/``, the JSON API at ``/api`` (docs at ``/docs``).

    Nothing is created at import time: each call makes a new app around ``library``.
    """
    settings = settings or WebSettings()
    app = FastAPI(
        title=settings.title, version=__version__,
        description="Search, read and explore a paperatlas library. Every page has a JSON "
                    "twin under `/api`; errors are `{\"error\": {\"type\", \"message\"}}`.",
        openapi_tags=[{"name": "papers"}, {"name": "search"}, {"name": "trees"}],
    )
    app.state.paperatlas = AppContext(library, settings)
    app.mount("/static", StaticFiles(directory=str(files("paperatlas.web") / "static")),
              name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    install_error_handlers(app)
    return app
