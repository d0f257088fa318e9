"""Cluster stages: split a node's papers into children, the data choosing how many."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from .base import Clusterer
from .parallel import fork_map, thread_map, threads

_IGRAPH_RNG = threading.Lock()


def knn_graph(features: np.ndarray, neighbors: int,
              block: int = 2048) -> tuple[list[tuple[int, int]], np.ndarray]:
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
    r = np.concatenate(rows)
    c = np.concatenate([idx.ravel() for idx, _ in best])
    w = np.concatenate([val.ravel() for _, val in best])
    a, b = np.minimum(r, c), np.maximum(r, c)
    _, first = np.unique(a.astype(np.int64) * n + b, return_index=True)
    edges = list(zip(a[first].tolist(), b[first].tolist(), strict=True))
    return edges, np.maximum(w[first], 0.0).astype(np.float64)


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


def leiden(graph: Any, weights: np.ndarray, resolution: float, seed: int,
           iterations: int = -1) -> tuple[list[int], float]:
    """One seeded Leiden run (igraph's C implementation, modularity with a resolution):
    the membership and its modularity. ``iterations`` -1 runs to convergence."""
    import random

    import igraph as ig

    with _IGRAPH_RNG:  # igraph draws from one process-wide generator
        ig.set_random_number_generator(random.Random(seed))
        try:
            found = graph.community_leiden(objective_function="modularity", weights=weights,
                                           resolution=resolution, n_iterations=iterations)
        finally:
            ig.set_random_number_generator(random)
    membership = list(found.membership)
    return membership, float(graph.modularity(membership, weights=weights,
                                              resolution=resolution))


def _leiden_task(shared: tuple[Any, np.ndarray, int],
                 spec: tuple[float, int]) -> tuple[list[int], float]:
    graph, weights, iterations = shared
    return leiden(graph, weights, spec[0], spec[1], iterations)


def merge_small(features: np.ndarray, labels: np.ndarray, min_size: int,
                max_clusters: int) -> np.ndarray:
    """Fold clusters smaller than ``min_size`` (and beyond ``max_clusters``, smallest first)
    into the cluster with the nearest centroid; numbered by size, largest first."""
    labels = labels.copy()
    while True:
        ids, counts = np.unique(labels, return_counts=True)
        if len(ids) <= 1:
            break
        order = np.lexsort((ids, counts))  # smallest first, ties by id
        smallest = ids[order[0]]
        if counts[order[0]] >= min_size and len(ids) <= max_clusters:
            break
        cents = np.stack([features[labels == i].mean(axis=0) for i in ids])
        cents /= np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-12)
        sims = cents @ cents[order[0]]
        sims[order[0]] = -np.inf
        labels[labels == smallest] = ids[int(np.argmax(sims))]
    ids, counts = np.unique(labels, return_counts=True)
    rank = {int(i): r for r, i in enumerate(ids[np.lexsort((ids, -counts))])}
    return np.array([rank[int(x)] for x in labels], dtype=np.int64)


class LeidenClusterer(Clusterer):
    """Communities of the k-nearest-neighbour graph, found by Leiden (modularity).

    The number of children follows the data: Leiden optimizes modularity and stops
    where it peaks. ``neighbors`` defaults to ``sqrt(n)`` clipped to 10..30. The
    resolution starts at ``resolution`` and is lowered (x0.7) until a run has at most
    ``max_children`` communities; of ``restarts`` seeded runs at that resolution the
    partition with the highest modularity is kept. Each run makes ``iterations`` passes
    (2, igraph's default; -1 runs to convergence). For a node of at least
    ``parallel_min`` papers the runs go :func:`~.parallel.threads` at a time in forked
    processes (the next resolutions tried speculatively; the result is the same).
    """

    def __init__(self, neighbors: int | None = None, resolution: float = 1.0,
                 restarts: int = 3, iterations: int = 2, parallel_min: int = 2000) -> None:
        self.neighbors = neighbors
        self.resolution = resolution
        self.restarts = restarts
        self.iterations = iterations
        self.parallel_min = parallel_min

    def _runs(self, graph: Any, weights: np.ndarray, specs: list[tuple[float, int]],
              forked: bool) -> list[tuple[list[int], float]]:
        """Leiden runs of ``(resolution, seed)``; with ``forked``, on
        :func:`~.parallel.threads` processes (igraph holds the GIL)."""
        if forked and len(specs) > 1:
            return fork_map(_leiden_task, (graph, weights, self.iterations), specs, threads())
        return [leiden(graph, weights, r, s, self.iterations) for r, s in specs]

    def split(self, features: np.ndarray, *, max_children: int, min_size: int,
              seed: int) -> np.ndarray:
        n = len(features)
        if n < 2 * min_size or n < 4:
            return np.zeros(n, dtype=np.int64)
        import igraph as ig

        nn = self.neighbors or int(min(30, max(10, round(math.sqrt(n)))))
        edges, weights = knn_graph(features, nn)
        graph = ig.Graph(n=n, edges=edges)
        # The largest resolution (1, 0.7, 0.49, ...) whose first run fits max_children;
        # then more seeded runs there, the best modularity that still fits kept.
        resolutions = [self.resolution]
        for _ in range(12):
            resolutions.append(resolutions[-1] * 0.7)

        def fits(run: tuple[list[int], float]) -> bool:
            return len(set(run[0])) <= max_children

        step = threads() if n >= self.parallel_min else 1  # runs tried at once, forked
        found: tuple[float, tuple[list[int], float]] | None = None
        for i in range(0, len(resolutions), step):
            batch = resolutions[i:i + step]
            runs = self._runs(graph, weights, [(r, seed) for r in batch], step > 1)
            found = next(((r, run) for r, run in zip(batch, runs, strict=True) if fits(run)),
                         None if i + step < len(resolutions) else (batch[-1], runs[-1]))
            if found is not None:
                break
        assert found is not None
        resolution, best = found
        restarts = [(resolution, seed + r) for r in range(1, self.restarts)]
        for run in self._runs(graph, weights, restarts, step > 1):
            if run[1] > best[1] and fits(run):
                best = run
        labels = np.asarray(best[0], dtype=np.int64)
        return merge_small(features, labels, min_size, max_children)


class KMeansClusterer(Clusterer):
    """Spherical k-means, with k chosen by the best silhouette over ``2..max_children``."""

    def __init__(self, sample: int = 2000) -> None:
        self.sample = sample

    def split(self, features: np.ndarray, *, max_children: int, min_size: int,
              seed: int) -> np.ndarray:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        n = len(features)
        if n < 2 * min_size or n < 4:
            return np.zeros(n, dtype=np.int64)
        best: tuple[float, np.ndarray] | None = None
        for k in range(2, min(max_children, n // max(min_size, 1)) + 1):
            labels = KMeans(k, n_init=3, random_state=seed).fit_predict(features)
            score = float(silhouette_score(features, labels, metric="cosine",
                                           sample_size=min(n, self.sample), random_state=seed))
            if best is None or score > best[0]:
                best = (score, labels)
        if best is None:
            return np.zeros(n, dtype=np.int64)
        return merge_small(features, best[1].astype(np.int64), min_size, max_children)
