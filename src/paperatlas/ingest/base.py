"""The parser interface: one small class per input format."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

from ..records.papers import Record
from .mapping import FieldMap
from .prepare import Prepared, prepare
from .source import InputFile, Lines


class Parser(ABC):
    """Turns one input file into :class:`Record` objects.

    A parser raises :class:`~paperatlas.errors.ParseError` (naming the line)
    for a malformed file and yields records with an empty title for entries
    that have none; validation and rejection happen in the ingest pipeline.
    A record the parser cannot read (too long, nested too deep, cut off at the
    end of the file) is yielded with ``error`` set and is reported as rejected.
    """

    #: The name users pass as ``--format``.
    name: ClassVar[str]
    #: File name suffixes that suggest this format.
    suffixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, mapping: FieldMap | None = None) -> None:
        self.mapping = mapping or FieldMap()

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        """Whether the file looks like this format (from its name and first KB)."""
        return False

    @classmethod
    def fits(cls, file: InputFile) -> bool:
        """Whether a file that only its suffix names as this format can be read as it (a
        check of the first KB's shape; the suffix alone is enough unless overridden)."""
        return True

    @abstractmethod
    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        """Yield the file's records; ``fh`` yields ``(line_number, text)``."""

    def prepared(self, file: InputFile, fh: Lines, after: int = 0) -> Iterator[Prepared]:
        """:meth:`parse`'s records, each prepared for storage (:func:`~.prepare.prepare`),
        those up to entry ``after`` (stored by an earlier run) passed over unprepared; a
        parser that decodes in a helper process prepares them there (and may prepare
        those too: the caller passes over them again)."""
        return (prepare(rec) for rec in self.parse(file, fh) if rec.entry > after)
