"""arXiv's XML listings: API query answers (Atom) and OAI-PMH harvests.

Both are read as a stream: each ``<entry>`` or ``<record>`` becomes a record
as soon as it is complete and is then dropped, so a file of any size needs
the memory of one paper (a record, or a line, over the size limit fails the
file). No network is used; a resumption token (OAI-PMH) or paging link (Atom)
is ignored, since one file is one response.
"""

from __future__ import annotations

import pyexpat
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .. import ids as idmod
from ..errors import ParseError
from ..records.papers import Record
from ..text import clean_space, parse_date, split_authors
from .base import Parser
from .limits import MAX_RECORD_CHARS
from .source import InputFile, Lines

_ATOM_NS = "http://www.w3.org/2005/Atom"
_OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_OAI_ID_PREFIX = re.compile(r"^oai:arxiv\.org:", re.IGNORECASE)
#: Between the DOIs of one field: spaces, or a comma/semicolon (not the ``;`` inside
#: an old SICI DOI, so only when a space or another ``10.`` follows).
_DOI_SEPARATORS = re.compile(r"[,;]?\s+|[,;](?=10\.)")
_COMMENT_PREFIX = "Comment:"
#: OAI-PMH error codes that mean "an empty answer", not a failed request.
_OAI_EMPTY_CODES = ("noRecordsMatch",)


@dataclass(frozen=True)
class _Shape:
    """Which elements of an XML file hold the records, and which roots are allowed."""

    what: str  # what the file is, for messages ("an arXiv API Atom feed")
    roots: tuple[str, ...]
    wanted: frozenset[tuple[str, str]]  # (element, parent element), local names


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _stream(fh: Lines, path: str, shape: _Shape) -> Iterator[tuple[ET.Element, int]]:
    """Yield each wanted element, complete, with the line of its start tag.

    Lines are fed one at a time so that expat's line numbers are the file's;
    a yielded element is removed from the tree once the caller is done with it.
    """
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    stack: list[ET.Element] = []
    starts: list[int] = []
    n, text = 0, ""
    size = 0  # characters fed since the last record
    try:
        for n, text in fh:
            size += len(text) + 1
            if size > MAX_RECORD_CHARS:
                raise ParseError(f"a record is more than {MAX_RECORD_CHARS} characters long "
                                 f"(from line {starts[-1] if starts else 1})", path=path, line=n)
            try:
                parser.feed(text + "\n")
            except UnicodeEncodeError as exc:  # a stray byte, kept as a surrogate escape
                raise ParseError("malformed XML: a byte that is not valid text",
                                 path=path, line=n) from exc
            for item in parser.read_events():
                event, elem = item[0], item[-1]
                if not isinstance(elem, ET.Element):
                    continue
                if event == "start":
                    if not stack and _local(elem.tag) not in shape.roots:
                        raise ParseError(
                            f"not {shape.what}: the root element is <{_local(elem.tag)}>",
                            path=path, line=n)
                    stack.append(elem)
                    starts.append(n)
                    continue
                stack.pop()
                line = starts.pop()
                if not stack or (_local(elem.tag), _local(stack[-1].tag)) not in shape.wanted:
                    continue
                yield elem, line
                stack[-1].remove(elem)
                size = 0
        parser.close()
        list(parser.read_events())
    except ET.ParseError as exc:
        line, column = exc.position[0], exc.position[1]
        if line > n:  # the end of the file (each line is fed with a newline)
            line, column = max(n, 1), len(text) if n else 0
        raise ParseError(f"malformed XML: {pyexpat.ErrorString(exc.code)} (column {column + 1})",
                         path=path, line=line) from exc


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in elem if _local(child.tag) == name]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    return next((child for child in elem if _local(child.tag) == name), None)


def _string(elem: ET.Element | None) -> str:
    return clean_space("".join(elem.itertext())) if elem is not None else ""


def _texts(elem: ET.Element, name: str) -> list[str]:
    return [t for t in (_string(child) for child in _children(elem, name)) if t]


