"""The text of a Hugging Face Daily Papers listing page.

Shape: a few page header lines (``new``, ``Get trending papers in your email
inbox!``, ``Subscribe``, ``byAK and the research community``, ...), an
optional date line (``Jul 3``), then alternating title and abstract lines,
separated by blank lines. The page text often ends without a line break; when
its last abstract also stops mid-sentence (no closing punctuation, no link), the
file was cut and that entry is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

from ..errors import ParseError
from ..records.papers import Record
from ..text import clean_space, parse_date
from .base import Parser
from .limits import MAX_LINE_CHARS, error_record
from .source import InputFile, Lines

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
#: The last characters of a complete abstract: sentence punctuation, closing quotes and
#: brackets (a link, ``Code: https://github.com/...``, is complete too).
_COMPLETE_ENDS = frozenset(".!?:;)]}\"'\u2026\u00bb\u201d\u2019")


def _complete(abstract: str) -> bool:
    """Whether an abstract ends as complete text does (not cut mid-sentence)."""
    return abstract[-1] in _COMPLETE_ENDS or "/" in abstract.rsplit(None, 1)[-1]


class DailyPapersParser(Parser):
    """Parser for the Daily Papers page text."""

    name = "dailypapers"
    suffixes = (".txt",)

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = file.head.lower()
        return any(marker in head for marker in _MARKERS)

    @classmethod
    def fits(cls, file: InputFile) -> bool:
        """A page without its header still keeps one paragraph a line, blank lines between:
        text wrapped over consecutive lines (a README, a licence) is not a page."""
        lines = file.head.splitlines()[:-1]  # the last line of the head may be cut
        return any(lines) and not any(a.strip() and b.strip() for a, b in pairwise(lines))

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        path = str(file.path)
        page_date: str | None = None
        in_header = True
        title: tuple[int, str] | None = None
        entry = 0
        fh.tolerant = True  # an over-long abstract is a record error (a title fails the file)
        for n, raw in fh:
            long = fh.long.get(n)
            line = clean_space(raw) if long is None else "(too long)"
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
                if long is not None or len(line) > MAX_TITLE_CHARS:
                    size = long.chars if long is not None else len(line)
                    raise ParseError(
                        f"expected a paper title but found a {size}-character paragraph "
                        "(a title line is missing?)", path=path, line=n)
                title = (n, line)
                continue
            entry += 1
            if long is not None:
                yield error_record(f"the abstract (line {n}) is {long.chars} characters long "
                                   f"(more than {MAX_LINE_CHARS})", line=title[0], entry=entry)
            elif not fh.final_newline and not _complete(line):
                yield error_record(
                    "the abstract stops mid-sentence at the end of the file, with no line break "
                    "after it: cut off (truncated file?); end the file with a line break if it "
                    "is complete", line=title[0], entry=entry)
            else:
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
