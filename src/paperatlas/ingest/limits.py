"""Size limits on input records, and the checks that turn a broken record into a record error.

Every limit lives here. A record over a limit is rejected (reported with its file and
line, the rest of its file still goes in); reading never holds more than one line,
one record or one JSON document of the sizes below in memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from itertools import accumulate
from typing import Any

from ..records.papers import Record

#: ``json.dumps(value, ensure_ascii=False, default=str)``, without building an encoder
#: per call.
_extra_json = json.JSONEncoder(ensure_ascii=False, default=str).encode

#: Longest line read from any file; a longer line is skipped (a record error) or, in the
#: formats that cannot skip one (XML, JSON documents), fails the file.
MAX_LINE_CHARS = 4_000_000
#: Largest record (a CSV row, a BibTeX entry, an RIS record, an XML record) in characters.
MAX_RECORD_CHARS = 4_000_000
#: Largest JSON document (a ``.json`` file is parsed whole); use JSON Lines for more.
MAX_JSON_DOCUMENT_CHARS = 32_000_000
#: Most values in a JSON document (counted as its ``{ [ , :`` outside strings): parsed,
#: each costs up to ~100 bytes however short its text (``{}`` is 3 characters).
MAX_JSON_VALUES = 1_000_000
#: Deepest nesting of JSON arrays/objects or of BibTeX/LaTeX braces.
MAX_NESTING = 64
#: Longest title; longer ones are almost surely abstracts in the wrong field.
MAX_TITLE_CHARS = 2000
MAX_ABSTRACT_CHARS = 100_000
MAX_AUTHORS = 10_000
MAX_AUTHOR_CHARS = 1000
#: Longest venue, source key, identifier, category or link.
MAX_FIELD_CHARS = 4000
#: Most categories or links of one record.
MAX_LIST_ITEMS = 2000
#: Largest ``extra`` (the fields paperatlas keeps as they are), as JSON.
MAX_EXTRA_CHARS = MAX_RECORD_CHARS

_SURROGATE = re.compile("[\ud800-\udfff]")
#: A JSON string (an unclosed one runs to the end); possessive, so never slow.
_JSON_STRINGS = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_ESCAPED_BRACE = re.compile(r"\\[{}]")
_NOT_BRACES = re.compile(r"[^{}]+")


class RecordError(ValueError):
    """A record that cannot be stored; the parser yields it as a record error."""


def error_record(reason: str, *, line: int, entry: int) -> Record:
    """A placeholder record that the pipeline reports as rejected for ``reason``."""
    return Record(title="", line=line, entry=entry, error=reason)


def guarded(build: Callable[..., Record], *args: Any, line: int, entry: int,
            **kwargs: Any) -> Record:
    """``build(*args, line=line, entry=entry, **kwargs)``, or an error record when the
    input breaks it (never an exception).

    Hostile input must not end the file or the command: nesting, odd types and the
    like become a record error naming the line.
    """
    try:
        return build(*args, line=line, entry=entry, **kwargs)
    except RecordError as exc:
        return error_record(str(exc), line=line, entry=entry)
    except (RecursionError, TypeError, ValueError, AttributeError, KeyError,
            IndexError) as exc:
        return error_record(f"cannot read the record ({type(exc).__name__}: {exc})"[:300],
                            line=line, entry=entry)


def json_too_deep(text: str, limit: int = MAX_NESTING) -> bool:
    """Whether JSON ``text`` nests arrays/objects deeper than ``limit`` (checked before
    any recursive decoding)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKETS.sub("", _JSON_STRINGS.sub("", text))  # those outside strings
    if brackets.count("[") + brackets.count("{") <= limit:
        return False
    return max(accumulate(1 if c in "[{" else -1 for c in brackets)) > limit


