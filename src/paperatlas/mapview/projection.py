"""Project paper vectors onto a plane, and place new vectors on a fitted projection.

Small functions over numpy arrays, fed in batches so that no build holds every vector:
PCA from streamed sums (:class:`PcaSums`: the mean and the covariance, then its
eigenvectors), UMAP (umap-learn, used when installed) fitted on a sample and the other
papers placed among it. Every fitted map is framed the same way: shifted and scaled (one
factor for both axes) so that its points span [0, 1] on the longer axis, which makes
rounding to a few decimals equally fine everywhere.

A fitted projection is saved as a few plain arrays (``.npz``, never a pickle): PCA keeps
its mean and two components, so a new paper goes through the very same linear map. UMAP
keeps no model (it would hold every training vector); a new paper is placed among its
nearest mapped papers, at the distance-weighted mean of their points (as UMAP's own
``transform`` starts a new point, before it refines it against the model).
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from ..errors import PaperatlasError, PreconditionError
from ..options import choose, values


class MapMethod(StrEnum):
    """How vectors are projected onto the plane; the first is the default."""

    PCA = "pca"
    UMAP = "umap"


#: Projection methods' names (the valid values), the default first.
METHODS: tuple[str, ...] = values(MapMethod)
#: Bumped when what a stored projection means changes (old maps are then refitted).
VERSION = 1
#: Neighbours that place a new paper on a UMAP map (UMAP's default ``n_neighbors``).
NEIGHBOURS = 15


def check_method(method: str) -> MapMethod:
    """``method`` if it is one of :data:`METHODS` and can run here, else an error."""
    chosen = choose(MapMethod, "map method", method)
    if chosen == MapMethod.UMAP and importlib.util.find_spec("umap") is None:
        raise PaperatlasError("the umap method needs umap-learn: pip install umap-learn "
                              "(or use --method pca)")
    return chosen


@dataclass(frozen=True)
class Projection:
    """A fitted projection: ``(vector - mean) @ components.T`` for PCA, then the frame
    ``(point - offset) / scale``."""

    method: str
    offset: np.ndarray  # (2,)
    scale: float
    mean: np.ndarray | None = None  # (dim,), PCA only
    components: np.ndarray | None = None  # (2, dim), PCA only

    @property
    def linear(self) -> bool:
        """Whether new vectors go through the projection itself (else: neighbours)."""
        return self.mean is not None and self.components is not None

    def to_blob(self) -> bytes:
        arrays: dict[str, Any] = {"offset": self.offset, "scale": np.array([self.scale])}
        if self.linear:
            arrays.update(mean=self.mean, components=self.components)
        out = io.BytesIO()
        np.savez(out, **arrays)
        return out.getvalue()

    @classmethod
    def from_blob(cls, method: str, blob: bytes) -> Projection:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            return cls(method=method, offset=data["offset"], scale=float(data["scale"][0]),
                       mean=data.get("mean"), components=data.get("components"))


class PcaSums:
    """The first two principal axes of vectors seen in batches: their count, sum and the
    sum of their outer products, in float64 (O(dim^2) memory whatever the count); then
    the eigenvectors of the covariance (what scikit-learn's PCA finds, up to sign)."""

    def __init__(self) -> None:
        self.n = 0
        self.total: np.ndarray | None = None
        self.outer: np.ndarray | None = None

    def add(self, vectors: np.ndarray) -> None:
        block = np.asarray(vectors, dtype=np.float64)
        if not len(block):
            return
        if self.total is None or self.outer is None:
            dim = block.shape[1]
            self.total, self.outer = np.zeros(dim), np.zeros((dim, dim))
        self.n += len(block)
        self.total += block.sum(axis=0)
        self.outer += block.T @ block

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean and the first two principal axes (2 x dim; a missing axis is zeros),
        each axis signed so that its largest coordinate is positive."""
        if self.total is None or self.outer is None or not self.n:
            raise PreconditionError(NO_VECTORS)
        mean = self.total / self.n
        cov = self.outer / self.n - np.outer(mean, mean)
        values, vectors = np.linalg.eigh(cov)  # ascending
        dim = len(mean)
        k = min(2, self.n - 1, dim) if self.n > 1 else 0
        components = np.zeros((2, dim), dtype=np.float32)
        for i in range(k):
            axis = vectors[:, dim - 1 - i]
            if values[dim - 1 - i] <= 1e-12 * max(float(values[-1]), 1e-300):
                break  # no spread along it
            top = int(np.argmax(np.abs(axis)))
            components[i] = axis * (1.0 if axis[top] >= 0 else -1.0)
        return mean.astype(np.float32), components


#: What a map build says when there is nothing to map.
NO_VECTORS = ("no paper vectors to map: run `paperatlas index` with an embedding model "
              "first")


def project(vectors: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """``(vectors - mean) @ components.T``: what ``PCA.transform`` computes."""
    out: np.ndarray = (np.asarray(vectors, np.float32) - mean) @ components.T
    return out


def fit_umap(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 2-D UMAP embedding (cosine metric, UMAP's defaults otherwise)."""
    import umap

    if len(vectors) <= 2:
        return np.zeros((len(vectors), 2))
    reducer = umap.UMAP(n_components=2, n_neighbors=min(NEIGHBOURS, len(vectors) - 1),
                        metric="cosine", random_state=seed)
    with warnings.catch_warnings():  # a seed makes UMAP single-threaded, and says so
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        return np.asarray(reducer.fit_transform(vectors), dtype=np.float64)


def frame(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The offset and scale that put ``points`` in [0, 1] on their longer axis."""
    low = points.min(axis=0)
    span = float((points.max(axis=0) - low).max())
    return low.astype(np.float64), span if span > 0 else 1.0


def place(projection: Projection, vectors: np.ndarray, *,
          mapped: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Framed points for new ``vectors`` on a fitted map, without refitting it.

    A linear projection (PCA) maps them directly; otherwise ``mapped`` (the vectors and
    points already on the map) places each at the distance-weighted mean of its
    :data:`NEIGHBOURS` nearest mapped papers by cosine.
    """
    if len(vectors) == 0:
        return np.zeros((0, 2))
    if projection.mean is not None and projection.components is not None:
        raw = project(vectors, projection.mean, projection.components)
        framed: np.ndarray = (raw - projection.offset) / projection.scale
        return framed
    if mapped is None or len(mapped[0]) == 0:
        raise PreconditionError("the map has no points to place new papers by; rebuild it "
                                "with `paperatlas map build --rebuild`")
    from sklearn.neighbors import KNeighborsRegressor

    known, points = mapped
    knn = KNeighborsRegressor(n_neighbors=min(NEIGHBOURS, len(known)), weights="distance",
                              metric="cosine", algorithm="brute")
    out: np.ndarray = np.asarray(knn.fit(known, points).predict(vectors), dtype=np.float64)
    return out
