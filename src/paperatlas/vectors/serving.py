"""The serving file: every paper's vectors as float16 rows in paper-id order, memory-mapped
read-only by every process of a library, so that all server workers share one copy (the
operating system's page cache) instead of each holding float32 copies.

One version is four raw files with one random stem: ``<stem>.ids`` (int64 paper ids,
ascending), ``<stem>.text`` (float16 rows of the paper vectors, L2-normalized as
embedded), ``<stem>.titled`` (int64: the rows whose paper has a title vector, ascending)
and ``<stem>.titles`` (their float16 title vectors, row-aligned with ``.titled``).
``vectors.json`` names the stem and records the model, the dimension and the state of the
library the rows were read at (the embedding position ``seq``, the change-log ``head``,
how many times every vector was cleared). The index job writes a new version (each file
flushed and moved into place, ``vectors.json`` last), so a crash or a partial write
leaves the previous version in use, and a reader keeps its mapping of the old files
(still readable after they are unlinked) until it sees the new ``vectors.json``.
Papers changed since a version are read from SQLite by each reader (see
:mod:`.sqlite`); the file is written again once they are many (:func:`stale`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import files

META = "vectors.json"
_PREFIX = "serve-"
_PARTS = ("ids", "text", "titled", "titles")


@dataclass(frozen=True)
class ServeMeta:
    """What ``vectors.json`` records about the version it names."""

    model: str
    dim: int
    seq: int
    head: int
    cleared: int
    rows: int
    titled: int
    stem: str


@dataclass(frozen=True)
class Mapped:
    """One version, memory-mapped read-only (nothing is read until it is used)."""

    meta: ServeMeta
    ids: np.ndarray
    text: np.ndarray
    titled: np.ndarray
    titles: np.ndarray


def stale_limit(rows: int) -> int:
    """The most papers that may change since a version of ``rows`` rows was written before
    it is written again (each reader holds those in memory as float32 until then)."""
    return min(max(rows // 10, 1_000), 25_000)


def stale(meta: ServeMeta, changed: int, rows: int) -> bool:
    """Whether a version should be written again: ``changed`` papers changed since it was,
    of ``rows``."""
    return changed > stale_limit(rows)


def write(folder: Path, *, model: str, dim: int, seq: int, head: int, cleared: int,
          batches: Iterable[tuple[list[int], np.ndarray, np.ndarray]]) -> ServeMeta:
    """Write a version from ``(ids, text vectors, title vectors or the text's)`` batches in
    paper-id order, then switch readers to it and remove the version before."""
    folder.mkdir(parents=True, exist_ok=True)
    previous = read_meta(folder)
    stem = f"{_PREFIX}{uuid.uuid4().hex}"
    tmp = {part: folder / f"{stem}.{part}.tmp" for part in _PARTS}
    rows = titled = 0
    handles = {part: open(path, "wb") for part, path in tmp.items()}  # noqa: SIM115
    try:
        for ids, text, heads in batches:
            has_title = np.flatnonzero(np.any(heads != text, axis=1))
            handles["ids"].write(np.asarray(ids, dtype=np.int64).tobytes())
            handles["text"].write(np.asarray(text, dtype=np.float16).tobytes())
            handles["titled"].write((has_title + rows).astype(np.int64).tobytes())
            handles["titles"].write(np.asarray(heads[has_title], dtype=np.float16).tobytes())
            rows, titled = rows + len(ids), titled + len(has_title)
    finally:
        for handle in handles.values():
            handle.close()
    for part, path in tmp.items():
        files.publish(path, folder / f"{stem}.{part}")
    meta = ServeMeta(model, dim, seq, head, cleared, rows, titled, stem)
    files.write_json(folder / META, asdict(meta))
    if previous is not None and previous.stem != stem:
        for part in _PARTS:
            (folder / f"{previous.stem}.{part}").unlink(missing_ok=True)
    files.remove_orphans(_own_files(folder), [f"{stem}.{part}" for part in _PARTS])
    return meta


def read_meta(folder: Path) -> ServeMeta | None:
    """What ``vectors.json`` says, or None when it is missing or not as written."""
    raw = files.read_json(folder / META)
    try:
        meta = ServeMeta(**raw) if raw is not None else None
    except TypeError:
        return None
    if meta is None or Path(meta.stem).name != meta.stem or not meta.stem.startswith(_PREFIX):
        return None
    return meta


def meta_version(folder: Path) -> tuple[int, int, int] | None:
    """Changes when a new version is switched to."""
    return files.stat_version(folder / META)


def open_mapped(folder: Path) -> Mapped | None:
    """The version ``vectors.json`` names, mapped; None when missing or not whole."""
    meta = read_meta(folder)
    if meta is None:
        return None
    shapes = {"ids": (meta.rows,), "text": (meta.rows, meta.dim),
              "titled": (meta.titled,), "titles": (meta.titled, meta.dim)}
    parts: dict[str, np.ndarray] = {}
    for part, shape in shapes.items():
        dtype = np.dtype(np.int64 if part in ("ids", "titled") else np.float16)
        path = folder / f"{meta.stem}.{part}"
        try:
            size = path.stat().st_size
            if size != dtype.itemsize * int(np.prod(shape)):
                return None
            parts[part] = (np.memmap(path, dtype=dtype, mode="r", shape=shape) if size
                           else np.zeros(shape, dtype=dtype))
        except (OSError, ValueError):
            return None
    return Mapped(meta, parts["ids"], parts["text"], parts["titled"], parts["titles"])


def remove(folder: Path) -> None:
    """Delete the serving files (``vectors.json`` first, so no reader finds half of it)."""
    meta = read_meta(folder)
    (folder / META).unlink(missing_ok=True)
    if meta is not None:
        for part in _PARTS:
            (folder / f"{meta.stem}.{part}").unlink(missing_ok=True)


def _own_files(folder: Path) -> Iterator[Path]:
    yield from folder.glob(f"{_PREFIX}*")
    yield from folder.glob(f"{META}.*.tmp")
