"""Fitting the map and placing papers on it in batches, never holding every vector.

A PCA fit reads the vectors twice, batch by batch: once for the sums that give its axes
(:class:`~.projection.PcaSums`), once to project them. A UMAP fit reads a sample (the
:data:`SAMPLE` papers lowest in the map's rank, see :mod:`.pointfile`), fits UMAP on it
and places every other paper among the sample, a batch at a time. What a build keeps for
every paper is its id, text hash and point (about 40 bytes).

Points are written :data:`WRITE` to a transaction. A refit first removes the old points
and the fitted state, and writes the new state last, so a build that fails half-way
leaves no map that claims to be complete (the next ``map build`` fits again); placing new
papers on a fitted map keeps every point it wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import PreconditionError
from ..store import Store, utcnow
from ..vectors import VectorFilter, VectorStore
from .pointfile import rank
from .projection import (
    NO_VECTORS,
    VERSION,
    MapMethod,
    PcaSums,
    Projection,
    fit_umap,
    frame,
    place,
    project,
)

#: Vectors read per batch.
BATCH = 20_000
#: Points written per transaction.
WRITE = 50_000
#: A UMAP map is fitted on at most this many papers; the others are placed among them.
SAMPLE = 50_000

#: ``(vectors, paper ids) -> points`` of one batch.
Locate = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Fitted:
    """A fitted projection and every paper's framed point (row-aligned arrays)."""

    projection: Projection
    ids: np.ndarray  # int64
    hashes: np.ndarray  # bytes
    xy: np.ndarray  # n x 2 float64
    fitted: int  # papers the projection was fitted on


def fit_all(vectors: VectorStore, method: MapMethod, seed: int = 0) -> Fitted:
    """Fit ``method`` on the stored vectors and place every paper on it."""
    if method == MapMethod.PCA:
        sums = PcaSums()
        for batch in vectors.iterate(titles=False, batch=BATCH):
            sums.add(batch.vectors)
        mean, components = sums.axes()
        ids, hashes, raw = _points(vectors, lambda v, _: project(v, mean, components))
        offset, scale = frame(raw)
        return Fitted(Projection(method, offset, scale, mean, components), ids, hashes,
                      (raw - offset) / scale, len(ids))
    every = np.array(vectors.ids(), dtype=np.int64)
    if not len(every):
        raise PreconditionError(NO_VECTORS)
    sample = np.sort(every[np.argsort(rank(every, seed), kind="stable")[:SAMPLE]])
    known = _matrix(vectors, sample)
    raw = fit_umap(known, seed)
    offset, scale = frame(raw)
    projection = Projection(method, offset, scale)
    framed = (raw - offset) / scale

    def locate(block: np.ndarray, block_ids: np.ndarray) -> np.ndarray:
        at = np.minimum(np.searchsorted(sample, block_ids), len(sample) - 1)
        hit = sample[at] == block_ids
        out = np.empty((len(block_ids), 2))
        out[hit] = framed[at[hit]]
        if (~hit).any():
            out[~hit] = place(projection, block[~hit], mapped=(known, framed))
        return out

    ids, hashes, xy = _points(vectors, locate)
    return Fitted(projection, ids, hashes, xy, len(sample))


def place_new(store: Store, vectors: VectorStore, projection: Projection, *, method: str,
              model: str, seed: int = 0) -> int:
    """Place the papers with a vector but no current point; how many were placed."""
    todo = store.maps.unplaced_ids()
    if not todo:
        return 0
    mapped = None
    if not projection.linear:  # among the sample it was fitted on, as far as it is mapped
        every = np.array(vectors.ids(), dtype=np.int64)
        sample = every[np.argsort(rank(every, seed), kind="stable")[:SAMPLE]]
        found = store.maps.xy_of(sorted(int(p) for p in sample))
        chosen = np.array(sorted(found), dtype=np.int64)
        mapped = (_matrix(vectors, chosen), np.array([found[int(p)] for p in chosen]))
    placed = 0
    for batch in vectors.iterate(VectorFilter(papers=set(todo)), titles=False, batch=WRITE):
        xy = place(projection, batch.vectors, mapped=mapped)
        with store.transaction():
            store.maps.put(batch.ids, batch.hashes, xy, method, model)
            store.maps.touch(utcnow())
        placed += len(batch.ids)
    return placed


def write_fit(store: Store, fitted: Fitted, *, method: str, model: str, seed: int) -> None:
    """Replace the map by ``fitted``: the old fit marked as being replaced and its points
    out, points in batches, state last (a kill in between leaves a map to fit again)."""
    maps = store.maps
    with store.transaction():
        maps.begin_refit()
        maps.clear()
    for start in range(0, len(fitted.ids), WRITE):
        end = start + WRITE
        with store.transaction():
            maps.put(fitted.ids[start:end].tolist(),
                     [h.decode() for h in fitted.hashes[start:end].tolist()],
                     fitted.xy[start:end], method, model)
    with store.transaction():
        maps.set_state(method=method, model=model, version=VERSION, fitted=fitted.fitted,
                       params=fitted.projection.to_blob(),
                       settings={"seed": seed, "points": len(fitted.ids)},
                       now=utcnow())


def _points(vectors: VectorStore, locate: Locate) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every paper's id, text hash and point (``locate(vectors, ids)``), batch by batch."""
    ids, hashes, points = [], [], []
    for batch in vectors.iterate(titles=False, batch=BATCH):
        block_ids = np.array(batch.ids, dtype=np.int64)
        ids.append(block_ids)
        hashes.append(np.array([h.encode() for h in batch.hashes], dtype=bytes))
        points.append(np.asarray(locate(batch.vectors, block_ids), dtype=np.float64))
    if not ids:
        raise PreconditionError(NO_VECTORS)
    return np.concatenate(ids), np.concatenate(hashes), np.vstack(points)


def _matrix(vectors: VectorStore, paper_ids: np.ndarray) -> np.ndarray:
    """The text vectors of ``paper_ids`` as rows, in their order."""
    got = vectors.get([int(p) for p in paper_ids])
    return np.vstack([got[int(p)] for p in paper_ids])
