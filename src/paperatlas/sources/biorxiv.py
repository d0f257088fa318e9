"""bioRxiv and medRxiv (``api.biorxiv.org/details/{server}/{from}/{to}/{cursor}``): the
preprints posted in a window of days, every version, oldest first.

Each run asks one window, ``from`` (the cursor's, else the first day) to ``to`` (today,
UTC, when the window began), paging by the ``cursor`` offset (the API gives 100 a page;
``messages[0].total`` says how many in all). The cursor is ``{"from", "to", "offset"}``:
a run that stops resumes the same window at the same offset. A finished window leaves
``{"from": to}``: the next run asks its last day again (it may have grown) up to its
own today; preprints met again merge by their DOI. A preprint's versions share its DOI:
a newer version revises the paper (title, abstract, authors), never duplicates it. The
source's category (``--category "cancer biology"``) filters with ``?category=``. The
rate is not documented: one request a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any, ClassVar

from ..ingest.biorxivjson import status_of
from .base import Page, Source, answer_json
from .http import SourceError

#: Statuses of an answer that found nothing.
_EMPTY = ("no posts found",)


class BiorxivSource(Source):
    kind: ClassVar[str] = "biorxiv"
    base: ClassVar[str] = "https://api.biorxiv.org"
    interval: ClassVar[float] = 1.0
    #: The server asked (``/details/{server}/...``).
    server: ClassVar[str] = "biorxiv"

    def pages(self, cursor: dict[str, Any]) -> Iterator[Page]:
        first = date.fromisoformat(cursor["from"]) if cursor.get("from") else self.start()
        window = {"from": first.isoformat(),
                  "to": cursor.get("to") or max(first, self.context.today).isoformat(),
                  "offset": int(cursor.get("offset", 0))}
        params = ({"category": self.spec.category.strip().lower().replace(" ", "_")}
                  if self.spec.category else None)
        while True:
            path = f"/details/{self.server}/{window['from']}/{window['to']}/{window['offset']}"
            answer = self.get(self.url(path), params=params)
            listed, total = _count(answer.body, answer.url)
            at = int(window["offset"]) + listed
            if listed == 0 and int(window["offset"]) < total:
                raise SourceError(f"{answer.url}: an empty page at {window['offset']} of "
                                  f"{total} preprints; the next run asks it again")
            done = at >= total
            after: dict[str, Any] = {"from": window["to"]} if done else {**window, "offset": at}
            yield Page(answer.body, answer.url, "biorxiv",
                       f"{self.server}/{window['from']}_{window['to']}_{window['offset']}.json",
                       after, done)
            if done:
                return
            window = after


class MedrxivSource(BiorxivSource):
    kind: ClassVar[str] = "medrxiv"
    server: ClassVar[str] = "medrxiv"


def _count(body: bytes, url: str) -> tuple[int, int]:
    """How many preprints a page lists, and the window's total; a garbled or failed
    answer stops the run here (the cursor stays before it)."""
    doc = answer_json(body, url, "a bioRxiv answer")
    if not isinstance(doc, dict):
        raise SourceError(f"{url}: not a bioRxiv answer (a JSON {type(doc).__name__})")
    status = status_of(doc)
    items = doc.get("collection")
    if status in _EMPTY and not items:
        return 0, 0
    if status != "ok" or not isinstance(items, list):
        raise SourceError(f"{url}: the API answered {status or 'no status'!r}")
    messages = doc["messages"][0]
    total = str(messages.get("total", "")).strip()
    if not total.isdigit():
        raise SourceError(f"{url}: not a bioRxiv answer (no total in messages)")
    return len(items), int(total)
