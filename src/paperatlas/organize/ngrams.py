"""Counting the phrases of tokenized papers one chunk of papers and one range of keys at a
time, for :func:`~.phrases.count_tokens`.

A phrase of ``length`` words has a key: its token id for one word; else the rank of its
first ``length - 1`` words among the phrases kept one length before (its prefix) times the
vocabulary size, plus the id of its last word. The prefixes are cut into ranges of about
``range_positions`` positions where a phrase may start (:func:`key_ranges`), and each range
is counted over every chunk in two passes: the distinct keys of each chunk and the papers
each is in (:meth:`Chunk.found`), merged into the keys kept (:func:`merged`), then the
counts of those (:meth:`Chunk.count`). What a chunk holds between lengths is, per token,
its id (a copy: the corpus's tokens go once chunked), the prefix of the phrase that may
start there (int32, -1: none) and whether its word was kept: nine bytes a token, and 8
bytes per title and text (where each starts); between the two passes of a range, the
range's positions, their distinct keys and the key of each (about 16 bytes a position of
the range).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from .parallel import release_memory

if TYPE_CHECKING:
    from .phrases import Tokens


@dataclass
class Chunk:
    """The tokens of some papers (a copy of their titles' ids, then their texts'), where
    each title and text starts, the prefix of each position and whether each word was
    kept, and the chunk's counts so far: one CSR matrix (papers x kept keys) per length
    (the ranges of the length being counted apart, until :meth:`finish`), in column
    order."""

    ids: np.ndarray
    bounds: np.ndarray  # where each title, then each text, starts; then the end (int64)
    start: int  # the chunk's first paper
    title_weight: float
    papers: int
    prefix: np.ndarray
    word: np.ndarray
    parts: list[Any] = field(default_factory=list)
    ranges: int = 0  # parts of the length being counted
    #: Between :meth:`found` and :meth:`count`: positions, distinct keys, key of each.
    pending: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def of(cls, tokens: Tokens, start: int, stop: int, breaks: np.ndarray,
           title_weight: int) -> Chunk:
        """Papers ``start`` to ``stop``; a single word may start wherever a token is not
        one of ``breaks`` (stop words, punctuation)."""
        n, offsets = tokens.papers, tokens.offsets
        a, b, c, d = offsets[[start, stop, n + start, n + stop]].tolist()
        ids = np.concatenate([tokens.ids[a:b], tokens.ids[c:d]])
        bounds = np.concatenate([offsets[start:stop] - a, offsets[n + start:n + stop + 1]
                                 - c + (b - a)])
        chunk = cls(ids, bounds, start, float(title_weight), stop - start,
                    np.zeros(0, dtype=np.int32), np.zeros(0, dtype=bool))
        chunk.word = ~breaks[ids] if len(ids) else np.zeros(0, dtype=bool)
        chunk.prefix = np.where(chunk.word, ids, np.int32(-1)).astype(np.int32)
        return chunk

    def doc(self, at: np.ndarray) -> np.ndarray:
        """The chunk's paper of the tokens at ``at`` (sorted)."""
        segment = np.searchsorted(self.bounds, at, side="right") - 1
        doc: np.ndarray = segment % self.papers
        return doc.astype(np.int32)

    def weight(self, at: np.ndarray) -> np.ndarray:
        """The weight of the tokens at ``at`` (titles' tokens come first)."""
        titles = int(self.bounds[self.papers])
        return np.where(at < titles, np.float32(self.title_weight), np.float32(1.0))

    def weights(self, domain: int) -> np.ndarray:
        """How many positions of the chunk have each prefix (``domain`` of them)."""
        return np.bincount(self.prefix[self.prefix >= 0], minlength=domain)

    def found(self, length: int, size: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """The distinct keys (sorted) of the phrases of ``length`` words here whose prefix
        is in ``lo`` to ``hi - 1``, and the number of papers each is in; the positions and
        keys are remembered (int32 per position) for :meth:`count`."""
        # Negative prefixes wrap to large numbers: one comparison finds the range.
        at = np.flatnonzero(self.prefix.view(np.uint32) - np.uint32(lo) < np.uint32(hi - lo))
        keys = self.prefix[at].astype(np.int64)
        if length > 1:
            keys *= size
            keys += self.ids[at + length - 1]
        local, inverse = np.unique(keys, return_inverse=True)
        del keys
        inverse = inverse.ravel().astype(np.int32)
        self.pending = (at.astype(np.int32), local, inverse)
        seen = sparse_matrix((np.ones(len(at), dtype=np.float32), (self.doc(at), inverse)),
                             (self.papers, len(local)))
        return local, np.bincount(seen.indices, minlength=len(local)).astype(np.int32)

    def count(self, kept: np.ndarray, offset: int) -> None:
        """Count the kept phrases of the range last :meth:`found` (``kept``: their keys,
        sorted; ``offset``: the rank of the first among every kept phrase of this length):
        a matrix of papers x kept phrases joins :attr:`parts`, and the positions of kept
        phrases are marked with their ranks (as ``-2 - rank``, until :meth:`finish`)."""
        assert self.pending is not None
        at, local, inverse = self.pending
        self.pending = None
        found = np.searchsorted(kept, local)
        hit = found < len(kept)
        hit[hit] = kept[found[hit]] == local[hit]
        rank = np.where(hit, found, -1).astype(np.int32)[inverse]
        del found, hit, local, inverse
        use = rank >= 0
        at, rank = at[use], rank[use]
        self.prefix[at] = -2 - offset - rank
        self.parts.append(sparse_matrix((self.weight(at), (self.doc(at), rank)),
                                        (self.papers, len(kept))))
        self.ranges += 1

    def finish(self, length: int, max_words: int) -> None:
        """After every range of ``length`` words was counted: the ranges' counts become one
        matrix (a row pointer per range would cost four bytes a paper each), and each
        position's prefix for the next length is the rank of the phrase kept there, where
        the word after it was kept and is in the same title or text (else -1). What no
        later length reads is let go (the ids after the last length)."""
        if self.ranges > 1:
            from scipy import sparse

            mine = sparse.hstack(self.parts[-self.ranges:], format="csr", dtype=np.float32)
            self.parts[-self.ranges:] = [mine]
        self.ranges = 0
        prefix = self.prefix
        np.negative(prefix, out=prefix)  # -2 - rank -> rank; -1 stays; others below -1
        prefix -= 2
        np.maximum(prefix, -1, out=prefix)
        if length == 1:
            self.word = prefix >= 0
        if length >= max_words:
            self.prefix = np.zeros(0, dtype=np.int32)
            self.word = np.zeros(0, dtype=bool)
            self.ids = np.zeros(0, dtype=np.int32)
            return
        end = max(len(prefix) - length, 0)
        prefix[end:] = -1
        prefix[:end][~self.word[length:]] = -1
        ends = self.bounds[1:]  # the last `length` positions of a title or text end there
        for back in range(1, length + 1):
            at = ends - back
            prefix[at[at >= 0]] = -1
        if length + 1 >= max_words:
            self.word = np.zeros(0, dtype=bool)


def key_ranges(weights: np.ndarray, per: int) -> list[tuple[int, int]]:
    """Consecutive ranges of prefixes (indexes of ``weights``, each prefix's number of
    positions) of at most ``per`` positions each, but for a prefix of more (alone then)."""
    if not len(weights) or not weights.any():
        return []
    cum = np.cumsum(weights)
    bounds = [0]
    while bounds[-1] < len(weights):
        start = bounds[-1]
        before = int(cum[start - 1]) if start else 0
        bounds.append(max(int(np.searchsorted(cum, before + per, side="right")), start + 1))
    return list(pairwise(bounds))


def merged(found: list[tuple[np.ndarray, np.ndarray]], min_df: int) -> np.ndarray:
    """The keys (sorted) in at least ``min_df`` papers; ``found`` holds each chunk's
    distinct keys (sorted) and the number of its papers each is in."""
    parts = [(k, p) for k, p in found if len(k)]
    if not parts:
        return np.zeros(0, dtype=np.int64)
    keys = np.concatenate([k for k, _ in parts])
    per = np.concatenate([p for _, p in parts])
    uniq, inverse = np.unique(keys, return_inverse=True)
    del keys
    df = np.bincount(inverse.ravel(), weights=per, minlength=len(uniq))
    out: np.ndarray = uniq[df >= min_df]
    return out


def stacked(chunks: list[Chunk], papers: int, columns: int) -> Any:
    """The chunks' counts as one CSR matrix (papers x ``columns``, float32). It is filled
    chunk by chunk, each chunk's parts let go once copied (the matrix is never held
    twice)."""
    from scipy import sparse

    nnz = sum(p.nnz for c in chunks for p in c.parts)
    index = np.int32 if max(nnz, columns, papers) < 2**31 else np.int64
    data = np.empty(nnz, dtype=np.float32)
    indices = np.empty(nnz, dtype=index)
    indptr = np.zeros(papers + 1, dtype=index)
    at = 0
    for chunk in chunks:
        parts, chunk.parts = chunk.parts, []
        if not parts:
            indptr[chunk.start + 1:chunk.start + chunk.papers + 1] = at
            continue
        block = sparse.hstack(parts, format="csr", dtype=np.float32)
        del parts
        size = block.nnz
        data[at:at + size] = block.data
        indices[at:at + size] = block.indices
        indptr[chunk.start + 1:chunk.start + chunk.papers + 1] = block.indptr[1:] + at
        at += size
        del block
        release_memory()
    return sparse.csr_matrix((data, indices, indptr), shape=(papers, columns))


def sparse_matrix(entries: tuple[np.ndarray, tuple[np.ndarray, np.ndarray]],
                  shape: tuple[int, int]) -> Any:
    """A float32 CSR matrix of ``(values, (rows, columns))``, duplicates summed."""
    from scipy import sparse

    out = sparse.csr_matrix(entries, shape=shape, dtype=np.float32)
    out.sum_duplicates()
    return out
