"""A topic's overview (``paperatlas review TREE:ID`` on the web): the page behind a topic's
"Overview" button, its downloads (Markdown, HTML, BibTeX) and ``POST /api/review``."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from starlette.responses import HTMLResponse, Response

from ..bounds import MAX_ID
from ..errors import InvalidOptionError
from ..records.review import Review
from ..records.serialize import to_json
from ..search import review as core
from .context import AppContext, context
from .present import tree_name

router = APIRouter()

#: Downloads of an overview: suffix -> (format, media type).
DOWNLOADS: dict[str, tuple[str, str]] = {
    "md": ("markdown", "text/markdown; charset=utf-8"),
    "html": ("html", "text/html; charset=utf-8"),
    "bib": ("bibtex", "application/x-bibtex; charset=utf-8"),
    "json": ("json", "application/json"),
}
NodeId = Annotated[int, Path(ge=0, le=MAX_ID)]
REVIEW_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad topic (TREE:ID) or limit; the message lists the valid ones."},
    409: {"description": "The library has no embedding model or vectors yet."},
    502: {"description": "The language model's endpoint failed or timed out."},
}


def _review(ctx: AppContext, node: str, llm: bool, **limits: int) -> Review:
    with ctx.library() as lib:
        return lib.review(node, llm=ctx.settings.llm if llm else None, **limits)


@router.get("/trees/{name}/nodes/{node}/overview", response_class=HTMLResponse)
def overview(request: Request, name: str, node: NodeId,
             llm: Annotated[bool, Query(description="Have the server's chat model write "
                                        "a paragraph per section.")] = False) -> HTMLResponse:
    """The topic's sub-topics as the sections of a literature review, each with its
    representative papers and their key sentences (linked to their place), and the
    references; with ``llm=1`` (and a chat model), a checked paragraph per section."""
    ctx = context(request)
    name = tree_name(name)
    review = _review(ctx, f"{name}:{node}", llm)
    return ctx.render(request, "overview.html", {"review": review,
                                                 "llm": ctx.settings.llm_model})


@router.get("/trees/{name}/nodes/{node}/overview.{suffix}")
def overview_download(request: Request, name: str, node: NodeId, suffix: str,
                      llm: bool = False) -> Response:
    """The overview as a file: ``md`` (Markdown), ``html`` (standalone), ``bib`` (BibTeX
    of every cited paper) or ``json``."""
    if suffix not in DOWNLOADS:
        raise InvalidOptionError("overview download", suffix, list(DOWNLOADS))
    ctx = context(request)
    name = tree_name(name)
    review = _review(ctx, f"{name}:{node}", llm)
    fmt, media = DOWNLOADS[suffix]
    with ctx.library() as lib:
        if fmt == "bibtex":
            out = io.StringIO()
            lib.review.bibtex(review, out)
            body = out.getvalue()
        else:
            body = lib.review.render(review, fmt)
    filename = f"overview-{''.join(c if c.isalnum() else '-' for c in name)}-{node}.{suffix}"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/api/review", tags=["trees"], responses=REVIEW_ERRORS)
def api_review(request: Request,
               node: Annotated[str, Body(description="The topic: TREE:ID.")],
               sections_max: Annotated[int, Body(ge=1, le=50)] = core.SECTIONS,
               papers_per_section: Annotated[int, Body(ge=1, le=20)] = core.PAPERS,
               sentences_per_paper: Annotated[int, Body(ge=1, le=10)] = core.SENTENCES,
               llm: Annotated[bool, Body(description="Have the server's chat model write a "
                                         "paragraph per section, when it has one.")] = True,
               ) -> dict[str, Any]:
    """A literature review of a topic: ``sections`` (one per sub-topic: label, size,
    keywords, representative ``papers`` with their key sentences as ``evidence``; with a
    model a checked ``paragraph``), the ``references`` and, with a model, the overall
    citation ``precision``."""
    review = _review(context(request), node, llm, sections_max=sections_max,
                     papers_per_section=papers_per_section,
                     sentences_per_paper=sentences_per_paper)
    return to_json(review)
