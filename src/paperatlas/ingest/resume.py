"""Batches and resumption for big files: how many records commit together, where a
resumed ingest starts reading, and the check that a file parses to its end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import Parser
from .source import InputFile, numbered_lines

#: Records committed together when a file is ingested in batches.
BATCH_RECORDS = 5_000
_CHUNK = 1 << 20
#: Encodings in which a line break is the byte ``\n`` (a line can be found by bytes).
_BYTE_LINES = ("utf-8", "utf-8-sig", "cp1252")
#: Report counts that a resumed file carries on from its last batch.
COUNTS = ("records", "added", "merged", "skipped", "rejected")


@dataclass(frozen=True)
class Resume:
    """Where the last committed batch of a file ended, and its counts up to there."""

    entry: int
    line: int
    state: dict[str, Any]


def one_record_per_line(parser: Parser) -> bool:
    """Whether each of the parser's records is one line, with nothing carried between
    lines (JSON Lines): such a file resumes at a line and needs no check beforehand."""
    return bool(getattr(parser, "one_record_per_line", False))


def line_offset(file: InputFile, lines: int) -> int | None:
    """The byte offset just after the file's first ``lines`` lines, or None when lines
    cannot be counted in bytes (another encoding, or a bare ``\\r`` as a line break)."""
    if file.data is not None or file.encoding not in _BYTE_LINES or lines <= 0:
        return None
    seen = offset = 0
    with file.path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            count = chunk.count(b"\n")
            if seen + count < lines:
                if chunk.count(b"\r") != chunk.count(b"\r\n"):
                    return None
                seen += count
                offset += len(chunk)
                continue
            pos = -1
            for _ in range(lines - seen):
                pos = chunk.index(b"\n", pos + 1)
            if chunk.count(b"\r", 0, pos + 1) != chunk.count(b"\r\n", 0, pos + 1):
                return None
            return offset + pos + 1
    return None  # the file has fewer lines than that (it changed?)


def parses_whole(file: InputFile, parser: Parser) -> None:
    """Parse the whole file and drop the records: a file broken further on raises its
    :class:`~paperatlas.errors.ParseError` before any batch of it is committed."""
    with file.open_text() as fh:
        for _ in parser.parse(file, numbered_lines(fh, str(file.path))):
            pass
