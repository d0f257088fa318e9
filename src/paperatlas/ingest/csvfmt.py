"""CSV and TSV files with a header row."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from typing import ClassVar

from ..errors import ParseError
from ..models import Record
from .base import Parser
from .source import InputFile


def _raise_field_limit() -> None:
    limit = sys.maxsize
    while True:  # the C long may be 32-bit
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 10


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

    def parse(self, file: InputFile, fh: Iterator[tuple[int, str]]) -> Iterator[Record]:
        _raise_field_limit()
        path = str(file.path)
        state = {"line": 0}

        def lines() -> Iterator[str]:
            for n, text in fh:
                state["line"] = n
                yield text + "\n"  # quoted fields may span lines

        reader = csv.reader(lines(), delimiter=self.delimiter, strict=True)
        try:
            header: list[str] = []
            for row in reader:  # the header is the first row that is not blank
                header = [h.strip().lstrip("\ufeff") for h in row]
                if any(header):
                    break
            if not any(header):
                return
            columns = self.mapping.resolve(header)
            if "title" not in columns:
                raise ParseError(
                    f"no title column among {header}; map one with --map title=COLUMN",
                    path=path, line=1)
            entry = 0
            start = state["line"] + 1
            for row in reader:
                if not any(cell.strip() for cell in row):
                    start = state["line"] + 1
                    continue
                if len(row) > len(header):
                    raise ParseError(
                        f"row has {len(row)} fields but the header has {len(header)}",
                        path=path, line=start)
                entry += 1
                obj = dict(zip(header, row, strict=False))
                yield self.mapping.to_record(obj, line=start, entry=entry, columns=columns)
                start = state["line"] + 1
        except csv.Error as exc:
            raise ParseError(f"malformed CSV: {exc}", path=path, line=state["line"]) from exc


class TsvParser(CsvParser):
    """Tab-separated values with a header row."""

    name = "tsv"
    suffixes = (".tsv", ".tab")
    delimiter = "\t"
