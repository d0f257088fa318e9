"""The HTML pages: home feed, search, paper, the topic tree explorer and the map."""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse

from ..author_ids import on_paper
from ..bounds import MAX_ID, MAX_LIST, max_page, page_offset
from ..errors import InvalidOptionError, NotFoundError, PaperatlasError
from ..library import Library
from ..mapview.reader import MAX_BUDGET
from ..records.trees import ROOT, UNSORTED
from ..treeview import display_label
from . import present
from .api import tree_json
from .auth import session_user
from .context import context
from .search_form import SearchForm
from .writes import edit_targets

router = APIRouter(include_in_schema=False)

Page = Annotated[int, Query(ge=1, description="1-based; bounds.page_offset checks the last.")]


def _blank(value: str | None) -> str | None:
    """An empty form field means "not given"."""
    return (value or "").strip() or None


#: The tabs of the home page.
HOME_TABS: tuple[str, ...] = ("newest", "trending")


@router.get("/", response_class=HTMLResponse)
def home(request: Request, page: Page = 1, collection: str | None = None,
         tab: str = "newest", window: str = "week") -> HTMLResponse:
    """The newest papers, grouped by day (or the trending ones of a window), beside the
    collections and trees."""
    ctx = context(request)
    size = ctx.settings.page_size
    chosen = _blank(collection)
    if tab not in HOME_TABS:
        raise InvalidOptionError("tab", tab, HOME_TABS)
    with ctx.library() as lib:
        trending = tab == "trending"
        hot = lib.follow.trending(window, collection=chosen, limit=size) if trending else None
        papers = [t.paper for t in hot.papers] if hot else list(lib.papers(
            collection=chosen, limit=size, offset=page_offset(page, size, MAX_LIST),
            order="recent"))
        total = len(papers) if hot else lib.papers.count(chosen)
        votes = lib.follow.votes([p.key for p in papers], session_user(request))
        signals = lib.papers.signals(papers)
        collections = lib.collections.all()
        trees = lib.trees.all()
        pending, working = lib.search.pending(), len(lib.jobs.unfinished())
    pager = present.Pager(page, size, total, (("collection", chosen or ""),),
                          max_page(size, MAX_LIST))
    return ctx.render(request, "home.html", {
        "days": present.by_day(papers), "total": total, "pager": pager, "trending": hot,
        "tab": tab, "window": window, "votes": votes, "signals": signals,
        "collection": chosen, "collections": collections, "trees": trees,
        "pending": pending, "working": working})


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, form: Annotated[SearchForm, Depends()],
           page: Page = 1) -> HTMLResponse:
    """Search with mode and filters; the URL holds the whole query, so it can be shared."""
    ctx = context(request)
    size = ctx.settings.page_size
    query = form.query(limit=size, offset=page_offset(page, size))
    with ctx.library() as lib:
        collections = lib.collections.all()
        result = lib.search(query)
        votes = lib.follow.votes([hit.key for hit in result.hits], session_user(request))
    pager = present.Pager(page, size, result.total, form.items(), max_page(size))
    return ctx.render(request, "search.html", {
        "form": form, "q": form.q, "result": result, "pager": pager,
        "collections": collections, "votes": votes, "filtered": form.filtered})


@router.get("/papers/{key:path}", response_class=HTMLResponse)
def paper(request: Request, key: str) -> HTMLResponse:
    """A paper with its identifiers, sources, collections, topics and similar papers."""
    ctx = context(request)
    with ctx.library() as lib:
        found = lib.papers.get(key)
        topics = lib.trees.topics_of(found.key)
        similar = lib.search.similar([found.key], limit=ctx.settings.similar)
        names = [c.name for c in lib.collections.all()] if session_user(request) else []
        votes = lib.follow.votes([found.key], session_user(request))
        signals = lib.papers.signals([found]).get(found.key)
        cite = lib.export.text("bibtex", papers=[found.key])
    return ctx.render(request, "paper.html", {
        "paper": found, "topics": topics, "similar": similar.hits, "all_collections": names,
        "votes": votes, "signals": signals, "cite": cite, "author_ids": on_paper(found)})


