"""arXiv's XML listings: API query answers (Atom) and OAI-PMH harvests.

Both are read as a stream (:mod:`.xmlstream`): each ``<entry>`` or ``<record>``
becomes a record as soon as it is complete and is then dropped, so a file of any
size needs the memory of one paper (a record, or a line, over the size limit fails
the file). No network is used; a resumption token (OAI-PMH) or paging link (Atom)
is ignored, since one file is one response.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator

from .. import ids as idmod
from ..errors import ParseError
from ..records.papers import Record
from ..text import clean_space, parse_date, split_authors
from .base import Parser
from .source import InputFile, Lines
from .xmlstream import (
    Shape,
    child,
    child_text,
    child_texts,
    children,
    element_text,
    local_name,
    put_extra,
    stream,
    unique,
)

_ATOM_NS = "http://www.w3.org/2005/Atom"
_OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_OAI_ID_PREFIX = re.compile(r"^oai:arxiv\.org:", re.IGNORECASE)
#: Between the DOIs of one field: spaces, or a comma/semicolon (not the ``;`` inside
#: an old SICI DOI, so only when a space or another ``10.`` follows).
_DOI_SEPARATORS = re.compile(r"[,;]?\s+|[,;](?=10\.)")
_COMMENT_PREFIX = "Comment:"
#: OAI-PMH error codes that mean "an empty answer", not a failed request.
_OAI_EMPTY_CODES = ("noRecordsMatch",)


def set_arxiv_ids(rec: Record, arxiv: Iterable[str], dois: Iterable[str],
                  fallback_key: str) -> None:
    """arXiv id (the first of ``arxiv`` that is one, with its version) and DOIs,
    recognized as the rest of paperatlas does.

    The source key is the arXiv id without version, as in arXiv's JSON metadata,
    so that every listing of a paper gets the same key.
    """
    pair = next((p for p in (idmod.normalize("arxiv", _OAI_ID_PREFIX.sub("", t))
                             for t in arxiv if t) if p), None)
    if pair:
        rec.ids["arxiv"] = pair[1]
        rec.source_key = pair[0]
    else:
        rec.source_key = fallback_key or None
    found = unique(p[1] for t in dois for p in
                   [idmod.normalize("doi", d.strip(",;")) for d in _DOI_SEPARATORS.split(t)] if p)
    if found:
        rec.ids["doi"] = found[0]
    if len(found) > 1:
        rec.extra["other_dois"] = found[1:]


def abs_link(rec: Record) -> None:
    """A link to the abstract page when the listing gives none."""
    if not rec.links and rec.source_key and "arxiv" in rec.ids:
        rec.links.append(f"https://arxiv.org/abs/{rec.source_key}")


class ArxivAtomParser(Parser):
    """An arXiv API answer (``export.arxiv.org/api/query``): one ``<entry>`` per paper."""

    name = "arxiv-atom"
    suffixes = (".atom",)
    _shape = Shape("an arXiv API Atom feed", ("feed",), frozenset({("entry", "feed")}))

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = file.head.lstrip()
        return (head.startswith("<") and "<feed" in head and _ATOM_NS in head
                and "arxiv.org" in head.lower())

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        path = str(file.path)
        for entry, (elem, line) in enumerate(stream(fh, path, self._shape), 1):
            yield self._record(elem, path, line, entry)

    @staticmethod
    def _record(elem: ET.Element, path: str, line: int, entry: int) -> Record:
        raw_id = child_text(elem, "id")
        if "/api/errors" in raw_id:
            raise ParseError("the arXiv API answered with an error: "
                             + (child_text(elem, "summary") or raw_id), path=path, line=line)
        rec = Record(title=child_text(elem, "title"), abstract=child_text(elem, "summary"),
                     line=line, entry=entry)
        affiliations: dict[str, list[str]] = {}
        for author in children(elem, "author"):
            name = child_text(author, "name")
            if name:
                rec.authors.append(name)
                if affs := child_texts(author, "affiliation"):
                    affiliations[name] = affs
        rec.date = parse_date(child_text(elem, "published") or child_text(elem, "updated"))
        primary = [c.get("term", "") for c in children(elem, "primary_category")]
        rec.categories = unique(
            clean_space(t) for t in primary + [c.get("term", "") for c in
                                               children(elem, "category")])
        rec.venue = child_text(elem, "journal_ref") or None
        links = [lk for lk in children(elem, "link") if lk.get("href")]
        links.sort(key=lambda lk: 0 if lk.get("rel") == "alternate" else
                   1 if lk.get("title") == "pdf" or lk.get("type") == "application/pdf" else 2)
        rec.links = unique(lk.get("href", "") for lk in links)
        set_arxiv_ids(rec, [raw_id], child_texts(elem, "doi"), raw_id)
        put_extra(rec.extra, comments=child_text(elem, "comment"),
                  updated=parse_date(child_text(elem, "updated")), affiliations=affiliations)
        return rec


class ArxivOaiParser(Parser):
    """An OAI-PMH answer (``ListRecords`` / ``GetRecord``) in ``oai_dc``, ``arXiv`` or
    ``arXivRaw`` metadata; deleted records are skipped."""

    name = "arxiv-oai"
    _shape = Shape("an OAI-PMH response", ("OAI-PMH", "ListRecords", "GetRecord"),
                    frozenset({("record", "ListRecords"), ("record", "GetRecord"),
                               ("error", "OAI-PMH")}))

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = file.head.lstrip()
        if not head.startswith("<"):
            return False
        return "<OAI-PMH" in head or (
            _OAI_NS in head and ("<ListRecords" in head or "<GetRecord" in head))

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        path = str(file.path)
        entry = 0
        for elem, line in stream(fh, path, self._shape):
            if local_name(elem.tag) == "error":
                code = elem.get("code", "")
                if code in _OAI_EMPTY_CODES:
                    continue
                raise ParseError(f"the OAI-PMH server answered with an error: {code} "
                                 f"{element_text(elem)}".rstrip(), path=path, line=line)
            entry += 1
            header = child(elem, "header")
            if header is not None and header.get("status") == "deleted":
                continue
            yield self._record(elem, header, path, line, entry)

    @staticmethod
    def _record(elem: ET.Element, header: ET.Element | None, path: str, line: int,
                entry: int) -> Record:
        oai_id = child_text(header, "identifier") if header is not None else ""
        metadata = child(elem, "metadata")
        formats = list(metadata) if metadata is not None else []
        rec = Record(title="", line=line, entry=entry)
        if not formats:  # no metadata: rejected downstream as a record without a title
            set_arxiv_ids(rec, [oai_id], (), oai_id)
            return rec
        meta = formats[0]
        kind = local_name(meta.tag)
        if kind == "dc":
            _dublin_core(rec, meta, oai_id)
        elif kind in ("arXiv", "arXivRaw"):
            _arxiv_metadata(rec, meta, oai_id, raw=kind == "arXivRaw")
        else:
            raise ParseError(f"unsupported OAI-PMH metadata format <{kind}> "
                             "(supported: oai_dc, arXiv, arXivRaw)", path=path, line=line)
        abs_link(rec)
        return rec


def inverted_name(name: str) -> str:
    """``'Licata, Ignazio'`` -> ``'Ignazio Licata'``; other shapes are kept."""
    last, sep, first = name.partition(",")
    if not sep or "," in first or not first.strip():
        return name
    return clean_space(f"{first} {last}")


def _dublin_core(rec: Record, meta: ET.Element, oai_id: str) -> None:
    """``oai_dc``: title, creators, subjects, descriptions, dates and identifiers."""
    rec.title = child_text(meta, "title")
    rec.authors = [inverted_name(n) for n in child_texts(meta, "creator")]
    rec.categories = unique(child_texts(meta, "subject"))
    descriptions = child_texts(meta, "description")
    comments = [d.removeprefix(_COMMENT_PREFIX).strip() for d in descriptions
                if d.startswith(_COMMENT_PREFIX)]
    rec.abstract = next((d for d in descriptions if not d.startswith(_COMMENT_PREFIX)), "")
    dates = [d for d in (parse_date(t) for t in child_texts(meta, "date")) if d]
    rec.date = dates[0] if dates else None
    arxiv = [oai_id]
    dois: list[str] = []
    refs: list[str] = []
    for ident in child_texts(meta, "identifier"):
        if idmod.normalize("arxiv", ident):
            arxiv.append(ident)
            if ident.startswith("http"):
                rec.links.append(ident)
        elif idmod.normalize("doi", ident):
            dois.append(ident)
        elif ident.startswith(("http://", "https://")):
            rec.links.append(ident)
        else:
            refs.append(ident)
    rec.venue = refs[0] if refs else None
    set_arxiv_ids(rec, arxiv, dois, oai_id)
    put_extra(rec.extra, comments="; ".join(comments),
              updated=dates[-1] if len(dates) > 1 else None)


def _arxiv_metadata(rec: Record, meta: ET.Element, oai_id: str, *, raw: bool) -> None:
    """arXiv's own OAI formats: ``arXiv`` (structured authors) and ``arXivRaw`` (versions)."""
    rec.title = child_text(meta, "title")
    rec.abstract = child_text(meta, "abstract")
    rec.categories = unique(child_text(meta, "categories").split())
    rec.venue = child_text(meta, "journal-ref") or None
    arxiv = child_text(meta, "id") or oai_id
    affiliations: dict[str, list[str]] = {}
    updated: str | None = None
    if raw:
        rec.authors = split_authors(child_text(meta, "authors"))
        versions = children(meta, "version")
        dates = [parse_date(child_text(v, "date")) for v in versions]
        rec.date = dates[0] if dates else None
        updated = dates[-1] if len(dates) > 1 else None
        if versions and versions[-1].get("version", "").startswith("v"):
            arxiv += versions[-1].get("version", "")
    else:
        authors = child(meta, "authors")
        for author in children(authors, "author") if authors is not None else []:
            parts = (child_text(author, "forenames"), child_text(author, "keyname"),
                     child_text(author, "suffix"))
            name = " ".join(p for p in parts if p)
            if name:
                rec.authors.append(name)
                if affs := child_texts(author, "affiliation"):
                    affiliations[name] = affs
        rec.date = parse_date(child_text(meta, "created"))
        updated = parse_date(child_text(meta, "updated"))
    set_arxiv_ids(rec, [arxiv, oai_id], child_texts(meta, "doi"), oai_id)
    put_extra(rec.extra, comments=child_text(meta, "comments"), updated=updated,
              report_no=child_text(meta, "report-no"), license=child_text(meta, "license"),
              affiliations=affiliations)
