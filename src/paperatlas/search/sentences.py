"""Sentences of papers' abstracts: split by the index job (never by a read), resumably,
batch by batch, into ``paper_sentences``; embedded only when a question scores them
(:mod:`.evidence`).

A paper's row is keyed by the hash of its abstract and the splitter's version: a changed
abstract is split again, and a new splitter walks every paper again, splitting those
whose row it did not make.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from ..records.sentences import SentenceReport
from ..store import Store, utcnow
from ..store.sentences import SentenceRow
from .splitter import SPLITTER_VERSION, split_sentences

#: The index state's name (its settings: the splitter's version).
STATE = "sentences"
#: Papers per batch: one transaction each (a kill loses at most one batch's work).
BATCH = 2000
#: Sentences kept per paper (the first ones): bounds a row of a very long abstract.
MAX_SENTENCES = 200


def sentence_hash(abstract: str) -> str:
    """What a paper's stored sentences were made from: its abstract and the splitter."""
    return hashlib.sha1(f"{SPLITTER_VERSION}\x00{abstract}".encode()).hexdigest()[:16]


def split_abstracts(store: Store, *, progress: Callable[[int, int], None] | None = None,
                    batch: int = BATCH) -> SentenceReport:
    """Split the abstracts of papers changed since the last run (every paper when the
    splitter changed); drop the rows of papers deleted or left without an abstract. Each
    batch's rows and the position after it commit together."""
    repo = store.search
    settings = {"splitter": SPLITTER_VERSION}
    seq, had = repo.state(STATE)
    if had != settings:
        seq = 0  # another splitter (or sentences stored by an older version): every paper
    total = repo.pending(seq)
    split = unchanged = removed = done = 0
    while changed := repo.changed_since(seq, batch):
        ids = [pid for _, pid in changed]
        papers = {r["id"]: r["abstract"] for r in repo.index_rows(ids)}
        have = store.sentences.hashes(ids)
        gone = [pid for pid in ids if pid in have and not papers.get(pid)]
        rows: list[SentenceRow] = []
        for pid, abstract in papers.items():
            if not abstract:
                continue
            digest = sentence_hash(abstract)
            if have.get(pid) == digest:
                unchanged += 1
                continue
            sentences = split_sentences(abstract)[:MAX_SENTENCES]
            if sentences:
                rows.append(SentenceRow(pid, digest, sentences))
        seq = changed[-1][0]
        with store.transaction():  # the rows and the position after them commit together
            store.sentences.upsert(rows)
            removed += store.sentences.delete(gone)
            repo.set_state(STATE, seq, settings, utcnow())
        split += len(rows)
        done += len(ids)
        if progress is not None:
            progress(done, total)
    if had != settings and seq == 0:
        with store.transaction():  # an empty library: remember the settings all the same
            repo.set_state(STATE, 0, settings, utcnow())
    papers_n, sentences_n, _ = store.sentences.totals()
    return SentenceReport(split, unchanged, removed, papers_n, sentences_n)
