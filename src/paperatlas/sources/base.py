"""The interface every remote source implements, and the registry of kinds.

A source turns its stored cursor into pages: each :class:`Page` is one answer of the
remote API (bytes, parsed exactly like a saved file of ``format``) with the cursor after
it. The sync stores each page's records and its cursor in one transaction, so a failed
page or a killed process leaves the cursor before the page, and the next run asks it
again. A source module is small: where to ask, how to page, how polite to be.
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from ..errors import InvalidOptionError
from ..records.sources import SOURCE_KINDS, SourceSpec
from .http import Answer, Http, Politeness, SourceError, rebase


@dataclass(frozen=True)
class Page:
    """One answer of a source and where the source stands once its records are stored."""

    body: bytes
    url: str  # what was asked (the records' provenance)
    format: str  # the parser that reads ``body`` (``paperatlas ingest --format``)
    name: str  # a file-like name for messages ("arxiv-oai/2026-12-04-p3.xml")
    cursor: dict[str, Any]
    done: bool = False  # nothing more to fetch for now


@dataclass(frozen=True)
class SourceContext:
    """What sources need from settings (read at the edge) and the clock."""

    now: datetime  # UTC: when the run started
    contact: str | None = None  # email: User-Agent, OpenAlex ``mailto``, PubMed ``email``
    api_keys: Mapping[str, str] = field(default_factory=dict)  # by kind
    #: How many days a source without ``since`` reaches back on its first run.
    first_days: int = 1

    @property
    def today(self) -> date:
        return self.now.date()


@dataclass(frozen=True)
class SourceSettings:
    """What syncs take from settings (read at the edge): politeness (contact address,
    timeouts, pacing) and API keys by source kind."""

    politeness: Politeness = field(default_factory=Politeness)
    api_keys: Mapping[str, str] = field(default_factory=dict)
    first_days: int = 1  # how far back a source without --since starts


class Source(ABC):
    """One remote source. Subclasses set ``kind``, ``base`` and ``interval`` and write
    :meth:`pages`; ``needs`` names the spec fields a kind requires."""

    kind: ClassVar[str]
    #: Scheme and host of the real API (``--base-url`` replaces them).
    base: ClassVar[str]
    #: Seconds between two requests to the host, as the API documents it.
    interval: ClassVar[float] = 1.0
    #: Spec fields this kind needs (``"query"``, ``"category"``): checked at ``sources add``.
    needs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: SourceSpec, http: Http, context: SourceContext) -> None:
        self.spec = spec
        self.http = http
        self.context = context

    @classmethod
    def check(cls, spec: SourceSpec) -> None:
        """Raise :class:`InvalidOptionError` when the spec lacks what this kind needs."""
        for name in cls.needs:
            if not getattr(spec, name):
                raise InvalidOptionError(name, None, [f"a {name} for a {cls.kind} source "
                                                      f"(--{name})"])

    def url(self, path: str) -> str:
        """The URL of ``path`` on this source's host (or ``--base-url``'s)."""
        return rebase(self.base + path, self.spec.base_url)

    def get(self, url: str, **kwargs: Any) -> Answer:
        return self.http.get(url, interval=self.interval, **kwargs)

    def start(self) -> date:
        """The first day to fetch when the cursor is empty: ``since``, else yesterday."""
        if self.spec.since:
            return date.fromisoformat(self.spec.since)
        return date.fromordinal(self.context.today.toordinal() - self.context.first_days)

    @abstractmethod
    def pages(self, cursor: dict[str, Any]) -> Iterator[Page]:
        """The pages after ``cursor`` (``{}``: a first run), each with the cursor after
        it; ends when nothing more is there for now."""


def answer_json(body: bytes, url: str, what: str) -> Any:
    """The JSON document of an answer; a garbled one (``what`` names the answer expected)
    stops the run at this page, which the next run asks again."""
    try:
        return json.loads(body)
    except ValueError as exc:
        raise SourceError(f"{url}: not {what} (invalid JSON: {exc}); the next run asks it "
                          "again") from exc


#: kind -> "module:Class" under paperatlas.sources (imported on first use).
_CLASSES: dict[str, str] = {
    "arxiv": "arxiv_api:ArxivApiSource",
    "arxiv-oai": "arxiv_oai:ArxivOaiSource",
    "arxiv-rss": "arxiv_rss:ArxivRssSource",
    "hf-daily": "hf_daily:HfDailySource",
    "openalex": "openalex:OpenAlexSource",
    "semantic-scholar": "semantic_scholar:SemanticScholarSource",
    "pubmed": "pubmed:PubMedSource",
    "biorxiv": "biorxiv:BiorxivSource",
    "medrxiv": "biorxiv:MedrxivSource",
}
assert tuple(_CLASSES) == SOURCE_KINDS


def source_class(kind: str) -> type[Source]:
    """The class of a source kind; a bad kind lists the valid ones."""
    if kind not in _CLASSES:
        raise InvalidOptionError("kind", kind, SOURCE_KINDS)
    module, name = _CLASSES[kind].split(":")
    cls: type[Source] = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    return cls
