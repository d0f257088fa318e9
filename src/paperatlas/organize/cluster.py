"""Cluster stages: split a node's papers into children, the data choosing how many."""

from __future__ import annotations

import math

import numpy as np

from .base import Clusterer


def knn_graph(features: np.ndarray, neighbors: int,
              block: int = 2048) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Undirected edges of the ``neighbors``-nearest-neighbour graph (cosine), with weights.

    Computed in row blocks so memory stays ``block x n``; ties break by index.
    """
    n = len(features)
    k = min(neighbors, n - 1)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    sims: list[np.ndarray] = []
    for start in range(0, n, block):
        part = features[start:start + block] @ features.T
        local = np.arange(part.shape[0])
        part[local, start + local] = -np.inf
        idx = np.argpartition(-part, k - 1, axis=1)[:, :k]
        rows.append(np.repeat(start + local, k))
        cols.append(idx.ravel())
        sims.append(np.take_along_axis(part, idx, axis=1).ravel())
    r, c, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(sims)
    a, b = np.minimum(r, c), np.maximum(r, c)
    keys, first = np.unique(a.astype(np.int64) * n + b, return_index=True)
    del keys
    edges = list(zip(a[first].tolist(), b[first].tolist(), strict=True))
    return edges, np.maximum(w[first], 0.0).astype(np.float64)


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
    where it peaks. ``neighbors`` defaults to ``sqrt(n)`` clipped to 10..30. Of
    ``restarts`` seeded runs the partition with the highest modularity is kept; when it
    has more than ``max_children`` communities the resolution is lowered until it fits.
    """

    def __init__(self, neighbors: int | None = None, resolution: float = 1.0,
                 restarts: int = 3) -> None:
        self.neighbors = neighbors
        self.resolution = resolution
        self.restarts = restarts

    def split(self, features: np.ndarray, *, max_children: int, min_size: int,
              seed: int) -> np.ndarray:
        n = len(features)
        if n < 2 * min_size or n < 4:
            return np.zeros(n, dtype=np.int64)
        import igraph as ig
        import leidenalg as la

        nn = self.neighbors or int(min(30, max(10, round(math.sqrt(n)))))
        edges, weights = knn_graph(features, nn)
        graph = ig.Graph(n=n, edges=edges)
        resolution = self.resolution
        best = None
        for _ in range(8):
            best = None
            for r in range(self.restarts):
                part = la.find_partition(
                    graph, la.RBConfigurationVertexPartition, weights=weights,
                    resolution_parameter=resolution, seed=seed + r, n_iterations=-1)
                if best is None or part.quality() > best.quality():
                    best = part
            assert best is not None
            if len(best) <= max_children:
                break
            resolution *= 0.7
        assert best is not None
        labels = np.asarray(best.membership, dtype=np.int64)
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
