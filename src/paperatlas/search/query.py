"""A search as one checked request (:class:`SearchQuery`), and any user string as plain
search terms.

User text never reaches an engine's query language: quotes, parentheses,
``AND/OR/NOT``, ``*``, ``:`` and ``-`` are not syntax here, only separators.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict, Unpack

from ..bounds import check_limit, check_offset, check_year
from ..errors import InvalidOptionError
from ..options import choose, values
from .fusion import Fusion

#: At most this many terms are searched; a 10,000-character query stays fast.
MAX_TERMS = 64
_WORD = re.compile(r"\w+", re.UNICODE)


def terms(query: str) -> list[str]:
    """Lowercased word tokens of ``query`` (deduplicated, in order, capped)."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(query.lower()):
        word = match.group(0).strip("_")
        if word and len(word) <= 40:
            seen.setdefault(word, None)
        if len(seen) >= MAX_TERMS:
            break
    return list(seen)


class Mode(StrEnum):
    """How a search ranks papers; hybrid fuses the other two."""

    HYBRID = "hybrid"
    LEXICAL = "lexical"
    SEMANTIC = "semantic"


#: The search modes' names (the valid values).
MODES: tuple[str, ...] = values(Mode)


class SearchOptions(TypedDict, total=False):
    """What a search takes besides its text, as ``SearchQuery(text, **options)`` and
    ``Library.search(text, **options)`` accept it (the same names as the fields)."""

    mode: str | None
    limit: int
    offset: int
    collection: str | None
    year_from: int | None
    year_to: int | None
    author: str | None
    category: str | None
    snippets: bool
    fusion: str


@dataclass(frozen=True, init=False)
class SearchQuery:
    """One search, checked once when made: ``SearchQuery("lora", mode="lexical", limit=20)``.

    ``mode`` and ``fusion`` may be given as text and are kept as :class:`Mode` and
    :class:`~.fusion.Fusion`; a bad one is an ``InvalidOptionError`` listing the valid
    values, a number out of range (limit, offset, years) an ``OutOfRangeError``. ``mode``
    None (or blank) lets the library choose (hybrid when it has vectors); a blank filter
    means none.
    """

    text: str
    mode: Mode | None
    limit: int
    offset: int
    collection: str | None
    year_from: int | None
    year_to: int | None
    author: str | None
    category: str | None
    snippets: bool
    fusion: Fusion

    def __init__(self, text: str, **options: Unpack[SearchOptions]) -> None:
        unknown = sorted(set(options) - set(SearchOptions.__annotations__))
        if unknown:
            raise TypeError(f"unknown search options: {', '.join(unknown)}")
        if not isinstance(text, str):
            raise InvalidOptionError("query", text, ["any text"])
        mode = options.get("mode")
        put = functools.partial(object.__setattr__, self)
        put("text", text)
        put("mode", choose(Mode, "search mode", mode) if mode else None)
        # Checked before any engine sees them: tantivy allocates offset + limit slots.
        put("limit", check_limit(options.get("limit", 10), low=0))
        put("offset", check_offset(options.get("offset", 0)))
        put("collection", _blank("collection", options.get("collection")))
        put("year_from", check_year("year from", options.get("year_from")))
        put("year_to", check_year("year to", options.get("year_to")))
        put("author", _blank("author", options.get("author")))
        put("category", _blank("category", options.get("category")))
        put("snippets", bool(options.get("snippets", True)))
        put("fusion", choose(Fusion, "fusion", options.get("fusion", Fusion.CONVEX)))

    def options(self) -> SearchOptions:
        """Everything but the text, as ``SearchQuery(text, **options)`` takes it."""
        return SearchOptions(
            mode=self.mode, limit=self.limit, offset=self.offset, collection=self.collection,
            year_from=self.year_from, year_to=self.year_to, author=self.author,
            category=self.category, snippets=self.snippets, fusion=self.fusion)

    def replace(self, **options: Unpack[SearchOptions]) -> SearchQuery:
        """This query with some options changed (and checked again)."""
        merged = self.options()
        merged.update(options)
        return SearchQuery(self.text, **merged)


def _blank(option: str, value: str | None) -> str | None:
    """A filter's text; blank means none."""
    if value is not None and not isinstance(value, str):
        raise InvalidOptionError(option, value, ["text"])
    return value if value and value.strip() else None
