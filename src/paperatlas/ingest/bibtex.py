"""BibTeX and BibLaTeX (``.bib``): exports of Zotero, Better BibTeX, JabRef and Mendeley.

The file is read entry by entry with a small scanner (:mod:`.bibscan`) that knows
BibTeX's syntax (``@string`` macros, ``#`` concatenation, braced and quoted values,
``@comment`` and ``@preamble``); field values are turned from LaTeX into
Unicode text with :mod:`pylatexenc`. A broken entry is a rejected record naming
the line where it starts and why, and reading goes on at the next line starting
with ``@`` (an ``@type{`` at the start of a line always starts a new piece, so
unbalanced braces cannot swallow the entries after them); a truncated file (its
last entry runs to the end) or one with no readable entry raises
:class:`~paperatlas.errors.ParseError`. The text is scanned a piece
at a time (each piece starts at an ``@type{`` line outside braces), so memory
holds one entry; an entry over the size limit or with braces nested too deep
is rejected.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pylatexenc.latex2text import LatexNodes2Text

from ..errors import ParseError
from ..records.papers import Record
from ..text import clean_space
from .base import Parser
from .bibscan import ENTRY_START, BibSyntaxError, Entry, Scanner, pieces
from .limits import (
    MAX_NESTING,
    RecordError,
    brace_depth,
    error_record,
    guarded,
)
from .mapping import natural_name, record_from_fields
from .source import InputFile, Lines

_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_COMMA = re.compile(r",")
_BARE_SPECIAL = re.compile(r"(?<!\\)([%&])")
_SIMPLE_ESCAPE = re.compile(r"\\([%&_#$])")
_ESCAPED = re.compile(r"\\([_%#&$~{}])")
_ARXIV_IN_TEXT = re.compile(r"arxiv[:\s/]*(\d{4}\.\d{4,5}(?:v\d+)?)", re.IGNORECASE)
_LIST_SEP = re.compile(r"\s*[,;]\s*")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
#: BibTeX's predefined macros: ``month = jan``.
_MONTH_MACROS: Mapping[str, str] = {m[:3]: m.capitalize() for m in _MONTHS}
#: Fields whose value is taken literally (no LaTeX), only braces and escapes removed.
_VERBATIM = frozenset({"url", "doi", "eprint", "file", "pdf", "urlraw", "isbn", "issn",
                       "pmid", "pmcid", "arxivid", "date", "year", "urldate", "timestamp"})
#: Fields the record is built from; every other field is kept in ``Record.extra``.
_CONSUMED = frozenset({"title", "abstract", "author", "date", "year", "month", "journaltitle",
                       "journal", "booktitle", "keywords", "url", "doi", "eprint",
                       "eprinttype", "archiveprefix", "arxivid", "pmid", "pmcid"})
_VENUE_FIELDS = ("journaltitle", "journal", "booktitle")


class _Decoder:
    """LaTeX to Unicode text (one converter per file; pylatexenc's is not shared)."""

    def __init__(self) -> None:
        self._conv = LatexNodes2Text(math_mode="text", strict_latex_spaces=True)

    def text(self, raw: str) -> str:
        if not any(c in _SIMPLE_ESCAPE.sub("", raw) for c in "\\$~"):  # the common case:
            plain = _SIMPLE_ESCAPE.sub(r"\1", raw.replace("{", "").replace("}", ""))
            return clean_space(plain)  # braces only protect case, \% is a %
        latex = _BARE_SPECIAL.sub(r"\\\1", raw)  # a bare % or & is a literal character
        text = self._conv.latex_to_text(latex)
        if "textasciicircum" in raw:  # pylatexenc writes it as a modifier letter (U+02C6)
            text = text.replace("\u02c6", "^")
        return clean_space(text)

    def names(self, raw: str) -> list[str]:
        """``Last, First and Other, A.`` -> ``["First Last", "A. Other"]``."""
        names = []
        for name in split_top(raw, _AND):
            if name.strip().lower() == "others":
                continue
            parts = [self.text(p) for p in split_top(name, _COMMA)]
            if text := natural_name(parts):
                names.append(text)
        return names


def split_top(raw: str, sep: re.Pattern[str]) -> list[str]:
    """Split on ``sep`` where it is not inside braces (``{Barnes and Noble}`` stays whole)."""
    parts: list[str] = []
    start = depth = scanned = 0
    for m in sep.finditer(raw):
        segment = raw[scanned : m.start()]
        depth += segment.count("{") - segment.count("}")
        scanned = m.start()
        if depth == 0:
            parts.append(raw[start : m.start()])
            start = m.end()
    parts.append(raw[start:])
    return [p.strip() for p in parts if p.strip()]


def verbatim(raw: str) -> str:
    """A literal field (URL, DOI): braces dropped and ``\\_``-style escapes undone."""
    return clean_space(_ESCAPED.sub(r"\1", raw).replace("{", "").replace("}", ""))


def _month_number(text: str) -> int | None:
    s = text.strip().lower()
    if s.isdigit():
        return int(s) if 1 <= int(s) <= 12 else None
    return next((i for i, m in enumerate(_MONTHS, 1) if s[:3] == m[:3] and s), None)


class BibtexParser(Parser):
    """BibTeX and BibLaTeX entries of any type: one record per entry."""

    name = "bibtex"
    suffixes = (".bib", ".bibtex")

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = file.head.lstrip()
        return not head.startswith(("[", "{")) and bool(ENTRY_START.search(file.head))

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        """Each entry as a record. A broken entry is a rejected record (its line and
        why) and reading goes on at the next line starting with ``@``; a file whose last
        entry runs to its end (truncated) or with no readable entry fails whole."""
        path = str(file.path)
        decoder = _Decoder()
        macros = dict(_MONTH_MACROS)
        count = good = 0
        cut: ParseError | None = None  # a broken entry that ran to the end of its piece
        first_error: ParseError | None = None
        for first, text, problem in pieces(fh):
            if cut is not None:  # another piece follows: the entry was broken, not cut
                count += 1
                yield error_record(cut.reason, line=cut.line or first, entry=count)
                cut = None
            if problem:
                count += 1
                yield error_record(problem, line=first, entry=count)
                continue
            newlines = [m.start() for m in re.finditer("\n", text)]

            def line_of(pos: int, first: int = first, newlines: list[int] = newlines) -> int:
                return first + bisect.bisect_left(newlines, pos)

            scanner = Scanner(text, macros)
            entries = scanner.entries()
            while True:
                try:
                    entry = next(entries, None)
                except BibSyntaxError as exc:
                    label = text[scanner.at : scanner.at + 40].split(",")[0].split("\n")[0]
                    error = ParseError(f"broken entry {label!r}: {exc.message} "
                                       f"(at line {line_of(exc.pos)})", path=path,
                                       line=line_of(scanner.at))
                    first_error = first_error or error
                    scanner.resync()
                    entries = scanner.entries()
                    if exc.at_end and scanner.pos >= len(text):
                        cut = error
                    else:
                        count += 1
                        yield error_record(error.reason, line=error.line or first, entry=count)
                    continue
                if entry is None:
                    break
                count += 1
                good += 1
                yield guarded(self._record, entry, decoder, line=line_of(entry.pos),
                              entry=count)
        if cut is not None:
            raise ParseError(f"{cut.reason}; the file ends inside it (truncated?)",
                             path=path, line=cut.line)
        if first_error is not None and not good:
            raise first_error

    def _record(self, item: Entry, decoder: _Decoder, *, line: int, entry: int) -> Record:
        return record_from_fields(self.mapping, self._fields(item, decoder), line=line,
                                  entry=entry)

    @staticmethod
    def _fields(entry: Entry, decoder: _Decoder) -> dict[str, Any]:
        """The entry as record field names (``title``, ``authors``, ``venue``, ...)."""
        f = entry.fields
        for name, value in f.items():
            if (depth := brace_depth(value)) > MAX_NESTING:
                raise RecordError(f"field {name!r} nests braces {depth} deep "
                                  f"(more than {MAX_NESTING})")
        raw = {k: verbatim(v) if k in _VERBATIM else v for k, v in f.items()}
        obj: dict[str, Any] = {
            "key": entry.key or None,
            "title": decoder.text(f.get("title", "")),
            "abstract": decoder.text(f.get("abstract", "")),
            "authors": decoder.names(f.get("author", "")) or decoder.names(f.get("editor", "")),
            "date": _date(raw),
            "year": raw.get("year", ""),
            "venue": next((decoder.text(f[k]) for k in _VENUE_FIELDS if f.get(k)), None),
            "categories": [k for k in _LIST_SEP.split(decoder.text(f.get("keywords", ""))) if k],
            "links": [raw["url"]] if raw.get("url") else [],
            "doi": raw.get("doi", ""),
            "pmid": raw.get("pmid", ""),
            "pmcid": raw.get("pmcid", ""),
            "arxiv": raw.get("arxivid", ""),
        }
        kind = (f.get("eprinttype") or f.get("archiveprefix") or "").strip("{} ").lower()
        eprint = raw.get("eprint", "")
        if eprint and kind in ("", "arxiv"):
            obj["arxiv"] = obj["arxiv"] or eprint
        elif eprint and kind in ("pubmed", "pmid"):
            obj["pmid"] = obj["pmid"] or eprint
        if not obj["arxiv"]:
            for name in ("note", "journal", "journaltitle", "howpublished"):
                m = _ARXIV_IN_TEXT.search(f.get(name, ""))
                if m:
                    obj["arxiv"] = m.group(1)
                    break
        obj["entrytype"] = entry.kind
        for name, value in f.items():
            if name not in _CONSUMED and name not in obj:
                obj[name] = raw[name] if name in _VERBATIM else decoder.text(value)
        return obj



def _date(raw: Mapping[str, str]) -> str:
    """BibLaTeX ``date`` (the start of a range), else ``year`` with ``month``."""
    if raw.get("date"):
        return raw["date"].split("/")[0].strip()
    year = raw.get("year", "").strip()
    month = _month_number(raw.get("month", "").strip("{} "))
    if month and re.fullmatch(r"\d{4}", year):
        return f"{year}-{month:02d}"
    return year
