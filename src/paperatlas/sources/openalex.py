"""OpenAlex (``api.openalex.org/works``): the works matching a filter or a search, followed.

``--query`` is a filter string when it holds a ``:`` (``concepts.id:C41008148,type:article``),
else a full-text ``search``. Each run asks the works since the cursor's day
(``from_created_date`` with an API key, which OpenAlex asks for that filter, else
``from_publication_date``), 200 a page, by cursor paging: ``cursor=*``, then each answer's
``meta.next_cursor`` until it is null. The cursor is ``{"day", "cursor"}``; a finished
window starts the next run at ``cursor=*`` from the run's day less ``OVERLAP`` (works
indexed late), and works met again merge by DOI or OpenAlex id. A stored page cursor that
OpenAlex no longer accepts (HTTP 400) starts the window again from ``cursor=*``.
``mailto`` (the polite pool) comes from the contact address, ``api_key`` from the
``openalex`` key; OpenAlex allows 10 requests a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import Page, Source, answer_json
from .http import Answer, SourceError

#: Works per request (the most OpenAlex allows).
PER_PAGE = 200
#: How far before the run's day the next window starts.
OVERLAP = timedelta(days=3)
#: Query parameters never written into a page's provenance URL.
SECRET_PARAMS = frozenset({"api_key"})


def without_secrets(url: str) -> str:
    """``url`` less its secret query parameters (API keys stay out of the library)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in SECRET_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def stale_cursor(exc: SourceError) -> bool:
    """Whether a failed request was refused as a bad request (a cursor or token the API
    no longer accepts), rather than failing."""
    return ": HTTP 400:" in str(exc) or ": HTTP 410:" in str(exc)


class OpenAlexSource(Source):
    kind: ClassVar[str] = "openalex"
    base: ClassVar[str] = "https://api.openalex.org"
    interval: ClassVar[float] = 0.1
    needs: ClassVar[tuple[str, ...]] = ("query",)

    def params(self, day: str) -> dict[str, Any]:
        """What every request of a window asks (less the page cursor)."""
        key = self.context.api_keys.get(self.kind)
        since = f"{'from_created_date' if key else 'from_publication_date'}:{day}"
        query = (self.spec.query or "").strip()
        out: dict[str, Any] = {"per-page": PER_PAGE}
        if ":" in query:
            out["filter"] = f"{query},{since}"
        else:
            out["filter"], out["search"] = since, query
        if self.context.contact:
            out["mailto"] = self.context.contact
        if key:
            out["api_key"] = key
        return out

    def get(self, url: str, **kwargs: Any) -> Answer:
        try:
            return super().get(url, **kwargs)
        except SourceError as exc:
            key = self.context.api_keys.get(self.kind)
            if key and key in str(exc):  # the message names the URL: not the key
                raise SourceError(str(exc).replace(key, "(api key)")) from None
            raise

    def pages(self, cursor: dict[str, Any]) -> Iterator[Page]:
        day = str(cursor.get("day") or self.start().isoformat())
        token = str(cursor.get("cursor") or "*")
        params = self.params(day)
        while True:
            try:
                answer = self.get(self.url("/works"), params={**params, "cursor": token})
            except SourceError as exc:
                if token == "*" or not stale_cursor(exc):
                    raise
                token = "*"  # the page cursor expired: the window again, merged
                continue
            found, following = _paging(answer.body, answer.url)
            done = not following or found == 0
            if done:
                ended = self.context.today - OVERLAP
                after: dict[str, Any] = {"day": max(ended.isoformat(), day)}
            else:
                after = {"day": day, "cursor": following}
            yield Page(answer.body, without_secrets(answer.url), "openalex",
                       f"openalex/{day}-{token[:16]}.json", after, done)
            if done:
                return
            token = str(following)


def _paging(body: bytes, url: str) -> tuple[int, str | None]:
    """How many works an answer holds and its ``meta.next_cursor``; a garbled answer stops
    the run here."""
    doc = answer_json(body, without_secrets(url), "an OpenAlex answer")
    meta = doc.get("meta") if isinstance(doc, dict) else None
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or not isinstance(results, list):
        raise SourceError(f"{without_secrets(url)}: not an OpenAlex works answer (no meta "
                          "and results)")
    following = meta.get("next_cursor")
    return len(results), str(following) if following else None
