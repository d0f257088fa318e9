"""arXiv's OAI-PMH interface (``oaipmh.arxiv.org/oai``; ``export.arxiv.org/oai2`` before):
``ListRecords`` harvests for backfills and daily updates.

A run harvests one window of datestamps, ``from`` (the cursor's, or ``--since``) to
``until`` (the run's day), in arXiv's own metadata format (``metadataPrefix=arXiv``), of
one set (``--category``, see :func:`oai_set`; none: everything). Each
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

from ..errors import InvalidOptionError
from ..records.sources import SourceSpec
from .base import Page, Source
from .http import Answer, SourceError

#: The metadata format asked (arXiv's own: structured authors, categories, DOI, license).
PREFIX = "arXiv"
_TOKEN = re.compile(rb"<resumptionToken([^>]*)>([^<]*)</resumptionToken>|<resumptionToken[^>]*/>")
_ERROR = re.compile(rb'<error\s+code="([^"]+)"[^>]*>([^<]*)<')
#: arXiv's physics archives, whose sets sit under the physics group.
PHYSICS = frozenset({"astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph",
                     "hep-th", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics",
                     "quant-ph"})


def oai_set(category: str) -> str:
    """The OAI-PMH set of ``--category``, as arXiv's ``ListSets`` names them
    (``group:archive:CLASS``): a set as it is (``cs``, ``physics:hep-th``, ``cs:cs:AI``),
    a physics archive under its group (``quant-ph`` -> ``physics:quant-ph``), a category
    under its archive (``cs.CL`` -> ``cs:cs:CL``, ``astro-ph.CO`` ->
    ``physics:astro-ph:CO``, ``physics.optics`` -> ``physics:physics:optics``)."""
    category = category.strip()
    if ":" in category:
        return category
    archive, _, subject = category.partition(".")
    group = "physics" if archive in PHYSICS else archive
    if not subject:
        return archive if group == archive else f"{group}:{archive}"
    return f"{group}:{archive}:{subject}"


class ArxivOaiSource(Source):
    kind: ClassVar[str] = "arxiv-oai"
    base: ClassVar[str] = "https://oaipmh.arxiv.org"
    interval: ClassVar[float] = 3.0

    @classmethod
    def check(cls, spec: SourceSpec) -> None:
        super().check(spec)
        if spec.category and len(re.split(r"[\s,+]+", spec.category.strip())) > 1:
            raise InvalidOptionError("category", spec.category, [
                "one arXiv set a source (cs, cs.CL, quant-ph, physics:hep-th): "
                "OAI-PMH harvests a single set; add a source per set"])

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
                params["set"] = oai_set(self.spec.category)
        return self.get(self.url("/oai"), params=params)