@router.get("/similar", response_class=HTMLResponse)
def similar(request: Request, paper: str, mode: str = "") -> HTMLResponse:
    """More like this: the papers most like one, with their scores as they are (cosines in
    the default semantic mode) and the mode to change."""
    ctx = context(request)
    with ctx.library() as lib:
        found = lib.papers.get(paper)
        page = lib.search.similar([found.key], limit=ctx.settings.page_size,
                                  mode=_blank(mode))
    return ctx.render(request, "similar.html", {"paper": found, "result": page,
                                                "mode": _blank(mode) or ""})


@router.get("/trees", response_class=HTMLResponse)
def trees(request: Request) -> HTMLResponse:
    """The library's topic trees."""
    ctx = context(request)
    with ctx.library() as lib:
        items = lib.trees.all()
    return ctx.render(request, "trees.html", {"trees": items})


@router.get("/trees/{name}", response_class=HTMLResponse)
def tree(request: Request, name: str) -> HTMLResponse:
    """The explorer: a treemap and the collapsible outline, from the tree's JSON export."""
    ctx = context(request)
    name = present.tree_name(name)
    doc = json.loads(tree_json(request, name))
    with ctx.library() as lib:
        picture = lib.trees.picture(name)
    nodes: list[dict[str, Any]] = doc["nodes"]
    children: dict[int | None, list[dict[str, Any]]] = {}
    for n in nodes:  # the export lists parents first and children in display order
        n["title"] = display_label(n["label"], n["kind"], n["id"])
        children.setdefault(n["parent"], []).append(n)
    root = next(n for n in nodes if n["parent"] is None)
    topics = sum(1 for n in nodes if n["kind"] not in (ROOT, UNSORTED))
    return ctx.render(request, "tree.html", {
        "name": name, "root": root, "children": children, "topics": topics,
        "settings": doc["settings"], "picture": _svg(picture)})


@router.get("/trees/{name}/nodes/{node}", response_class=HTMLResponse)
def node(request: Request, name: str,
         node: Annotated[int, Path(ge=0, le=MAX_ID)],
         page: Annotated[int, Query(ge=1, le=MAX_ID)] = 1) -> HTMLResponse:
    """One topic: path, keywords, sub-topics (with their treemap) and the papers of its
    subtree, a page at a time, best first."""
    ctx = context(request)
    name = present.tree_name(name)
    with ctx.library() as lib:
        topic = lib.trees.node(name, node, page)
        picture = lib.trees.picture(name, node) if topic.children else ""
        editor = session_user(request) is not None and topic.kind == "topic"
        targets = edit_targets(lib.trees.get(name), node) if editor else []
    return ctx.render(request, "node.html", {"topic": topic, "picture": _svg(picture),
                                             "editor": editor, "targets": targets})


def _svg(picture: str) -> Markup:
    """The core's treemap SVG, which escapes every label it writes, as markup."""
    return Markup(picture)


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, collection: str = "", tree: str | None = None,
             budget: Annotated[int | None, Query(ge=1, le=MAX_BUDGET)] = None) -> HTMLResponse:
    """The 2-D map of the papers (of a collection), coloured by a tree's first-level topics:
    by default the first tree made on that collection, else the first tree; ``budget``: the
    most points a view draws (the page's default: 150,000)."""
    ctx = context(request)
    chosen = _blank(collection)
    with ctx.library() as lib:
        collections = lib.collections.all()
        trees = lib.map.trees()
        if chosen and chosen not in {c.name for c in collections}:
            raise NotFoundError(f"no collection named {chosen!r}")
        colour = _blank(tree)
        if tree is None:
            colour = next((t.name for t in trees if t.collection == chosen),
                          trees[0].name if trees else None)
        elif colour and colour not in {t.name for t in trees}:
            raise NotFoundError(f"no tree named {colour!r}")
        _prepare_map(lib, chosen, colour)
        info = lib.map.info()
    query = urlencode({"collection": chosen or "", "tree": colour or ""})
    return ctx.render(request, "map.html", {
        "info": info, "collections": collections, "trees": trees, "collection": chosen,
        "tree": colour, "api": "/api/map?" + query, "points": "/api/map/points?" + query,
        "budget": budget})


def _prepare_map(lib: Library, collection: str | None, tree: str | None) -> None:
    """Compute the first window's colours in a thread while the page and its script load
    (seconds for a tree of millions of papers; any error shows when the page asks)."""
    def run() -> None:
        with contextlib.suppress(PaperatlasError):
            lib.map.prepare(collection=collection, tree=tree)

    threading.Thread(target=run, name="map-prepare", daemon=True).start()
