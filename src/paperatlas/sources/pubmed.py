"""PubMed through NCBI's E-utilities (``eutils.ncbi.nlm.nih.gov/entrez/eutils``).

Day by day from the cursor, each day is one ``esearch`` (``term`` = the source's query,
AND its category as a MeSH term; ``datetype=edat``, the Entrez date: the day PubMed
added the record, which never changes, unlike ``pdat``, which new records keep filling
for past days; ``mindate = maxdate`` = the day; ``usehistory=y``, ``retmax=0``:
the count, ``WebEnv`` and ``query_key``), then ``efetch`` of the day's records from the
history server in batches of ``BATCH`` (``retstart``, ``retmode=xml``: PubMed XML, read
by the ``pubmed-xml`` parser). The search is sorted ``sort=pub_date``; a finished day's
set does not change, so a search redone gives the same offsets.

The cursor is ``{"day": "YYYY-MM-DD", "retstart": N}``, never the ``WebEnv`` (which
expires): each run searches again, and a ``WebEnv`` that expires within a run is
searched again once. A day is asked once it has ended in Bethesda (US Eastern time); a
day with no record is kept as its search answer (read as no records), so the cursor
moves past it. PubMed's history server gives at most ``MAX_PER_DAY`` records of one
search: a day with more stops the run and asks for a narrower query.

Every request sends ``tool=paperatlas``, the contact address as ``email`` and the API key
of settings (``api_keys["pubmed"]``); NCBI allows 3 requests a second without a key and
10 with one.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

from .base import Page, Source
from .http import Answer, SourceError

#: Records per efetch (NCBI suggests batches of a few hundred).
BATCH = 200
#: The most records efetch gives of one search (``retstart`` stops at 9,999).
MAX_PER_DAY = 9_999
#: Seconds between requests with an API key (10 a second).
KEYED_INTERVAL = 0.1
#: How long after 00:00 UTC of the next day a day has ended in US Eastern time.
_DAY_ENDS = timedelta(days=1, hours=5)
_ARTICLE = re.compile(rb"<Pubmed(?:Book)?Article>")
_EUTILS = "/entrez/eutils"


class PubMedSource(Source):
    kind: ClassVar[str] = "pubmed"
    base: ClassVar[str] = "https://eutils.ncbi.nlm.nih.gov"
    interval: ClassVar[float] = 1 / 3
    needs: ClassVar[tuple[str, ...]] = ("query",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_key = self.context.api_keys.get(self.kind)
        #: This instance's pace: faster with an API key, as NCBI allows.
        self.pace = KEYED_INTERVAL if self.api_key else self.interval

    def get(self, url: str, **kwargs: Any) -> Answer:
        return self.http.get(url, interval=self.pace, **kwargs)

    def params(self, **more: Any) -> dict[str, Any]:
        """What every E-utilities request sends: db, tool, email and the API key."""
        out: dict[str, Any] = {"db": "pubmed", **more, "tool": "paperatlas"}
        if self.context.contact:
            out["email"] = self.context.contact
        if self.api_key:
            out["api_key"] = self.api_key
        return out

    def term(self) -> str:
        query = self.spec.query or ""
        if self.spec.category:
            return f'({query}) AND "{self.spec.category}"[MeSH Terms]'
        return query

    def last_day(self) -> date:
        """The last day that has ended in US Eastern time (its records are all in)."""
        return (self.context.now - _DAY_ENDS).date()

    def pages(self, cursor: dict[str, Any]) -> Iterator[Page]:
        day = date.fromisoformat(cursor["day"]) if cursor.get("day") else self.start()
        retstart = int(cursor.get("retstart", 0))
        last = self.last_day()
        while day <= last:
            after_day = {"day": (day + timedelta(days=1)).isoformat(), "retstart": 0}
            search = self.search(day)
            if search.count == 0:
                yield Page(search.answer.body, search.answer.url, "pubmed-xml",
                           f"pubmed/{day.isoformat()}-esearch.xml", after_day, day >= last)
            while retstart < search.count:
                answer, found = self.fetch(search, retstart)
                if _expired(answer.body):  # the WebEnv expired: search again, once
                    search = self.search(day)
                    answer, found = self.fetch(search, retstart)
                    if _expired(answer.body):
                        raise SourceError(f"{answer.url}: efetch failed: "
                                          f"{_excerpt(answer.body)}")
                if found == 0:
                    raise SourceError(f"{answer.url}: no article at {retstart} of "
                                      f"{search.count}; the next run asks it again")
                at = retstart + found
                done = at >= search.count
                after = after_day if done else {"day": day.isoformat(), "retstart": at}
                yield Page(answer.body, answer.url, "pubmed-xml",
                           f"pubmed/{day.isoformat()}-{retstart}.xml", after,
                           done and day >= last)
                retstart = at
            day, retstart = day + timedelta(days=1), 0

    def search(self, day: date) -> _Search:
        """Search one Entrez day; its count, and where the history server keeps it."""
        stamp = day.strftime("%Y/%m/%d")
        answer = self.get(self.url(f"{_EUTILS}/esearch.fcgi"), params=self.params(
            term=self.term(), usehistory="y", datetype="edat", mindate=stamp,
            maxdate=stamp, retmax=0, sort="pub_date"))
        try:
            root = ET.fromstring(answer.body)
        except ET.ParseError as exc:
            raise SourceError(f"{answer.url}: not an esearch answer (malformed XML: "
                              f"{exc})") from exc
        error = root.findtext("ERROR")
        count = root.findtext("Count")
        if root.tag != "eSearchResult" or error or count is None or not count.isdigit():
            raise SourceError(f"{answer.url}: esearch failed: "
                              f"{error or 'not an esearch answer (no Count)'}")
        found = _Search(answer, int(count), root.findtext("WebEnv") or "",
                        root.findtext("QueryKey") or "")
        if found.count > MAX_PER_DAY:
            raise SourceError(f"{answer.url}: {found.count} records on {day} (E-utilities "
                              f"gives at most {MAX_PER_DAY} of one search): narrow the query")
        if found.count and not (found.webenv and found.query_key):
            raise SourceError(f"{answer.url}: esearch gave no WebEnv/QueryKey")
        return found

    def fetch(self, search: _Search, retstart: int) -> tuple[Answer, int]:
        """One batch of the search's records as PubMed XML, and how many it holds."""
        answer = self.get(self.url(f"{_EUTILS}/efetch.fcgi"), params=self.params(
            query_key=search.query_key, WebEnv=search.webenv, retstart=retstart,
            retmax=BATCH, retmode="xml"))
        return answer, len(_ARTICLE.findall(answer.body))


@dataclass(frozen=True)
class _Search:
    """An esearch answer: its count and history (``WebEnv``, ``query_key``)."""

    answer: Answer
    count: int
    webenv: str
    query_key: str


def _expired(body: bytes) -> bool:
    """Whether an efetch answer says the history (the WebEnv) is gone."""
    head = body[:2000]
    return b"<eFetchResult" in head and b"<ERROR>" in head and b"<PubmedArticle" not in head


def _excerpt(body: bytes) -> str:
    return " ".join(body[:2000].decode("utf-8", "replace").split())[-300:]
