"""bioRxiv and medRxiv answers (``api.biorxiv.org/details/{server}/...``): ``{"messages":
[{"status": "ok", "total": ...}], "collection": [preprint, ...]}``.

Each preprint version is one record: title, abstract, authors (``"Last, F.; Last, F."``
read as ``F. Last``), the posting date, the server (bioRxiv or medRxiv) as venue, the
category, and its DOI (every version of a preprint has the same DOI, so they are one
paper). The version, server, category, licence, type and the DOI of the journal article
(``published``, when there is one) are the paper's signals: a version newer than the one
stored revises the paper's title, abstract and authors, never duplicates it. An answer
that found nothing (``"no posts found"``) has no records; any other status fails it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..errors import ParseError
from ..records.papers import Record
from ..text import parse_date
from .apijson import add_id, head_of, not_object, put_signals, read_answer, text_of, unexpected
from .arxivxml import inverted_name
from .base import Parser
from .limits import guarded
from .source import InputFile, Lines

_HEAD = re.compile(r'^\{\s*"messages"\s*:\s*\[\s*\{\s*"status"\s*:')
_WHAT = "a bioRxiv/medRxiv details answer"
#: Statuses of an answer that found nothing (a quiet day, a window in the future).
_EMPTY = ("no posts found",)
#: Hosts of each server's pages.
_HOSTS = {"biorxiv": "www.biorxiv.org", "medrxiv": "www.medrxiv.org"}


class BiorxivParser(Parser):
    """A bioRxiv/medRxiv ``details`` answer: one record per preprint version."""

    name = "biorxiv"

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = head_of(file)
        return bool(_HEAD.match(head)) and ('"collection"' in head or '"interval"' in head)

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        path = str(file.path)
        doc = read_answer(fh, path, _WHAT)
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
            raise unexpected(doc, path, _WHAT)
        status = status_of(doc)
        items = doc.get("collection")
        if status in _EMPTY and not items:
            return
        if status != "ok" or not isinstance(items, list):
            raise ParseError(f"not {_WHAT}: the API answered {status or 'no status'!r}",
                             path=path, line=1)
        for i, item in enumerate(items, 1):
            if not isinstance(item, dict):
                raise not_object(item, i, path)
            yield guarded(self._record, item, line=0, entry=i)

    @staticmethod
    def _record(item: dict[str, Any], *, line: int, entry: int) -> Record:
        rec = Record(title=text_of(item.get("title")), abstract=text_of(item.get("abstract")),
                     line=line, entry=entry)
        rec.authors = [inverted_name(a.strip()) for a in
                       text_of(item.get("authors")).split(";") if a.strip()]
        rec.date = parse_date(text_of(item.get("date")))
        server = text_of(item.get("server"))
        rec.venue = server or None
        category = text_of(item.get("category"))
        rec.categories = [category] if category else []
        doi = text_of(item.get("doi"))
        add_id(rec, "doi", doi)
        rec.source_key = rec.ids.get("doi") or doi or None
        host = _HOSTS.get(server.lower())
        if host and "doi" in rec.ids:
            rec.links = [f"https://{host}/content/{rec.ids['doi']}"]
        version = text_of(str(item.get("version") or ""))
        published = text_of(item.get("published"))
        put_signals(rec, version=int(version) if version.isdigit() else None,
                    server=server, category=category, license=text_of(item.get("license")),
                    type=text_of(item.get("type")),
                    published=published if published not in ("", "NA") else None)
        funders = item.get("funder")
        rec.extra.update({k: v for k, v in (
            ("author_corresponding", text_of(item.get("author_corresponding"))),
            ("institution", text_of(item.get("author_corresponding_institution"))),
            ("jatsxml", text_of(item.get("jatsxml"))),
            ("funders", [text_of(f.get("name")) for f in funders if isinstance(f, dict)]
             if isinstance(funders, list) else None)) if v})
        return rec


def status_of(doc: dict[str, Any]) -> str:
    """``messages[0].status`` of an answer (``""`` when there is none)."""
    messages = doc.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    return text_of(first.get("status")) if isinstance(first, dict) else ""
