"""``GET /api/export``: papers as a file to download (BibTeX, RIS, CSL-JSON, JSON Lines,
CSV): a collection, a search, a topic with its sub-topics, or papers by key. The links
behind a paper page's Cite box and the Export links of collection and topic pages."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ..bounds import MAX_LIMIT
from ..errors import InvalidOptionError
from ..export import MEDIA
from .context import context

router = APIRouter(prefix="/api")

EXPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad format, mode or limit, no scope or two at once; the message "
                         "lists the valid ones."},
    404: {"description": "No such collection, tree, topic or paper."},
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _blank(value: str | None) -> str | None:
    return value or None


def filename(fmt: str, scope: dict[str, Any]) -> str:
    """A download's name from what it holds: ``paperatlas-<scope>.<suffix>``."""
    papers = scope.get("papers") or []
    what = (scope.get("node") or scope.get("query") or
            (papers[0] if len(papers) == 1 else f"{len(papers)}-papers" if papers else "")
            or scope.get("collection") or "library")
    if scope.get("query"):
        what = f"search-{what}"
    slug = _UNSAFE.sub("-", str(what)).strip("-.")[:60] or "papers"
    return f"paperatlas-{slug}.{MEDIA[fmt][0]}"


@router.get("/export", tags=["papers"], responses=EXPORT_ERRORS)
def export(request: Request,
           format: Annotated[str, Query(description="bibtex, ris, csljson, jsonl or csv.")
                             ] = "bibtex",
           collection: Annotated[str | None, Query(
               description="A collection (with q: search in it).")] = None,
           q: Annotated[str | None, Query(description="The best results of a search.")] = None,
           mode: Annotated[str | None, Query(description="The search's mode.")] = None,
           node: Annotated[str | None, Query(description="A topic and its sub-topics: "
                                             "TREE:ID.")] = None,
           paper: Annotated[list[str] | None, Query(description="Papers by key or identifier "
                                                    "(repeat the parameter).")] = None,
           limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description=(
               "At most this many papers (a search: 100 unless given)."))] = None,
           ) -> Response:
    """The chosen papers as a file (``Content-Disposition: attachment``): one of
    ``collection``, ``q`` (with ``mode``; within ``collection`` if both), ``node`` or
    ``paper``."""
    scope: dict[str, Any] = {"collection": _blank(collection), "query": _blank(q),
                             "mode": _blank(mode), "node": _blank(node),
                             "papers": [p for p in paper or [] if p] or None, "limit": limit}
    if not any(scope[k] for k in ("collection", "query", "node", "papers")):
        raise InvalidOptionError("export scope", "none", [
            "collection", "q", "node", "paper (the whole library: paperatlas export)"])
    with context(request).library() as lib:
        body = lib.export.text(format, **scope)
    return Response(body, media_type=MEDIA[format][1], headers={
        "Content-Disposition": f'attachment; filename="{filename(format, scope)}"'})
