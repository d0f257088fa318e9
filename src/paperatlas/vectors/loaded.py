"""One consistent view of the vectors a search scores, and exact scoring over it.

With a serving file (:mod:`.serving`) the view is its memory-mapped float16 rows, less
those of papers changed since it was written, plus the changed papers' vectors read from
SQLite into memory; without one, every vector is in memory as SQLite has it. Rows are
numbered across both parts: the file's rows first, then the ones in memory. Every score
is exact and computed row by row the same way on every path (float16 widened to float32,
then ``einsum``: a BLAS product's last bit depends on the rows around), so a paper scores
the same whichever path or block it is scored in; the file is read in blocks, so scoring
holds at most one block's float32 copy.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .ann import AnnIndex
from .base import VectorHit
from .serving import Mapped

#: Rows widened to float32 at a time when scoring from the serving file.
BLOCK = 16_384
#: Each thread's float32 buffers for the file's blocks.
_buffers = threading.local()


class Version(NamedTuple):
    """What the vectors in memory were read at; any change means reading again."""

    seq: int  # the embedding job's change-log position
    vectors: int  # vectors stored
    writes: int  # writes through this object
    cleared: int  # times every vector was removed, by any process


@dataclass(frozen=True)
class Loaded:
    """One consistent view of the vectors (replaced whole, never changed)."""

    version: Version | None = None
    #: The last change-log position when it was read (a reload reads what changed after).
    head: int = 0
    #: Paper ids, ascending, of the vectors in memory; row ``i`` of both matrices is paper
    #: ``ids[i]`` (float32; the title matrix holds the paper vector where there is none).
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    titles: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    #: The serving file, mapped (None: none used); ``live`` marks its rows that are still
    #: current (None: all), and ``serve_version`` is the ``vectors.json`` it came from.
    base: Mapped | None = None
    live: np.ndarray | None = None
    serve_version: tuple[int, int, int] | None = None
    #: The ANN index on disk (None: none, or unreadable), and the ``ann.json`` it came from.
    ann: AnnIndex | None = None
    ann_version: tuple[int, int, int] | None = None
    #: Live rows the ANN does not hold as they are now (scored exactly besides its
    #: candidates); None when the ANN is not used.
    extra: np.ndarray | None = None

    @property
    def nb(self) -> int:
        """Rows of the serving file."""
        return 0 if self.base is None else len(self.base.ids)

    @property
    def size(self) -> int:
        """Rows in all (dead rows of the file included)."""
        return self.nb + len(self.ids)

    @property
    def dim(self) -> int:
        return self.base.meta.dim if self.base is not None else int(self.matrix.shape[1])

    @functools.cached_property
    def all_ids(self) -> np.ndarray:
        """The paper id of every row."""
        return self.ids if self.base is None else np.concatenate(
            [np.asarray(self.base.ids), self.ids])

    @functools.cached_property
    def alive(self) -> np.ndarray:
        """Whether each row is current (the file's rows of changed papers are not)."""
        mask = np.ones(self.size, dtype=bool)
        if self.live is not None:
            mask[:self.nb] = self.live
        return mask

    @property
    def live_count(self) -> int:
        return self.size if self.live is None else len(self.ids) + int(self.live.sum())

    def rows_of(self, paper_ids: Iterable[int]) -> np.ndarray:
        """The sorted live rows of those of ``paper_ids`` that have vectors (each once)."""
        return np.sort(self.rows_in(np.unique(np.fromiter(paper_ids, dtype=np.int64))))

    def rows_in(self, paper_ids: np.ndarray) -> np.ndarray:
        """The live rows of those of ``paper_ids`` that have vectors, in their order."""
        out = np.full(len(paper_ids), -1, dtype=np.int64)
        at, found = find_sorted(self.ids, paper_ids)
        out[found] = at[found] + self.nb
        if self.base is not None and (~found).any():
            rest = np.flatnonzero(~found)
            at, hit = find_sorted(self.base.ids, paper_ids[rest])
            if self.live is not None:
                hit[hit] = self.live[at[hit]]
            out[rest[hit]] = at[hit]
        return out[out >= 0]

    def vectors(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The paper and title vectors (float32) of ``rows``."""
        text = np.empty((len(rows), self.dim), dtype=np.float32)
        heads = np.empty_like(text)
        mine = rows >= self.nb
        if self.base is not None and not mine.all():
            there = rows[~mine]
            text[~mine] = self.base.text[there]
            part = text[~mine]
            at, hit = find_sorted(np.asarray(self.base.titled), there)
            part[hit] = self.base.titles[at[hit]]
            heads[~mine] = part
        if mine.any():
            text[mine] = self.matrix[rows[mine] - self.nb]
            heads[mine] = self.titles[rows[mine] - self.nb]
        return text, heads

    def score_rows(self, vector: np.ndarray, rows: np.ndarray, titles: bool) -> np.ndarray:
        """The exact scores of ``rows``, a block at a time."""
        out = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(rows), BLOCK):
            text, heads = self.vectors(rows[start:start + BLOCK])
            out[start:start + BLOCK] = score(vector, text, heads, titles)
        return out

    def score_all(self, vector: np.ndarray, titles: bool) -> np.ndarray:
        """The exact score of every row (-inf for rows that are not current)."""
        parts = []
        if self.base is not None:
            titled = np.asarray(self.base.titled)
            for start in range(0, self.nb, BLOCK):
                end = min(start + BLOCK, self.nb)
                scores = score(vector, _widen(self.base.text[start:end], "text"), None, False)
                if titles:  # the better of both where there is a title vector
                    first, last = np.searchsorted(titled, [start, end])
                    at = titled[first:last] - start
                    heads = score(vector, _widen(self.base.titles[first:last], "titles"),
                                  None, False)
                    scores[at] = np.maximum(scores[at], heads)
                parts.append(scores)
        if len(self.ids):
            parts.append(score(vector, self.matrix, self.titles, titles))
        scores = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        if self.live is not None:
            scores[:self.nb][~self.live] = -np.inf
        return scores

    def best(self, rows: np.ndarray, scores: np.ndarray, k: int) -> list[VectorHit]:
        """The ``k`` best of ``rows`` by score (ties: lower paper id first)."""
        keep = np.isfinite(scores)
        rows, scores = rows[keep], scores[keep]
        if len(rows) > k:  # every row scoring at least the k-th best (ties included)
            at_least = np.partition(scores, len(scores) - k)[len(scores) - k]
            keep = scores >= at_least
            rows, scores = rows[keep], scores[keep]
        ids = self.all_ids[rows]
        order = np.lexsort((ids, -scores))[:k]
        return [VectorHit(int(ids[i]), float(scores[i])) for i in order]


def score(vector: np.ndarray, matrix: np.ndarray, title_matrix: np.ndarray | None,
          titles: bool) -> np.ndarray:
    """Each row's cosine to ``vector`` (the better of both with ``titles``)."""
    scores = np.einsum("ij,j->i", matrix, vector)
    if titles:
        assert title_matrix is not None
        np.maximum(scores, np.einsum("ij,j->i", title_matrix, vector), out=scores)
    return np.asarray(scores, dtype=np.float32)


def _widen(block: np.ndarray, name: str) -> np.ndarray:
    """``block`` as float32, in a buffer this thread keeps (allocating a fresh block each
    time costs more than the conversion: its pages are faulted in anew)."""
    buffer: np.ndarray | None = getattr(_buffers, name, None)
    if buffer is None or buffer.shape[1] != block.shape[1] or len(buffer) < len(block):
        buffer = np.empty((max(len(block), BLOCK), block.shape[1]), dtype=np.float32)
        setattr(_buffers, name, buffer)
    out = buffer[:len(block)]
    np.copyto(out, block)
    return out


def find_sorted(sorted_ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``wanted`` is in ``sorted_ids``, and whether it is there."""
    at = np.searchsorted(sorted_ids, wanted)
    found = at < len(sorted_ids)
    found[found] = sorted_ids[at[found]] == wanted[found]
    return at, found
