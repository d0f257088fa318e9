"""Author pages: ``/authors/NAME`` (or an author key such as ``smith.j``, or an identifier
such as ``orcid:0000-0002-1825-0097``), its JSON twin ``/api/authors/NAME`` and its feed
``/feeds/authors/NAME.rss`` (or ``.atom``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from ..errors import InvalidOptionError
from ..follow.feeds import FEED_FORMATS
from ..records.serialize import to_json
from . import present
from .context import context
from .feeds import _answer

router = APIRouter()

Limit = Annotated[int, Query(ge=1, le=500, description="Papers to list.")]


@router.get("/authors/{name:path}", response_class=HTMLResponse, include_in_schema=False)
def author_page(request: Request, name: str) -> HTMLResponse:
    """An author's papers (newest first), co-authors and topics, with a feed and a
    "follow" link."""
    ctx = context(request)
    with ctx.library() as lib:
        author = lib.authors.get(name, limit=ctx.settings.page_size)
    return ctx.render(request, "author.html", {"author": author})


@router.get("/api/authors/{name:path}", tags=["papers"], responses={
    400: {"description": "Not a name, key or identifier."},
    404: {"description": "No paper by that author."}})
def author_json(request: Request, name: str, limit: Limit = 50) -> dict[str, Any]:
    """An author by name (``J. Smith``, ``Smith, John``, a surname), key (``smith.j``) or
    identifier (``orcid:0000-0002-1825-0097`` or a bare ORCID, ``s2:1741101``,
    ``openalex:A5023888391``, ``hf:USER``): ``key``, ``name``, the ``variants`` met, the
    ``total`` of papers, ``coauthors`` and ``topics`` with paper counts, the ``ids`` the
    sources give them (scheme, value, url), the ``people`` of the same name key that ORCIDs
    tell apart, and the newest ``papers``."""
    with context(request).library() as lib:
        author = lib.authors.get(name, limit=limit)
    return {**to_json(author), "papers": [present.paper_summary(p) for p in author.papers]}


@router.get("/feeds/authors/{name:path}", include_in_schema=False)
def author_feed(request: Request, name: str, limit: Limit = 50) -> Response:
    """An author's newest papers: ``NAME.rss`` or ``NAME.atom``."""
    stem, dot, fmt = name.rpartition(".")
    if not dot or not stem or fmt not in FEED_FORMATS:
        raise InvalidOptionError("feed", name, [f"NAME.{f}" for f in FEED_FORMATS])
    with context(request).library() as lib:
        feed = lib.authors.feed(stem, limit=limit)
    return _answer(request, feed, fmt)
