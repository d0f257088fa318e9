"""Typed records that flow between the parsers, the store and the edges."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Identifier schemes paperatlas understands, in the order used to pick a key.
ID_SCHEMES: tuple[str, ...] = ("arxiv", "doi", "pmid", "pmcid", "s2", "openalex")


@dataclass
class Record:
    """One paper as a source file describes it, before dedup.

    ``line`` is the 1-based line where the record starts and ``entry`` its
    1-based position in the file; both locate the record for provenance.
    """

    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    date: str | None = None
    venue: str | None = None
    categories: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)
    source_key: str | None = None
    line: int = 0
    entry: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: Why the parser could not read this record (it is reported as rejected).
    error: str | None = None


@dataclass(frozen=True)
class Rejection:
    """A record that was not stored, and why."""

    path: str
    line: int
    entry: int
    reason: str


@dataclass(frozen=True)
class Change:
    """One record that was (or on a dry run would be) added as a paper or merged into one."""

    action: str  # "added" or "merged"
    key: str
    title: str
    line: int
    rule: str  # how it matched: "new", "id:doi", "title", "fuzzy-title", ...


@dataclass
class FileReport:
    """What ingesting one file did (or would do, on a dry run)."""

    path: str
    format: str | None = None
    collection: str | None = None
    records: int = 0
    added: int = 0
    merged: int = 0
    skipped: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class IngestReport:
    """The summary of one ``ingest`` call over one or more files."""

    run_id: int | None
    dry_run: bool
    files: list[FileReport] = field(default_factory=list)

    def _total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files if f.ok)

    @property
    def added(self) -> int:
        return self._total("added")

    @property
    def merged(self) -> int:
        return self._total("merged")

    @property
    def skipped(self) -> int:
        return self._total("skipped")

    @property
    def rejected(self) -> int:
        return self._total("rejected")

    @property
    def records(self) -> int:
        return self._total("records")

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if not f.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "records": self.records,
            "added": self.added,
            "merged": self.merged,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "failed_files": len(self.failed),
            "files": [
                {
                    "path": f.path,
                    "format": f.format,
                    "collection": f.collection,
                    "records": f.records,
                    "added": f.added,
                    "merged": f.merged,
                    "skipped": f.skipped,
                    "rejected": f.rejected,
                    "rejected_by_reason": f.rejected_by_reason,
                    "rejections": [
                        {"line": r.line, "entry": r.entry, "reason": r.reason}
                        for r in f.rejections
                    ],
                    "changes": [
                        {"action": c.action, "key": c.key, "title": c.title, "line": c.line,
                         "rule": c.rule}
                        for c in f.changes
                    ],
                    "error": f.error,
                    "error_line": f.error_line,
                }
                for f in self.files
            ],
        }


@dataclass(frozen=True)
class SourceInfo:
    """Where one record of a paper came from."""

    path: str
    format: str
    line: int
    entry: int
    source_key: str | None
    ingested_at: str
    sha256: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # e.g. listed_on


@dataclass
class Paper:
    """A paper as the library holds it, after merging all its sources."""

    id: int
    key: str
    title: str
    abstract: str
    authors: list[str]
    date: str | None
    year: int | None
    venue: str | None
    categories: list[str]
    links: list[str]
    ids: dict[str, str] = field(default_factory=dict)
    collections: list[str] = field(default_factory=list)
    sources: list[SourceInfo] = field(default_factory=list)
    created_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "abstract": self.abstract,
            "authors": self.authors,
            "date": self.date,
            "year": self.year,
            "venue": self.venue,
            "categories": self.categories,
            "links": self.links,
            "ids": self.ids,
            "collections": self.collections,
            "sources": [
                {
                    "path": s.path,
                    "format": s.format,
                    "line": s.line,
                    "entry": s.entry,
                    "source_key": s.source_key,
                    "ingested_at": s.ingested_at,
                }
                for s in self.sources
            ],
        }


@dataclass(frozen=True)
class CollectionInfo:
    """A named set of papers."""

    name: str
    papers: int
    created_at: str


@dataclass(frozen=True)
class Stats:
    """Counts over the whole library."""

    papers: int
    sources: int
    collections: int
    files: int
    ingest_runs: int
    with_abstract: int
    identifiers: dict[str, int]
    last_ingest: str | None
    schema_version: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Candidate:
    """What dedup needs to know about a stored paper to decide a merge."""

    paper_id: int
    norm_title: str
    abstract: str
    ids: dict[str, frozenset[str]]


@dataclass(frozen=True)
class User:
    """Someone who may sign in to the web app and write (edits, collections, uploads)."""

    name: str
    created_at: str
    tokens: int = 0  # how many API tokens the user has


@dataclass(frozen=True)
class ApiToken:
    """An API token as stored: never the token itself, only what describes it."""

    id: int
    user: str
    label: str
    created_at: str
    last_used_at: str | None


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``token`` is shown once and cannot be read back later."""

    token: str
    info: ApiToken


#: The states of a job, in the order a job goes through them.
JOB_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed")


@dataclass
class Job:
    """Background work (ingest, index, tree update, map placement): progress, result and
    per-record errors."""

    id: int
    kind: str
    status: str
    params: dict[str, Any]
    created_at: str
    created_by: str | None = None
    done: int = 0  # progress, in the job's unit (bytes read for an ingest)
    total: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None  # why a failed job failed
    started_at: str | None = None
    finished_at: str | None = None
    attempts: int = 0  # how many times a process took it (more than one: resumed)
    parent: int | None = None  # the job whose end queued it

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "finished": self.finished}
