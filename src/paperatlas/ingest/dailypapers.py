"""The text of a Hugging Face Daily Papers listing page.

Shape: a few page header lines (``new``, ``Get trending papers in your email
inbox!``, ``Subscribe``, ``byAK and the research community``, ...), an
optional date line (``Jul 3``), then alternating title and abstract lines,
separated by blank lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..errors import ParseError
from ..models import Record
from ..text import clean_space, parse_date
from .base import Parser
from .source import InputFile

_HEADER = {
    "new",
    "get trending papers in your email inbox!",
    "subscribe",
    "daily papers",
    "byak and the research community",
    "by ak and the research community",
    "trending papers",
}
_MARKERS = ("get trending papers in your email inbox", "and the research community")
_DATE = re.compile(
    r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}(?:, \d{4})?$"
)
#: A title longer than this is almost surely an abstract out of place.
MAX_TITLE_CHARS = 500


class DailyPapersParser(Parser):
    """Parser for the Daily Papers page text."""

    name = "dailypapers"
    suffixes = (".txt",)

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = file.head.lower()
        return any(marker in head for marker in _MARKERS)

    def parse(self, file: InputFile, fh: Iterator[tuple[int, str]]) -> Iterator[Record]:
        path = str(file.path)
        page_date: str | None = None
        in_header = True
        title: tuple[int, str] | None = None
        entry = 0
        for n, raw in fh:
            line = clean_space(raw)
            if not line:
                continue
            if in_header:
                if line.lower() in _HEADER:
                    continue
                in_header = False
                if _DATE.match(line):
                    page_date = line
                    continue
            if title is None:
                if len(line) > MAX_TITLE_CHARS:
                    raise ParseError(
                        f"expected a paper title but found a {len(line)}-character paragraph "
                        "(a title line is missing?)", path=path, line=n)
                title = (n, line)
                continue
            entry += 1
            yield self._record(title, line, entry, page_date)
            title = None
        if title is not None:
            raise ParseError(
                f"title {title[1][:60]!r} has no abstract (truncated file?)",
                path=path, line=title[0])

    @staticmethod
    def _record(title: tuple[int, str], abstract: str, entry: int,
                page_date: str | None) -> Record:
        rec = Record(title=title[1], abstract=abstract, line=title[0], entry=entry)
        if page_date:
            rec.extra["listed_on"] = page_date
            rec.date = parse_date(page_date) if "," in page_date else None
        return rec
