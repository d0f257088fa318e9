"""Vectors for papers: embed what changed, resumably, into a :class:`VectorStore`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..embed import Embedder, paper_text
from ..store import Store, utcnow
from ..vectors import STATE, VectorRecord, VectorStore

_BATCH = 256


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


def embed_changes(store: Store, vectors: VectorStore, embedder: Embedder, *,
                  switch_model: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> EmbedReport:
    """Embed papers that are new or whose text changed; resumable batch by batch (the
    vectors of a batch and the change-log position after it commit together)."""
    if switch_model:
        with store.transaction():
            vectors.clear()
            store.search.set_state(STATE, 0, {"model": embedder.name}, utcnow())
    vectors.check_model(embedder.name)
    seq, _ = store.search.state(STATE)
    total = store.search.pending(seq)
    embedded = unchanged = done = 0
    while batch := store.search.changed_since(seq, _BATCH):
        ids = [pid for _, pid in batch]
        rows = {r["id"]: r for r in store.search.index_rows(ids)}
        have = vectors.hashes(list(rows))
        todo = []
        for pid, row in rows.items():
            text = paper_text(row["title"], row["abstract"])
            digest = text_hash(text)
            if have.get(pid) == (embedder.name, digest):
                unchanged += 1
            else:
                todo.append((pid, digest, text, row["title"] if row["abstract"] else None))
        encoded = embedder.encode([t[2] for t in todo]) if todo else np.zeros((0, 0))
        titled = [i for i, t in enumerate(todo) if t[3]]
        title_vectors = dict(zip(titled, embedder.encode([str(todo[i][3]) for i in titled]),
                                 strict=True)) if titled else {}
        seq = batch[-1][0]
        with store.transaction():  # vectors and progress commit together
            vectors.upsert(embedder.name, [
                VectorRecord(pid, encoded[i], title_vectors.get(i), digest)
                for i, (pid, digest, _, _) in enumerate(todo)])
            store.search.set_state(STATE, seq, {"model": embedder.name}, utcnow())
        embedded += len(todo)
        done += len(ids)
        if progress is not None:
            progress(done, total)
    return EmbedReport(embedded, unchanged, embedder.name, vectors.count())
