"""Typed records of papers and their ingest: what parsers read, the store holds and the edges
show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .serialize import json_field

#: Identifier schemes paperatlas understands, in the order used to pick a key.
ID_SCHEMES: tuple[str, ...] = ("arxiv", "doi", "pmid", "pmcid", "s2", "openalex")
#: Author identifier schemes: an ORCID iD, a Semantic Scholar or OpenAlex author id, a
#: Hugging Face account (see :mod:`paperatlas.author_ids`).
AUTHOR_ID_SCHEMES: tuple[str, ...] = ("orcid", "s2", "openalex", "hf")


@dataclass(frozen=True)
class AuthorIds:
    """The identifiers a source gives one of a record's authors: ``name`` as in the
    record's ``authors``, ``ids`` scheme -> normalized value (``{"orcid": "0000-..."}``)."""

    name: str
    ids: dict[str, str]


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
    #: The identifiers of those authors that the source gives any for (kept with the
    #: record's source row, so a paper keeps every source's).
    author_ids: list[AuthorIds] = field(default_factory=list)
    #: Why the parser could not read this record (it is reported as rejected).
    error: str | None = None


@dataclass(frozen=True)
class Rejection:
    """A record that was not stored, and why (its file is the report's)."""

    path: str = field(metadata=json_field(omit=True))
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
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class IngestReport:
    """The summary of one ``ingest`` call over one or more files."""

    json_computed: ClassVar[tuple[str, ...]] = (
        "records", "added", "merged", "skipped", "rejected", "failed_files")

    run_id: int | None
    dry_run: bool
    files: list[FileReport] = field(default_factory=list, metadata=json_field(last=True))

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

    @property
    def failed_files(self) -> int:
        return len(self.failed)


@dataclass(frozen=True)
class SourceInfo:
    """Where one record of a paper came from."""

    path: str
    format: str
    line: int
    entry: int
    source_key: str | None
    ingested_at: str
    sha256: str = field(metadata=json_field(omit=True))
    #: e.g. listed_on
    extra: dict[str, Any] = field(default_factory=dict, compare=False,
                                  metadata=json_field(omit=True))


@dataclass
class Paper:
    """A paper as the library holds it, after merging all its sources (its JSON names it by
    key: the integer id and the time it was added stay inside)."""

    id: int = field(metadata=json_field(omit=True))
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
    created_at: str = field(default="", metadata=json_field(omit=True))


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


@dataclass(frozen=True)
class Candidate:
    """What dedup needs to know about a stored paper to decide a merge."""

    paper_id: int
    norm_title: str
    abstract: str
    ids: dict[str, frozenset[str]]


@dataclass(frozen=True)
class Shown:
    """What a search result shows of a paper (read in one query, none of its identifiers)."""

    key: str
    title: str
    abstract: str
    year: int | None
    authors: list[str]