def _text(elem: ET.Element, name: str) -> str:
    return _string(_child(elem, name))


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _set_ids(rec: Record, arxiv: Iterable[str], dois: Iterable[str], fallback_key: str) -> None:
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
    found = _unique(p[1] for t in dois for p in
                    [idmod.normalize("doi", d.strip(",;")) for d in _DOI_SEPARATORS.split(t)] if p)
    if found:
        rec.ids["doi"] = found[0]
    if len(found) > 1:
        rec.extra["other_dois"] = found[1:]


def _abs_link(rec: Record) -> None:
    """A link to the abstract page when the listing gives none."""
    if not rec.links and rec.source_key and "arxiv" in rec.ids:
        rec.links.append(f"https://arxiv.org/abs/{rec.source_key}")


def _put(extra: dict[str, object], **values: object) -> None:
    extra.update({k: v for k, v in values.items() if v not in (None, "", [], {})})


class ArxivAtomParser(Parser):
    """An arXiv API answer (``export.arxiv.org/api/query``): one ``<entry>`` per paper."""

    name = "arxiv-atom"
    suffixes = (".atom",)
    _shape = _Shape("an arXiv API Atom feed", ("feed",), frozenset({("entry", "feed")}))

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = file.head.lstrip()
        return (head.startswith("<") and "<feed" in head and _ATOM_NS in head
                and "arxiv.org" in head.lower())

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        path = str(file.path)
        for entry, (elem, line) in enumerate(_stream(fh, path, self._shape), 1):
            yield self._record(elem, path, line, entry)

    @staticmethod
    def _record(elem: ET.Element, path: str, line: int, entry: int) -> Record:
        raw_id = _text(elem, "id")
        if "/api/errors" in raw_id:
            raise ParseError("the arXiv API answered with an error: "
                             + (_text(elem, "summary") or raw_id), path=path, line=line)
        rec = Record(title=_text(elem, "title"), abstract=_text(elem, "summary"),
                     line=line, entry=entry)
        affiliations: dict[str, list[str]] = {}
        for author in _children(elem, "author"):
            name = _text(author, "name")
            if name:
                rec.authors.append(name)
                if affs := _texts(author, "affiliation"):
                    affiliations[name] = affs
        rec.date = parse_date(_text(elem, "published") or _text(elem, "updated"))
        primary = [c.get("term", "") for c in _children(elem, "primary_category")]
        rec.categories = _unique(
            clean_space(t) for t in primary + [c.get("term", "") for c in
                                               _children(elem, "category")])
        rec.venue = _text(elem, "journal_ref") or None
        links = [lk for lk in _children(elem, "link") if lk.get("href")]
        links.sort(key=lambda lk: 0 if lk.get("rel") == "alternate" else
                   1 if lk.get("title") == "pdf" or lk.get("type") == "application/pdf" else 2)
        rec.links = _unique(lk.get("href", "") for lk in links)
        _set_ids(rec, [raw_id], _texts(elem, "doi"), raw_id)
        _put(rec.extra, comments=_text(elem, "comment"), updated=parse_date(_text(elem, "updated")),
             affiliations=affiliations)
        return rec


