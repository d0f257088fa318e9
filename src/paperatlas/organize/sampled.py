"""Splitting a large node on a sample: the sample is clustered, every other paper joins the
group whose centroid is nearest in the space the sample was clustered in (its embedding
beside its words on the sample's SVD axes, :meth:`~.base.Featurizer.sampled`), in
batches; a featurizer that cannot map other papers leaves the embedding centroids (as
``tree update`` places a new paper). A node of more than ``sample_max`` papers is split
this way, so the features, the kNN graph and Leiden of a split never see more than
``sample_max`` papers."""

from __future__ import annotations

import numpy as np

from .base import Projection
from .features import normalize_rows

#: Nodes with more papers than this are split on a sample of this many.
SAMPLE_MAX = 150_000
#: The smallest ``sample_max`` allowed (0 turns sampling off).
SAMPLE_LEAST = 100
#: Papers compared with the centroids at once.
ATTACH_BATCH = 50_000


def check_sample_max(sample_max: int) -> int:
    """``sample_max`` if valid: 0 (never sample) or at least :data:`SAMPLE_LEAST`."""
    if isinstance(sample_max, bool) or not isinstance(sample_max, int) or \
            (sample_max != 0 and sample_max < SAMPLE_LEAST):
        raise ValueError(f"sample_max must be 0 (never sample) or an integer of at least "
                         f"{SAMPLE_LEAST}, not {sample_max!r}")
    return sample_max


def sample(rows: list[int], size: int, seed: int) -> tuple[list[int], np.ndarray]:
    """A seeded sample of ``size`` of ``rows`` (in their order), and a mask of the rows
    left out."""
    picked = np.sort(np.random.default_rng(seed).choice(len(rows), size, replace=False))
    rest = np.ones(len(rows), dtype=bool)
    rest[picked] = False
    return [rows[i] for i in picked.tolist()], rest


def centroids(feats: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The normalized mean of each group's rows (groups 0..k-1)."""
    count = int(labels.max()) + 1 if len(labels) else 0
    return normalize_rows(np.stack([feats[labels == c].mean(axis=0) for c in range(count)]))


def attach(vectors: np.ndarray, rows: list[int], rest: np.ndarray, labels: np.ndarray,
           cents: np.ndarray | None = None, project: Projection | None = None) -> np.ndarray:
    """The group of each of ``rows``: ``labels`` (0..k-1) for the sampled ones (where
    ``rest`` is not set, in order); for the others, the group of the nearest of ``cents``
    (the groups' centroids in the sample's feature space) once ``project`` has mapped
    them there, or without those, of the nearest normalized embedding centroid."""
    picked = np.asarray(rows, dtype=np.int64)[~rest]
    if cents is None or project is None:
        cents, project = centroids(vectors[picked], labels), _embedding
    others = np.asarray(rows, dtype=np.int64)[rest]
    out = np.empty(len(rows), dtype=np.int64)
    out[~rest] = labels
    found = np.empty(len(others), dtype=np.int64)
    for start in range(0, len(others), ATTACH_BATCH):
        part = others[start:start + ATTACH_BATCH]
        feats = project(vectors[part], part.tolist())
        found[start:start + len(part)] = np.argmax(feats @ cents.T, axis=1)
    out[rest] = found
    return out


def _embedding(vectors: np.ndarray, rows: list[int]) -> np.ndarray:
    return normalize_rows(vectors)
