"""Crossref REST API answers (``api.crossref.org/works``): one work (``"message-type":
"work"``) or a list (``"work-list"``, the works under ``message.items``).

Each work: the title, the abstract (JATS, cleaned at ingest), the authors (``given
family``, or an organization's ``name``) with their ORCIDs, the venue (the container
title, else a preprint server's ``institution``), the date (``published``, else
``issued``, ``posted`` or ``created``), the subjects as categories, the DOI (so the same
work met in another source is one paper) and its links; the type, publisher, volume,
issue, pages and ISSNs go to ``extra`` and the citation count to the signals.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..author_ids import ids_for
from ..records.papers import Record
from ..text import clean_space, parse_date
from .apijson import add_id, each_record, head_of, put_signals, read_answer, text_of, unexpected
from .base import Parser
from .csljson import csl_date
from .source import InputFile, Lines

_HEAD = re.compile(r'^\{\s*"status"\s*:\s*"ok"\s*,\s*"message-type"\s*:\s*"work(?:-list)?"')
_WHAT = "a Crossref works answer"
#: The dates a work may have, the one read first first.
_DATES = ("published", "issued", "published-online", "published-print", "posted", "created")


class CrossrefParser(Parser):
    """A Crossref ``/works`` answer: one record per work."""

    name = "crossref"

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        return bool(_HEAD.match(head_of(file)))

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        path = str(file.path)
        doc = read_answer(fh, path, _WHAT)
        message = doc.get("message") if isinstance(doc, dict) else None
        kind = doc.get("message-type") if isinstance(doc, dict) else None
        if kind == "work" and isinstance(message, dict):
            works: list[Any] = [message]
        elif kind == "work-list" and isinstance(message, dict) and isinstance(
                message.get("items"), list):
            works = message["items"]
        else:
            raise unexpected(doc, path, _WHAT)
        yield from each_record(works, path, self._record)

    @staticmethod
    def _record(work: dict[str, Any], *, line: int, entry: int) -> Record:
        rec = Record(title=_first(work.get("title")), abstract=text_of(work.get("abstract")),
                     line=line, entry=entry)
        for author in work.get("author") or []:
            if isinstance(author, dict) and (name := _name(author)):
                rec.authors.append(name)
                if found := ids_for(name, orcid=author.get("ORCID")):
                    rec.author_ids.append(found)
        rec.date = next((d for k in _DATES if (d := parse_date(csl_date(work.get(k))))), None)
        institution = work.get("institution")
        rec.venue = (_first(work.get("container-title")) or _first(
            [i.get("name") for i in institution if isinstance(i, dict)]
            if isinstance(institution, list) else None) or text_of(work.get("group-title"))
            or None)
        subjects = work.get("subject")
        rec.categories = [s for s in (text_of(x) for x in subjects) if s] if isinstance(
            subjects, list) else []
        add_id(rec, "doi", work.get("DOI"))
        resource = work.get("resource")
        primary = resource.get("primary") if isinstance(resource, dict) else None
        links = [work.get("URL"), primary.get("URL") if isinstance(primary, dict) else None]
        rec.links = list(dict.fromkeys(u for u in links if isinstance(u, str) and u))
        rec.source_key = rec.ids.get("doi")
        for name, value in (("type", work.get("type")), ("publisher", work.get("publisher")),
                            ("volume", work.get("volume")), ("issue", work.get("issue")),
                            ("page", work.get("page"))):
            if text := text_of(value):
                rec.extra[name] = text
        if isinstance(issns := work.get("ISSN"), list) and issns:
            rec.extra["issn"] = [text_of(i) for i in issns if text_of(i)]
        put_signals(rec, **{"is-referenced-by-count": work.get("is-referenced-by-count")})
        return rec


def _first(values: Any) -> str:
    """The first non-empty string of a Crossref list field (titles are lists)."""
    if isinstance(values, str):
        return text_of(values)
    return next((t for t in (text_of(v) for v in values) if t), "") if isinstance(
        values, list) else ""


def _name(author: dict[str, Any]) -> str:
    """``given family suffix``, or the name of an organization as author."""
    parts = (author.get(k) for k in ("given", "family", "suffix"))
    return clean_space(" ".join(p for p in parts if isinstance(p, str) and p.strip())) or (
        text_of(author.get("name")))
