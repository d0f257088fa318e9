"""Vectors for papers: embed what changed, resumably, into a :class:`VectorStore`.

The in-process path keeps two batches in flight: while one batch's vectors are written
(one transaction each, with the change-log position after it), the next is read and
encoded. The Ray path (:mod:`.ray_embed`) and ``vectors import`` reuse what to embed per
paper (:func:`pending_papers`) and how (:func:`encode_pending`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Pending:
    """A paper to embed: its id, the hash of its text, the text, and its title when it
    has an abstract (its title gets a vector too)."""

    paper_id: int
    digest: str
    text: str
    title: str | None


#: Bumped when what is embedded per paper changes (2: a title vector besides the paper's).
_VECTORS_VERSION = "2"


def text_hash(text: str) -> str:
    return hashlib.sha1(f"{_VECTORS_VERSION}\x00{text}".encode()).hexdigest()[:16]


def pending_papers(store: Store, vectors: VectorStore, model: str,
                   paper_ids: list[int]) -> tuple[list[Pending], int]:
    """Those of ``paper_ids`` whose vectors of ``model`` are missing or were made from
    another text (deleted papers are left out), and how many are up to date."""
    rows = {r["id"]: r for r in store.search.index_rows(paper_ids)}
    have = vectors.hashes(list(rows))
    todo: list[Pending] = []
    for pid, row in rows.items():
        text = paper_text(row["title"], row["abstract"])
        digest = text_hash(text)
        if have.get(pid) != (model, digest):
            todo.append(Pending(pid, digest, text, row["title"] if row["abstract"] else None))
    return todo, len(rows) - len(todo)


def encode_pending(embedder: Embedder, todo: Sequence[Pending]) -> list[VectorRecord]:
    """The vectors of ``todo``: of each text, and of each title (where there is one)."""
    if not todo:
        return []
    encoded = embedder.encode([t.text for t in todo])
    titled = [i for i, t in enumerate(todo) if t.title]
    title_vectors = dict(zip(titled, embedder.encode([str(todo[i].title) for i in titled]),
                             strict=True)) if titled else {}
    return [VectorRecord(t.paper_id, encoded[i], title_vectors.get(i), t.digest)
            for i, t in enumerate(todo)]


def reset_model(store: Store, vectors: VectorStore, model: str) -> None:
    """Drop every vector and start the embedding job over, for ``model``."""
    with store.transaction():
        vectors.clear()
        store.search.set_state(STATE, 0, {"model": model}, utcnow())


def embed_changes(store: Store, vectors: VectorStore, embedder: Embedder, *,
                  switch_model: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> EmbedReport:
    """Embed papers that are new or whose text changed; resumable batch by batch (the
    vectors of a batch and the change-log position after it commit together, in a writer
    thread, while the next batch is encoded)."""
    if switch_model:
        reset_model(store, vectors, embedder.name)
    vectors.check_model(embedder.name)
    seq, _ = store.search.state(STATE)
    total = store.search.pending(seq)
    embedded = unchanged = done = 0

    def write(records: list[VectorRecord], upto: int, done: int) -> None:
        with store.transaction():  # vectors and progress commit together
            vectors.upsert(embedder.name, records)
            store.search.set_state(STATE, upto, {"model": embedder.name}, utcnow())
        if progress is not None:
            progress(done, total)

    writing: Future[None] | None = None
    # An interruption lets the batch being written commit (the executor waits for it).
    with ThreadPoolExecutor(1, thread_name_prefix="embed-writer") as writer:
        while batch := store.search.changed_since(seq, _BATCH):
            todo, same = pending_papers(store, vectors, embedder.name,
                                        [pid for _, pid in batch])
            records = encode_pending(embedder, todo)
            seq = batch[-1][0]
            done += len(batch)
            if writing is not None:
                writing.result()  # one batch written at a time, in order
            writing = writer.submit(write, records, seq, done)
            embedded, unchanged = embedded + len(todo), unchanged + same
        if writing is not None:
            writing.result()
    return EmbedReport(embedded, unchanged, embedder.name, vectors.count())
