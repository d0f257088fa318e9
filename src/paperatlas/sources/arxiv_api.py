"""arXiv's API (``export.arxiv.org/api/query``): the papers matching a query, followed.

Each run asks one window of submission times, ``[from, to]`` (``to``: when the run
started), oldest first (``sortBy=submittedDate&sortOrder=ascending``), paging by
``start``; offsets are stable because new submissions fall after ``to``. A finished
window moves ``from`` to ``to`` minus ``OVERLAP`` (papers appear in the API when they are
announced, up to a few days after submission); papers met again are merged by their
arXiv id, never added twice. arXiv asks for one request every 3 seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

from .base import Page, Source
from .http import SourceError

#: Papers per request (the API allows up to 2,000; arXiv suggests small pages).
PAGE = 200
#: How far before the last window's end the next one starts (announcement lag).
OVERLAP = timedelta(days=3)
_TOTAL = re.compile(rb"<opensearch:totalResults[^>]*>\s*(\d+)\s*<")
_STAMP = "%Y%m%d%H%M"


def search_query(query: str | None, category: str | None) -> str:
    """The API's ``search_query``: a query with field prefixes (``ti:``, ``abs:``, ``au:``,
    ``cat:``, ``all:``) as it is, plain words as ``all:`` terms; AND the category."""
    parts = []
    if query:
        if re.search(r"\b(ti|au|abs|co|jr|cat|rn|id|all):", query):
            parts.append(f"({query})")
        else:
            parts.extend(f"all:{word}" for word in query.split())
    if category:
        parts.append(f"cat:{category}")
    return " AND ".join(parts)


class ArxivApiSource(Source):
    kind: ClassVar[str] = "arxiv"
    base: ClassVar[str] = "https://export.arxiv.org"
    interval: ClassVar[float] = 3.0

    @classmethod
    def check(cls, spec: Any) -> None:
        if not (spec.query or spec.category):
            from ..errors import InvalidOptionError

            raise InvalidOptionError("query", None, ["a --query or a --category for an "
                                                     "arxiv source"])

    def pages(self, cursor: dict[str, Any]) -> Iterator[Page]:
        now = self.context.now.strftime(_STAMP)
        start_day = self.start().strftime("%Y%m%d") + "0000"
        window = {"from": cursor.get("from", start_day), "to": cursor.get("to", now),
                  "start": int(cursor.get("start", 0))}
        base_query = search_query(self.spec.query, self.spec.category)
        while True:
            query = f"{base_query} AND submittedDate:[{window['from']} TO {window['to']}]"
            answer = self.get(self.url("/api/query"), params={
                "search_query": query, "start": window["start"], "max_results": PAGE,
                "sortBy": "submittedDate", "sortOrder": "ascending"})
            found = answer.body.count(b"<entry>") + answer.body.count(b"<entry ")
            total_match = _TOTAL.search(answer.body)
            if total_match is None:
                raise SourceError(f"{answer.url}: not an arXiv API answer "
                                  "(no opensearch:totalResults)")
            total = int(total_match.group(1))
            at = window["start"] + found
            if found == 0 and window["start"] < total:
                raise SourceError(f"{answer.url}: an empty page at {window['start']} of "
                                  f"{total} results (the arXiv API does this at times); "
                                  "the next run asks it again")
            done = at >= total
            if done:
                ended = datetime.strptime(str(window["to"]), _STAMP) - OVERLAP
                after: dict[str, Any] = {"from": max(ended.strftime(_STAMP),
                                                     str(window["from"])), "start": 0}
            else:
                after = {**window, "start": at}
            yield Page(answer.body, answer.url, "arxiv-atom",
                       f"arxiv/{window['from']}-{window['to']}-{window['start']}.atom",
                       after, done)
            if done:
                return
            window = after
