"""The first :class:`~.base.VectorStore`: vectors in the library's SQLite file, served
from a memory-mapped float16 file (:mod:`.serving`) that every process shares, with a
faiss IVF-PQ index (:mod:`.ann`, memory-mapped too) once there are many.

With a ``folder``, :meth:`SqliteVectorStore.optimize` (the index job) writes the serving
file; searches map it and read from SQLite only the papers changed since it was written
(it is written again once they are many). Without one (or before the first, or when
too many changed) searches load every vector into memory once, and when the vectors
change (any process's commit) read again only the papers changed since, patched into a
new copy (all of them after a model switch or when many changed). A query scores each
paper by the better of its paper vector (title + abstract) and its title vector; "more
like these" compares paper vectors only. With an ANN index in ``folder`` (kept by
:meth:`SqliteVectorStore.optimize` once there are ``ann_min`` vectors),
:meth:`~SqliteVectorStore.search` scores only its candidates, plus
the papers changed since it was written; every score is exact, computed row by row the
same way on every path (``einsum``: a BLAS product's last bit depends on the rows around).
A filter of at most ``_EXACT_ROWS`` papers scores just those; one letting through
``_POST_FILTER`` of the papers or more is applied to the ANN's candidates; one between goes
into the ANN search as a bitmap kept with its papers (:class:`~.base.PaperSet`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ..store import Store, utcnow
from . import ann, serving
from .ann import AnnIndex, entry_bitmap
from .base import (
    AnnReport,
    ModelMismatchError,
    PaperSet,
    VectorBatch,
    VectorFilter,
    VectorHit,
    VectorRecord,
    VectorStore,
)
from .loaded import Loaded, Version, find_sorted
from .reload import load_all, reload, serving_fresh, with_ann, write_serving

#: The change-log position the vectors stand at (the embedding job's progress).
STATE = "semantic"
#: Counts the times every vector was removed (a model switch), by any process.
CLEARED = "semantic-cleared"
#: Libraries with at least this many vectors get an ANN index (below, exact search is fast).
ANN_MIN = 20_000
#: A filter letting at most this many papers through scores them all exactly (more: the
#: ANN, when in use, searches among them).
_EXACT_ROWS = 20_000
#: A filter letting at least this share of the papers through is applied to the ANN's
#: candidates (1/share times as many asked for); a narrower one goes into the ANN search
#: as a bitmap of its entries (and more lists are probed).
_POST_FILTER = 0.25


def _bitmap(titles: bool) -> Callable[[np.ndarray], np.ndarray]:
    return lambda ids: entry_bitmap(ids, titles)


class SqliteVectorStore(VectorStore):
    """Vectors in the ``embeddings`` table of ``store``; the ANN index (if any) in
    ``folder`` (None: always exact)."""

    def __init__(self, store: Store, folder: Path | None = None, *,
                 ann_min: int = ANN_MIN, serve_min: int = ANN_MIN) -> None:
        self.store = store
        self.folder = folder
        self.ann_min = ann_min
        #: Libraries with at least this many vectors get a serving file (below, the
        #: float32 vectors in memory are small and scored faster).
        self.serve_min = serve_min
        self._loaded = Loaded()
        #: Writes through this object: they reload the vectors in memory even when they
        #: moved neither the change-log position nor the count (another process's embedding
        #: job always moves the position).
        self._writes = 0
        #: Papers upserted through this object since the last :meth:`optimize`: treated as
        #: changed since the ANN was written even when the change log did not move.
        self._touched: set[int] = set()
        #: Papers written or deleted through this object since the serving file was
        #: written (a reader patches them in even when the change log did not move).
        self._unlogged: set[int] = set()
        #: ``(filter, version) -> allowed papers`` of the last collection/year filters.
        self._allowed: dict[tuple[object, ...], PaperSet] = {}
        self._loading = threading.Lock()  # one thread (re)loads; searches use a snapshot

    # -- what is stored ------------------------------------------------------------------
    def models(self) -> list[str]:
        return self.store.vectors.models()

    def dimension(self) -> int | None:
        return self.store.vectors.dimension()

    def count(self, filters: VectorFilter | None = None) -> int:
        if filters is None or filters.empty:
            return self.store.vectors.count()
        allowed = self._allowed_ids(filters, self._current())
        assert allowed is not None
        return len(allowed.ids)

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
        self._unlogged.update(r.paper_id for r in records)

    def delete(self, paper_ids: Iterable[int]) -> int:
        self._writes += 1
        gone = sorted(set(paper_ids))
        self._unlogged.update(gone)
        return self.store.vectors.delete(gone)

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

    @property
    def serving(self) -> serving.ServeMeta | None:
        """The serving file searches read (None: every vector is in memory)."""
        base = self._current().base
        return None if base is None else base.meta

    def cosines(self, vector: np.ndarray, paper_ids: Iterable[int], *,
                titles: bool = True) -> dict[int, float]:
        now = self._current()
        rows = now.rows_of(paper_ids)
        if not len(rows):
            return {}
        scores = now.score_rows(vector.astype(np.float32), rows, titles)
        return {int(p): float(s) for p, s in zip(now.all_ids[rows], scores, strict=True)}

    def search(self, vector: np.ndarray, k: int, filters: VectorFilter | None = None,
               exclude: Iterable[int] = (), *, titles: bool = True) -> list[VectorHit]:
        now = self._current()
        if k <= 0 or not now.live_count:
            return []
        vector = vector.astype(np.float32)
        allowed = self._allowed_ids(filters, now)
        skip = np.unique(np.fromiter(set(exclude), dtype=np.int64))
        if allowed is not None and (now.extra is None or len(allowed.ids) <= _EXACT_ROWS):
            rows = now.rows_in(allowed.ids)
        elif now.extra is not None:
            rows = _candidates(now, vector, k + len(skip), titles, allowed)
        else:  # every row
            scores = now.score_all(vector, titles)
            scores[now.rows_in(skip)] = -np.inf
            return now.best(np.arange(now.size), scores, k)
        if len(skip):
            rows = rows[~np.isin(now.all_ids[rows], skip)]
        return now.best(rows, now.score_rows(vector, rows, titles), k)

    def _allowed_ids(self, filters: VectorFilter | None, now: Loaded) -> PaperSet | None:
        """The papers ``filters`` lets through (None: all); those of a collection or
        years are kept for the next searches until the vectors change."""
        if filters is None or filters.empty:
            return None
        given = filters.papers
        papers = given if given is None or isinstance(given, PaperSet) else PaperSet(
            np.fromiter(given, dtype=np.int64, count=len(given)))
        if papers is not None and filters == VectorFilter(papers=given):
            return papers
        key = (filters.collection_id, filters.year_from, filters.year_to, now.version)
        found = self._allowed.get(key)
        if found is None:
            found = PaperSet(np.asarray(self.ids(VectorFilter(
                collection_id=filters.collection_id, year_from=filters.year_from,
                year_to=filters.year_to)), dtype=np.int64))
            if len(self._allowed) >= 16:
                self._allowed.clear()
            self._allowed[key] = found
        return found if papers is None else PaperSet(
            np.intersect1d(found.ids, papers.ids, assume_unique=True))

    def optimize(self, *, rebuild: bool = False) -> AnnReport:
        """Write the serving file again when it is missing or many papers changed since
        (or with ``rebuild``; removed below ``serve_min`` vectors); bring the ANN index up
        to the vectors (built again with ``rebuild``), removed when there are fewer than
        ``ann_min`` vectors (both removed when there are vectors of no model or of several)."""
        models = self.models()
        if self.folder is None or not self.count() or len(models) != 1:
            if self.folder is not None:
                ann.remove(self.folder)
                serving.remove(self.folder)
            return AnnReport(0, 0, 0, False)
        serve = self.count() >= self.serve_min
        if not serve:
            serving.remove(self.folder)
        elif rebuild or not serving_fresh(self):  # written before any vector is read
            write_serving(self, models[0])
        now = self._current()
        if serve and (now.base is None or serving.stale(
                now.base.meta, now.size - now.live_count + len(now.ids), now.nb)):
            write_serving(self, models[0])
            now = self._current()
        if self.count() < self.ann_min:
            ann.remove(self.folder)
            return AnnReport(0, 0, 0, False)
        current = now.ann  # memory-mapped: read into memory only to be added to
        before = None if current is None else current.meta
        folder = self.folder
        seq = self.store.search.state(STATE)[0]
        live = np.flatnonzero(now.alive)
        live = live[np.argsort(now.all_ids[live], kind="stable")]
        ids = now.all_ids[live]
        changed = [] if current is None else sorted(set(self.store.search.changed_between(
            current.meta.seq, seq, len(ids) + 1)) | self._touched)
        index, report = ann.updated(
            current, model=models[0], seq=seq, ids=ids, dim=now.dim, changed=changed,
            rows=lambda at: (ids[at], *now.vectors(live[at])),
            rebuild=rebuild or current is None or current.meta.seq > seq,
            editable=lambda: AnnIndex.load(folder, mapped=False))
        self._touched.clear()
        if index.dirty or index.meta != before:
            index.save(self.folder)
        del index, current
        self._current()  # maps the new index file
        return report

    # -- the vectors in memory -----------------------------------------------------------
    def _current(self) -> Loaded:
        """The vectors in memory, reloaded first if they or the ANN file changed."""
        version = self._version()
        serve_version = None if self.folder is None else serving.meta_version(self.folder)
        ann_version = None if self.folder is None else ann.meta_version(self.folder)
        loaded = self._loaded
        if (version, serve_version, ann_version) == (
                loaded.version, loaded.serve_version, loaded.ann_version):
            return loaded
        if loaded.version is not None and version.writes == loaded.version.writes:
            # Another process's change: while one thread reloads, the others answer from
            # the vectors they have (reads say how many papers wait) instead of queueing.
            if not self._loading.acquire(blocking=False):
                return loaded
            self._loading.release()
        with self._loading:
            old = self._loaded
            if (version, serve_version) == (old.version, old.serve_version):
                base = old
            else:
                base = reload(self, old, serve_version)
            if ann_version == old.ann_version and base is old:
                return old  # another thread reloaded meanwhile
            index = old.ann if ann_version == old.ann_version else (
                None if self.folder is None else AnnIndex.load(self.folder))
            self._loaded = with_ann(self, base, index, ann_version)
            return self._loaded

    def _load(self, version: Version, head: int) -> Loaded:
        """Every vector, read into memory."""
        return load_all(self.store, version, head)

    def _version(self) -> Version:
        search = self.store.search
        return Version(search.state(STATE)[0], self.count(), self._writes,
                       search.state(CLEARED)[0])


def _candidates(now: Loaded, vector: np.ndarray, want: int, titles: bool,
                allowed: PaperSet | None = None) -> np.ndarray:
    """Rows of at least ``want`` live papers (of ``allowed``) the ANN finds (if it holds
    that many), and the rows it lacks; sorted."""
    assert now.ann is not None and now.extra is not None
    # a paper has up to two entries; the codes rank approximately: score enough exactly
    ask = max(want * 2 if titles else want, ann.RESCORE_MIN)
    share = 1.0 if allowed is None else min(len(allowed.ids) / max(now.live_count, 1), 1.0)
    after = allowed is not None and share >= _POST_FILTER
    if after:
        ask = int(np.ceil(ask / share))
    while True:
        if allowed is None or after:
            found, exhausted = now.ann.search(vector, ask, titles=titles)
            if allowed is not None:
                found = found[find_sorted(allowed.ids, found)[1]]
        else:
            found, exhausted = now.ann.search(vector, ask, titles=titles, allowed=allowed.ids,
                                              share=share,
                                              bitmap=allowed.derived(("bitmap", titles),
                                                                     _bitmap(titles)))
        rows = now.rows_in(np.asarray(found, dtype=np.int64))
        if len(rows) >= want or exhausted:
            break
        ask *= 4  # stale entries (or papers the filter keeps out) took places: look further
    extra = now.extra
    if allowed is not None:
        extra = extra[find_sorted(allowed.ids, now.all_ids[extra])[1]]
    return np.union1d(rows, extra)

