"""Personal ranking of new papers for many subscriptions at once (vectorised).

Every score is on an absolute scale (not normalized per list), so one minimum score means
the same for every subscription. A paper's score for a subscription is the best over what
the subscription follows, and the item that gave it is the reason shown:

- a saved search: ``ALPHA * cosine + (1 - ALPHA) * coverage`` (hybrid), the cosine alone
  (semantic) or the coverage alone (lexical). The cosine is between the query's and the
  paper's vectors; the coverage is the IDF-weighted share of the query's terms (stemmed,
  stop words out, as the search index analyzes them) found in the title and abstract,
  with IDF over the new papers. Each distinct search is scored once, as one column of a
  single matrix product, for every subscription that saved it;
- a seed paper ("more like these"): the cosine between paper vectors (a seed without a
  vector: its title as a lexical search); all seeds are one matrix product;
- the papers the subscription's user upvoted: the best cosine to any of them, and, once
  the user has ``min_votes`` votes, the probability of a logistic regression trained on
  the vectors of the upvoted papers against a sample of the library (arxiv-sanity style);
- a followed topic (with the topics under it): its new papers, each scored by the cosine
  to the topic's centre (the mean vector of all its papers), and never below the minimum
  score, so every one of them can be picked but central ones come first and a big topic
  does not crowd out closer matches of the subscription's other items;
- a followed collection or author: ``MEMBER_SCORE`` (every new paper of theirs).

Ranking one subscription is then a max over its few score rows, a mask (its window, the
papers it was sent before, the minimum score) and a partial sort.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: Weight of the cosine in a hybrid saved search (the rest is the term coverage).
ALPHA = 0.5
#: The score of a paper in a followed topic, collection or author's papers.
MEMBER_SCORE = 1.0
_SEED_CHUNK = 4096


@dataclass(frozen=True)
class RankSettings:
    """Limits of a digest and when the per-user classifier starts."""

    max_papers: int = 20  # at most this many papers per digest
    min_score: float = 0.3  # papers scoring lower are left out
    min_votes: int = 10  # a user with this many votes gets a classifier
    negatives: int = 2000  # library vectors the classifier learns as "not voted"


@dataclass
class Candidates:
    """The new papers: ids, when each was added, text, and vectors (zero rows for papers
    without one; None for a library without vectors)."""

    ids: np.ndarray  # int64
    created: np.ndarray  # ISO 8601 strings
    texts: list[str]
    vectors: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


class Ranker:
    """Score rows over the candidates, one per distinct followed thing, shared by every
    subscription that follows it; :meth:`pick` ranks one subscription from its rows."""

    def __init__(self, candidates: Candidates, settings: RankSettings) -> None:
        self.c = candidates
        self.settings = settings
        self.rows: dict[str, tuple[np.ndarray, str]] = {}
        self._analyzed: list[set[str]] | None = None

    @property
    def semantic(self) -> bool:
        return self.c.vectors is not None and len(self.c.vectors) > 0

    def add_searches(self, searches: Sequence[tuple[str, str, str, str]],
                     analyze: Callable[[str], list[str]],
                     encode: Callable[[list[str]], np.ndarray] | None) -> None:
        """Score ``(row key, text, mode, reason)`` searches; ``mode`` is hybrid, lexical
        or semantic (hybrid and semantic fall back to lexical without vectors)."""
        todo = [s for s in searches if s[0] not in self.rows]
        if not todo:
            return
        if self._analyzed is None:
            self._analyzed = [set(analyze(t)) for t in self.c.texts]
        coverage = self._coverage([analyze(s[1]) for s in todo], self._analyzed)
        semantic = encode is not None and self.semantic
        cosines = None
        needs = [i for i, s in enumerate(todo) if s[2] != "lexical"]
        if semantic and needs and encode is not None and self.c.vectors is not None:
            queries = encode([todo[i][1] for i in needs]).astype(np.float32)
            cosines = dict(zip(needs, queries @ self.c.vectors.T, strict=True))
        for i, (key, _, mode, reason) in enumerate(todo):
            cos = cosines.get(i) if cosines is not None else None
            if cos is None or mode == "lexical":
                row = coverage[i]
            elif mode == "semantic":
                row = cos
            else:
                row = ALPHA * cos + (1 - ALPHA) * coverage[i]
            self.rows[key] = (np.asarray(row, dtype=np.float32), reason)

    def add_similar(self, items: Sequence[tuple[str, np.ndarray, str]]) -> None:
        """Cosine rows for ``(row key, vector, reason)`` (seed papers), in chunks."""
        todo = [it for it in items if it[0] not in self.rows]
        if not todo or self.c.vectors is None:
            return
        for start in range(0, len(todo), _SEED_CHUNK):
            chunk = todo[start:start + _SEED_CHUNK]
            mat = np.vstack([v for _, v, _ in chunk]).astype(np.float32) @ self.c.vectors.T
            for (key, _, reason), row in zip(chunk, mat, strict=True):
                self.rows[key] = (row, reason)

    def add_nearest(self, key: str, vectors: np.ndarray, reason: str) -> None:
        """A row of the best cosine to any of ``vectors`` (a user's upvoted papers)."""
        if self.c.vectors is None or not len(vectors) or key in self.rows:
            return
        self.rows[key] = ((self.c.vectors @ vectors.T.astype(np.float32)).max(axis=1), reason)

    def add_classifier(self, key: str, positives: np.ndarray, negatives: np.ndarray,
                       reason: str) -> None:
        """A row of a logistic regression's probability (positives against negatives)."""
        if self.c.vectors is None or not len(positives) or not len(negatives):
            return
        from sklearn.linear_model import LogisticRegression

        x = np.vstack([positives, negatives]).astype(np.float32)
        y = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=200)
        model.fit(x, y)
        self.rows[key] = (model.predict_proba(self.c.vectors)[:, 1].astype(np.float32), reason)

    def add_member(self, key: str, paper_ids: set[int], reason: str,
                   centre: np.ndarray | None = None) -> None:
        """A row for the candidates among ``paper_ids``: :data:`MEMBER_SCORE`, or with a
        ``centre`` vector their cosine to it, at least the minimum score."""
        if key in self.rows:
            return
        ids = np.fromiter(paper_ids, dtype=np.int64, count=len(paper_ids))
        member = np.isin(self.c.ids, ids)
        score: np.ndarray | float = MEMBER_SCORE
        if centre is not None and self.c.vectors is not None and len(self.c.vectors):
            unit = centre / (float(np.linalg.norm(centre)) or 1.0)
            score = np.maximum(self.c.vectors @ unit.astype(np.float32), self.settings.min_score)
        self.rows[key] = (np.where(member, score, 0.0).astype(np.float32), reason)

    def pick(self, keys: Sequence[str], window: np.ndarray,
             exclude: np.ndarray | None = None) -> list[tuple[int, float, str]]:
        """The best candidates for one subscription: ``(candidate index, score, reason)``,
        best first (newest first among equals), at most ``max_papers``; ``window`` is a
        boolean mask of the candidates it may get, ``exclude`` indices it was sent."""
        keys = [k for k in keys if k in self.rows]
        if not keys or not len(self.c):
            return []
        mat = np.vstack([self.rows[k][0] for k in keys])
        best = mat.max(axis=0)
        ok = window & (best >= self.settings.min_score)
        if exclude is not None and len(exclude):
            ok[exclude] = False
        idx = np.flatnonzero(ok)
        cap = self.settings.max_papers
        if not len(idx) or cap <= 0:
            return []
        if len(idx) > cap:
            floor = np.partition(best[idx], len(idx) - cap)[len(idx) - cap]
            idx = idx[best[idx] >= floor]
        order = idx[np.lexsort((-self.c.ids[idx], -best[idx]))][:cap]
        arg = mat[:, order].argmax(axis=0)
        return [(int(i), float(best[i]), self.rows[keys[a]][1])
                for i, a in zip(order, arg, strict=True)]

    def _coverage(self, queries: list[list[str]], analyzed: list[set[str]]) -> np.ndarray:
        """The IDF-weighted share of each query's terms in each candidate, ``(q, n)``."""
        n = len(self.c)
        vocab: dict[str, int] = {}
        for terms in queries:
            for t in terms:
                vocab.setdefault(t, len(vocab))
        out = np.zeros((len(queries), n), dtype=np.float32)
        if not vocab or not n:
            return out
        present = np.zeros((n, len(vocab)), dtype=bool)
        for i, held in enumerate(analyzed):
            cols = [vocab[t] for t in held if t in vocab]
            if cols:
                present[i, cols] = True
        df = present.sum(axis=0)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        weights = np.zeros((len(vocab), len(queries)), dtype=np.float32)
        for q, terms in enumerate(queries):
            cols = [vocab[t] for t in dict.fromkeys(terms)]
            if cols:
                weights[cols, q] = idf[cols] / float(idf[cols].sum() or 1.0)
        return np.asarray((present.astype(np.float32) @ weights).T)


def window_mask(candidates: Candidates, *, after_id: int | None, since: str | None) -> np.ndarray:
    """The candidates a subscription may get: ids above ``after_id`` when given, else
    those added at or after ``since``."""
    if after_id is not None:
        return np.asarray(candidates.ids > after_id)
    return np.asarray(candidates.created >= (since or "~"))

