"""Vectors for papers: embed what changed, and find the nearest papers to a vector."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..embed import Embedder, paper_text
from ..errors import PaperatlasError
from ..store import Store, utcnow

STATE = "semantic"
_BATCH = 256


class ModelMismatchError(PaperatlasError):
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
    its title vector; "more like these" compares paper vectors only.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._version: tuple[int, int] | None = None
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.titles = np.zeros((0, 0), dtype=np.float32)
        self._row: dict[int, int] = {}

    def _refresh(self) -> None:
        version = (self.store.search.state(STATE)[0], self.store.vectors.count())
        if version == self._version:
            return
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
        self._version = version

    def vectors_of(self, paper_ids: list[int]) -> np.ndarray:
        self._refresh()
        rows = [self._row[p] for p in paper_ids if p in self._row]
        return self.matrix[rows] if rows else np.zeros((0, self.matrix.shape[1]))

    def scores(self, vector: np.ndarray, *, titles: bool = True) -> np.ndarray:
        """Cosine of ``vector`` to every paper (row order of ``ids``)."""
        self._refresh()
        if not len(self.ids):
            return np.zeros(0, dtype=np.float32)
        vector = vector.astype(np.float32)
        scores = self.matrix @ vector
        if titles:
            np.maximum(scores, self.titles @ vector, out=scores)
        return np.asarray(scores, dtype=np.float32)

    def score_of(self, scores: np.ndarray, paper_id: int) -> float | None:
        """The score of one paper in an array from :meth:`scores`."""
        row = self._row.get(paper_id)
        return None if row is None else float(scores[row])

    def top(self, vector: np.ndarray, k: int, *, allowed: set[int] | None = None,
            exclude: set[int] | frozenset[int] = frozenset(),
            titles: bool = True) -> list[tuple[int, float]]:
        """The ``k`` nearest papers by cosine, optionally only among ``allowed``."""
        return self.top_of(self.scores(vector, titles=titles), k, allowed=allowed,
                           exclude=exclude)

    def top_of(self, scores: np.ndarray, k: int, *, allowed: set[int] | None = None,
               exclude: set[int] | frozenset[int] = frozenset()) -> list[tuple[int, float]]:
        """The ``k`` best papers of an array from :meth:`scores`."""
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
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]
