"""The web edge: ``create_app(library, settings)`` serves HTML pages and a JSON API.

Needs the ``[web]`` extra (FastAPI, uvicorn, Jinja2). The core never imports this package.
"""

from .app import create_app
from .context import WebSettings

__all__ = ["WebSettings", "create_app"]
