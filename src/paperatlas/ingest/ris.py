"""RIS (``.ris``): the tagged format of Zotero, EndNote, Mendeley, Scopus and most databases.

Each line is ``TAG  - value``; a record starts with ``TY`` and ends with
``ER``. A line that is not a tag continues the value of the tag before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..errors import ParseError
from ..records.papers import Record
from ..text import clean_space, parse_date
from .base import Parser
from .limits import MAX_LINE_CHARS, MAX_RECORD_CHARS, error_record, guarded
from .mapping import natural_name, record_from_fields
from .source import InputFile, Lines

_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*)|\s*)$")
_FIRST_TAG = re.compile(r"^\s*TY  - ", re.MULTILINE)
_TITLE_TAGS = ("TI", "T1", "CT")
_ABSTRACT_TAGS = ("AB", "N2")
_AUTHOR_TAGS = ("AU", "A1")
_EDITOR_TAGS = ("ED", "A2")
_DATE_TAGS = ("DA", "PY", "Y1")
_VENUE_TAGS = ("JF", "JO", "T2", "JA", "J2", "BT")
#: Tags the record is built from; every other tag is kept in ``Record.extra``.
_CONSUMED = frozenset({*_TITLE_TAGS, *_ABSTRACT_TAGS, *_AUTHOR_TAGS, *_DATE_TAGS,
                       *_VENUE_TAGS, "KW", "UR", "DO", "ID", "ER"})
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/", re.IGNORECASE)


class RisParser(Parser):
    """RIS records, ``TY  - `` to ``ER  - ``; repeated tags (AU, KW, UR) collect."""

    name = "ris"
    suffixes = (".ris",)

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        first = next((ln for ln in file.head.splitlines() if ln.strip()), "")
        return bool(_FIRST_TAG.match(first))

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        """Each ``TY``..``ER`` record as a record. A broken record is a rejected record
        and reading goes on: one with no ``ER  -`` before the next ``TY  -`` (the new
        record starts at that ``TY``), one over a size limit, and a stretch of tags or
        text outside any record (up to the next ``TY  -``). The file fails whole when it
        does not start with a record (no RIS) or its last record never ends (truncated)."""
        path = str(file.path)
        tags: list[tuple[str, str]] | None = None  # the record being read
        start = 0
        count = 0
        size = 0  # characters of the record being read
        problem: str | None = None  # why the record being read will be rejected
        stray = last = 0  # the first and last line outside any record since the last one
        fh.tolerant = True
        for n, text in fh:
            if tags is not None and problem is None:
                size += len(text)
                if n in fh.long:
                    problem = (f"line {n} is {fh.long[n].chars} characters long "
                               f"(more than {MAX_LINE_CHARS})")
                elif size > MAX_RECORD_CHARS:
                    problem = f"the record is more than {MAX_RECORD_CHARS} characters long"
                if problem:
                    tags = tags[:1]  # its text is dropped; the record ends at its 'ER  -'
            elif n in fh.long and tags is None:
                if not count:
                    raise ParseError(f"line is {fh.long[n].chars} characters long "
                                     f"(more than {MAX_LINE_CHARS})", path=path, line=n)
                stray, last = stray or n, n
                continue
            line = text.lstrip("\ufeff").rstrip()
            m = _TAG.match(line)
            if m is not None and m.group(1) == "TY":
                if stray:
                    count += 1
                    yield error_record(_stray_reason(stray, last), line=stray, entry=count)
                    stray = 0
                if tags is not None:
                    count += 1
                    yield error_record(f"the record has no 'ER  -' before the next 'TY  -' "
                                       f"at line {n}", line=start, entry=count)
                tags, start, size = [("TY", (m.group(2) or "").strip())], n, len(text)
                problem = None
            elif tags is None:
                if not line.strip():
                    continue
                if count:
                    stray, last = stray or n, n
                elif m is None:
                    raise ParseError(f"expected a tag line 'TY  - ...', found {line[:40]!r}",
                                     path=path, line=n)
                else:
                    raise ParseError(f"tag {m.group(1)} outside a record (expected 'TY  -' "
                                     "first)", path=path, line=n)
            elif m is None:
                if line.strip() and not problem:
                    tag, value = tags[-1]
                    tags[-1] = (tag, f"{value}\n{line.strip()}")
            elif m.group(1) == "ER":
                count += 1
                if problem:
                    yield error_record(problem, line=start, entry=count)
                else:
                    yield guarded(self._record, tags, line=start, entry=count)
                tags, problem = None, None
            elif not problem:
                tags.append((m.group(1), (m.group(2) or "").strip()))
        if tags is not None:
            raise ParseError("the record starting here never ends (no 'ER  -' line)",
                             path=path, line=start)
        if stray:
            cut = "" if fh.final_newline else " (the last line is cut off: a truncated file?)"
            yield error_record(_stray_reason(stray, last) + cut, line=stray,
                               entry=count + 1)

    def _record(self, tags: list[tuple[str, str]], *, line: int, entry: int) -> Record:
        return record_from_fields(self.mapping, _fields(tags), line=line, entry=entry)


def _fields(tags: list[tuple[str, str]]) -> dict[str, Any]:
    """One record's tags as record field names (``title``, ``authors``, ...)."""
    values: dict[str, list[str]] = {}
    for tag, value in tags:
        if value.strip():
            values.setdefault(tag, []).append(value)

    def first(names: tuple[str, ...]) -> str:
        return next((clean_space(values[t][0]) for t in names if t in values), "")

    def every(names: tuple[str, ...]) -> list[str]:
        return [clean_space(v) for t in names for v in values.get(t, [])]

    authors = every(_AUTHOR_TAGS) or every(_EDITOR_TAGS)
    links = every(("UR",))
    obj: dict[str, Any] = {
        "key": first(("ID",)) or None,
        "title": first(_TITLE_TAGS),
        "abstract": first(_ABSTRACT_TAGS),
        "authors": [_name(a) for a in authors],
        "date": max((_date(v) for v in every(_DATE_TAGS)),
                    key=lambda d: (parse_date(d) is not None, len(d)), default=""),
        "venue": first(_VENUE_TAGS) or None,
        "categories": [k for v in every(("KW",)) for k in v.split("\n") if k.strip()],
        "links": links,
        "doi": first(("DO",)),
        "arxiv": next((u for u in links if _ARXIV_URL.search(u)), ""),
    }
    for tag, vals in values.items():
        if tag not in _CONSUMED:
            name = tag.lower()
            obj[name] = clean_space(vals[0]) if len(vals) == 1 else [clean_space(v) for v in vals]
    return obj


def _name(text: str) -> str:
    """RIS's ``Last, First[, Suffix]`` in reading order: ``First Last Suffix``."""
    parts = text.split(",")
    if len(parts) == 3:
        return natural_name([parts[0], parts[2], parts[1]])  # natural_name: Last, Jr, First
    return natural_name(parts)


def _stray_reason(first: int, last: int) -> str:
    """Why lines ``first``..``last``, outside any record, are rejected."""
    where = f"line {first}" if first == last else f"lines {first}-{last}"
    return f"{where}: tags or text outside a record (expected 'TY  -' to start one)"


def _date(text: str) -> str:
    """RIS dates: ``2024``, ``2024///``, ``2024/03/15/``, ``2024-03-15``."""
    parts = [p.strip() for p in text.replace("-", "/").split("/")]
    digits = [p for p in parts[:3] if p.isdigit()]
    if not digits or len(digits[0]) != 4:
        return text.strip()
    if len(digits) >= 2 and digits == parts[: len(digits)]:
        return "-".join(d.zfill(2) for d in digits)
    return digits[0]
