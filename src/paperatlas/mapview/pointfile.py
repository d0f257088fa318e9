"""The map's point file: every point in rank order, memory-mapped by the servers that draw it.

Every point has a fixed random rank, a seeded hash of its paper id (:func:`rank`); the file
lists the points by rank, so its first ``n`` rows are a uniform sample of the map, and the
rows of a box lowest in rank (:func:`window`) a uniform sample of that part. One version is
one raw file ``map-<stem>.points``: ``rows`` float32 x, then ``rows`` float32 y, then
``rows`` uint32 paper ids (little-endian, 12 bytes a point: 30 MB for 2.5M points, read
through the page cache and shared by every process). ``map.json`` names the stem and
records the map it was written from; a build writes the file, flushes it and moves it into
place, then ``map.json`` (see :mod:`..vectors.files`), so a reader sees the old version or
the new one, never half of one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import PreconditionError
from ..vectors import files

META = "map.json"
_PREFIX = "map-"
_SUFFIX = ".points"
#: Rows scanned per step of a window (a whole-map window of up to this many points is one).
STEP = 1 << 18
#: Paper ids are stored as uint32.
MAX_PAPER = 2**32 - 1


def rank(paper_ids: np.ndarray, seed: int = 0) -> np.ndarray:
    """A fixed pseudo-random uint64 per paper id (splitmix64 of id and seed)."""
    with np.errstate(over="ignore"):
        z = np.asarray(paper_ids, dtype=np.uint64) + np.uint64(
            (0x9E3779B97F4A7C15 * (seed + 1)) & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


@dataclass(frozen=True)
class PointMeta:
    """What ``map.json`` records: the file's stem and rows, and the map it shows."""

    stem: str
    rows: int
    method: str
    model: str
    built_at: str
    seed: int
    bounds: tuple[float, float, float, float]  # x0, y0, x1, y1 of every point


@dataclass(frozen=True)
class PointFile:
    """One version, memory-mapped read-only: ``x``, ``y`` and ``paper`` by rank."""

    meta: PointMeta
    x: np.ndarray
    y: np.ndarray
    paper: np.ndarray


def write(folder: Path, parts: Iterable[tuple[np.ndarray, np.ndarray]], *, method: str,
          model: str, built_at: str, seed: int = 0) -> PointMeta:
    """Write a new version from ``(paper ids, n x 2 points)`` parts and switch to it."""
    id_parts, xy_parts = [], []
    for ids, xy in parts:
        id_parts.append(np.asarray(ids, dtype=np.int64))
        xy_parts.append(np.asarray(xy, dtype=np.float32).reshape(-1, 2))
    ids = np.concatenate(id_parts) if id_parts else np.zeros(0, dtype=np.int64)
    xy = np.vstack(xy_parts) if xy_parts else np.zeros((0, 2), dtype=np.float32)
    del id_parts, xy_parts
    if len(ids) and (ids.min() < 0 or ids.max() > MAX_PAPER):
        raise PreconditionError(f"the map's point file holds paper ids up to {MAX_PAPER}")
    order = np.argsort(rank(ids, seed), kind="stable")
    bounds = ((float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()),
               float(xy[:, 1].max())) if len(ids) else (0.0, 0.0, 1.0, 1.0))
    folder.mkdir(parents=True, exist_ok=True)
    stem = uuid.uuid4().hex
    final = folder / f"{_PREFIX}{stem}{_SUFFIX}"
    tmp = final.with_name(final.name + ".tmp")
    with open(tmp, "wb") as f:
        for column in (xy[order, 0], xy[order, 1], ids[order].astype("<u4")):
            f.write(np.ascontiguousarray(column, column.dtype.newbyteorder("<")).tobytes())
    files.publish(tmp, final)
    meta = PointMeta(stem, len(ids), method, model, built_at, seed, bounds)
    files.write_json(folder / META, asdict(meta))
    files.remove_orphans(folder.glob(f"{_PREFIX}*"), [final.name])
    return meta


def read_meta(folder: Path) -> PointMeta | None:
    raw = files.read_json(folder / META)
    if raw is None:
        return None
    try:
        raw["bounds"] = tuple(float(v) for v in raw["bounds"])
        return PointMeta(**raw)
    except (KeyError, TypeError, ValueError):
        return None


def version(folder: Path) -> tuple[int, int, int] | None:
    """Changes when a new version is switched to (one ``stat``)."""
    return files.stat_version(folder / META)


def load(folder: Path) -> PointFile | None:
    """The current version, memory-mapped (None: none written yet, or unreadable)."""
    meta = read_meta(folder)
    if meta is None:
        return None
    path = folder / f"{_PREFIX}{meta.stem}{_SUFFIX}"
    n = meta.rows
    try:
        if path.stat().st_size != 12 * n:
            return None
        if n == 0:
            empty = np.zeros(0, dtype=np.float32)
            return PointFile(meta, empty, empty, np.zeros(0, dtype=np.uint32))
        raw = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError):
        return None
    return PointFile(meta, raw[:4 * n].view("<f4"), raw[4 * n:8 * n].view("<f4"),
                     raw[8 * n:].view("<u4"))


def remove(folder: Path) -> None:
    """Remove every version (a map that is gone)."""
    for path in [folder / META, *folder.glob(f"{_PREFIX}*")]:
        path.unlink(missing_ok=True)


def window(points: PointFile, box: tuple[float, float, float, float], budget: int,
           allowed: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """The rows (lowest rank first) of the points in ``box`` (x0, y0, x1, y1, inclusive)
    that ``allowed`` (a mask by row; None: all) lets through, at most ``budget`` of them;
    and whether that is every such point."""
    x0, y0, x1, y1 = box
    found: list[np.ndarray] = []
    count, n = 0, points.meta.rows
    end = 0
    for start in range(0, n, STEP):
        end = min(n, start + STEP)
        x, y = points.x[start:end], points.y[start:end]
        keep = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        if allowed is not None:
            keep &= allowed[start:end]
        rows = np.flatnonzero(keep) + start
        found.append(rows)
        count += len(rows)
        if count > budget:
            break
    rows = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    return rows[:budget], count <= budget and end == n


def nearest(points: PointFile, x: float, y: float,
            allowed: np.ndarray | None = None) -> int | None:
    """The row of the point nearest to ``(x, y)`` that ``allowed`` lets through."""
    best, best_d = None, np.inf
    for start in range(0, points.meta.rows, STEP):
        end = min(points.meta.rows, start + STEP)
        d = ((points.x[start:end] - np.float32(x)) ** 2
             + (points.y[start:end] - np.float32(y)) ** 2)
        if allowed is not None:
            d = np.where(allowed[start:end], d, np.inf)
        i = int(np.argmin(d))
        if d[i] < best_d:
            best, best_d = start + i, float(d[i])
    return best
