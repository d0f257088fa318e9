"""Evidence for a question: the sentences of the best papers that answer it.

Papers are retrieved first (hybrid, :meth:`SearchService.candidates`), then each of their
stored sentences (:mod:`.sentences`) is embedded (:class:`SentenceVectors`: when a
question first needs it, then kept in memory) and scored against the question::

    score = COSINE_WEIGHT * cosine + (1 - COSINE_WEIGHT) * lexical
    rank  = score + PAPER_WEIGHT * paper

``cosine`` is between the question's and the sentence's vectors; ``lexical`` is the share
of the question's analyzed terms (stemmed, stop words out) the sentence holds, each
weighted by its BM25 inverse document frequency among the candidate sentences (0-1);
``paper`` is the sentence's paper's retrieval score over the best paper's (0-1; 0 for a
scope of at most ``PAPERS`` papers, read whole). Sentences are returned by ``rank``; ``score``, the
sentence's own, is what abstention looks at (``rank`` is relative to the question's
papers, so it cannot tell a library that holds no answer). The weights and cut-offs were
chosen on SciFact's train claims by cross-validation (``bench/ask_evidence.py``;
bench/RESULTS.md). Nothing is written here.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import PreconditionError
from ..store.sentences import SentenceRow
from ..vectors import PaperSet
from .query import terms
from .service import SearchService

#: Weight of the cosine in a sentence's score (the lexical signal has the rest).
COSINE_WEIGHT = 0.5
#: Weight of the paper's retrieval score in a sentence's rank.
PAPER_WEIGHT = 1.0
#: Papers whose sentences are scored (a scope of at most this many is read whole).
PAPERS = 5
#: Sentence vectors a process keeps (float16: ~38 MB with 384 dimensions).
KEPT_SENTENCES = 50_000


@dataclass(frozen=True)
class Scored:
    """A candidate sentence: its paper, index and text, its own score and signals, and
    its paper's retrieval score relative to the best paper's."""

    paper_id: int
    sentence: int
    text: str
    score: float
    cosine: float
    lexical: float
    paper: float = 0.0


@dataclass(frozen=True)
class Found:
    """Every scored sentence (best first), and how long each step took (ms)."""

    sentences: list[Scored]
    timings: dict[str, float]


def idf_weights(question: list[str], sentences: list[set[str]]) -> dict[str, float]:
    """BM25's inverse document frequency of each question term among ``sentences``."""
    n = len(sentences)
    return {t: math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            for t in question for df in [sum(1 for s in sentences if t in s)]}


def coverage(question: list[str], sentence: set[str], idf: dict[str, float]) -> float:
    """The idf-weighted share of the question's terms that ``sentence`` holds (0-1)."""
    total = sum(idf[t] for t in question)
    return sum(idf[t] for t in question if t in sentence) / total if total else 0.0


