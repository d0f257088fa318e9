"""Snippets: the first window with the most query words, checked against a plain scan."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from paperatlas.search.snippets import StemCache, make_snippet

WORD = re.compile(r"\w+")


def reference(text: str, stems: set[str], stem: StemCache, width: int) -> tuple[str, list]:
    """The obvious version: every window start scanned, spans from ``finditer``."""
    words = list(WORD.finditer(text))
    if not words:
        return text[:300], []
    hit = [stem[m.group(0).lower()] in stems for m in words]
    counts = [sum(hit[s:s + width]) for s in range(max(1, len(words) - width + 1))]
    start = counts.index(max(counts))
    end = min(len(words), start + width)
    lo = words[start].start() if start else 0
    hi = words[end - 1].end() if end < len(words) else len(text)
    prefix, suffix = ("… " if lo else ""), (" …" if hi < len(text) else "")
    spans = [(len(prefix) + m.start() - lo, len(prefix) + m.end() - lo)
             for m, h in zip(words[start:end], hit[start:end], strict=True) if h]
    return prefix + text[lo:hi] + suffix, spans


VOCAB = ["graph", "graphs", "Networks", "network", "hoping", "hope", "the", "of", "İstanbul",
         "déjà", "x_1", "3D", "protein", "folding"]


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.sampled_from(VOCAB), max_size=90),
       gaps=st.lists(st.sampled_from([" ", ", ", "  ", " (", ") ", "-", ". ", "\n"]),
                     min_size=91, max_size=91),
       query=st.sets(st.sampled_from(VOCAB), max_size=4), width=st.integers(1, 40))
def test_make_snippet_is_the_plain_scan(words: list[str], gaps: list[str], query: set[str],
                                        width: int) -> None:
    text = gaps[0] + "".join(w + g for w, g in zip(words, gaps[1:], strict=False))
    stem = StemCache()
    stems = {stem[q.lower()] for q in query}
    got = make_snippet(text, stems, stem.__getitem__, width)
    assert (got.text, got.highlights) == reference(text, stems, stem, width)
    for a, b in got.highlights:
        assert stem[got.text[a:b].lower()] in stems


def test_stem_cache_stems_once_and_stays_bounded() -> None:
    stem = StemCache(limit=3)
    assert [stem[w] for w in ("networks", "hoping", "graphs")] == ["network", "hope", "graph"]
    assert stem["studies"] == "studi" and len(stem) == 1  # emptied at the limit
