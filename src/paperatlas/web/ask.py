"""The Ask page and ``POST /api/ask``: questions answered with the library's sentences,
each one cited (the same ``lib.ask`` call as ``paperatlas ask``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from starlette.responses import HTMLResponse

from ..errors import InvalidOptionError
from ..facade.ask import MAX_QUESTION
from ..records.evidence import Answer
from ..records.serialize import to_json
from .context import context

router = APIRouter()

#: Papers a scope may list.
MAX_PAPERS = 200
ASK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad question or scope; the message lists the valid values."},
    409: {"description": "The library has no embedding model or vectors yet."},
    502: {"description": "The language model's endpoint failed or timed out."},
}


@dataclass(frozen=True)
class AskForm:
    """The Ask page's fields, as its query string gives them (blank: not given)."""

    q: str = ""
    collection: str = ""
    node: str = ""
    papers: str = ""

    def keys(self) -> list[str]:
        """The listed papers, split at spaces and commas (at most :data:`MAX_PAPERS`)."""
        return paper_keys(re.split(r"[\s,]+", self.papers))

    @property
    def scoped(self) -> bool:
        return any((self.collection, self.node, self.papers))


def paper_keys(keys: list[str]) -> list[str]:
    """``keys`` without blanks, at most :data:`MAX_PAPERS` (else a 400)."""
    keys = [k.strip() for k in keys if k.strip()]
    if len(keys) > MAX_PAPERS:
        raise InvalidOptionError("papers in a scope", len(keys), [f"1 to {MAX_PAPERS}"])
    return keys


@router.get("/ask", response_class=HTMLResponse)
def ask_page(request: Request, q: str = "", collection: str = "", node: str = "",
             papers: str = "") -> HTMLResponse:
    """A question box with its scope, and the answer: the best sentences grouped by paper,
    each linked to its place in the paper, or what came nearest when nothing answers."""
    ctx = context(request)
    form = AskForm(q, collection, node, papers)
    answer: Answer | None = None
    with ctx.library() as lib:
        collections = lib.collections.all()
        if form.q.strip():
            answer = lib.ask(form.q, collection=form.collection.strip() or None,
                             node=form.node.strip() or None, papers=form.keys())
    return ctx.render(request, "ask.html", {"form": form, "answer": answer,
                                            "collections": collections})


@router.post("/api/ask", tags=["search"], responses=ASK_ERRORS)
def api_ask(request: Request,
            question: Annotated[str, Body(max_length=MAX_QUESTION, description="The question.")],
            collection: Annotated[str | None, Body(
                description="Only papers of this collection.")] = None,
            node: Annotated[str | None, Body(
                description="Only papers of this topic and below (TREE:ID).")] = None,
            papers: Annotated[list[str] | None, Body(
                description="Only these papers (keys or identifiers).")] = None,
            ) -> dict[str, Any]:
    """Answer ``question`` from the library's sentences: ``evidence`` (key, sentence index,
    text, score), the cited ``papers``, ``abstained`` and ``message`` (what came
    ``nearest`` when nothing answers), ``pending`` and ``timings`` (ms)."""
    with context(request).library() as lib:
        answer = lib.ask(question, collection=collection or None, node=node or None,
                         papers=paper_keys(papers or []))
    return to_json(answer)
