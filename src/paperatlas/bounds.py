"""Bounds on the numbers callers pass in: offsets, pages, limits, years and row ids.

The core checks them before any engine sees them: tantivy allocates ``offset + limit``
slots per segment (a huge offset aborts the whole process), numpy and faiss size arrays
by them, and SQLite's INTEGER is 64-bit (a larger id raises ``OverflowError``). A value
out of range is an :class:`~paperatlas.errors.OutOfRangeError` naming the valid range,
which the web edge answers with 400 and the CLI with a message and exit status 1.
"""

from __future__ import annotations

from .errors import OutOfRangeError

#: The most results one call returns (search, similar, lists, feeds).
MAX_LIMIT = 1000
#: The most search results skipped (search engines rank ``offset + limit`` candidates;
#: like Elasticsearch's ``max_result_window``, deeper pages are refused).
MAX_OFFSET = 10_000
#: The most rows a plain list (papers, runs, jobs, history, outbox) returns or skips.
MAX_LIST = 10_000_000
#: Row ids (jobs, subscriptions, topics) are SQLite INTEGERs.
MAX_ID = 2**63 - 1
#: Years a filter accepts.
MIN_YEAR, MAX_YEAR = 0, 9999


def check_range(option: str, value: int, low: int, high: int) -> int:
    """``value`` when ``low <= value <= high``; :class:`OutOfRangeError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OutOfRangeError(option, value, low, high)
    return value


def check_limit(value: int, high: int = MAX_LIMIT, *, option: str = "limit",
                low: int = 1) -> int:
    return check_range(option, value, low, high)


def check_offset(value: int, high: int = MAX_OFFSET, *, option: str = "offset") -> int:
    return check_range(option, value, 0, high)


def check_id(option: str, value: int) -> int:
    """A row id that SQLite can hold (ids start at 1; 0 and negatives name nothing, but are
    in range so that they are answered "not found")."""
    return check_range(option, value, -MAX_ID, MAX_ID)


def check_year(option: str, value: int | None) -> int | None:
    return None if value is None else check_range(option, value, MIN_YEAR, MAX_YEAR)


def max_page(size: int, max_offset: int = MAX_OFFSET) -> int:
    """The last page number whose first result is within ``max_offset``."""
    return max_offset // max(size, 1) + 1


def page_offset(page: int, size: int, max_offset: int = MAX_OFFSET) -> int:
    """The offset of 1-based page ``page`` of ``size`` results; a page beyond the bound is
    an :class:`OutOfRangeError` naming the valid pages."""
    check_range("page", page, 1, max_page(size, max_offset))
    return (page - 1) * size


def parse_int(option: str, text: str, low: int, high: int) -> int:
    """An integer written in ASCII digits (an optional leading ``-``) within the bounds;
    anything else (``'²'``, ``'٣'``, ``'1_000'``, a huge number) is an error naming the
    valid range. ``str.isdigit`` accepts superscripts that ``int`` then refuses."""
    body = text.strip()
    digits = body[1:] if body.startswith("-") else body
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise OutOfRangeError(option, text, low, high)
    return check_range(option, int(body), low, high)
