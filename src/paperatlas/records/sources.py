"""Typed records of live sources: what a library follows, and what each sync did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

#: The kinds of source ``sources add --kind`` accepts.
SOURCE_KINDS: tuple[str, ...] = (
    "arxiv", "arxiv-oai", "arxiv-rss", "hf-daily", "openalex", "semantic-scholar", "pubmed",
    "biorxiv", "medrxiv")


@dataclass(frozen=True)
class SourceSpec:
    """What a user configures once: which remote source, what to ask of it, how often."""

    name: str
    kind: str
    query: str | None = None
    category: str | None = None
    since: str | None = None  # YYYY-MM-DD: the first day to fetch (backfill)
    collection: str | None = None
    every_seconds: int = 86_400
    base_url: str | None = None  # replaces scheme and host of every URL asked

    def settings(self) -> dict[str, Any]:
        """What is stored in ``live_sources.settings``."""
        return {k: v for k, v in (("query", self.query), ("category", self.category),
                                  ("since", self.since), ("base_url", self.base_url))
                if v is not None}


@dataclass
class SourceState:
    """A configured source with where it stands: cursor, last run, counts, last error."""

    json_computed: ClassVar[tuple[str, ...]] = ()

    id: int
    spec: SourceSpec
    paused: bool
    cursor: dict[str, Any]
    created_at: str
    last_run_at: str | None = None
    last_ok_at: str | None = None
    next_due_at: str | None = None
    runs: int = 0
    records: int = 0
    added: int = 0
    last_error: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def due(self, now: str) -> bool:
        return not self.paused and (self.next_due_at is None or self.next_due_at <= now)


@dataclass
class SyncReport:
    """What syncing one source did (or, on a dry run, would do)."""

    source: str
    kind: str
    dry_run: bool = False
    pages: int = 0
    records: int = 0
    added: int = 0
    merged: int = 0
    skipped: int = 0
    rejected: int = 0
    requests: int = 0
    seconds: float = 0.0
    cursor: dict[str, Any] = field(default_factory=dict)  # where the source now stands
    done: bool = False  # nothing more to fetch now
    error: str | None = None  # why the run stopped early (the cursor stays before it)
    rejections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None
