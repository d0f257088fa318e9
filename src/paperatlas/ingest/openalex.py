"""OpenAlex answers (``api.openalex.org/works``): a list page ``{"meta": ..., "results":
[work, ...]}`` or one work object.

Each work: the title, the abstract rebuilt from ``abstract_inverted_index`` (OpenAlex
ships word positions, not text), the authors of its authorships (with their ORCIDs and
OpenAlex author ids), the venue of its primary
location, the publication date, and its ids (OpenAlex, DOI, PubMed, PMC; an arXiv DOI or
landing page gives the arXiv id), so the same work met in another source is one paper.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .. import ids as idmod
from ..author_ids import ids_for
from ..records.papers import Record
from ..text import parse_date
from .apijson import add_id, each_record, head_of, put_signals, read_answer, text_of, unexpected
from .base import Parser
from .mapping import uninvert
from .source import InputFile, Lines

_LIST = re.compile(r'^\{\s*"meta"\s*:')
_WORK = re.compile(r'^\{\s*"id"\s*:\s*"https://openalex\.org/W\d+"')
_PMC_DIGITS = re.compile(r"(?:PMC)?(\d+)/?$", re.IGNORECASE)
#: Topics kept as a work's categories (OpenAlex ranks them by score).
MAX_TOPICS = 3
_WHAT = "an OpenAlex works answer"


class OpenAlexParser(Parser):
    """An OpenAlex ``/works`` answer: one record per work."""

    name = "openalex"

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = head_of(file)
        if _WORK.match(head):
            return True
        return bool(_LIST.match(head)) and '"results"' in head and "openalex.org/W" in head

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        path = str(file.path)
        doc = read_answer(fh, path, _WHAT)
        if isinstance(doc, dict) and isinstance(doc.get("results"), list):
            works: list[Any] = doc["results"]
        elif isinstance(doc, dict) and idmod.normalize("openalex", str(doc.get("id") or "")):
            works = [doc]
        else:
            raise unexpected(doc, path, _WHAT)
        yield from each_record(works, path, self._record)

    @staticmethod
    def _record(work: dict[str, Any], *, line: int, entry: int) -> Record:
        rec = Record(title=text_of(work.get("display_name")) or text_of(work.get("title")),
                     abstract=text_of(uninvert(work.get("abstract_inverted_index"))),
                     line=line, entry=entry)
        for authorship in work.get("authorships") or []:
            if name := _author(authorship):
                rec.authors.append(name)
                author = authorship.get("author") or {}
                if isinstance(author, dict) and (found := ids_for(
                        name, orcid=author.get("orcid"), openalex=author.get("id"))):
                    rec.author_ids.append(found)
        rec.date = parse_date(work.get("publication_date") or work.get("publication_year"))
        primary = work.get("primary_location") or {}
        source = primary.get("source") or {}
        rec.venue = text_of(source.get("display_name")) or None
        topics = [text_of(t.get("display_name")) for t in work.get("topics") or []
                  if isinstance(t, dict)]
        rec.categories = [t for t in topics if t][:MAX_TOPICS]
        ids = work.get("ids") or {}
        add_id(rec, "openalex", work.get("id") or ids.get("openalex"))
        add_id(rec, "doi", work.get("doi") or ids.get("doi"))
        add_id(rec, "pmid", ids.get("pmid"))
        if (pmc := _PMC_DIGITS.search(str(ids.get("pmcid") or ""))) is not None:
            add_id(rec, "pmcid", f"PMC{pmc.group(1)}")
        links = [primary.get("landing_page_url"), primary.get("pdf_url")]
        links += [loc.get("landing_page_url") for loc in work.get("locations") or []
                  if isinstance(loc, dict)]
        rec.links = list(dict.fromkeys(str(u) for u in links if isinstance(u, str) and u))
        for scheme, raw in idmod.ids_from_links(rec.links).items():
            rec.ids.setdefault(scheme, raw)
        rec.source_key = rec.ids.get("openalex")
        if kind := text_of(work.get("type")):
            rec.extra["type"] = kind
        put_signals(rec, cited_by_count=work.get("cited_by_count"))
        return rec


def _author(authorship: Any) -> str:
    if not isinstance(authorship, dict):
        return ""
    author = authorship.get("author") or {}
    return text_of(author.get("display_name")) or text_of(authorship.get("raw_author_name"))
