"""The first :class:`~.base.VectorStore`: vectors in the library's SQLite file, searched in
memory, with a faiss HNSW index (:mod:`.ann`) once there are many.

Searches load every vector into memory once; when the vectors change (any process's
commit), only the vectors of the papers changed since are read again and patched into a
new copy (all of them after a model switch or when many changed). A query scores each
paper by the better of its paper vector (title + abstract) and its title vector; "more
like these" compares paper vectors only. With an ANN index in ``folder`` (kept by
:meth:`SqliteVectorStore.optimize` once there are ``ann_min`` vectors),
:meth:`~SqliteVectorStore.search` scores only its candidates, plus
the papers changed since it was written; every score is exact, computed row by row the
same way on every path (``einsum``: a BLAS product's last bit depends on the rows around).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..store import Store, utcnow
from . import ann
from .ann import AnnIndex
from .base import (
    AnnReport,
    ModelMismatchError,
    VectorBatch,
    VectorFilter,
    VectorHit,
    VectorRecord,
    VectorStore,
)

#: The change-log position the vectors stand at (the embedding job's progress).
STATE = "semantic"
#: Counts the times every vector was removed (a model switch), by any process.
CLEARED = "semantic-cleared"
#: Libraries with at least this many vectors get an ANN index (below, exact search is fast).
ANN_MIN = 20_000
#: Papers missing from the ANN index that every query scores besides its candidates (at
#: most a fifth of the papers); with more, search is exact until the next ``optimize``.
_MAX_EXTRA = 20_000
#: A reload reads just the papers changed since the last one when they are at most this
#: many (and at most 1,000 or a fifth of the papers); otherwise it reads every vector.
_MAX_PATCH = 50_000
#: Rows copied at a time when a reload patches the vectors (bounds the temporary copies).
_COPY_ROWS = 32_768


class _Version(NamedTuple):
    """What the vectors in memory were read at; any change means reading again."""

    seq: int  # the embedding job's change-log position
    vectors: int  # vectors stored
    writes: int  # writes through this object
    cleared: int  # times every vector was removed, by any process


@dataclass(frozen=True)
class _Loaded:
    """One consistent view of the vectors in memory (replaced whole, never changed)."""

    version: _Version | None = None
    #: The last change-log position when it was read (a reload reads what changed after).
    head: int = 0
    #: Paper ids, ascending; row ``i`` of both matrices is paper ``ids[i]``.
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    titles: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    #: The ANN index on disk (None: none, or unreadable), and the ``ann.json`` it came from.
    ann: AnnIndex | None = None
    ann_version: tuple[int, int, int] | None = None
    #: Rows the ANN does not hold as they are now (scored exactly besides its candidates);
    #: None when the ANN is not used.
    extra: np.ndarray | None = None

    def rows_of(self, paper_ids: Iterable[int]) -> np.ndarray:
        """The sorted rows of those of ``paper_ids`` that have vectors (each once)."""
        return self.rows_in(np.unique(np.fromiter(paper_ids, dtype=np.int64)))

    def rows_in(self, paper_ids: np.ndarray) -> np.ndarray:
        """The rows of those of ``paper_ids`` that have vectors, in their order."""
        at = np.searchsorted(self.ids, paper_ids)
        found = at < len(self.ids)
        found[found] = self.ids[at[found]] == paper_ids[found]
        return at[found].astype(np.int64)


class SqliteVectorStore(VectorStore):
    """Vectors in the ``embeddings`` table of ``store``; the ANN index (if any) in
    ``folder`` (None: always exact)."""

    def __init__(self, store: Store, folder: Path | None = None, *,
                 ann_min: int = ANN_MIN) -> None:
        self.store = store
        self.folder = folder
        self.ann_min = ann_min
        self._loaded = _Loaded()
        #: Writes through this object: they reload the vectors in memory even when they
        #: moved neither the change-log position nor the count (another process's embedding
        #: job always moves the position).
        self._writes = 0
        #: Papers upserted through this object since the last :meth:`optimize`: treated as
        #: changed since the ANN was written even when the change log did not move.
        self._touched: set[int] = set()
        self._loading = threading.Lock()  # one thread (re)loads; searches use a snapshot

    # -- what is stored ------------------------------------------------------------------
    def models(self) -> list[str]:
        return self.store.vectors.models()

    def dimension(self) -> int | None:
        return self.store.vectors.dimension()

    def count(self) -> int:
        return self.store.vectors.count()

    def ids(self, filters: VectorFilter | None = None) -> list[int]:
        if filters is None or filters.empty:
            return self.store.vectors.ids()
        if filters == VectorFilter(papers=filters.papers):
            assert filters.papers is not None
            have = self.store.vectors.hashes(sorted(filters.papers))
            return sorted(have)
        found = self.store.vectors.ids(collection_id=filters.collection_id,
                                       year_from=filters.year_from, year_to=filters.year_to)
        return found if filters.papers is None else [p for p in found if p in filters.papers]

    def hashes(self, paper_ids: Sequence[int] | None = None) -> dict[int, tuple[str, str]]:
        return self.store.vectors.hashes(paper_ids)

    # -- writing -------------------------------------------------------------------------
    def upsert(self, model: str, records: Sequence[VectorRecord]) -> None:
        if not records:
            return
        self.check_model(model)
        dims = {len(r.vector) for r in records} | {
            len(r.title_vector) for r in records if r.title_vector is not None}
        stored = self.dimension()
        if len(dims) > 1 or (stored is not None and dims != {stored}):
            raise ModelMismatchError(
                f"vectors of {model!r} have {stored or min(dims)} dimensions, not "
                f"{max(dims - {stored}) if stored else max(dims)}; re-embed everything with "
                f"`paperatlas index --model {model} --switch-model`")
        self.store.vectors.put(model, [(r.paper_id, r.text_hash, r.vector, r.title_vector)
                                       for r in records])
        self._writes += 1
        self._touched.update(r.paper_id for r in records)

    def delete(self, paper_ids: Iterable[int]) -> int:
        self._writes += 1
        return self.store.vectors.delete(sorted(set(paper_ids)))

    def clear(self) -> None:
        self._writes += 1
        self.store.vectors.delete_all()
        times = self.store.search.state(CLEARED)[0]
        self.store.search.set_state(CLEARED, times + 1, {}, utcnow())

    # -- reading -------------------------------------------------------------------------
    def get(self, paper_ids: Sequence[int], *,
            titles: bool = False) -> dict[int, np.ndarray]:
        return self.store.vectors.get(paper_ids, titles=titles)

    def iterate(self, filters: VectorFilter | None = None, *, titles: bool = True,
                batch: int = 50_000) -> Iterator[VectorBatch]:
        wanted = None if filters is None or filters.empty else self.ids(filters)
        for ids, matrix, title_matrix, hashes in self.store.vectors.load(
                batch, titles=titles, paper_ids=wanted):
            yield VectorBatch(ids, matrix, title_matrix, hashes)

    # -- searching -----------------------------------------------------------------------
    @property
    def ann_in_use(self) -> bool:
        """Whether :meth:`search` asks the ANN index for its candidates."""
        return self._current().extra is not None

    @property
    def ann(self) -> AnnIndex | None:
        """The ANN index on disk, loaded (None: none, or unreadable)."""
        return self._current().ann

    def cosines(self, vector: np.ndarray, paper_ids: Iterable[int], *,
                titles: bool = True) -> dict[int, float]:
        now = self._current()
        rows = now.rows_of(paper_ids)
        if not len(rows):
            return {}
        scores = _score(vector.astype(np.float32), now.matrix[rows], now.titles[rows], titles)
        return {int(p): float(s) for p, s in zip(now.ids[rows], scores, strict=True)}

    def search(self, vector: np.ndarray, k: int, filters: VectorFilter | None = None,
               exclude: Iterable[int] = (), *, titles: bool = True) -> list[VectorHit]:
        now = self._current()
        if k <= 0 or not len(now.ids):
            return []
        vector = vector.astype(np.float32)
        allowed = None if filters is None or filters.empty else (
            filters.papers if filters == VectorFilter(papers=filters.papers)
            else set(self.ids(filters)))
        skip = np.fromiter(set(exclude), dtype=np.int64)
        if allowed is not None and len(allowed) * 4 < len(now.ids):  # score just those
            rows = now.rows_of(allowed)
        elif allowed is None and now.extra is not None:
            rows = _candidates(now, vector, k + len(skip), titles)
        else:
            return _top(now, _score(vector, now.matrix, now.titles, titles), k, allowed, skip)
        if len(skip):
            rows = rows[~np.isin(now.ids[rows], skip)]
        scores = _score(vector, now.matrix[rows], now.titles[rows], titles)
        best = np.argsort(-scores, kind="stable")[:k]  # ties: lower paper id first
        return [VectorHit(int(now.ids[rows[i]]), float(scores[i])) for i in best]

    def optimize(self, *, rebuild: bool = False) -> AnnReport:
        """Bring the ANN index up to the vectors (built again with ``rebuild``); remove it
        when there are fewer than ``ann_min`` vectors (or vectors of several models)."""
        models = self.models()
        if self.folder is None or self.count() < self.ann_min or len(models) != 1:
            if self.folder is not None:
                ann.remove(self.folder)
            return AnnReport(0, 0, 0, False)
        now = self._current()
        current = now.ann
        before = None if current is None else current.meta
        seq = self.store.search.state(STATE)[0]
        changed = [] if current is None else sorted(set(self.store.search.changed_between(
            current.meta.seq, seq, len(now.ids) + 1)) | self._touched)
        index, report = ann.updated(
            current, model=models[0], seq=seq, ids=now.ids, matrix=now.matrix,
            titles=now.titles, changed=changed,
            rebuild=rebuild or current is None or current.meta.seq > seq)
        self._touched.clear()
        if index.dirty or index.meta != before:
            index.save(self.folder)
            with self._loading:  # use it without reading it back
                loaded = self._loaded
                if loaded.version is not None:
                    self._loaded = _with_ann(self, loaded, index, ann.meta_version(self.folder))
        return report

    # -- the vectors in memory -----------------------------------------------------------
    def _current(self) -> _Loaded:
        """The vectors in memory, reloaded first if they or the ANN file changed."""
        version = self._version()
        ann_version = None if self.folder is None else ann.meta_version(self.folder)
        loaded = self._loaded
        if version == loaded.version and ann_version == loaded.ann_version:
            return loaded
        if loaded.version is not None and version.writes == loaded.version.writes:
            # Another process's change: while one thread reloads, the others answer from
            # the vectors they have (reads say how many papers wait) instead of queueing.
            if not self._loading.acquire(blocking=False):
                return loaded
            self._loading.release()
        with self._loading:
            old = self._loaded
            if version == old.version and ann_version == old.ann_version:
                return old  # another thread reloaded meanwhile
            base = old if version == old.version else self._reload(old)
            index = old.ann if ann_version == old.ann_version else (
                None if self.folder is None else AnnIndex.load(self.folder))
            self._loaded = _with_ann(self, base, index, ann_version)
            return self._loaded

    def _reload(self, old: _Loaded) -> _Loaded:
        """The vectors as they are now, all read in one state of the library: ``old``
        patched with the papers changed since it was read, or every vector again."""
        with self.store.snapshot():
            version = self._version()
            head = self.store.search.last_seq()
            patched = self._patch(old, version, head)
            return patched if patched is not None else self._load(version, head)

    def _version(self) -> _Version:
        search = self.store.search
        return _Version(search.state(STATE)[0], self.count(), self._writes,
                        search.state(CLEARED)[0])

    def _patch(self, old: _Loaded, version: _Version, head: int) -> _Loaded | None:
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
        search = self.store.search
        changed = np.unique(np.asarray(
            search.changed_between(was.seq, version.seq, limit + 1)
            + search.changed_between(old.head, head, limit + 1), dtype=np.int64))
        if len(changed) > limit:
            return None
        fresh_ids: list[int] = []
        fresh, fresh_titles = [], []
        for batch_ids, mat, title_mat, _ in self.store.vectors.load(paper_ids=changed.tolist()):
            fresh_ids += batch_ids
            fresh.append(mat)
            fresh_titles.append(title_mat)
        keep = np.flatnonzero(~np.isin(old.ids, changed))
        new_ids = np.asarray(fresh_ids, dtype=np.int64)
        total = len(keep) + len(new_ids)
        dim = old.matrix.shape[1]
        if total != version.vectors or any(m.shape[1] != dim for m in fresh):
            return None
        order = np.argsort(np.concatenate([old.ids[keep], new_ids]), kind="stable")
        where = np.empty(total, dtype=np.int64)
        where[order] = np.arange(total)  # the row each kept, then each fresh, vector goes to
        ids = np.empty(total, dtype=np.int64)
        matrix = np.empty((total, dim), dtype=np.float32)
        titles = np.empty((total, dim), dtype=np.float32)
        for from_ids, source, title_source, rows, dest in (
                (old.ids, old.matrix, old.titles, keep, where[:len(keep)]),
                (new_ids, _stack(fresh, dim), _stack(fresh_titles, dim),
                 np.arange(len(new_ids)), where[len(keep):])):
            for start in range(0, len(rows), _COPY_ROWS):
                part, to = rows[start:start + _COPY_ROWS], dest[start:start + _COPY_ROWS]
                ids[to] = from_ids[part]
                matrix[to] = source[part]
                titles[to] = title_source[part]
        return _Loaded(version=version, head=head, ids=ids, matrix=matrix, titles=titles)

    def _load(self, version: _Version, head: int) -> _Loaded:
        ids: list[int] = []
        parts, titles = [], []
        for batch_ids, mat, title_mat, _ in self.store.vectors.load():
            ids += batch_ids
            parts.append(mat)
            titles.append(title_mat)
        empty = np.zeros((0, 0), dtype=np.float32)
        return _Loaded(version=version, head=head, ids=np.asarray(ids, dtype=np.int64),
                       matrix=np.vstack(parts) if parts else empty,
                       titles=np.vstack(titles) if titles else empty)


def _stack(parts: list[np.ndarray], dim: int) -> np.ndarray:
    return np.vstack(parts) if parts else np.zeros((0, dim), dtype=np.float32)


def _with_ann(vectors: SqliteVectorStore, loaded: _Loaded, index: AnnIndex | None,
              ann_version: tuple[int, int, int] | None) -> _Loaded:
    """``loaded`` with ``index`` and the rows it lacks: those without entries or changed
    since it was written (no ANN use for another model, or too many such rows)."""
    extra = None
    if (index is not None and loaded.version is not None and len(loaded.ids)
            and index.meta.dim == loaded.matrix.shape[1]
            and vectors.models() == [index.meta.model]):
        seq = loaded.version.seq
        limit = min(len(loaded.ids) // 5, _MAX_EXTRA)
        changed = sorted(set(vectors.store.search.changed_between(
            min(index.meta.seq, seq), max(index.meta.seq, seq), limit + 1)) | vectors._touched)
        rows = np.flatnonzero(~np.isin(loaded.ids, index.papers)
                              | np.isin(loaded.ids, np.asarray(changed, dtype=np.int64)))
        extra = None if len(changed) > limit or len(rows) > limit else rows
    return _Loaded(loaded.version, loaded.head, loaded.ids, loaded.matrix, loaded.titles,
                   index, ann_version, extra)


def _score(vector: np.ndarray, matrix: np.ndarray, title_matrix: np.ndarray,
           titles: bool) -> np.ndarray:
    scores = np.einsum("ij,j->i", matrix, vector)
    if titles:
        np.maximum(scores, np.einsum("ij,j->i", title_matrix, vector), out=scores)
    return np.asarray(scores, dtype=np.float32)


def _candidates(now: _Loaded, vector: np.ndarray, want: int, titles: bool) -> np.ndarray:
    """Rows of at least ``want`` live papers the ANN finds (if it holds that many), and
    the rows it lacks; sorted."""
    assert now.ann is not None and now.extra is not None
    ask = want * 2 if titles else want  # a paper has up to two entries
    while True:
        found, exhausted = now.ann.search(vector, ask, titles=titles)
        rows = now.rows_in(np.asarray(found, dtype=np.int64))
        if len(rows) >= want or exhausted:
            break
        ask *= 4  # stale entries took places: look further
    return np.union1d(rows, now.extra)


def _top(now: _Loaded, scores: np.ndarray, k: int, allowed: Iterable[int] | None,
         skip: np.ndarray) -> list[VectorHit]:
    """The ``k`` best of scores of every row (ties: lower paper id first)."""
    if allowed is not None or len(skip):
        mask = np.ones(len(now.ids), dtype=bool)
        if allowed is not None:
            mask = np.isin(now.ids, np.fromiter(allowed, dtype=np.int64))
        if len(skip):
            mask &= ~np.isin(now.ids, skip)
        scores = np.where(mask, scores, -np.inf)
    k = min(k, len(scores))
    top = np.sort(np.argpartition(-scores, k - 1)[:k])
    top = top[np.argsort(-scores[top], kind="stable")]
    return [VectorHit(int(now.ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]