class ArxivOaiParser(Parser):
    """An OAI-PMH answer (``ListRecords`` / ``GetRecord``) in ``oai_dc``, ``arXiv`` or
    ``arXivRaw`` metadata; deleted records are skipped."""

    name = "arxiv-oai"
    _shape = _Shape("an OAI-PMH response", ("OAI-PMH", "ListRecords", "GetRecord"),
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
        for elem, line in _stream(fh, path, self._shape):
            if _local(elem.tag) == "error":
                code = elem.get("code", "")
                if code in _OAI_EMPTY_CODES:
                    continue
                raise ParseError(f"the OAI-PMH server answered with an error: {code} "
                                 f"{_string(elem)}".rstrip(), path=path, line=line)
            entry += 1
            header = _child(elem, "header")
            if header is not None and header.get("status") == "deleted":
                continue
            yield self._record(elem, header, path, line, entry)

    @staticmethod
    def _record(elem: ET.Element, header: ET.Element | None, path: str, line: int,
                entry: int) -> Record:
        oai_id = _text(header, "identifier") if header is not None else ""
        metadata = _child(elem, "metadata")
        formats = list(metadata) if metadata is not None else []
        rec = Record(title="", line=line, entry=entry)
        if not formats:  # no metadata: rejected downstream as a record without a title
            _set_ids(rec, [oai_id], (), oai_id)
            return rec
        meta = formats[0]
        kind = _local(meta.tag)
        if kind == "dc":
            _dublin_core(rec, meta, oai_id)
        elif kind in ("arXiv", "arXivRaw"):
            _arxiv_metadata(rec, meta, oai_id, raw=kind == "arXivRaw")
        else:
            raise ParseError(f"unsupported OAI-PMH metadata format <{kind}> "
                             "(supported: oai_dc, arXiv, arXivRaw)", path=path, line=line)
        _abs_link(rec)
        return rec


def _inverted_name(name: str) -> str:
    """``'Licata, Ignazio'`` -> ``'Ignazio Licata'``; other shapes are kept."""
    last, sep, first = name.partition(",")
    if not sep or "," in first or not first.strip():
        return name
    return clean_space(f"{first} {last}")


def _dublin_core(rec: Record, meta: ET.Element, oai_id: str) -> None:
    """``oai_dc``: title, creators, subjects, descriptions, dates and identifiers."""
    rec.title = _text(meta, "title")
    rec.authors = [_inverted_name(n) for n in _texts(meta, "creator")]
    rec.categories = _unique(_texts(meta, "subject"))
    descriptions = _texts(meta, "description")
    comments = [d.removeprefix(_COMMENT_PREFIX).strip() for d in descriptions
                if d.startswith(_COMMENT_PREFIX)]
    rec.abstract = next((d for d in descriptions if not d.startswith(_COMMENT_PREFIX)), "")
    dates = [d for d in (parse_date(t) for t in _texts(meta, "date")) if d]
    rec.date = dates[0] if dates else None
    arxiv = [oai_id]
    dois: list[str] = []
    refs: list[str] = []
    for ident in _texts(meta, "identifier"):
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
    _set_ids(rec, arxiv, dois, oai_id)
    _put(rec.extra, comments="; ".join(comments), updated=dates[-1] if len(dates) > 1 else None)


def _arxiv_metadata(rec: Record, meta: ET.Element, oai_id: str, *, raw: bool) -> None:
    """arXiv's own OAI formats: ``arXiv`` (structured authors) and ``arXivRaw`` (versions)."""
    rec.title = _text(meta, "title")
    rec.abstract = _text(meta, "abstract")
    rec.categories = _unique(_text(meta, "categories").split())
    rec.venue = _text(meta, "journal-ref") or None
    arxiv = _text(meta, "id") or oai_id
    affiliations: dict[str, list[str]] = {}
    updated: str | None = None
    if raw:
        rec.authors = split_authors(_text(meta, "authors"))
        versions = _children(meta, "version")
        dates = [parse_date(_text(v, "date")) for v in versions]
        rec.date = dates[0] if dates else None
        updated = dates[-1] if len(dates) > 1 else None
        if versions and versions[-1].get("version", "").startswith("v"):
            arxiv += versions[-1].get("version", "")
    else:
        authors = _child(meta, "authors")
        for author in _children(authors, "author") if authors is not None else []:
            parts = (_text(author, "forenames"), _text(author, "keyname"),
                     _text(author, "suffix"))
            name = " ".join(p for p in parts if p)
            if name:
                rec.authors.append(name)
                if affs := _texts(author, "affiliation"):
                    affiliations[name] = affs
        rec.date = parse_date(_text(meta, "created"))
        updated = parse_date(_text(meta, "updated"))
    _set_ids(rec, [arxiv, oai_id], _texts(meta, "doi"), oai_id)
    _put(rec.extra, comments=_text(meta, "comments"), updated=updated,
         report_no=_text(meta, "report-no"), license=_text(meta, "license"),
         affiliations=affiliations)
