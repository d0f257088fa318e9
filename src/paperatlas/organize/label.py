"""The keyword labeler: c-TF-IDF phrases against the siblings, re-ranked by MMR.

Candidates are 1-3 word phrases of the papers' titles and abstracts (titles count
three times). A phrase scores high in a node when it is frequent there and rare in the
node's siblings (class-based TF-IDF, as in BERTopic). The top candidates are re-ranked by
maximal marginal relevance: similar to the node's centroid (embeddings, when an embedder
is given; otherwise word overlap), unlike the phrases already chosen.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import numpy as np

from .base import Group, Labeler, NodeLabel

#: Words that say nothing about a topic in a paper abstract.
ACADEMIC_STOPWORDS = frozenset("""
paper papers propose proposed proposes present presents presented approach approaches method
methods methodology result results show shows shown demonstrate demonstrates novel new based
using use used uses study studies work works task tasks model models existing state art
performance experiments experimental extensive significantly significant outperforms achieve
achieves achieved improve improves improved improvement effective effectively efficient
framework frameworks introduce introduces introduced address addresses problem problems data
able including include includes various different specific furthermore moreover however recent
recently key large code available github com https http www et al also well first two three one
new way make makes made provide provides provided paradigm benchmark benchmarks evaluation
evaluate evaluated analysis findings research researchers aim aims significantly purpose
objective objectives plays play played critical role roles develop developed important
potential main characteristics associated high higher low lower increased decreased suggest
suggests suggesting reveal reveals revealed investigate investigated observed found
""".split())  # noqa: SIM905

TOKEN = r"(?u)\b[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]\b|\b[0-9][A-Za-z][A-Za-z0-9\-]*\b"
PhraseEmbed = Callable[[list[str]], np.ndarray]


def _stopwords() -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(set(ENGLISH_STOP_WORDS) | ACADEMIC_STOPWORDS)


def ctfidf(counts: np.ndarray) -> np.ndarray:
    """Class-based TF-IDF of a ``classes x terms`` count matrix (BERTopic's formula)."""
    counts = np.asarray(counts, dtype=np.float64)
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    avg_words = counts.sum() / max(len(counts), 1)
    idf = np.log1p(avg_words / np.maximum(counts.sum(axis=0), 1.0))
    return np.asarray(tf * idf)


def mmr(relevance: np.ndarray, similarity: np.ndarray, k: int, diversity: float) -> list[int]:
    """Indices of ``k`` items by maximal marginal relevance (``similarity`` is items x items)."""
    chosen: list[int] = []
    left = list(range(len(relevance)))
    while left and len(chosen) < k:
        penalty = similarity[np.ix_(left, chosen)].max(axis=1) if chosen else np.zeros(len(left))
        scores = (1 - diversity) * relevance[left] - diversity * penalty
        pick = left[int(np.argmax(scores))]
        chosen.append(pick)
        left.remove(pick)
    return chosen


def _overlap(phrases: list[str]) -> np.ndarray:
    sets = [set(p.split()) for p in phrases]
    return np.array([[len(a & b) / len(a | b) for b in sets] for a in sets])


class KeywordLabeler(Labeler):
    """Names nodes from their own words; ``embed`` (phrases -> normalized vectors) is used
    for the MMR re-ranking when given."""

    def __init__(self, embed: PhraseEmbed | None = None, candidates: int = 20,
                 keywords: int = 8, diversity: float = 0.4, min_df: int = 2) -> None:
        self.embed = embed
        self.candidates = candidates
        self.keywords = keywords
        self.diversity = diversity
        self.min_df = min_df
        self._matrix: object = None
        self._vocab: np.ndarray = np.array([])
        self._casing: dict[str, str] = {}
        self._idf: np.ndarray = np.array([])
        self._cache: dict[str, np.ndarray] = {}

    def fit(self, titles: list[str], texts: list[str]) -> None:
        """Count phrases once over all papers; groups then name rows of this fit."""
        from sklearn.feature_extraction.text import CountVectorizer

        vec = CountVectorizer(ngram_range=(1, 3), stop_words=_stopwords(), token_pattern=TOKEN,
                              min_df=min(self.min_df, max(1, len(texts) // 2)),
                              dtype=np.float32)
        docs = [f"{t}. {t}. {x}" for t, x in zip(titles, texts, strict=True)]
        try:
            matrix = vec.fit_transform(docs).tocsr()
            self._matrix, self._vocab = matrix, vec.get_feature_names_out()
            df = np.bincount(matrix.indices, minlength=matrix.shape[1])
            self._idf = np.log((1 + len(docs)) / (1 + df)) + 1.0
        except ValueError:  # nothing left after stop words
            self._matrix, self._vocab = None, np.array([])
        self._casing = _casing(titles)

    def label(self, groups: list[Group], *, parent: str = "") -> list[NodeLabel]:
        if self._matrix is None or not len(self._vocab):
            return [NodeLabel(label=f"Topic {g.node_id}") for g in groups]
        matrix = self._matrix
        counts = np.vstack([np.asarray(matrix[g.rows].sum(axis=0)).ravel()  # type: ignore[index]
                            for g in groups])
        scores = ctfidf(counts) * self._idf  # against the siblings, and the whole corpus
        taken = {parent.lower()} if parent else set()
        parent_words = set(parent.lower().split())
        out = []
        for i, group in enumerate(groups):
            phrases = self._ranked(scores[i], counts[i], group, parent_words)
            label = next((p for p in _names(phrases) if p.lower() not in taken), None)
            if label is None:
                label = phrases[0] if phrases else f"Topic {group.node_id}"
                label = f"{label} ({group.node_id})" if label.lower() in taken else label
            taken.add(label.lower())
            group.keywords = phrases[:self.keywords]
            out.append(NodeLabel(label=label, keywords=phrases[:self.keywords]))
        return out

    def _ranked(self, score: np.ndarray, count: np.ndarray, group: Group,
                parent_words: set[str]) -> list[str]:
        """Candidate labels of one node, best first, in display casing."""
        # Multi-word phrases are more telling; a phrase must occur in the node twice.
        lengths = np.char.count(self._vocab.astype(str), " ") + 1
        boosted = score * np.where(lengths > 1, 2.0, 1.0) * (count >= 2)
        top = [int(i) for i in np.argsort(-boosted)[: self.candidates * 2] if boosted[i] > 0]
        phrases = [str(self._vocab[i]) for i in top
                   if not set(str(self._vocab[i]).split()) <= parent_words]
        phrases = _drop_contained(phrases)[: self.candidates]
        if not phrases:
            return []
        relevance = np.array([boosted[np.searchsorted(self._vocab, p)] for p in phrases])
        relevance = relevance / max(relevance.max(), 1e-12)
        if self.embed is not None and group.centroid is not None:
            vecs = self._vectors(phrases)
            relevance = 0.5 * relevance + 0.5 * (vecs @ group.centroid)
            similarity = vecs @ vecs.T
        else:
            similarity = _overlap(phrases)
        order = mmr(relevance, similarity, len(phrases), self.diversity)
        return [self._display(phrases[i]) for i in order]

    def _vectors(self, phrases: list[str]) -> np.ndarray:
        assert self.embed is not None
        missing = [p for p in phrases if p not in self._cache]
        if missing:
            for p, v in zip(missing, self.embed(missing), strict=True):
                self._cache[p] = v
        return np.stack([self._cache[p] for p in phrases])

    def _display(self, phrase: str) -> str:
        words = [self._casing.get(w, w) for w in phrase.split()]
        text = " ".join(words)
        return text[:1].upper() + text[1:]


def _names(phrases: list[str]) -> list[str]:
    """Label candidates of 2-6 words: multi-word phrases as they are, a single word
    joined with the next single word (``"Senescence and telomerase"``)."""
    out: list[str] = []
    singles = [p for p in phrases if " " not in p]
    for p in phrases:
        if " " in p:
            out.append(p)
        else:
            other = next((q for q in singles if q != p), None)
            if other is None:
                out.append(p)
            else:
                second = other.lower() if other[1:].islower() else other
                out.append(f"{p} and {second}")
    return out


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _drop_contained(phrases: list[str]) -> list[str]:
    """Drop a phrase whose words (singular) all appear in a better-ranked phrase."""
    kept: list[set[str]] = []
    out: list[str] = []
    for p in phrases:
        words = {_stem(w) for w in p.split()}
        if not any(words <= k for k in kept):
            kept.append(words)
            out.append(p)
    return out


def _casing(titles: list[str]) -> dict[str, str]:
    """The usual surface form of words written with capitals inside (LLM, 3D, BERT)."""
    forms: dict[str, Counter[str]] = {}
    for title in titles:
        for word in re.findall(TOKEN, title):
            forms.setdefault(word.lower(), Counter())[word] += 1
    out = {}
    for low, counter in forms.items():
        form, _ = counter.most_common(1)[0]
        if any(c.isupper() for c in form[1:]) or (form.isupper() and len(form) > 1):
            out[low] = form
    return out
