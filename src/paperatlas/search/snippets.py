"""Snippets: the passage of an abstract that best covers the query (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

_WORD = re.compile(r"\w+", re.UNICODE)


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


def make_snippet(text: str, query_stems: set[str], stem: Callable[[str], str],
                 width: int = 36) -> Snippet:
    """The window of ``width`` words with the most query matches, highlights included."""
    words = list(_WORD.finditer(text))
    if not words:
        return Snippet(text[:300])
    hit = [stem(m.group(0).lower()) in query_stems for m in words]
    best_start, best = 0, -1
    count = sum(hit[:width])
    for start in range(max(1, len(words) - width + 1)):
        if start:
            entering = start + width - 1
            count += (hit[entering] if entering < len(hit) else 0) - hit[start - 1]
        if count > best:
            best_start, best = start, count
    end = min(len(words), best_start + width)
    lo = words[best_start].start() if best_start else 0
    hi = words[end - 1].end() if end < len(words) else len(text)
    prefix = "… " if lo else ""
    suffix = " …" if hi < len(text) else ""
    spans = [(len(prefix) + m.start() - lo, len(prefix) + m.end() - lo)
             for m, h in zip(words[best_start:end], hit[best_start:end], strict=True) if h]
    return Snippet(prefix + text[lo:hi] + suffix, spans)
