"""Reading the vectors a :class:`~.sqlite.SqliteVectorStore` searches: the serving file
mapped plus the papers changed since it was written, or every vector into memory (patched
with just the papers changed since, when few changed); and writing the serving file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..store import Store
from . import serving
from .ann import AnnIndex
from .loaded import Loaded, Version

if TYPE_CHECKING:
    from .sqlite import SqliteVectorStore

#: Papers missing from the ANN index that every query scores besides its candidates (at
#: most a fifth of the papers); with more, search is exact until the next ``optimize``.
_MAX_EXTRA = 20_000
#: A reload reads just the papers changed since the last one (or since the serving file)
#: when they are at most this many (and at most 1,000 or a fifth of the papers);
#: otherwise it reads every vector.
_MAX_PATCH = 50_000
#: Rows copied at a time when a reload patches the vectors (bounds the temporary copies).
_COPY_ROWS = 32_768
#: Rows read from SQLite at a time when every vector is loaded or the serving file written
#: (each batch is held as rows, then as two float32 matrices, until copied or written).
_LOAD_ROWS = 8192


def reload(vectors: SqliteVectorStore, old: Loaded,
           serve_version: tuple[int, int, int] | None) -> Loaded:
    """The vectors as they are now, all read in one state of the library: the serving
    file (``old``'s mapping when it did not change) and the papers changed since it, or
    ``old`` patched with the papers changed since it was read, or every vector again."""
    store = vectors.store
    with store.snapshot():
        version = vectors._version()
        head = store.search.last_seq()
        mapped = old.base if serve_version == old.serve_version else (
            None if vectors.folder is None else serving.open_mapped(vectors.folder))
        if mapped is not None:
            found = _on_mapped(vectors, mapped, version, head, serve_version)
            if found is not None:
                return found
        patched = _patch(store, old, version, head) if old.base is None else None
        return patched if patched is not None else vectors._load(version, head)


def _on_mapped(vectors: SqliteVectorStore, mapped: serving.Mapped, version: Version,
               head: int, serve_version: tuple[int, int, int] | None) -> Loaded | None:
    """The serving file with the papers changed since it was written read from SQLite;
    None when it is of other vectors (model, dimension, a clear since, a position that
    went back) or too many changed."""
    meta = mapped.meta
    if (vectors.models() != [meta.model] or vectors.dimension() != meta.dim
            or meta.cleared != version.cleared or version.seq < meta.seq or head < meta.head):
        return None
    limit = min(max(meta.rows // 5, 1_000), _MAX_PATCH)
    search = vectors.store.search
    changed = np.unique(np.asarray(
        search.changed_between(meta.seq, version.seq, limit + 1)
        + search.changed_between(meta.head, head, limit + 1)
        + sorted(vectors._unlogged), dtype=np.int64))
    if len(changed) > limit:
        return None
    ids, matrix, titles = _read(vectors.store, changed, meta.dim)
    live = None
    if len(changed):
        at = np.searchsorted(mapped.ids, changed)
        inside = at < meta.rows
        at = at[inside][np.asarray(mapped.ids[at[inside]]) == changed[inside]]
        if len(at):
            live = np.ones(meta.rows, dtype=bool)
            live[at] = False
    kept = meta.rows if live is None else int(live.sum())
    if kept + len(ids) != version.vectors:
        return None
    return Loaded(version=version, head=head, ids=ids, matrix=matrix, titles=titles,
                  base=mapped, live=live, serve_version=serve_version)


def _read(store: Store, paper_ids: np.ndarray,
          dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ids and vectors of those of ``paper_ids`` that have vectors."""
    ids: list[int] = []
    parts, titles = [], []
    for batch_ids, mat, title_mat, _ in store.vectors.load(paper_ids=paper_ids.tolist()):
        ids += batch_ids
        parts.append(mat)
        titles.append(title_mat)
    return np.asarray(ids, dtype=np.int64), _stack(parts, dim), _stack(titles, dim)


def _patch(store: Store, old: Loaded, version: Version, head: int) -> Loaded | None:
    """``old`` with the vectors read again of the papers that may have changed since:
    those the embedding job reached since (change-log positions ``old.version.seq``
    to ``version.seq``) and those changed or deleted since (``old.head`` to ``head``).
    Another process changes vectors only so; None when that does not hold (writes
    through this object, a clear, a position that went back, a count that does not
    add up) or too many changed."""
    was = old.version
    if (was is None or (version.writes, version.cleared) != (was.writes, was.cleared)
            or version.seq < was.seq or head < old.head):
        return None
    limit = min(max(len(old.ids) // 5, 1_000), _MAX_PATCH)
    search = store.search
    changed = np.unique(np.asarray(
        search.changed_between(was.seq, version.seq, limit + 1)
        + search.changed_between(old.head, head, limit + 1), dtype=np.int64))
    if len(changed) > limit:
        return None
    dim = old.matrix.shape[1]
    new_ids, new_matrix, new_titles = _read(store, changed, dim)
    keep = np.flatnonzero(~np.isin(old.ids, changed))
    total = len(keep) + len(new_ids)
    if total != version.vectors:
        return None
    order = np.argsort(np.concatenate([old.ids[keep], new_ids]), kind="stable")
    where = np.empty(total, dtype=np.int64)
    where[order] = np.arange(total)  # the row each kept, then each fresh, vector goes to
    ids = np.empty(total, dtype=np.int64)
    matrix = np.empty((total, dim), dtype=np.float32)
    titles = np.empty((total, dim), dtype=np.float32)
    for from_ids, source, title_source, rows, dest in (
            (old.ids, old.matrix, old.titles, keep, where[:len(keep)]),
            (new_ids, new_matrix, new_titles, np.arange(len(new_ids)), where[len(keep):])):
        for start in range(0, len(rows), _COPY_ROWS):
            part, to = rows[start:start + _COPY_ROWS], dest[start:start + _COPY_ROWS]
            ids[to] = from_ids[part]
            matrix[to] = source[part]
            titles[to] = title_source[part]
    return Loaded(version=version, head=head, ids=ids, matrix=matrix, titles=titles)


def load_all(store: Store, version: Version, head: int) -> Loaded:
    """Every vector, read into memory: each batch copied into matrices of the count read in
    the same state (``version.vectors``), so that no list of batches is held beside them."""
    rows = version.vectors
    ids = np.empty(rows, dtype=np.int64)
    matrix = titles = np.zeros((0, 0), dtype=np.float32)
    done = 0
    for batch_ids, mat, title_mat, _ in store.vectors.load(_LOAD_ROWS):
        if not done:
            matrix = np.empty((rows, mat.shape[1]), dtype=np.float32)
            titles = np.empty_like(matrix)
        end = done + len(batch_ids)
        if end > rows:  # more than counted: cannot be in one state, but never overflow
            ids, matrix, titles = (np.resize(a, (end, *a.shape[1:]))
                                   for a in (ids, matrix, titles))
            rows = end
        ids[done:end], matrix[done:end], titles[done:end] = batch_ids, mat, title_mat
        done = end
    return Loaded(version=version, head=head, ids=ids[:done], matrix=matrix[:done],
                  titles=titles[:done])


def serving_fresh(vectors: SqliteVectorStore) -> bool:
    """Whether the serving file is whole, of the stored vectors, and few enough papers
    changed since it was written (:func:`.serving.stale_limit`) that it need not be
    written again; asked before any vector is read, so that a file written again is
    never preceded by every vector read into memory."""
    mapped = None if vectors.folder is None else serving.open_mapped(vectors.folder)
    if mapped is None:
        return False
    meta, store = mapped.meta, vectors.store
    with store.snapshot():
        version = vectors._version()
        head = store.search.last_seq()
        if (vectors.models() != [meta.model] or vectors.dimension() != meta.dim
                or meta.cleared != version.cleared or version.seq < meta.seq
                or head < meta.head):
            return False
        limit = serving.stale_limit(meta.rows)
        changed = set(store.search.changed_between(meta.seq, version.seq, limit + 1))
        changed.update(store.search.changed_between(meta.head, head, limit + 1))
        return len(changed | vectors._unlogged) <= limit


def write_serving(vectors: SqliteVectorStore, model: str) -> serving.ServeMeta:
    """Write the serving file of every vector, read in one state of the library."""
    assert vectors.folder is not None
    store = vectors.store
    with store.snapshot():
        version = vectors._version()
        dim = vectors.dimension()
        assert dim is not None
        meta = serving.write(
            vectors.folder, model=model, dim=dim, seq=version.seq,
            head=store.search.last_seq(), cleared=version.cleared,
            batches=((ids, mat, heads) for ids, mat, heads, _ in
                     store.vectors.load(_LOAD_ROWS)))
        vectors._unlogged.clear()
    return meta


def _stack(parts: list[np.ndarray], dim: int) -> np.ndarray:
    return np.vstack(parts) if parts else np.zeros((0, dim), dtype=np.float32)


def with_ann(vectors: SqliteVectorStore, loaded: Loaded, index: AnnIndex | None,
             ann_version: tuple[int, int, int] | None) -> Loaded:
    """``loaded`` with ``index`` and the live rows it lacks: those without entries or
    changed since it was written (no ANN use for another model, or too many such rows)."""
    extra = None
    if (index is not None and loaded.version is not None and loaded.live_count
            and index.meta.dim == loaded.dim and vectors.models() == [index.meta.model]):
        seq = loaded.version.seq
        limit = min(loaded.live_count // 5, _MAX_EXTRA)
        changed = sorted(set(vectors.store.search.changed_between(
            min(index.meta.seq, seq), max(index.meta.seq, seq), limit + 1)) | vectors._touched)
        ids = loaded.all_ids
        rows = np.flatnonzero(loaded.alive & (
            ~np.isin(ids, index.papers) | np.isin(ids, np.asarray(changed, dtype=np.int64))))
        extra = None if len(changed) > limit or len(rows) > limit else rows
    return Loaded(loaded.version, loaded.head, loaded.ids, loaded.matrix, loaded.titles,
                  loaded.base, loaded.live, loaded.serve_version, index, ann_version, extra)