def json_values(text: str) -> int:
    """How many values JSON ``text`` holds, about: its ``{ [ , :`` outside strings (exact
    enough up to :data:`MAX_JSON_VALUES`, counted before any decoding)."""
    rough = sum(text.count(c) for c in "{[,:")
    if rough <= MAX_JSON_VALUES:
        return rough
    bare = _JSON_STRINGS.sub("", text)
    return sum(bare.count(c) for c in "{[,:")


def brace_depth(text: str) -> int:
    """How deep ``{`` braces nest in LaTeX ``text`` (escaped ``\\{`` not counted)."""
    if text.count("{") <= MAX_NESTING:
        return text.count("{")
    braces = _NOT_BRACES.sub("", _ESCAPED_BRACE.sub("", text))
    return max(accumulate(1 if c == "{" else -1 for c in braces), default=0)


def _bad_text(value: str, what: str) -> str | None:
    m = None if value.isascii() else _SURROGATE.search(value)
    if m is None:
        return None
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by the 'surrogateescape' reader
        return f"{what} has a byte that is not valid text (0x{code - 0xDC00:02X})"
    return f"{what} has a lone surrogate (\\u{code:04x}), which is not valid Unicode"


def _too_long(values: Iterable[str | None], what: str, limit: int) -> str | None:
    for v in values:
        if v and len(v) > limit:
            return f"{what} is {len(v)} characters long (more than {limit})"
    return None


def check_record(rec: Record) -> str | None:
    """Why the record breaks a size limit or holds text SQLite cannot store, or None."""
    if rec.error:
        return rec.error
    short = [rec.venue, rec.source_key, *rec.ids.values()]
    lists = max(len(rec.categories), len(rec.links))
    reason = (
        _too_long([rec.title], "title", MAX_TITLE_CHARS)
        or _too_long([rec.abstract], "abstract", MAX_ABSTRACT_CHARS)
        or (f"{len(rec.authors)} authors (more than {MAX_AUTHORS})"
            if len(rec.authors) > MAX_AUTHORS else None)
        or _too_long(rec.authors, "an author's name", MAX_AUTHOR_CHARS)
        or _too_long(short, "the venue, key or an identifier", MAX_FIELD_CHARS)
        or (f"{lists} categories or links (more than {MAX_LIST_ITEMS})"
            if lists > MAX_LIST_ITEMS else None)
        or _too_long([*rec.categories, *rec.links], "a category or link", MAX_FIELD_CHARS))
    if reason:
        return reason
    if _text_is_clean(rec, short):
        return _check_extra(rec.extra)
    pairs = [("title", rec.title), ("abstract", rec.abstract),
             *(("an author", a) for a in rec.authors),
             *(("the venue, key or an identifier", v) for v in short if v),
             *(("a category or link", v) for v in [*rec.categories, *rec.links])]
    for what, value in pairs:
        if reason := _bad_text(value, what):
            return reason
    return _check_extra(rec.extra)


def _text_is_clean(rec: Record, short: list[str | None]) -> bool:
    """Whether no text field holds a lone surrogate: one pass over them all (the usual
    case); :func:`check_record` looks field by field only to name a bad one."""
    text = "\n".join([rec.title, rec.abstract or "", *rec.authors, *(v for v in short if v),
                      *rec.categories, *rec.links])
    return text.isascii() or _SURROGATE.search(text) is None


def _check_extra(extra: dict[str, Any]) -> str | None:
    if not extra:
        return None
    try:
        text = _extra_json(extra)
    except (RecursionError, ValueError) as exc:
        return f"cannot store the record's other fields ({type(exc).__name__})"
    if len(text) > MAX_EXTRA_CHARS:
        return f"the other fields are {len(text)} characters long (more than {MAX_EXTRA_CHARS})"
    return _bad_text(text, "another field")


def validate(rec: Record, norm_title: str) -> str | None:
    """Why a record (whose normalized title is given) cannot be stored, or None if it can."""
    if rec.error:
        return rec.error
    if not rec.title:
        return "no title"
    if reason := check_record(rec):
        return reason
    if not norm_title:
        return "title has no letters or digits"
    return None
