"""arXiv's OAI-PMH interface (``oaipmh.arxiv.org/oai``; ``export.arxiv.org/oai2`` before):
``ListRecords`` harvests for backfills and daily updates.

A run harvests one window of datestamps, ``from`` (the cursor's, or ``--since``) to
``until`` (the run's day), in arXiv's own metadata format (``metadataPrefix=arXiv``), of
one set (``--category``: ``cs``, ``math``, ``physics:hep-th``; none: everything). Each
answer's ``resumptionToken`` is the cursor for the next page (the next request carries it
alone, as OAI-PMH requires); a finished window moves ``from`` to its ``until`` (the last
day is harvested again: re-met records merge by arXiv id). An expired token
(``badResumptionToken``) restarts the window; ``noRecordsMatch`` is an empty, finished
harvest. arXiv asks for one request every 3 seconds and answers 503 with Retry-After
when busy (waited out by the client).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from .base import Page, Source
from .http import Answer, SourceError

#: The metadata format asked (arXiv's own: structured authors, categories, DOI, license).
PREFIX = "arXiv"
_TOKEN = re.compile(rb"<resumptionToken([^>]*)>([^<]*)</resumptionToken>|<resumptionToken[^>]*/>")
_ERROR = re.compile(rb'<error\s+code="([^"]+)"[^>]*>([^<]*)<')


class ArxivOaiSource(Source):
    kind: ClassVar[str] = "arxiv-oai"
    base: ClassVar[str] = "https://oaipmh.arxiv.org"
    interval: ClassVar[float] = 3.0

    def pages(self, cursor: dict[str, Any]) -> Iterator[Page]:
        window = {"from": cursor.get("from") or self.start().isoformat(),
                  "until": cursor.get("until") or self.context.today.isoformat()}
        token = cursor.get("token")
        restarted = False
        while True:
            answer = self.ask(window, token)
            error = _ERROR.search(answer.body[:4000])
            code = error.group(1).decode() if error else None
            if code == "badResumptionToken" and token and not restarted:
                token, restarted = None, True  # expired: harvest the window again
                continue
            if code not in (None, "noRecordsMatch"):
                message = error.group(2).decode("utf-8", "replace").strip() if error else ""
                raise SourceError(f"{answer.url}: the OAI-PMH server answered {code}: "
                                  f"{message}")
            found = _TOKEN.search(answer.body)
            token = found.group(2).decode().strip() if found and found.group(2) else None
            after: dict[str, Any] = ({**window, "token": token} if token
                                     else {"from": window["until"]})
            name = f"arxiv-oai/{window['from']}_{window['until']}-{answer.url[-12:]}.xml"
            yield Page(answer.body, answer.url, "arxiv-oai",
                       re.sub(r"[^\w./-]", "_", name), after, done=token is None)
            if token is None:
                return

    def ask(self, window: dict[str, str], token: str | None) -> Answer:
        if token:
            params: dict[str, str] = {"verb": "ListRecords", "resumptionToken": token}
        else:
            params = {"verb": "ListRecords", "metadataPrefix": PREFIX,
                      "from": window["from"], "until": window["until"]}
            if self.spec.category:
                params["set"] = self.spec.category
        return self.get(self.url("/oai"), params=params)
