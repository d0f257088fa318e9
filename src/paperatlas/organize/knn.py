"""The k-nearest-neighbour graph a node's papers are split on: exact below a size, from an
approximate index (faiss IVF) above it. Edges stay numpy arrays all the way into igraph."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import overload

import numpy as np

from .parallel import thread_map, threads

#: Nodes with at least this many papers get their kNN graph from an approximate index.
ANN_MIN = 20_000
#: Inverted lists probed per query (of ``4 sqrt(n)``): recall@30 about 0.98 on real
#: all-MiniLM-L6-v2 vectors at 100,000 papers.
PROBES = 8
#: Queries searched at once (bounds the result buffers).
QUERY_CHUNK = 65_536


class Edges(Sequence[tuple[int, int]]):
    """Undirected edges ``(a, b)``, ``a < b``, held as one ``m x 2`` integer array."""

    def __init__(self, pairs: np.ndarray) -> None:
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    @overload
    def __getitem__(self, i: int) -> tuple[int, int]: ...

    @overload
    def __getitem__(self, i: slice) -> Edges: ...

    def __getitem__(self, i: int | slice) -> tuple[int, int] | Edges:
        if isinstance(i, slice):
            return Edges(self.pairs[i])
        a, b = self.pairs[i].tolist()
        return int(a), int(b)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(map(tuple, self.pairs.tolist()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Edges):
            return bool(np.array_equal(self.pairs, other.pairs))
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def neighbor_graph(features: np.ndarray, neighbors: int, *, approximate: bool,
                   seed: int = 0) -> tuple[Edges, np.ndarray]:
    """:func:`knn_graph` (exact) or :func:`ann_graph` (approximate)."""
    if approximate:
        return ann_graph(features, neighbors, seed=seed)
    return knn_graph(features, neighbors)


def undirected(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray,
               n: int) -> tuple[Edges, np.ndarray]:
    """Each directed ``row -> col`` candidate once as an undirected edge (the first
    occurrence's similarity), sorted; weights clipped at 0."""
    a, b = np.minimum(rows, cols), np.maximum(rows, cols)
    _, first = np.unique(a.astype(np.int64) * n + b, return_index=True)
    pairs = np.stack([a[first], b[first]], axis=1).astype(np.int64)
    return Edges(pairs), np.maximum(sims[first], 0.0).astype(np.float64)


def knn_graph(features: np.ndarray, neighbors: int,
              block: int = 2048) -> tuple[Edges, np.ndarray]:
    """Undirected edges of the ``neighbors``-nearest-neighbour graph (cosine), with weights.

    Exact. The similarity matrix is computed in ``block x block`` tiles, each once (it is
    symmetric), on :func:`~.parallel.threads` threads. A block's own tile gives each of its
    rows a first list of best candidates; every other tile then only offers what beats a
    row's current ``neighbors``-th best (a comparison, not a sort), for its rows and its
    columns. Tiles run in rounds of disjoint block pairs, so threads never share a list.
    """
    n = len(features)
    k = min(neighbors, n - 1)
    starts = list(range(0, n, block))

    def diagonal(b: int) -> tuple[np.ndarray, np.ndarray]:
        x = features[starts[b]:starts[b] + block]
        tile = x @ x.T
        np.fill_diagonal(tile, -np.inf)
        return _best(tile, k, starts[b])

    best = thread_map(diagonal, list(range(len(starts))))

    def pair(bi_bj: tuple[int, int]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        bi, bj = bi_bj
        tile = features[starts[bi]:starts[bi] + block] @ features[starts[bj]:starts[bj] + block].T
        return (_merge(best[bi], tile, starts[bj], k),
                _merge(best[bj], tile, starts[bi], k, transposed=True))

    for pairs in _rounds(len(starts)):
        for (bi, bj), (a, b) in zip(pairs, thread_map(pair, pairs), strict=True):
            best[bi], best[bj] = a, b
    rows = [np.repeat(np.arange(s, s + len(idx)), idx.shape[1])
            for s, (idx, _) in zip(starts, best, strict=True)]
    return undirected(np.concatenate(rows), np.concatenate([idx.ravel() for idx, _ in best]),
                      np.concatenate([val.ravel() for _, val in best]), n)


def ann_graph(features: np.ndarray, neighbors: int, *, seed: int = 0,
              probes: int = PROBES) -> tuple[Edges, np.ndarray]:
    """The graph of :func:`knn_graph` from a faiss inverted-file index (``4 sqrt(n)``
    lists, k-means trained on a seeded sample, ``probes`` lists searched per paper).

    Every query and every list is computed alone, so the graph does not depend on the
    number of threads (:func:`~.parallel.threads`)."""
    import faiss

    n, dims = features.shape
    k = min(neighbors, n - 1)
    x = np.ascontiguousarray(features, dtype=np.float32)
    lists = max(1, min(int(4 * math.sqrt(n)), n // 39))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dims), dims, lists,
                               faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    train = np.sort(np.random.default_rng(seed).choice(n, min(n, lists * 40), replace=False))
    rows, cols, sims = [], [], []
    with _omp_threads(threads()):
        index.train(x[train])
        index.add(x)
        index.nprobe = min(probes, lists)
        for start in range(0, n, QUERY_CHUNK):
            found_sims, found = index.search(x[start:start + QUERY_CHUNK], k + 1)
            own = np.arange(start, start + len(found))[:, None]
            # Drop the paper itself and empty slots, then keep each row's first k.
            ok = (found != own) & (found >= 0)
            ok &= np.cumsum(ok, axis=1) <= k
            rows.append(np.broadcast_to(own, found.shape)[ok].astype(np.int32))
            cols.append(found[ok].astype(np.int32))
            sims.append(found_sims[ok])
    return undirected(np.concatenate(rows), np.concatenate(cols), np.concatenate(sims), n)


@contextmanager
def _omp_threads(count: int) -> Iterator[None]:
    """faiss's OpenMP threads set to ``count`` inside the block."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(max(1, count))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _rounds(blocks: int) -> list[list[tuple[int, int]]]:
    """Every pair of blocks once, in rounds where no block appears twice (circle method)."""
    order = list(range(blocks + blocks % 2))  # with a stand-in when the count is odd
    out = []
    for _ in range(len(order) - 1):
        half = len(order) // 2
        pairs = [tuple(sorted((order[i], order[-1 - i]))) for i in range(half)]
        out.append([(i, j) for i, j in pairs if j < blocks])
        order = [order[0], order[-1], *order[1:-1]]
    return [p for p in out if p]


def _merge(current: tuple[np.ndarray, np.ndarray], tile: np.ndarray, offset: int,
           k: int, transposed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A block's best ``k`` candidates per row, updated with a tile's columns that reach
    each row's current ``k``-th best. With ``transposed`` the block's rows are the tile's
    columns (compared in place: a transposed view is read across the cache, ~1.6x slower)."""
    idx, val = current
    floor = val.min(axis=1) if val.shape[1] >= k else np.full(len(val), -np.inf, val.dtype)
    if transposed:
        c, r = np.nonzero(tile >= floor[None, :])
        order = np.argsort(r, kind="stable")
        r, c = r[order], c[order]
        picked = tile[c, r]
    else:
        r, c = np.nonzero(tile >= floor[:, None])
        picked = tile[r, c]
    if not len(r):
        return current
    counts = np.bincount(r, minlength=len(val))
    slot = np.arange(len(r)) - np.repeat(np.cumsum(counts) - counts, counts)
    width = int(counts.max())
    more_val = np.full((len(val), width), -np.inf, dtype=val.dtype)
    more_idx = np.zeros((len(val), width), dtype=idx.dtype)
    more_val[r, slot] = picked
    more_idx[r, slot] = c + offset
    vals, idxs = np.hstack([val, more_val]), np.hstack([idx, more_idx])
    top = _top(vals, k)
    return np.take_along_axis(idxs, top, axis=1), np.take_along_axis(vals, top, axis=1)


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` largest values (all, when a row has fewer)."""
    width = values.shape[1]
    if k >= width:
        return np.broadcast_to(np.arange(width), values.shape).copy()
    return np.argpartition(values, width - k, axis=1)[:, width - k:]


def _best(tile: np.ndarray, k: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """A tile's best ``k`` columns per row: (global column indices, similarities)."""
    top = _top(tile, k)
    return top + offset, np.take_along_axis(tile, top, axis=1)
