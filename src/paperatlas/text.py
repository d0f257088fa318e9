"""Text normalization used by ingest and dedup (pure functions)."""

from __future__ import annotations

import email.utils
import hashlib
import re
import unicodedata
from datetime import date

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_SURROGATES = re.compile("[\ud800-\udfff]")
#: LaTeX formatting commands vanish; other commands (``\\alpha``) keep their name.
_LATEX = re.compile(r"\\(?:text[a-z]*|math[a-z]*|emph|mbox|rm|bf|it)\b|[\\{}$]")


def storable(text: str) -> str:
    """``text`` as SQLite can store it: surrogates (a file name's undecodable bytes,
    a lone JSON ``\\ud800``) become U+FFFD."""
    return text if text.isascii() else _SURROGATES.sub("\ufffd", text)


def clean_space(text: str) -> str:
    """Collapse runs of whitespace (newlines included) into single spaces."""
    return " ".join(text.split())


def normalize_title(title: str) -> str:
    """Case-, accent-, punctuation- and LaTeX-insensitive form of a title."""
    s = _LATEX.sub(" ", title) if ("\\" in title or "$" in title or "{" in title) else title
    if not s.isascii():
        s = unicodedata.normalize("NFKD", s)
        s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return " ".join(_NON_WORD.sub(" ", s.casefold()).split())


def normalize_text(text: str, limit: int = 1000) -> str:
    """A comparable prefix of an abstract."""
    return normalize_title(text[: limit * 2])[:limit]


def slug(title: str, words: int = 6) -> str:
    """A stable key for a paper without identifiers: title words plus a short hash."""
    norm = normalize_title(title)
    digest = hashlib.sha1(norm.encode("utf-8")).hexdigest()[:6]
    head = "-".join(norm.split()[:words])[:60].strip("-")
    return f"{head}-{digest}" if head else digest


#: Words too common in titles to make a blocking key specific.
_TITLE_STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "by", "for", "from", "in", "into", "is", "it", "its",
    "of", "on", "or", "the", "their", "this", "to", "towards", "toward", "under", "using",
    "via", "we", "what", "when", "where", "which", "with", "without",
})


def block_keys(norm_title: str, n: int = 4) -> list[str]:
    """Blocking keys for near-duplicate lookup: the first and last ``n`` content words.

    A title with one local change (a typo, a hyphen, a dropped word) keeps at
    least one of the two unchanged, so candidates are found without a scan.
    Stop words are left out so that common openings ("a survey of the") do not
    gather thousands of unrelated papers under one key.
    """
    words = [w for w in norm_title.split() if w not in _TITLE_STOP] or norm_title.split()
    if not words:
        return []
    keys = {"p:" + " ".join(words[:n]), "s:" + " ".join(words[-n:])}
    return sorted(keys)


_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_ISO = re.compile(r"^(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?(?:[T ].*)?$")
_YEAR = re.compile(r"^(1[5-9]\d{2}|2[01]\d{2})$")
_MON_Y = re.compile(r"^([A-Za-z]{3})[a-z]*\.?\s+(?:(\d{1,2}),?\s+)?(\d{4})$")
_D_MON_Y = re.compile(r"^(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?,?\s+(\d{4})$")
#: RFC 2822 (``Mon, 2 Apr 2007 19:18:42 GMT``, arXiv's version dates): the date as written.
_RFC2822 = re.compile(r"^(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+\d{1,2}:\d{2}"
                      r"(?::\d{2})?\s+(?:[A-Z]{1,5}|[+-]\d{4})$")


def _valid(y: int, m: int | None, d: int | None) -> str | None:
    try:
        date(y, m or 1, d or 1)
    except ValueError:
        return None
    if m is None:
        return f"{y:04d}"
    if d is None:
        return f"{y:04d}-{m:02d}"
    return f"{y:04d}-{m:02d}-{d:02d}"


def parse_date(text: str | int | None) -> str | None:
    """Parse the common date shapes into ISO ``YYYY[-MM[-DD]]``; None if unparseable."""
    if text is None:
        return None
    s = str(text).strip()
    if not s:
        return None
    if _YEAR.match(s):
        return s
    m = _ISO.match(s)
    if m:
        return _valid(int(m.group(1)), int(m.group(2)) if m.group(2) else None,
                      int(m.group(3)) if m.group(3) else None)
    m = _MON_Y.match(s)
    if m and m.group(1).lower() in _MONTHS:
        day = int(m.group(2)) if m.group(2) else None
        return _valid(int(m.group(3)), _MONTHS[m.group(1).lower()], day)
    m = _D_MON_Y.match(s) or _RFC2822.match(s)
    if m and m.group(2).lower() in _MONTHS:
        return _valid(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
    try:
        parsed = email.utils.parsedate_to_datetime(s)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.date().isoformat()


def split_authors(text: str) -> list[str]:
    """Split an author string: ``'A; B'``, ``'A, B and C'``, ``'Last, First and Last2, First2'``."""
    s = clean_space(text)
    if not s:
        return []
    if ";" in s:
        parts = s.split(";")
    elif " and " in s and "," in s and all(
        part.count(",") == 1 for part in s.split(" and ")
    ):
        # BibTeX style: "Last, First and Last2, First2"
        parts = s.split(" and ")
    else:
        parts = re.split(r",\s*|\s+and\s+", s)
    return [p.strip() for p in parts if p.strip()]


def split_list(text: str) -> list[str]:
    """Split a category/keyword string on ``;``, ``,`` or whitespace (in that preference)."""
    s = text.strip()
    for sep in (";", ","):
        if sep in s:
            return [p.strip() for p in s.split(sep) if p.strip()]
    return s.split()
