"""Counting the words and phrases of a set of papers, once, for every stage that needs them.

A phrase is 1 to ``max_words`` consecutive words that do not cross a stop word, a
punctuation mark or the end of a title or abstract (so "graph neural networks" is a
phrase of "... with graph neural networks, ..." and "learning the model" is not). Title
words count ``title_weight`` times. The counting is vectorised: tokens become integer
ids once, and the n-grams are integer keys counted with numpy, which is several times
faster than scikit-learn's ``CountVectorizer`` with ``ngram_range=(1, 3)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

#: A word: starts with a letter (or a digit followed by a letter: "3D"), two characters
#: at least; hyphens inside are kept ("fine-tuning").
WORD = r"\b[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]\b|\b[0-9][A-Za-z][A-Za-z0-9\-]*\b"
#: The same on lower-cased text, plus punctuation that ends a phrase (no ``\b``: faster;
#: a number glued to letters is kept whole: "100b", "3d").
_TOKENS = re.compile(r"[a-z][a-z0-9\-]*[a-z0-9]|[0-9]+[a-z][a-z0-9\-]*|[.,;:!?()\[\]{}]")


@dataclass
class PhraseCounts:
    """Phrase counts of papers: ``matrix`` is papers x phrases (scipy CSR, float32),
    ``vocab`` the phrases (lower case) and ``words`` how many words each has."""

    matrix: Any
    vocab: np.ndarray
    words: np.ndarray

    def select(self, columns: np.ndarray) -> PhraseCounts:
        """The counts of some phrases only (``columns`` indexes ``vocab``)."""
        return PhraseCounts(self.matrix[:, columns], self.vocab[columns], self.words[columns])

    def unigrams(self) -> PhraseCounts:
        """The counts of single words."""
        return self.select(np.flatnonzero(self.words == 1))


def _tokens(segments: list[str]) -> tuple[list[str], np.ndarray]:
    """Lower-case tokens of every segment, concatenated, and each segment's length."""
    found = [_TOKENS.findall(s.lower()) for s in segments]
    return list(chain.from_iterable(found)), np.fromiter(
        (len(f) for f in found), dtype=np.int64, count=len(found))


def count_phrases(titles: list[str], texts: list[str], *, stop_words: frozenset[str],
                  max_words: int = 3, min_df: int = 2, title_weight: int = 2) -> PhraseCounts:
    """Count the phrases of paper ``i`` in ``texts[i]`` plus ``title_weight`` times
    ``titles[i]`` (texts usually hold the title too: then it counts ``title_weight + 1``
    times). Phrases in fewer than ``min_df`` papers are dropped."""
    from scipy import sparse

    n = len(texts)
    if len(titles) != n:
        raise ValueError(f"titles ({len(titles)}) and texts ({n}) differ in length")
    tokens, lengths = _tokens(list(titles) + list(texts))
    segment = np.repeat(np.arange(2 * n), lengths)
    doc = segment % n
    weight = np.where(segment < n, float(title_weight), 1.0).astype(np.float32)
    table = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    ids = np.fromiter(map(table.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    names = np.array(list(table), dtype=object)
    size = max(len(table), 1)
    breaks = np.array([t in stop_words or not t[0].isalnum() for t in names], dtype=bool)
    ok = ~breaks[ids] if len(ids) else np.zeros(0, dtype=bool)

    columns: list[Any] = []
    kept: list[np.ndarray] = []  # per length, the ranks of the phrases kept
    # Per length, each phrase's [token id] (one word) or [prefix rank, last token id].
    parents: list[np.ndarray] = []
    key = ids.copy()  # the n-gram starting at each position, as an integer key
    span_ok = ok.copy()
    prev_rank = np.empty(0, dtype=np.int64)
    for length in range(1, max_words + 1):
        if length > 1:
            same = segment[length - 1:] == segment[: len(segment) - length + 1]
            span_ok = span_ok[:-1] & ok[length - 1:] & same
            # Keyed by the prefix's rank, so keys stay below rank_count x vocabulary size.
            key = prev_rank[:-1] * size + ids[length - 1:]
        at = np.flatnonzero(span_ok)
        uniq, inverse = np.unique(key[at], return_inverse=True)
        counts = sparse.csr_matrix((weight[at], (doc[at], inverse)), shape=(n, len(uniq)),
                                   dtype=np.float32)
        counts.sum_duplicates()
        df = np.bincount(counts.indices, minlength=len(uniq))
        keep = np.flatnonzero(df >= min_df)
        columns.append(counts[:, keep])
        kept.append(keep)
        parents.append(np.stack([uniq // size, uniq % size]) if length > 1 else uniq[None, :])
        prev_rank = np.full(len(key), -1, dtype=np.int64)
        prev_rank[at] = inverse
        if length < max_words and len(uniq) * size >= 2**62:  # the next keys would overflow
            raise OverflowError(f"too many distinct {length}-word phrases to count")
    vocab = [_texts(names, parents, length, keep) for length, keep in
             enumerate(kept, start=1)]
    words = [np.full(len(keep), length, dtype=np.int64) for length, keep in
             enumerate(kept, start=1)]
    matrix = sparse.hstack(columns, format="csr", dtype=np.float32)
    return PhraseCounts(matrix, np.concatenate(vocab).astype(str), np.concatenate(words))


def _texts(names: np.ndarray, parents: list[np.ndarray], length: int,
           ranks: np.ndarray) -> np.ndarray:
    """The text of the ``length``-word phrases of the given ranks (only those are built)."""
    if length == 1:
        return np.asarray(names[parents[0][0][ranks]], dtype=object)
    prefix = _texts(names, parents, length - 1, parents[length - 1][0][ranks])
    lasts = names[parents[length - 1][1][ranks]]
    return np.array([f"{a} {b}" for a, b in zip(prefix, lasts, strict=True)], dtype=object)
