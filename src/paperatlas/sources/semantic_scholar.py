"""Semantic Scholar (``api.semanticscholar.org/graph/v1/paper/search/bulk``): the papers
matching a query, followed.

``--query`` is the bulk search's query (its ``+``/``|``/``-`` syntax included) and
``--category`` its ``fieldsOfStudy``. Each run asks the papers published since the cursor's
day (``publicationDateOrYear=DAY:``), up to 1,000 an answer, following the continuation
``token`` until an answer has none. The cursor is ``{"day", "token"}``; a finished window
starts the next run from the run's day less ``OVERLAP`` (S2 indexes papers days after
they appear), and papers met again merge by their S2 id, DOI or arXiv id. A stored token
the API refuses (HTTP 400) starts the window again.

Rate: with an API key (``semantic-scholar`` key, sent as ``x-api-key``) S2 allows one
request a second; without one, requests share a pool with every unauthenticated client
and are often refused (429), so paperatlas asks every 3 seconds and honours Retry-After.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

from .base import Page, Source, answer_json
from .http import Answer, SourceError
from .openalex import stale_cursor

#: What each paper of an answer holds.
FIELDS = "title,abstract,authors,year,publicationDate,externalIds,venue,url"
#: How far before the run's day the next window starts.
OVERLAP = timedelta(days=7)
#: Seconds between requests with an API key (S2's documented rate for a key).
KEYED_INTERVAL = 1.0


class SemanticScholarSource(Source):
    kind: ClassVar[str] = "semantic-scholar"
    base: ClassVar[str] = "https://api.semanticscholar.org"
    interval: ClassVar[float] = 3.0  # without a key: the shared pool
    needs: ClassVar[tuple[str, ...]] = ("query",)

    def get(self, url: str, **kwargs: Any) -> Answer:
        key = self.context.api_keys.get(self.kind)
        if not key:
            return super().get(url, **kwargs)
        headers = {**kwargs.pop("headers", {}), "x-api-key": key}
        return self.http.get(url, interval=KEYED_INTERVAL, headers=headers, **kwargs)

    def pages(self, cursor: dict[str, Any]) -> Iterator[Page]:
        day = str(cursor.get("day") or self.start().isoformat())
        token = cursor.get("token")
        params: dict[str, Any] = {"query": self.spec.query, "fields": FIELDS,
                                  "publicationDateOrYear": f"{day}:"}
        if self.spec.category:
            params["fieldsOfStudy"] = self.spec.category
        n = 0
        while True:
            asked = {**params, "token": token} if token else params
            try:
                answer = self.get(self.url("/graph/v1/paper/search/bulk"), params=asked)
            except SourceError as exc:
                if not token or not stale_cursor(exc):
                    raise
                token = None  # the token expired: the window again, merged
                continue
            following = _token(answer.body, answer.url)
            if following:
                after: dict[str, Any] = {"day": day, "token": following}
            else:
                after = {"day": max((self.context.today - OVERLAP).isoformat(), day)}
            n += 1
            yield Page(answer.body, answer.url, "semantic-scholar",
                       f"semantic-scholar/{day}-{n}.json", after, not following)
            if not following:
                return
            token = following


def _token(body: bytes, url: str) -> str | None:
    """An answer's continuation token (None: the last page); a garbled answer stops the
    run here."""
    doc = answer_json(body, url, "a Semantic Scholar answer")
    if not isinstance(doc, dict) or not isinstance(doc.get("data", []), list):
        raise SourceError(f"{url}: not a Semantic Scholar search answer (no data list)")
    if "data" not in doc:
        message = doc.get("message") or doc.get("error") or "no data"
        raise SourceError(f"{url}: not a Semantic Scholar search answer ({str(message)[:200]})")
    token = doc.get("token")
    return str(token) if token else None
