"""Snippets: the passage of an abstract that best covers the query (pure functions)."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate, compress

import Stemmer

#: Words, captured, so that splitting keeps them: [gap, word, gap, word, ..., gap].
_WORDS = re.compile(r"(\w+)", re.UNICODE)
#: The same for ASCII text (most abstracts): the same words, split ~1.6x faster.
_ASCII_WORDS = re.compile(r"(\w+)", re.ASCII)


@dataclass(frozen=True)
class Snippet:
    """A passage and the ``(start, end)`` character spans in it that match the query."""

    text: str
    highlights: list[tuple[int, int]] = field(default_factory=list)

    def marked(self, before: str = "[", after: str = "]") -> str:
        """The text with each highlight wrapped (for terminals; HTML escapes first)."""
        out, last = [], 0
        for start, end in self.highlights:
            out += [self.text[last:start], before, self.text[start:end], after]
            last = end
        out.append(self.text[last:])
        return "".join(out)


class StemCache(dict[str, str]):
    """``cache[word]``: the word's English Snowball stem, computed once per word (a plain
    dict lookup afterwards, which :func:`make_snippet` calls for every word it reads).
    Emptied when it holds ``limit`` words."""

    def __init__(self, limit: int = 1 << 18) -> None:
        super().__init__()
        self.limit = limit
        self._stem = Stemmer.Stemmer("english").stemWord

    def __missing__(self, word: str) -> str:
        if len(self) >= self.limit:
            self.clear()
        stem: str = self._stem(word)
        self[word] = stem
        return stem


def make_snippet(text: str, query_stems: set[str] | frozenset[str],
                 stem: Callable[[str], str], width: int = 36) -> Snippet:
    """The window of ``width`` words with the most query matches (the first such window),
    highlights included; ``stem`` maps a lower-case word to its stem."""
    parts = (_ASCII_WORDS if text.isascii() else _WORDS).split(text)  # words at odd places
    words = parts[1::2]
    if not words:
        return Snippet(text[:300])
    hits = list(compress(range(len(words)),
                         map(query_stems.__contains__, map(stem, map(str.lower, words)))))
    best_start = _best_window(hits, len(words), width)
    end = min(len(words), best_start + width)
    ends = list(accumulate(map(len, parts)))  # word i spans ends[2i] .. ends[2i + 1]
    lo = ends[2 * best_start] if best_start else 0
    hi = ends[2 * end - 1] if end < len(words) else len(text)
    prefix = "… " if lo else ""
    suffix = " …" if hi < len(text) else ""
    shift = len(prefix) - lo
    spans = [(ends[2 * i] + shift, ends[2 * i + 1] + shift)
             for i in hits[bisect_left(hits, best_start):bisect_left(hits, end)]]
    return Snippet(prefix + text[lo:hi] + suffix, spans)


def _best_window(hits: list[int], words: int, width: int) -> int:
    """The first start of a ``width``-word window with the most of the (sorted) ``hits``.
    The count only rises where a hit enters a window, so the first best start is 0 or
    ``hit - width + 1`` for some hit."""
    last = max(0, words - width)
    best_start, best = 0, bisect_left(hits, width)
    for h in hits:
        start = h - width + 1
        if 1 <= start <= last:
            count = bisect_left(hits, start + width) - bisect_left(hits, start)
            if count > best:
                best_start, best = start, count
    return best_start
