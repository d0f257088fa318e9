"""CSV and TSV files with a header row."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import ClassVar

from ..errors import ParseError
from ..records.papers import Record
from .base import Parser
from .limits import MAX_LINE_CHARS, MAX_RECORD_CHARS, error_record, guarded
from .source import InputFile, Lines


class CsvParser(Parser):
    """Comma-separated values with a header row."""

    name = "csv"
    suffixes: ClassVar[tuple[str, ...]] = (".csv",)
    delimiter = ","

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        if file.path.suffix.lower() in cls.suffixes:
            return True
        first = file.head.splitlines()[0] if file.head.strip() else ""
        return cls.delimiter == "\t" and first.count("\t") >= 2

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        """Rows as records. A broken row is a rejected record and reading goes on at the
        next row: one with more fields than the header, a malformed one (``"abc"def``;
        a quoted field it leaves open is skipped to its closing quote), one with an
        over-long line (its quotes are kept, so the rows after it still parse), a last row
        with fewer fields than the header and no line break after it (cut off). The file
        fails whole with no title column, a malformed header, a row over
        :data:`MAX_RECORD_CHARS`, or a quoted field the file ends inside (truncated)."""
        csv.field_size_limit(MAX_RECORD_CHARS)
        path = str(file.path)
        state = {"line": 0, "chars": 0, "quotes": 0, "start": 1, "end": 0}
        fh.tolerant = True

        def lines() -> Iterator[str]:
            for n, text in fh:
                state["line"] = n
                if n in fh.long:  # stands in with the quotes' parity only
                    text = '"' if fh.long[n].quotes % 2 else ""
                state["chars"] += len(text) + 1  # so no field passes csv's limit first
                state["quotes"] += text.count('"')
                if state["chars"] > MAX_RECORD_CHARS:
                    raise ParseError(f"the row starting at line {state['start']} is more than "
                                     f"{MAX_RECORD_CHARS} characters long", path=path, line=n)
                yield text + "\n"  # quoted fields may span lines
            state["end"] = 1

        def next_row() -> None:
            state["start"] = state["line"] + 1
            state["chars"] = state["quotes"] = 0

        source = lines()
        reader = csv.reader(source, delimiter=self.delimiter, strict=True)
        try:
            header: list[str] = []
            for row in reader:  # the header is the first row that is not blank
                header = [h.strip().lstrip("\ufeff") for h in row]
                if any(header):
                    break
        except csv.Error as exc:
            raise ParseError(f"malformed CSV: {exc}", path=path, line=state["line"]) from exc
        if not any(header):
            return
        columns = self.mapping.resolve(header)
        if "title" not in columns:
            raise ParseError(f"no title column among {header}; map one with --map title=COLUMN",
                             path=path, line=1)
        entry = 0
        next_row()
        while True:
            start = state["start"]
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self._skip_open_quote(source, state, path, exc)
                entry += 1
                yield error_record(f"malformed CSV: {exc}", line=start, entry=entry)
                next_row()
                continue
            problem = self._problem(row, header, fh, start, state["line"])
            if problem is None and not any(cell.strip() for cell in row):
                next_row()
                continue
            if problem is None and len(row) > len(header):
                problem = f"row has {len(row)} fields but the header has {len(header)}"
            entry += 1
            if problem:
                yield error_record(problem, line=start, entry=entry)
            else:
                obj = dict(zip(header, row, strict=False))
                yield guarded(self.mapping.to_record, obj, line=start, entry=entry,
                              columns=columns)
            next_row()

    @staticmethod
    def _skip_open_quote(source: Iterator[str], state: dict[str, int], path: str,
                         exc: csv.Error) -> None:
        """After a malformed row, skip the lines up to the end of a quoted field it left
        open (an odd number of quotes so far), so reading goes on at the next row; a
        quoted field the file ends inside fails the file (truncated)."""
        while not state["end"] and state["quotes"] % 2:
            next(source, None)
        if state["end"]:
            raise ParseError(f"malformed CSV: {exc} (a quoted field from line {state['start']} "
                             "runs to the end of the file: truncated?)",
                             path=path, line=state["start"]) from exc

    @staticmethod
    def _problem(row: list[str], header: list[str], fh: Lines, first: int,
                 last: int) -> str | None:
        """Why the row of lines ``first``..``last`` cannot be read, or None."""
        long = fh.long_in(first, last)
        if long is not None:
            return (f"line {long.line} is {long.chars} characters long "
                    f"(more than {MAX_LINE_CHARS})")
        if not fh.final_newline and 0 < len(row) < len(header) and any(c.strip() for c in row):
            return (f"the last row has {len(row)} of the header's {len(header)} fields and no "
                    "line break after it: cut off (truncated file?)")
        return None


class TsvParser(CsvParser):
    """Tab-separated values with a header row."""

    name = "tsv"
    suffixes = (".tsv", ".tab")
    delimiter = "\t"
