"""Turn any user string into plain search terms (pure functions).

User text never reaches an engine's query language: quotes, parentheses,
``AND/OR/NOT``, ``*``, ``:`` and ``-`` are not syntax here, only separators.
"""

from __future__ import annotations

import re

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
