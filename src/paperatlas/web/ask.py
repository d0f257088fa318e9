"""The Ask page and ``POST /api/ask``: questions answered with the library's sentences,
each one cited (the same ``lib.ask`` call as ``paperatlas ask``).

With a chat model configured (``serve --llm-url/--llm-model``), the API's answers are
written by it and checked, and the page streams the model's answer from ``/ask/stream``
(server-sent events: ``evidence``, then ``delta`` as it writes, then the checked
``answer``; ``failure`` if the endpoint fails on the way) beside the evidence it shows
without one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Request
from starlette.responses import HTMLResponse, StreamingResponse

from ..errors import InvalidOptionError, PaperatlasError
from ..facade.ask import MAX_QUESTION
from ..records.evidence import Answer, AskEvent, EvidenceEvent
from ..records.serialize import to_json
from ..urls import SITE
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

    def scope(self) -> dict[str, Any]:
        """``lib.ask``'s scope arguments."""
        return {"collection": self.collection.strip() or None,
                "node": self.node.strip() or None, "papers": self.keys()}

    def query(self) -> str:
        """The fields as a query string (blank ones left out)."""
        return urlencode({k: v for k, v in vars(self).items() if v})


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
            answer = lib.ask(form.q, **form.scope())
    stream = "/ask/stream?" + form.query() if answer and not answer.abstained and \
        ctx.settings.llm is not None else ""
    return ctx.render(request, "ask.html", {"form": form, "answer": answer, "stream": stream,
                                            "collections": collections,
                                            "llm": ctx.settings.llm_model})


@router.get("/ask/stream")
def ask_stream(request: Request, q: str = "", collection: str = "", node: str = "",
               papers: str = "") -> StreamingResponse:
    """The configured model's answer as server-sent events (see the module); a bad
    question or scope is a 4xx before the first event, a failing endpoint a ``failure``
    event after the evidence."""
    ctx = context(request)
    llm = ctx.settings.llm
    if llm is None:
        raise InvalidOptionError("chat model of this server", "none",
                                 ["serve --llm-url URL --llm-model NAME"])
    form = AskForm(q, collection, node, papers)
    with ctx.library() as lib:
        events = lib.ask.stream(form.q, llm=llm, **form.scope())
        first = next(events)  # bad options raise here, as an HTTP error

    def sent() -> Iterator[str]:
        yield _event(first)
        try:
            for event in events:
                yield _event(event)
        except PaperatlasError as exc:
            failure = {"type": type(exc).__name__, "message": str(exc)}
            yield f"event: failure\ndata: {json.dumps(failure)}\n\n"

    return StreamingResponse(sent(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _event(event: AskEvent) -> str:
    """One server-sent event: its type, and its JSON (evidence with each sentence's link)."""
    data = to_json(event)
    if isinstance(event, EvidenceEvent):
        data["links"] = [SITE.sentence(e.key, e.sentence) for e in event.evidence]
    return f"event: {event.type}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/api/ask", tags=["search"], responses=ASK_ERRORS)
def api_ask(request: Request,
            question: Annotated[str, Body(max_length=MAX_QUESTION, description="The question.")],
            collection: Annotated[str | None, Body(
                description="Only papers of this collection.")] = None,
            node: Annotated[str | None, Body(
                description="Only papers of this topic and below (TREE:ID).")] = None,
            papers: Annotated[list[str] | None, Body(
                description="Only these papers (keys or identifiers).")] = None,
            llm: Annotated[bool, Body(description="Have the server's chat model write the "
                                      "answer, when it has one.")] = True,
            ) -> dict[str, Any]:
    """Answer ``question`` from the library's sentences: ``evidence`` (key, sentence index,
    text, score), the cited ``papers``, ``abstained`` and ``message`` (what came
    ``nearest`` when nothing answers), ``pending`` and ``timings`` (ms). With the server's
    chat model: its answer's ``sentences`` (each with its ``citations``, numbers of
    ``evidence`` from 1, and a ``status``: cited, uncited, miscited), the
    ``citation_precision``, ``verdict`` and ``model``."""
    ctx = context(request)
    with ctx.library() as lib:
        answer = lib.ask(question, collection=collection or None, node=node or None,
                         papers=paper_keys(papers or []), llm=ctx.settings.llm if llm else None)
    return to_json(answer)
