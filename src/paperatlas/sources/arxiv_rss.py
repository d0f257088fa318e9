"""arXiv's announcement feed (``rss.arxiv.org/rss/CATS``): today's new, cross-listed and
replaced papers of the categories (``cs.CL+cs.LG``).

One request a run, conditional (``If-None-Match``/``If-Modified-Since`` from the last
answer, kept in the cursor): a 304 adds nothing, and a feed already read skips its
entries. The feed changes
once a day (announcements, none on weekends); replaced papers merge into the papers they
are, by arXiv id. arXiv asks for one request every 3 seconds on all its services.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, ClassVar

from .base import Page, Source


class ArxivRssSource(Source):
    kind: ClassVar[str] = "arxiv-rss"
    base: ClassVar[str] = "https://rss.arxiv.org"
    interval: ClassVar[float] = 3.0
    needs: ClassVar[tuple[str, ...]] = ("category",)

    def pages(self, cursor: dict[str, Any]) -> Iterator[Page]:
        categories = "+".join(c for c in (self.spec.category or "").replace(",", "+")
                              .replace(" ", "+").split("+") if c)
        url = self.url(f"/rss/{categories}")
        validators = {k: v for k, v in cursor.items() if k in ("etag", "modified")}
        answer = self.get(url, validators=validators)
        if answer.not_modified:
            return
        digest = hashlib.sha256(answer.body).hexdigest()[:16]
        # the same feed again (no validators) finds its entries in and skips them
        yield Page(answer.body, answer.url, "arxiv-rss",
                   f"arxiv-rss/{categories}-{digest}.rss", answer.validators(), done=True)
