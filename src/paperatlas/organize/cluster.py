"""Cluster stages: split a node's papers into children, the data choosing how many."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from .base import Clusterer
from .knn import ANN_MIN, knn_graph, neighbor_graph
from .parallel import fork_map, threads

__all__ = ["KMeansClusterer", "LeidenClusterer", "knn_graph", "leiden", "merge_small"]

_IGRAPH_RNG = threading.Lock()


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
    processes (the next resolutions tried speculatively; the result is the same). A node
    of at least ``ann_min`` papers gets its graph from an approximate index
    (:func:`~.knn.ann_graph`), a smaller one the exact graph (:func:`~.knn.knn_graph`).
    """

    def __init__(self, neighbors: int | None = None, resolution: float = 1.0,
                 restarts: int = 3, iterations: int = 2, parallel_min: int = 2000,
                 ann_min: int = ANN_MIN) -> None:
        self.neighbors = neighbors
        self.resolution = resolution
        self.restarts = restarts
        self.iterations = iterations
        self.parallel_min = parallel_min
        self.ann_min = ann_min

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
        edges, weights = neighbor_graph(features, nn, approximate=n >= self.ann_min,
                                        seed=seed)
        graph = ig.Graph(n=n, edges=edges.pairs)
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