class SentenceVectors:
    """Papers' sentences as vectors of one model, embedded the first time a question
    needs them (all of a question's misses in one call) and kept, the least recently used
    going first beyond ``limit`` sentences. Nothing is written: a read may embed, as a
    query is embedded, but stores nothing. Safe to share between threads."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], model: str, *,
                 limit: int = KEPT_SENTENCES) -> None:
        self.encode = encode
        self.model = model
        self.limit = limit
        self._kept: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def __call__(self, rows: Sequence[SentenceRow]) -> list[np.ndarray]:
        """One float16 matrix per row (a row per sentence), in the order of ``rows``."""
        found: dict[tuple[int, str], np.ndarray] = {}
        with self._lock:
            for key in ((r.paper_id, r.text_hash) for r in rows):
                if (matrix := self._kept.get(key)) is not None:
                    self._kept.move_to_end(key)
                    found[key] = matrix
        missing = [r for r in rows if (r.paper_id, r.text_hash) not in found]
        if missing:
            flat = np.asarray(self.encode([s for r in missing for s in r.sentences]),
                              dtype=np.float16)
            ends = np.cumsum([len(r.sentences) for r in missing])
            new = {(r.paper_id, r.text_hash): part for r, part in
                   zip(missing, np.split(flat, ends[:-1]), strict=True)}
            found.update(new)
            self._keep(new)
        return [found[(r.paper_id, r.text_hash)] for r in rows]

    def _keep(self, new: dict[tuple[int, str], np.ndarray]) -> None:
        with self._lock:
            for key, matrix in new.items():
                if key not in self._kept:
                    self._kept[key] = matrix
                    self._held += len(matrix)
            while self._held > self.limit and self._kept:
                _, old = self._kept.popitem(last=False)
                self._held -= len(old)


class EvidenceFinder:
    """Scores the sentences of a question's best papers (reads only)."""

    def __init__(self, service: SearchService, *, cosine_weight: float = COSINE_WEIGHT,
                 paper_weight: float = PAPER_WEIGHT, papers: int = PAPERS,
                 kept_sentences: int = KEPT_SENTENCES) -> None:
        self.service = service
        self.cosine_weight = cosine_weight
        self.paper_weight = paper_weight
        self.papers = papers
        self.kept_sentences = kept_sentences
        self._vectors: SentenceVectors | None = None

    def vectors(self) -> SentenceVectors:
        """The sentence vectors of the library's model (made on first use)."""
        embedder = self.service.embedder
        if self._vectors is None or self._vectors.model != embedder.name:
            self._vectors = SentenceVectors(embedder.encode, embedder.name,
                                            limit=self.kept_sentences)
        return self._vectors

    def find(self, question: str, *, collection_id: int | None = None,
             among: PaperSet | None = None) -> Found:
        """Every sentence of the best papers for ``question`` (of a collection, or
        ``among`` given papers), scored, best first."""
        service = self.service
        if not service.semantic_enabled:
            raise PreconditionError("ask needs an embedding model (--model or "
                                    "PAPERATLAS_MODEL) and `paperatlas index` run with it")
        started = time.perf_counter()
        if among is not None and len(among) <= self.papers:
            ids, relative = list(among), None
        else:
            ranked = service.candidates(question, self.papers, collection_id=collection_id,
                                        papers=among)
            top = ranked[0][1] if ranked and ranked[0][1] > 0 else 1.0
            ids, relative = [pid for pid, _ in ranked], {pid: s / top for pid, s in ranked}
        retrieved = time.perf_counter()
        found = self.score(question, ids, relative)
        done = time.perf_counter()
        return Found(found, {"retrieve": (retrieved - started) * 1000,
                             "score": (done - retrieved) * 1000})

    def score(self, question: str, paper_ids: list[int],
              relative: dict[int, float] | None = None) -> list[Scored]:
        """The stored sentences of ``paper_ids`` scored against ``question``, by rank
        (``relative``: each paper's retrieval score over the best's)."""
        service = self.service
        rows = service.store.sentences.get_many(paper_ids)
        if not rows:
            return []
        matrices = self.vectors()(rows)
        vector = service.query_vector(question)
        analyze = service.lexical.analyze
        asked = list(dict.fromkeys(analyze(" ".join(terms(question)))))
        texts = [(row.paper_id, i, text) for row in rows for i, text in enumerate(row.sentences)]
        words = [set(analyze(" ".join(terms(text)))) for _, _, text in texts]
        idf = idf_weights(asked, words)
        cosines = np.concatenate(matrices).astype(np.float32) @ vector
        w, prior = self.cosine_weight, relative or {}
        scored = [Scored(pid, i, text, w * float(c) + (1 - w) * lex, float(c), lex,
                         prior.get(pid, 0.0))
                  for (pid, i, text), c, lex in zip(
                      texts, cosines.tolist(), [coverage(asked, s, idf) for s in words],
                      strict=True)]
        pw = self.paper_weight
        scored.sort(key=lambda s: (-(s.score + pw * s.paper), s.paper_id, s.sentence))
        return scored
