"""What searches and index syncs return: a page of hits, and an index report."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..records.sentences import SentenceReport
from ..records.serialize import json_field
from ..vectors import AnnReport
from .semantic import EmbedReport
from .snippets import Snippet

__all__ = ["IndexReport", "SearchHit", "SearchPage"]


@dataclass(frozen=True)
class SearchHit:
    """One result, named by the paper's key."""

    rank: int
    key: str
    title: str
    score: float
    year: int | None
    authors: list[str]
    snippet: Snippet = field(metadata=json_field(
        flatten={"snippet": "text", "highlights": "highlights"}))


@dataclass
class SearchPage:
    """A page of results and how many papers match in all (``search --json`` and
    ``/api/search`` show it by :func:`~paperatlas.records.serialize.to_json`, hits as
    ``results``)."""

    query: str
    mode: str
    total: int
    offset: int
    limit: int
    hits: list[SearchHit] = field(default_factory=list,
                                  metadata=json_field(key="results", last=True))
    #: Papers added, changed or removed since the indexes this page used were updated.
    pending: int = 0
    #: How many papers have the query's words (the lexical matches), in every mode.
    matched: int | None = None
    #: The best result is no real match (``search.honest``): the page shows the
    #: nearest papers.
    weak: bool = False
    #: How good the best result is, on its mode's scale (``search.honest.strength``).
    strength: float | None = None
    #: The query with its unknown words spelled as the library does, if any.
    suggestion: str | None = None


@dataclass(frozen=True)
class IndexReport:
    """What an index sync did: the lexical index, and the vectors when embedding ran."""

    updated: int
    removed: int
    rebuilt: bool
    documents: int
    embedding: EmbedReport | None = None
    ann: AnnReport | None = None
    #: The abstracts' sentences split (for ``ask``), when embedding ran.
    sentences: SentenceReport | None = None
