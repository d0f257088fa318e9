"""Hugging Face Daily Papers (``huggingface.co/api/daily_papers?date=YYYY-MM-DD``): the
papers the community lists each day, with their upvotes, comments and links.

The cursor is the next day to ask, ``{"day": "YYYY-MM-DD"}`` (and ``"p"``, the page of a
day listing more than ``LIMIT`` papers). Each run asks every day from the cursor up to
today (UTC); a day with no papers (``[]``, weekends) is a finished page. Today's list may
still grow, so the cursor stays on today and the next run asks it again: papers met again
merge by their arXiv id (their signals, upvotes first, are updated), never added twice.
The API also lists by ``?week=YYYY-Www``; paperatlas goes day by day. Its rate is not
documented: one request a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, ClassVar

from .base import Page, Source, answer_json
from .http import SourceError

#: Papers per request (the API allows up to 100; most days list fewer).
LIMIT = 100
#: Pages of one day at most (a guard, should the API ignore ``p``).
MAX_PAGES_PER_DAY = 20


class HfDailySource(Source):
    kind: ClassVar[str] = "hf-daily"
    base: ClassVar[str] = "https://huggingface.co"
    interval: ClassVar[float] = 1.0

    def pages(self, cursor: dict[str, Any]) -> Iterator[Page]:
        today = self.context.today
        day = date.fromisoformat(cursor["day"]) if cursor.get("day") else self.start()
        day = min(day, today)
        p = int(cursor.get("p", 0))
        while True:
            params: dict[str, Any] = {"date": day.isoformat(), "limit": LIMIT}
            if p:
                params["p"] = p
            answer = self.get(self.url("/api/daily_papers"), params=params)
            listed = _count(answer.body, answer.url)
            if listed >= LIMIT and p + 1 < MAX_PAGES_PER_DAY:
                after: dict[str, Any] = {"day": day.isoformat(), "p": p + 1}
            elif day < today:
                after = {"day": (day + timedelta(days=1)).isoformat()}
            else:
                after = {"day": today.isoformat()}  # asked again next run: it may grow
            done = day >= today and "p" not in after
            suffix = f"-p{p}" if p else ""
            yield Page(answer.body, answer.url, "hf-daily",
                       f"hf-daily/{day.isoformat()}{suffix}.json", after, done)
            if done:
                return
            day, p = date.fromisoformat(after["day"]), int(after.get("p", 0))


def _count(body: bytes, url: str) -> int:
    """How many papers an answer lists; a garbled answer stops the run here."""
    doc = answer_json(body, url, "a Daily Papers answer")
    if not isinstance(doc, list):
        message = doc.get("error") if isinstance(doc, dict) else None
        raise SourceError(f"{url}: not a Daily Papers answer (a JSON {type(doc).__name__}"
                          + (f": {str(message)[:200]}" if message else "") + ")")
    return len(doc)
