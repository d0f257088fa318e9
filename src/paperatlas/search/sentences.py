"""Sentences of papers' abstracts, each with a vector: split and embedded by the index job
(never by a read), resumably, batch by batch, into ``paper_sentences``.

A paper's row is keyed by the hash of its abstract (and the splitter's version) and the
model: a changed abstract is split and embedded again, and a new model (or splitter)
walks every paper again, embedding those whose row it did not make.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from ..embed import Embedder
from ..records.sentences import SentenceReport
from ..store import Store, utcnow
from ..store.sentences import NewRow
from .splitter import SPLITTER_VERSION, split_sentences

#: The index state's name (its settings: the model and the splitter's version).
STATE = "sentences"
#: Papers per batch: one transaction each (a kill loses at most one batch's work).
BATCH = 256
#: Sentences kept per paper (the first ones): bounds a row of a very long abstract.
MAX_SENTENCES = 200


def sentence_hash(abstract: str) -> str:
    """What a paper's stored sentences were made from: its abstract and the splitter."""
    return hashlib.sha1(f"{SPLITTER_VERSION}\x00{abstract}".encode()).hexdigest()[:16]


def embed_sentences(store: Store, embedder: Embedder, *,
                    progress: Callable[[int, int], None] | None = None,
                    batch: int = BATCH) -> SentenceReport:
    """Split and embed the abstracts of papers changed since the last run (every paper
    when the model or the splitter changed); drop the rows of papers deleted or left
    without an abstract. Each batch's rows and the position after it commit together."""
    repo = store.search
    settings = {"model": embedder.name, "splitter": SPLITTER_VERSION}
    seq, had = repo.state(STATE)
    if had != settings:
        seq = 0  # another model or splitter: look at every paper again
    total = repo.pending(seq)
    embedded = unchanged = removed = done = 0
    while changed := repo.changed_since(seq, batch):
        ids = [pid for _, pid in changed]
        papers = {r["id"]: r["abstract"] for r in repo.index_rows(ids)}
        have = store.sentences.hashes(ids)
        gone = [pid for pid in ids if pid in have and not papers.get(pid)]
        todo: list[tuple[int, str, list[str]]] = []
        for pid, abstract in papers.items():
            if not abstract:
                continue
            digest = sentence_hash(abstract)
            if have.get(pid) == (digest, embedder.name):
                unchanged += 1
                continue
            sentences = split_sentences(abstract)[:MAX_SENTENCES]
            if sentences:
                todo.append((pid, digest, sentences))
        rows = _encode(embedder, todo)
        seq = changed[-1][0]
        with store.transaction():  # the rows and the position after them commit together
            store.sentences.upsert(rows)
            removed += store.sentences.delete(gone)
            repo.set_state(STATE, seq, settings, utcnow())
        embedded += len(rows)
        done += len(ids)
        if progress is not None:
            progress(done, total)
    if had != settings and seq == 0:
        with store.transaction():  # an empty library: remember the settings all the same
            repo.set_state(STATE, 0, settings, utcnow())
    papers_n, sentences_n, _ = store.sentences.totals()
    return SentenceReport(embedded, unchanged, removed, embedder.name, papers_n, sentences_n)


def _encode(embedder: Embedder, todo: list[tuple[int, str, list[str]]]) -> list[NewRow]:
    """One encoding call for every sentence of ``todo``, cut back into rows."""
    if not todo:
        return []
    flat = [s for _, _, sentences in todo for s in sentences]
    vectors = np.asarray(embedder.encode(flat), dtype=np.float32)
    rows: list[NewRow] = []
    at = 0
    for pid, digest, sentences in todo:
        rows.append((pid, digest, embedder.name, sentences,
                     vectors[at:at + len(sentences)].astype(np.float16)))
        at += len(sentences)
    return rows
