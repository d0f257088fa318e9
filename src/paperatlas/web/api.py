"""The JSON API under ``/api``: the same library calls as the pages, as data."""

from __future__ import annotations

import gzip
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from ..author_ids import on_paper
from ..bounds import MAX_ID, MAX_LIST, MAX_OFFSET
from ..errors import InvalidOptionError
from ..mapview.reader import MAX_BUDGET
from ..records.serialize import to_json
from . import mapbin, present
from .context import context
from .search_form import SearchForm

router = APIRouter(prefix="/api")

Limit = Annotated[int, Query(ge=1, le=200, description="Results per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Results to skip.")]
ListOffset = Annotated[int, Query(ge=0, le=MAX_LIST, description="Papers to skip.")]
NodeId = Annotated[int, Path(ge=0, le=MAX_ID, description="A topic's id.")]
Collection = Annotated[str | None, Query(description="Only papers of this collection.")]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad parameter; the message lists the valid values."},
    404: {"description": "No such paper, collection, tree or topic."},
    409: {"description": "The library lacks what the call needs (a map, paper vectors, an "
                         "embedding model); the message names the command that makes it."},
}


def _blank(value: str | None) -> str | None:
    """An empty form field means "not given"."""
    return value or None


@router.get("/search", tags=["search"], responses=ERRORS)
def search(request: Request, form: Annotated[SearchForm, Depends()], limit: Limit = 10,
           offset: Offset = 0) -> dict[str, Any]:
    """Papers matching ``q``: ``results`` (key, title, score, snippet with highlight spans),
    with ``total`` and the ``mode`` used."""
    query = form.query(limit=limit, offset=offset)
    with context(request).library() as lib:
        page = lib.search(query)
    return to_json(page)


@router.get("/papers", tags=["papers"], responses=ERRORS)
def papers(request: Request, collection: Collection = None, limit: Limit = 20,
           offset: ListOffset = 0,
           order: Annotated[str, Query(description="recent (newest first) or id "
                                       "(as ingested).")] = "recent") -> dict[str, Any]:
    """Papers of the library or a collection, newest first, with the ``total``."""
    with context(request).library() as lib:
        items = list(lib.papers(collection=_blank(collection), limit=limit, offset=offset,
                                order=order))
        total = lib.papers.count(_blank(collection))
    return {"total": total, "offset": offset, "limit": limit,
            "papers": [present.paper_summary(p) for p in items]}


@router.get("/papers/{key:path}", tags=["papers"], responses=ERRORS)
def paper(request: Request, key: str,
          similar: Annotated[int | None, Query(ge=0, le=100,
                                               description="How many similar papers.")] = None,
          ) -> dict[str, Any]:
    """One paper by key or identifier (DOI, arXiv id, ...), with its authors' identifiers
    (``author_ids``: one object per author, ``{"orcid": ...}``), its topics in every tree
    and the papers most ``similar`` to it."""
    ctx = context(request)
    with ctx.library() as lib:
        found = lib.papers.get(key)
        topics = lib.trees.topics_of(found.key)
        count = ctx.settings.similar if similar is None else similar
        near = lib.search.similar([found.key], limit=count) if count else None
    return {**to_json(found), "author_ids": on_paper(found),
            "topics": [to_json(t) for t in topics],
            "similar": present.similar_dicts(near) if near else []}


@router.get("/collections", tags=["papers"])
def collections(request: Request) -> list[dict[str, Any]]:
    """Collections and their sizes."""
    with context(request).library() as lib:
        return [to_json(c) for c in lib.collections.all()]


@router.get("/trees", tags=["trees"])
def trees(request: Request) -> list[dict[str, Any]]:
    """The library's topic trees with their sizes."""
    with context(request).library() as lib:
        return [to_json(t) for t in lib.trees.all()]


@router.get("/trees/{name}", tags=["trees"], responses=ERRORS)
def tree(request: Request, name: str) -> Response:
    """A whole tree: exactly what ``paperatlas tree export --format json`` writes."""
    return Response(tree_json(request, present.tree_name(name)), media_type="application/json")


def tree_json(request: Request, name: str) -> str:
    """The JSON export of a tree (the explorer page reads the same document)."""
    out = io.StringIO()
    with context(request).library() as lib:
        lib.trees.export(name, "json", out)
    return out.getvalue()


