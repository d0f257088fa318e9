"""RSS 2.0 and Atom feeds under ``/feeds``, with ``ETag`` and ``Last-Modified``.

``/feeds/newest.rss`` (or ``.atom``), ``/feeds/trending.rss?window=&collection=&node=``,
``/feeds/collections/NAME.rss``, ``/feeds/trees/NAME/nodes/ID.rss`` and
``/feeds/search.rss?q=&mode=``. The ``ETag`` is a hash of the feed's bytes; a request whose
``If-None-Match`` names it (or, without ``If-None-Match``, whose ``If-Modified-Since`` is
not older than the feed's latest change) is answered 304 with no body.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ..errors import InvalidOptionError
from ..follow.feeds import FEED_FORMATS, MEDIA_TYPES, Feed, render_feed
from ..follow.trending import parse_node
from .context import context
from .present import tree_name

router = APIRouter(prefix="/feeds", include_in_schema=False)

Limit = Annotated[int, Query(ge=1, le=200)]


def feed_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(request: Request, etag: str, updated: datetime) -> bool:
    """Whether the client's copy is current (``If-None-Match`` wins over
    ``If-Modified-Since``, as RFC 9110 says)."""
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or etag in tags
    since_text = request.headers.get("if-modified-since")
    if not since_text:
        return False
    try:
        since = parsedate_to_datetime(since_text)
    except (TypeError, ValueError, IndexError):
        return False  # an unreadable date is ignored
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return updated.replace(microsecond=0) <= since


def _answer(request: Request, feed: Feed, fmt: str) -> Response:
    ctx = context(request)
    base = ctx.settings.public_url  # never the request's Host (see web/hosts.py)
    query = f"?{request.url.query}" if request.url.query else ""
    body = render_feed(feed, fmt, base_url=base, self_url=base + request.url.path + query,
                       site_title=ctx.settings.title)
    etag = feed_etag(body)
    headers = {"ETag": etag, "Last-Modified": format_datetime(feed.updated, usegmt=True),
               "Cache-Control": "no-cache"}  # may be kept, but ask (cheaply, by ETag) first
    if not_modified(request, etag, feed.updated):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


def _format(fmt: str) -> str:
    if fmt not in FEED_FORMATS:
        raise InvalidOptionError("feed format", fmt, FEED_FORMATS)
    return fmt


@router.get("/newest.{fmt}")
def newest(request: Request, fmt: str, limit: Limit = 50) -> Response:
    """The newest papers of the library (the home page)."""
    fmt = _format(fmt)
    with context(request).library() as lib:
        feed = lib.follow.feed("newest", limit=limit)
    return _answer(request, feed, fmt)


@router.get("/trending.{fmt}")
def trending(request: Request, fmt: str, window: str = "week", collection: str = "",
             node: str = "", limit: Limit = 50) -> Response:
    """The trending papers of a window (of a collection and/or under a topic)."""
    fmt = _format(fmt)
    tree, node_id = parse_node(node)
    with context(request).library() as lib:
        feed = lib.follow.feed("trending", window=window, collection=collection or None, tree=tree,
                               node=node_id, limit=limit)
    return _answer(request, feed, fmt)


@router.get("/search.{fmt}")
def search(request: Request, fmt: str, q: str = "", mode: str = "",
           limit: Limit = 50) -> Response:
    """A saved search: the papers that best match ``q`` (new matches appear as they come)."""
    fmt = _format(fmt)
    with context(request).library() as lib:
        feed = lib.follow.feed("search", query=q, mode=mode or None, limit=limit)
    return _answer(request, feed, fmt)


@router.get("/trees/{name}/nodes/{node:int}.{fmt}")
def node(request: Request, name: str, node: int, fmt: str, limit: Limit = 50) -> Response:
    """The newest papers under a topic (its whole subtree)."""
    fmt = _format(fmt)
    with context(request).library() as lib:
        feed = lib.follow.feed("node", tree=tree_name(name), node=node, limit=limit)
    return _answer(request, feed, fmt)


@router.get("/collections/{name:path}")
def collection(request: Request, name: str, limit: Limit = 50) -> Response:
    """The newest papers of a collection: ``NAME.rss`` or ``NAME.atom``."""
    stem, dot, fmt = name.rpartition(".")
    if not dot or not stem:
        raise InvalidOptionError("feed", name, [f"NAME.{f}" for f in FEED_FORMATS])
    fmt = _format(fmt)
    with context(request).library() as lib:
        feed = lib.follow.feed("collection", collection=stem, limit=limit)
    return _answer(request, feed, fmt)
