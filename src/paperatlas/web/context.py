"""What routes share: the settings, the library and the templates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from .. import __version__
from ..accounts import AuthLimits
from ..chat import TIMEOUT as LLM_TIMEOUT
from ..chat import LLMSettings
from ..library import Library
from ..search import MODES
from ..urls import SITE
from . import hosts, present


@dataclass(frozen=True)
class WebSettings:
    """How the app is served and shown."""

    host: str = "127.0.0.1"
    port: int = 8000
    page_size: int = 20  # search results and feed papers per page
    similar: int = 8  # similar papers on a paper page
    title: str = "paperatlas"
    secret_key: str = ""  # signs session cookies; empty: a random key (sessions end on restart)
    private: bool = False  # reading needs a signed-in user (or an API token) too
    open_signup: bool = False  # anyone may sign up (/signup); the account exists once
    # its address confirms it by the mailed link
    max_upload_bytes: int = 50 * 1024 * 1024  # larger uploads are refused with 413
    upload_dir: str = ""  # where uploads are kept; empty: LIBRARY.db.uploads beside the library
    session_days: int = 14  # how long a sign-in lasts (sign-out ends it at once)
    # Throttling (429 with Retry-After; 0 turns a limit off): failed sign-ins per account
    # and per client address in signin_window_s, bad API tokens per client in token_window_s.
    signin_account_failures: int = 5
    signin_client_failures: int = 20
    signin_window_s: int = 15 * 60
    token_client_failures: int = 20
    token_window_s: int = 60
    base_url: str = ""  # where links in mail and feeds point; empty: http://HOST:PORT
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides the base URL's,
    # the host served on and this machine's (a reverse proxy's name; "*.example.org")
    # A chat model that writes answers on the Ask page (OpenAI-compatible; empty: none).
    llm_url: str = ""
    llm_model: str = ""
    llm_key: str = ""
    llm_timeout: float = LLM_TIMEOUT

    def __post_init__(self) -> None:
        if self.base_url:
            object.__setattr__(self, "base_url", hosts.check_base_url(self.base_url))
        object.__setattr__(self, "allowed_hosts", tuple(
            hosts.check_host_pattern(h) for h in self.allowed_hosts))

    @property
    def public_url(self) -> str:
        """The base of every absolute link: ``base_url``, else the address served on
        (never the request's ``Host`` header)."""
        return self.base_url or hosts.served_url(self.host, self.port)

    @property
    def llm(self) -> LLMSettings | None:
        """The chat model answers are written with, when one is configured."""
        if not (self.llm_url and self.llm_model):
            return None
        return LLMSettings(self.llm_url, self.llm_model, self.llm_key or None,
                           self.llm_timeout)

    @property
    def auth_limits(self) -> AuthLimits:
        """The throttling limits, for the library's sign-in and token checks."""
        return AuthLimits(self.signin_account_failures, self.signin_client_failures,
                          self.signin_window_s, self.token_client_failures,
                          self.token_window_s)


class AppContext:
    """What every route needs: the library, settings and templates.

    FastAPI runs routes on a pool of threads, all sharing one library and none waiting for
    another: the library's store reads on a read-only connection of the calling thread and
    writes through its one write connection, a transaction at a time (datasette's shape);
    the search index, the vectors and the model are shared, read-only. Slow work (ingest,
    indexing, embedding) runs in the job worker, never in a request.
    """

    def __init__(self, library: Library, settings: WebSettings) -> None:
        self._library = library
        self.settings = settings
        self.templates = _templates(settings)

    @contextmanager
    def library(self) -> Iterator[Library]:
        """The library, for one request (no lock: see the class)."""
        yield self._library

    def render(self, request: Request, name: str, context: dict[str, Any],
               status_code: int = 200) -> HTMLResponse:
        """A page from ``templates/name``, escaped (autoescape is on for every template)."""
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)


def context(request: Request) -> AppContext:
    """The app's context, as routes reach it."""
    ctx: AppContext = request.app.state.paperatlas
    return ctx


def _templates(settings: WebSettings) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("paperatlas.web", "templates"),
        autoescape=True,  # every title and abstract is text, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the package: no stat() of each per page
    )
    env.globals.update(
        site_title=settings.title, version=__version__, modes=MODES,
        paper_url=present.paper_url, tree_url=present.tree_url, urls=SITE,
        sentence_url=SITE.sentence,
    )
    env.filters.update(segments=present.segments, id_links=present.id_links,
                       web_links=present.web_links, source_badges=present.source_badges,
                       upvotes=present.upvotes, signal_items=present.signal_items,
                       sentences=present.abstract_sentences, when=present.when)
    return Jinja2Templates(env=env)