@router.get("/trees/{name}/nodes/{node}", tags=["trees"], responses=ERRORS)
def node(request: Request, name: str, node: NodeId,
         page: Annotated[int, Query(ge=1, le=MAX_ID, description="Which page of the "
                                    "topic's papers (``pages`` says how many).")] = 1,
         ) -> dict[str, Any]:
    """One topic: its path, sub-topics with sizes, keywords and page ``page`` of the papers
    of its subtree, best first (``papers_total``, ``page``, ``pages``)."""
    with context(request).library() as lib:
        return to_json(lib.trees.node(present.tree_name(name), node, page))


@router.get("/map", tags=["map"], responses=ERRORS)
def map_points(request: Request, collection: Collection = None,
               tree: Annotated[str | None, Query(description="Colour the points by this "
                                                 "tree's first-level topics.")] = None,
               ) -> Response:
    """The 2-D map as columns, one entry per paper: ``keys``, ``titles``, ``x``, ``y``
    (4 decimals; the fitted map spans [0, 1] on its longer axis) and ``topic`` (an index into
    ``topics``, the tree's first-level topics with their point counts; -1 for none), with the
    ``method``, the ``count`` of points and the ``papers`` in scope. 409 before `map build`,
    and for a map of more than 250,000 points in scope: read those in windows,
    ``/api/map/points``."""
    with context(request).library() as lib:
        view = lib.map.points(collection=_blank(collection), tree=_blank(tree))
    body = json.dumps(to_json(view), ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        # ~14 MB at 100k points; level 1 shrinks it ~3x in about 0.1 s.
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


Coord = Annotated[float | None, Query(ge=-1e6, le=1e6, allow_inf_nan=False,
                                      description="A map coordinate (the map spans [0, 1] "
                                      "on its longer axis).")]


@router.get("/map/points", tags=["map"], responses={
    **ERRORS, 200: {"content": {"application/octet-stream": {}},
                    "description": "The window as typed arrays (layout: below)."}})
def map_window(request: Request, collection: Collection = None,
               tree: Annotated[str | None, Query(description="Colour by this tree's "
                                                 "first-level topics.")] = None,
               x0: Coord = None, y0: Coord = None, x1: Coord = None, y1: Coord = None,
               budget: Annotated[int, Query(ge=1, le=MAX_BUDGET, description="The most "
                                            "points to send.")] = 200_000) -> Response:
    """The points of a box of the map (``x0``, ``y0``, ``x1``, ``y1``; none: the whole map),
    at most ``budget`` of them: those lowest in a fixed random rank, so a uniform sample of
    the box, and a smaller box (a zoom) shows every point a larger one showed there.
    Binary, little-endian: ``PAM1``, a uint32 header length ``H``, a JSON header (the
    window's fields, ``count``, ``complete``, ``topics`` and ``columns``), then ``count``
    float32 x, float32 y, uint32 paper ids and int16 topic indexes. Titles: ``/api/map/paper``.
    409 before `map build`."""
    corners = (x0, y0, x1, y1)
    box = None
    if any(c is not None for c in corners):
        if any(c is None for c in corners):
            raise InvalidOptionError("box", ",".join("" if c is None else str(c)
                                                     for c in corners),
                                     ["all of x0, y0, x1, y1", "none of them"])
        box = (float(x0 or 0), float(y0 or 0), float(x1 or 0), float(y1 or 0))
    with context(request).library() as lib:
        window = lib.map.window(collection=_blank(collection), tree=_blank(tree), box=box,
                                budget=budget)
    return Response(mapbin.pack(window), media_type="application/octet-stream",
                    headers={"Cache-Control": "no-cache"})


@router.get("/map/paper", tags=["map"], responses=ERRORS)
def map_paper(request: Request,
              id: Annotated[int | None, Query(ge=0, le=MAX_ID,
                                              description="A paper id of a point.")] = None,
              x: Coord = None, y: Coord = None, collection: Collection = None,
              ) -> dict[str, Any]:
    """The paper of a point (``id``, as ``/api/map/points`` sends), or the one nearest to
    ``x``, ``y`` (of a collection): ``id``, ``key``, ``title``, ``year``, ``x``, ``y``."""
    with context(request).library() as lib:
        return to_json(lib.map.paper(id, x=x, y=y, collection=_blank(collection)))
