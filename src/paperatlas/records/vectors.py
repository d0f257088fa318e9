"""Typed records of vectors moved in and out of a library (``paperatlas vectors``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class VectorImportReport:
    """What ``vectors import`` did with a file's rows: written (marked up to date, so the
    index job does not embed those papers again), or skipped as naming no paper (the
    first few kept in ``unknown_keys``) or a paper already given by an earlier row."""

    file: str
    model: str
    dimension: int
    rows: int
    imported: int
    unknown: int
    repeated: int
    vectors: int  # the library's vectors after the import
    unknown_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VectorExportReport:
    """What ``vectors export`` wrote: each paper's vectors, named by its key."""

    file: str
    model: str
    dimension: int
    vectors: int
