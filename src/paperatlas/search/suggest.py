"""Spelling suggestions from the library's own vocabulary ("Did you mean …?").

A query word is replaced when the library barely knows it (its stem is in at most
:data:`RARE` papers' text, and it is no author's name word) and a word within one edit
(a letter added, dropped, changed, or two neighbours swapped; two edits for a word of 7
letters or more that no paper has at all: :func:`max_edits`) is
in at least :data:`FREQUENT` titles and :data:`BETTER` times as many papers: the nearest
such word, the most frequent on ties. The vocabulary is the index's title words and
author names (read from tantivy's term dictionary: the words sharing the typed word's
first two letters, the commonest :data:`CANDIDATES` of each shard), so a typo in the
first two letters finds nothing. Only called for weak pages or rare words.
"""

from __future__ import annotations

import re

from .lexical import LexicalIndex
from .query import terms

_WORD = re.compile(r"\w+", re.UNICODE)

#: A word in at most this many papers may be a misspelling.
RARE = 2
#: A suggested word is in at least this many papers' titles (or authors)...
FREQUENT = 3
#: ... and in this many times as many papers as the typed word.
BETTER = 5
#: Vocabulary words read per shard and prefix (the commonest first).
CANDIDATES = 3000
#: Words shorter than this are never corrected.
MIN_LENGTH = 4


def max_edits(word: str, known: int = 0) -> int:
    """Edits allowed for a word that ``known`` papers have: 2 for an unknown word of 7
    letters or more, else 1 (two edits turn rare real words into common ones: "maggots"
    into "magnets")."""
    return 2 if len(word) >= 7 and known == 0 else 1


def distance(a: str, b: str, limit: int) -> int:
    """The optimal-string-alignment distance of ``a`` and ``b`` (insertions, deletions,
    substitutions, adjacent swaps), or ``limit + 1`` once it is sure to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] | None = None
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if (before is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2]
                    and a[i - 2] == b[j - 1]):
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return row[-1]


def correct(index: LexicalIndex, word: str) -> str | None:
    """A better-known word for ``word`` (see the module), or None."""
    if len(word) < MIN_LENGTH or not word.isalpha():
        return None
    stems = index.analyze(word)
    if not stems:
        return None  # a stop word ("they"), which the text index leaves out
    known = index.term_freqs("all", stems[:1])[0]
    names = index.analyze_names(word)
    if known > RARE or (names and index.term_freqs("author", names[:1])[0]):
        return None
    limit = max_edits(word, known)
    best: tuple[int, int, str] | None = None
    for field in ("words", "author"):
        for term, count in index.vocabulary(field, word[:2], CANDIDATES).items():
            if count < max(FREQUENT, BETTER * max(known, 1)) or term == word:
                continue
            edits = distance(word, term, limit)
            if edits <= limit and (best is None or (edits, -count) < best[:2]):
                best = (edits, -count, term)
    return best[2] if best else None


def suggest(index: LexicalIndex, query: str) -> str | None:
    """The query as typed with its unknown words corrected in place (a capital kept), or
    None when none is."""
    fixed = {w: c for w in terms(query) if (c := correct(index, w))}
    if not fixed:
        return None

    def swap(match: re.Match[str]) -> str:
        typed = match.group(0)
        better = fixed.get(typed.lower())
        if better is None:
            return typed
        return better.capitalize() if typed[:1].isupper() else better

    return " ".join(_WORD.sub(swap, query).split())
