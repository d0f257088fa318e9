"""Semantic Scholar Graph API answers: a search page (``/graph/v1/paper/search/bulk``:
``{"total", "token", "data": [paper, ...]}``; ``/paper/search``: ``offset``/``next``), a
batch (a list of papers) or one paper.

Each paper: the title, abstract (often null), authors (with their S2 author ids, and
ORCIDs where the answer has ``authors.externalIds``), venue, publication date (else the
year), the S2 ``paperId`` and its ``externalIds`` (arXiv, DOI, PubMed, PMC), so the same
paper met in another source is one paper.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..author_ids import ids_for
from ..records.papers import Record
from ..text import parse_date
from .apijson import add_id, each_record, head_of, put_signals, read_answer, text_of, unexpected
from .base import Parser
from .source import InputFile, Lines

_PAGE = re.compile(r'^\{[^\[\]{}]*"data"\s*:\s*\[\s*\{\s*"paperId"\s*:')
_PAPER = re.compile(r'^\{\s*"paperId"\s*:\s*"[0-9a-f]{40}"')
#: ``externalIds`` names -> paperatlas id schemes.
_EXTERNAL = {"ArXiv": "arxiv", "DOI": "doi", "PubMed": "pmid"}
_WHAT = "a Semantic Scholar answer (papers under \"data\")"


class SemanticScholarParser(Parser):
    """A Semantic Scholar paper search, batch or paper: one record per paper."""

    name = "semantic-scholar"

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = head_of(file)
        if _PAPER.match(head):
            return True
        return bool(_PAGE.match(head))

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        path = str(file.path)
        doc = read_answer(fh, path, _WHAT)
        if isinstance(doc, dict) and isinstance(doc.get("data"), list):
            papers: list[Any] = doc["data"]
        elif isinstance(doc, list):
            papers = doc
        elif isinstance(doc, dict) and "paperId" in doc:
            papers = [doc]
        else:
            raise unexpected(doc, path, _WHAT)
        yield from each_record(papers, path, self._record, nulls=True)

    @staticmethod
    def _record(paper: dict[str, Any] | None, *, line: int, entry: int) -> Record:
        if paper is None:  # a batch answers null for an id it does not know
            return Record(title="", line=line, entry=entry)
        rec = Record(title=text_of(paper.get("title")), abstract=text_of(paper.get("abstract")),
                     line=line, entry=entry)
        for author in paper.get("authors") or []:
            if isinstance(author, dict) and (name := text_of(author.get("name"))):
                rec.authors.append(name)
                external = author.get("externalIds")
                orcid = external.get("ORCID") if isinstance(external, dict) else None
                if found := ids_for(name, s2=author.get("authorId"), orcid=orcid):
                    rec.author_ids.append(found)
        rec.date = parse_date(paper.get("publicationDate") or paper.get("year"))
        journal = paper.get("journal") or {}
        rec.venue = text_of(paper.get("venue")) or text_of(journal.get("name")) or None
        fields = paper.get("fieldsOfStudy")
        rec.categories = [f for f in (text_of(x) for x in fields) if f] if isinstance(
            fields, list) else []
        external = paper.get("externalIds") or {}
        for name, scheme in _EXTERNAL.items():
            add_id(rec, scheme, external.get(name))
        if pmc := external.get("PubMedCentral"):
            add_id(rec, "pmcid", f"PMC{str(pmc).removeprefix('PMC')}")
        add_id(rec, "s2", paper.get("paperId"))
        rec.source_key = rec.ids.get("s2")
        if url := text_of(paper.get("url")):
            rec.links = [url]
        if (corpus := external.get("CorpusId")) is not None:
            rec.extra["corpus_id"] = corpus
        put_signals(rec, citationCount=paper.get("citationCount"),
                    influentialCitationCount=paper.get("influentialCitationCount"))
        return rec
