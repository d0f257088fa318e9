"""CSL-JSON (``.json``): the citation format of citeproc, Zotero ("CSL JSON" export),
Pandoc and ``paperatlas export --format csljson``.

A JSON array of items in the citeproc-js schema: ``title``, ``author`` (``family``,
``given``, particles, ``suffix``, or ``literal``; an ``ORCID``, as Crossref's CSL-JSON
writes it, is kept), ``issued`` (``date-parts``, or ``raw``),
``container-title``, ``DOI``, ``URL``, ``PMID``, ``keyword``, and the arXiv id as Zotero
writes it (``number``, ``note`` or ``archive_location``: ``arXiv:2401.12345``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..author_ids import ids_for
from ..records.papers import Record
from .jsonfmt import JsonDocumentParser
from .mapping import record_from_fields
from .source import InputFile

#: CSL item types (the common ones) and keys only CSL-JSON items carry.
_CSL_TYPE = re.compile(r'"type"\s*:\s*"(article|article-journal|article-magazine|'
                       r'article-newspaper|paper-conference|book|chapter|report|thesis|'
                       r'webpage|manuscript|dataset|entry-encyclopedia|speech|patent)"')
_CSL_KEY = re.compile(r'"(issued|container-title|citation-key|date-parts|family)"\s*:')
_ARXIV = re.compile(r"arxiv[:\s/]*(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?",
                    re.IGNORECASE)
_PREPRINT = re.compile(r"\s*(arxiv|biorxiv|medrxiv|ssrn|preprints?)\b.*", re.IGNORECASE)
#: Item keys the record is built from; every other key is kept in ``Record.extra``.
_CONSUMED = frozenset({"id", "citation-key", "title", "abstract", "author", "editor",
                       "issued", "container-title", "publisher", "DOI", "URL", "PMID",
                       "PMCID", "keyword", "number", "note", "archive_location"})


def csl_name(name: Any) -> str:
    """A CSL name as one string in reading order (given, particles, family, suffix)."""
    if not isinstance(name, Mapping):
        return str(name or "")
    if name.get("literal"):
        return str(name["literal"])
    parts = (name.get(k) for k in ("given", "dropping-particle", "non-dropping-particle",
                                   "family", "suffix"))
    return " ".join(str(p) for p in parts if p)


def csl_date(value: Any) -> str:
    """``{"date-parts": [[2024, 3, 15]]}`` -> ``2024-03-15`` (as far as it goes); a
    ``raw`` or ``literal`` date as written."""
    if not isinstance(value, Mapping):
        return str(value or "")
    parts = value.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
        pieces = [str(p) for p in parts[0][:3] if str(p).isdigit()]
        if pieces:
            return "-".join([pieces[0], *(p.zfill(2) for p in pieces[1:])])
    return str(value.get("raw") or value.get("literal") or "")


def csl_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    """One CSL item as record field names (``title``, ``authors``, ``date``, ...)."""
    names = item.get("author") or item.get("editor") or []
    venue = item.get("container-title")
    if not venue and _PREPRINT.fullmatch(str(item.get("publisher") or "")):
        venue = item["publisher"]  # a preprint's server (Zotero: "publisher": "arXiv")
    arxiv = next((m.group(1) + (m.group(2) or "")
                  for k in ("number", "archive_location", "note", "URL")
                  if (m := _ARXIV.search(str(item.get(k) or "")))), "")
    keywords = item.get("keyword") or ""
    obj: dict[str, Any] = {
        "key": item.get("citation-key") or item.get("id") or None,
        "title": item.get("title") or "",
        "abstract": item.get("abstract") or "",
        "authors": [n for n in map(csl_name, names if isinstance(names, list) else [])
                    if n],
        "date": csl_date(item.get("issued")),
        "venue": venue or None,
        "categories": [k.strip() for k in str(keywords).split(",") if k.strip()],
        "links": [item["URL"]] if item.get("URL") else [],
        "doi": item.get("DOI") or "",
        "pmid": item.get("PMID") or "",
        "pmcid": item.get("PMCID") or "",
        "arxiv": arxiv,
    }
    for name, value in item.items():
        if name not in _CONSUMED and name.lower() not in obj:
            obj[name.lower()] = value
    return obj


class CslJsonParser(JsonDocumentParser):
    """A CSL-JSON array: one record per item."""

    name = "csljson"
    suffixes = (".csl.json",)  # never a file's last suffix: told from JSON by content

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = file.head.lstrip()
        return (head.startswith("[") and _CSL_TYPE.search(head) is not None
                and _CSL_KEY.search(head) is not None)

    def _record(self, obj: dict[str, Any], *, line: int, entry: int) -> Record:
        rec = record_from_fields(self.mapping, csl_fields(obj), line=line, entry=entry)
        names = obj.get("author") or obj.get("editor") or []
        for name in names if isinstance(names, list) else []:
            if isinstance(name, Mapping) and (found := ids_for(
                    csl_name(name), orcid=name.get("ORCID") or name.get("orcid"))):
                rec.author_ids.append(found)
        return rec
