"""Vectors for papers: embed what changed, and find the nearest papers to a vector."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..embed import Embedder, paper_text
from ..errors import PreconditionError
from ..store import Store, utcnow
from . import ann
from .ann import AnnIndex

STATE = "semantic"
_BATCH = 256
#: Papers missing from the ANN index that every query scores besides its candidates (at
#: most a fifth of the papers); with more, search is exact until the next ``index``.
_MAX_EXTRA = 20_000


class ModelMismatchError(PreconditionError):
    """The library's vectors were made by another model than the one asked for."""


@dataclass(frozen=True)
class EmbedReport:
    embedded: int
    unchanged: int
    model: str
    vectors: int


#: Bumped when what is embedded per paper changes (2: a title vector besides the paper's).
_VECTORS_VERSION = "2"


def text_hash(text: str) -> str:
    return hashlib.sha1(f"{_VECTORS_VERSION}\x00{text}".encode()).hexdigest()[:16]


def check_model(store: Store, model: str) -> None:
    stored = [m for m in store.vectors.models() if m != model]
    if stored:
        raise ModelMismatchError(
            f"this library's vectors were made with {stored[0]!r}, not {model!r}; use that "
            f"model, or re-embed everything with `paperatlas index --model {model} "
            "--switch-model`")


def embed_changes(store: Store, embedder: Embedder, *, switch_model: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> EmbedReport:
    """Embed papers that are new or whose text changed; resumable batch by batch."""
    if switch_model:
        with store.transaction():
            store.vectors.delete_all()
            store.search.set_state(STATE, 0, {"model": embedder.name}, utcnow())
    check_model(store, embedder.name)
    seq, _ = store.search.state(STATE)
    total = store.search.pending(seq)
    embedded = unchanged = done = 0
    while batch := store.search.changed_since(seq, _BATCH):
        ids = [pid for _, pid in batch]
        rows = {r["id"]: r for r in store.search.index_rows(ids)}
        have = store.vectors.hashes(list(rows))
        todo = []
        for pid, row in rows.items():
            text = paper_text(row["title"], row["abstract"])
            digest = text_hash(text)
            if have.get(pid) == (embedder.name, digest):
                unchanged += 1
            else:
                todo.append((pid, digest, text, row["title"] if row["abstract"] else None))
        vectors = embedder.encode([t[2] for t in todo]) if todo else np.zeros((0, 0))
        titled = [i for i, t in enumerate(todo) if t[3]]
        title_vectors = dict(zip(titled, embedder.encode([str(todo[i][3]) for i in titled]),
                                 strict=True)) if titled else {}
        seq = batch[-1][0]
        with store.transaction():  # vectors and progress commit together
            store.vectors.put([(pid, embedder.name, digest, vectors[i], title_vectors.get(i))
                               for i, (pid, digest, _, _) in enumerate(todo)])
            store.search.set_state(STATE, seq, {"model": embedder.name}, utcnow())
        embedded += len(todo)
        done += len(ids)
        if progress is not None:
            progress(done, total)
    return EmbedReport(embedded, unchanged, embedder.name, store.vectors.count())


class VectorIndex:
    """All of a library's vectors in memory, reloaded when the vectors change.

    A query scores each paper by the better of its paper vector (title + abstract) and
    its title vector; "more like these" compares paper vectors only. With an ANN index in
    ``folder`` (:mod:`.ann`), :meth:`search` scores only its candidates, plus the papers
    changed since it was written; every score is exact, computed row by row the same way
    on every path (``einsum``: a BLAS product's last bit depends on the rows around).
    """

    def __init__(self, store: Store, folder: Path | None = None) -> None:
        self.store = store
        self.folder = folder
        self._version: tuple[int, int] | None = None
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.titles = np.zeros((0, 0), dtype=np.float32)
        self._row: dict[int, int] = {}
        #: The ANN index on disk (None: none, or unreadable), and the ``ann.json`` it came from.
        self.ann: AnnIndex | None = None
        self._ann_version: tuple[int, int, int] | None = None
        #: Rows the ANN does not hold as they are now: scored exactly besides its candidates.
        self._extra: np.ndarray | None = None

    def _refresh(self) -> None:
        version = (self.store.search.state(STATE)[0], self.store.vectors.count())
        ann_version = None if self.folder is None else ann.meta_version(self.folder)
        if version == self._version and ann_version == self._ann_version:
            return
        if version != self._version:
            self._load()
        if ann_version != self._ann_version:
            self.ann = None if self.folder is None else AnnIndex.load(self.folder)
        self._extra = self._not_in_ann(version[0])
        self._version, self._ann_version = version, ann_version

    def _load(self) -> None:
        ids: list[int] = []
        parts, titles = [], []
        for batch_ids, mat, title_mat in self.store.vectors.load():
            ids += batch_ids
            parts.append(mat)
            titles.append(title_mat)
        self.ids = np.asarray(ids, dtype=np.int64)
        self.matrix = np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        self.titles = np.vstack(titles) if titles else np.zeros((0, 0), dtype=np.float32)
        self._row = {pid: i for i, pid in enumerate(ids)}

    def _not_in_ann(self, seq: int) -> np.ndarray | None:
        """Rows without entries or changed since the ANN index was written; None when
        there is no usable index (another model, or too many such rows)."""
        index = self.ann
        if (index is None or not len(self.ids) or index.meta.dim != self.matrix.shape[1]
                or self.store.vectors.models() != [index.meta.model]):
            return None
        limit = min(len(self.ids) // 5, _MAX_EXTRA)
        changed = self.store.search.changed_between(
            min(index.meta.seq, seq), max(index.meta.seq, seq), limit + 1)
        extra = np.flatnonzero(~np.isin(self.ids, index.papers)
                               | np.isin(self.ids, np.asarray(changed, dtype=np.int64)))
        return None if len(changed) > limit or len(extra) > limit else extra

    @property
    def ann_in_use(self) -> bool:
        """Whether :meth:`search` asks the ANN index for its candidates."""
        self._refresh()
        return self._extra is not None

    def loaded_ann(self) -> AnnIndex | None:
        """The vectors and the ANN index on disk, loaded; the index (None: none)."""
        self._refresh()
        return self.ann

    def adopt_ann(self, index: AnnIndex) -> None:
        """Use ``index``, just saved to ``folder``, without reading it back."""
        assert self.folder is not None and self._version is not None
        self.ann = index
        self._ann_version = ann.meta_version(self.folder)
        self._extra = self._not_in_ann(self._version[0])

    def vectors_of(self, paper_ids: list[int]) -> np.ndarray:
        self._refresh()
        rows = [self._row[p] for p in paper_ids if p in self._row]
        return self.matrix[rows] if rows else np.zeros((0, self.matrix.shape[1]))

    def scores(self, vector: np.ndarray, *, titles: bool = True) -> np.ndarray:
        """Cosine of ``vector`` to every paper (row order of ``ids``)."""
        self._refresh()
        if not len(self.ids):
            return np.zeros(0, dtype=np.float32)
        return self._score(vector.astype(np.float32), self.matrix, self.titles, titles)

    @staticmethod
    def _score(vector: np.ndarray, matrix: np.ndarray, title_matrix: np.ndarray,
               titles: bool) -> np.ndarray:
        scores = np.einsum("ij,j->i", matrix, vector)
        if titles:
            np.maximum(scores, np.einsum("ij,j->i", title_matrix, vector), out=scores)
        return np.asarray(scores, dtype=np.float32)

    def score_of(self, scores: np.ndarray, paper_id: int) -> float | None:
        """The score of one paper in an array from :meth:`scores`."""
        row = self._row.get(paper_id)
        return None if row is None else float(scores[row])

    def cosines(self, vector: np.ndarray, paper_ids: list[int], *,
                titles: bool = True) -> dict[int, float]:
        """The exact score of each of ``paper_ids`` that has vectors."""
        self._refresh()
        rows = self._rows_of(paper_ids)
        if not len(rows):
            return {}
        scores = self._score(vector.astype(np.float32), self.matrix[rows], self.titles[rows],
                             titles)
        return {int(p): float(s) for p, s in zip(self.ids[rows], scores, strict=True)}

    def _rows_of(self, paper_ids: Iterable[int]) -> np.ndarray:
        """The sorted rows of those of ``paper_ids`` that have vectors (each once)."""
        return np.asarray(sorted({r for p in paper_ids if (r := self._row.get(p)) is not None}),
                          dtype=np.int64)

    def search(self, vector: np.ndarray, k: int, *, titles: bool = True,
               allowed: set[int] | None = None,
               exclude: set[int] | frozenset[int] = frozenset()) -> list[tuple[int, float]]:
        """The ``k`` best papers by exact score, optionally only among ``allowed``:
        the ANN's candidates when it is in use, else every paper."""
        self._refresh()
        if k <= 0 or not len(self.ids):
            return []
        vector = vector.astype(np.float32)
        if allowed is not None and len(allowed) * 4 < len(self.ids):  # score just those
            rows = self._rows_of(allowed)
        elif allowed is None and self._extra is not None:
            rows = self._candidates(vector, k + len(exclude), titles, self._extra)
        else:
            return self.top_of(self.scores(vector, titles=titles), k, allowed=allowed,
                               exclude=exclude)
        if exclude:
            rows = rows[~np.isin(self.ids[rows], np.fromiter(exclude, dtype=np.int64,
                                                             count=len(exclude)))]
        scores = self._score(vector, self.matrix[rows], self.titles[rows], titles)
        best = np.argsort(-scores, kind="stable")[:k]  # ties: lower paper id first
        return [(int(self.ids[rows[i]]), float(scores[i])) for i in best]

    def _candidates(self, vector: np.ndarray, want: int, titles: bool,
                    extra: np.ndarray) -> np.ndarray:
        """Rows of at least ``want`` live papers the ANN finds (if it holds that many),
        and the ``extra`` rows; sorted."""
        assert self.ann is not None
        ask = want * 2 if titles else want  # a paper has up to two entries
        while True:
            found, exhausted = self.ann.search(vector, ask, titles=titles)
            rows = [r for p in found.tolist() if (r := self._row.get(p)) is not None]
            if len(rows) >= want or exhausted:
                break
            ask *= 4  # stale entries took places: look further
        return np.union1d(np.asarray(rows, dtype=np.int64), extra)

    def top_of(self, scores: np.ndarray, k: int, *, allowed: set[int] | None = None,
               exclude: set[int] | frozenset[int] = frozenset()) -> list[tuple[int, float]]:
        """The ``k`` best papers of an array from :meth:`scores` (ties: lower id first)."""
        if k <= 0 or not len(scores):
            return []
        if allowed is not None or exclude:
            mask = np.ones(len(self.ids), dtype=bool)
            if allowed is not None:
                mask = np.isin(self.ids, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
            if exclude:
                mask &= ~np.isin(self.ids, np.fromiter(exclude, dtype=np.int64,
                                                       count=len(exclude)))
            scores = np.where(mask, scores, -np.inf)
        k = min(k, len(scores))
        top = np.sort(np.argpartition(-scores, k - 1)[:k])
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]
