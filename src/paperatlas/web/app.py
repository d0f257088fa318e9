"""The web app factory: HTML pages and a JSON API over one :class:`Library`."""

from __future__ import annotations

from importlib.resources import files

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..library import Library
from . import api, auth, pages, signin, write_api, write_pages, writes
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
        dependencies=[Depends(auth.guard)],  # API tokens; private mode
    )
    app.state.paperatlas = AppContext(library, settings)
    app.mount("/static", StaticFiles(directory=str(files("paperatlas.web") / "static")),
              name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    for router in (write_api.router, signin.router, write_pages.router):
        app.include_router(router)
    install_error_handlers(app)
    auth.install(app, settings.secret_key, settings.session_days)
    writes.install(app)
    return app
