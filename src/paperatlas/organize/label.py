"""The keyword labeler: c-TF-IDF phrases against the siblings, re-ranked by MMR.

Candidates are 1-3 word phrases of the papers' titles and abstracts (titles count
three times; see :mod:`.phrases`). A phrase scores high in a node when it is frequent
there and rare in the node's siblings (class-based TF-IDF, as in BERTopic) and in the
whole collection. The top candidates are re-ranked by maximal marginal relevance: close
to the node's centroid, unlike the phrases already chosen (phrase vectors from the papers
a phrase occurs in, or from an embedding model). A node's names are its candidates as its
papers write them (:mod:`.labelrules`); with an embedding model, siblings' labels are then
chosen together among their names (:mod:`.labelroute`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .base import ONE_MATRIX_MIN, Corpus, Group, Labeler, NodeLabel
from .features import normalize_rows
from .labelroute import Choice, f1, route
from .labelrules import WORD, Sample, Surface, extended, phrase_ok, prepared, scan, shaped

PhraseEmbed = Callable[[list[str]], np.ndarray]


def ctfidf(counts: Any) -> Any:
    """Class-based TF-IDF (BERTopic's formula) of a ``classes x terms`` count matrix
    (scipy CSR, sorted indices), sparse: no dense array of either size."""
    counts = counts.astype(np.float64)
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    row_sums = np.asarray(counts.sum(axis=1)).ravel()
    col_sums = np.bincount(counts.indices, weights=counts.data, minlength=counts.shape[1])
    avg_words = counts.data.sum() / max(counts.shape[0], 1)
    tf = counts.data / np.maximum(row_sums, 1.0)[rows]
    idf = np.log1p(avg_words / np.maximum(col_sums[counts.indices], 1.0))
    out = counts.copy()
    out.data = tf * idf
    return out


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


PHRASE_VECTORS = ("papers", "model")


@dataclass
class Names:
    """What a node's papers make of its candidates (:meth:`KeywordLabeler._names`)."""

    names: list[str]  # the label phrases, best first, as written
    forms: list[str]  # the written forms of the candidates that passed (its keywords)
    support: dict[str, float]  # of each name: the share of the node's papers with it
    fits: dict[str, float]  # of each name: F1 of its papers against the node's
    verbs: set[str] = field(default_factory=set)  # candidates its papers write as verbs


class KeywordLabeler(Labeler):
    """Names nodes from their own words.

    The MMR re-ranking compares phrases by vectors: with ``phrase_vectors="papers"`` (the
    default) a phrase's vector is the mean embedding of the papers it occurs in, weighted
    by its counts (no model call, and it says where in the collection the phrase lives);
    with ``"model"``, ``embed`` (phrases -> normalized vectors) encodes the phrase text.
    With ``embed`` and ``route``, sibling labels are chosen together among the first
    ``route_names`` names of each node (of ``min_support``), so that ``route_sample`` of
    each node's papers are nearest their own node's label (:func:`~.labelroute.route`);
    the model then runs in this process (naming is not forked).
    """

    def __init__(self, embed: PhraseEmbed | None = None, candidates: int = 20,
                 keywords: int = 8, diversity: float = 0.4,
                 phrase_vectors: str = "papers", min_support: float = 0.2,
                 first: int = 6, sample: int = 80, route: bool = True,
                 route_names: int = 6, route_sample: int = 100) -> None:
        if phrase_vectors not in PHRASE_VECTORS:
            raise ValueError(f"phrase_vectors must be one of {', '.join(PHRASE_VECTORS)}, "
                             f"not {phrase_vectors!r}")
        if phrase_vectors == "model" and embed is None:
            raise ValueError('phrase_vectors="model" needs an embed function')
        self.embed = embed if phrase_vectors == "model" else None
        self.route_embed = embed if route else None
        # Phrase vectors from papers and no routing: numpy only.
        self.forkable = self.embed is None and self.route_embed is None
        self.phrase_vectors = phrase_vectors
        self.candidates = candidates
        self.keywords = keywords
        self.diversity = diversity
        #: A label is preferably one of the ``first`` names that is a phrase of this
        #: share of its node's papers (read in a sample of ``sample`` of them).
        self.min_support = min_support
        self.first = first
        self.sample = sample
        self.route_names = route_names
        self.route_sample = route_sample
        self._titles: list[str] = []
        self._texts: list[str] = []
        self._matrix: Any = None
        self._by_phrase: Any = None  # phrases x papers
        self._paper_vectors: np.ndarray | None = None  # for phrase vectors
        self._corpus_vectors: np.ndarray | None = None  # for routing
        self._column: dict[str, int] = {}
        self._vocab: np.ndarray = np.array([])
        self._casing: dict[str, str] = {}
        self._idf: np.ndarray = np.array([])
        self._df: np.ndarray = np.array([])  # papers per phrase
        self._boost: np.ndarray = np.array([])  # 2 for multi-word phrases, else 1
        self._cache: dict[str, np.ndarray] = {}
        self._fits_cache: dict[int, bool] = {}

    def fit(self, corpus: Corpus) -> None:
        """Take the corpus's phrase counts; groups then name rows of this corpus."""
        counts = corpus.phrases
        self._matrix, self._vocab = counts.matrix, counts.vocab
        self._cache, self._fits_cache, self._column = {}, {}, {}
        if counts.matrix.shape[1]:
            df = np.bincount(counts.matrix.indices, minlength=counts.matrix.shape[1])
            self._idf = np.log((1 + len(corpus.ids)) / (1 + df)) + 1.0
            self._df = df
            self._boost = np.where(counts.words > 1, 2.0, 1.0)
        if self.phrase_vectors == "papers":
            # A large corpus's phrase columns are read from the papers' matrix when asked
            # for (no transposed copy of it; the same weights).
            small = len(corpus.ids) < ONE_MATRIX_MIN
            self._by_phrase = counts.matrix.T.tocsr() if small else None
            self._paper_vectors = corpus.vectors
        self._corpus_vectors = corpus.vectors
        self._casing = _casing(corpus.titles)
        self._titles, self._texts = corpus.titles, corpus.texts

    def label(self, groups: list[Group], *, parent: str = "") -> list[NodeLabel]:
        if not len(self._vocab):
            return [NodeLabel(label=f"Topic {g.node_id}") for g in groups]
        from scipy import sparse

        # Each group's phrase counts (groups x phrases, sparse: a phrase none of them has
        # scores 0), scored against the siblings and the whole corpus.
        member = sparse.csr_matrix(
            (np.ones(sum(len(g.rows) for g in groups), dtype=np.float32),
             (np.repeat(np.arange(len(groups)), [len(g.rows) for g in groups]),
              np.concatenate([np.asarray(g.rows, dtype=np.int64) for g in groups]))),
            shape=(len(groups), self._matrix.shape[0]))
        counts = (member @ self._matrix).tocsr()
        counts.sum_duplicates()
        counts.sort_indices()
        scores = ctfidf(counts)
        scores.data *= self._idf[scores.indices]
        taken = {parent.lower()} if parent else set()
        parent_words = set(parent.lower().split())
        candidates = []
        for i in range(len(groups)):
            part = slice(counts.indptr[i], counts.indptr[i + 1])
            candidates.append(self._candidates(scores.data[part], counts.data[part],
                                               counts.indices[part], parent_words))
        self._vectors([p for phrases, _ in candidates for p in phrases])  # one batch
        out, choices = [], []
        for group, (phrases, relevance) in zip(groups, candidates, strict=True):
            phrases = self._reranked(phrases, relevance, group)
            read = self._names(phrases, group)
            names, forms = read.names, read.forms
            phrases = [p for p in phrases if p not in read.verbs]
            label = next((p for p in names if p.lower() not in taken), None)
            if label is None:  # no name read in its papers: a fitting candidate, if any
                usable = [p for p in phrases if phrase_ok(p)]
                label = self._display(usable[0]) if usable else f"Topic {group.node_id}"
                label = f"{label} ({group.node_id})" if label.lower() in taken else label
            taken.add(label.lower())
            keywords = forms or [self._display(p) for p in phrases if phrase_ok(p)]
            group.keywords = keywords[:self.keywords]
            out.append(NodeLabel(label=label, keywords=keywords[:self.keywords],
                                 alternatives=[n for n in names if n != label]))
            others = [n for n in names if n != label and read.support[n] >= self.min_support]
            choices.append(Choice([label, *others][:self.route_names], read.fits,
                                  self._sampled_vectors(group), len(group.rows)))
        if self.route_embed is not None and self._corpus_vectors is not None:
            chosen = route(choices, self.route_embed, {parent.lower()} if parent else set())
            for name, label in zip(out, chosen, strict=True):
                if label != name.label:
                    name.alternatives = [name.label, *(a for a in name.alternatives
                                                       if a != label)]
                    name.label = label
        return out

    def _sampled_vectors(self, group: Group) -> np.ndarray:
        """The embeddings of up to ``route_sample`` of a group's papers, evenly spread."""
        rows = group.rows
        if self._corpus_vectors is None or self.route_embed is None or not rows:
            return np.zeros((0, 0), dtype=np.float32)
        if len(rows) > self.route_sample:
            rows = [rows[i] for i in np.linspace(0, len(rows) - 1,
                                                 self.route_sample).astype(int)]
        return np.asarray(self._corpus_vectors[rows], dtype=np.float32)

    def _names(self, phrases: list[str], group: Group) -> Names:
        """The label phrases among a node's candidates (best first, as written; the one
        of most support among the ``first`` leads: :func:`_by_support`), the written
        forms of the candidates that passed, in rank order (the node's keywords), and
        each name's support and F1 against the node's papers (:meth:`_f1_of`). A
        candidate its papers always continue is extended by the word that follows it
        ("central nervous" + "system"), or left out when no one word does; a single word
        is joined with another candidate only as its papers write the pair ("DNA damage
        and repair"). A phrase its papers mostly write as a verb ("to detect", "were
        fed") is no name."""
        texts = self._sample(group)
        seen: dict[str, Surface] = {}
        fits: dict[str, float] = {}
        verbs: set[str] = set()
        for phrase in phrases:
            if not phrase_ok(phrase, ending=False):
                continue
            first = scan(phrase, texts)
            found = extended(first, texts)
            if found.verbal() or first.verbal():
                verbs.add(phrase)
            elif found.papers and not found.continued() and phrase_ok(found.phrase):
                seen.setdefault(phrase, found)
                fits.setdefault(phrase, self._f1_of(found, first, phrase, len(group.rows)))
        forms = list(dict.fromkeys(f.form for f in seen.values()))
        least = max(self.min_support * len(texts), 2.0 if len(texts) >= 10 else 1.0)
        names: dict[str, float] = {}
        scores: dict[str, float] = {}
        for key, found in seen.items():
            name = found.form
            if " " not in found.phrase:
                pair = next((w for w, n in found.pairs.most_common() if n >= least and
                             w in seen and w != found.phrase), None)
                name = f"{name} and {seen[pair].form if shaped(seen[pair].form) else pair}" \
                    if pair else name
            names.setdefault(name, found.support)
            scores.setdefault(name, fits[key])
        return Names(_by_support(names, self.min_support, self.first), forms, names, scores,
                     verbs)

    def _f1_of(self, found: Surface, first: Surface, phrase: str, papers: int) -> float:
        """F1 of a name's papers against its node's (``papers`` of them): the share of the
        node's that have it from the sample, the library's from the candidate's phrase
        counts (``first``, as read in the sample before it was extended to ``found``: an
        extension is in that share of its papers)."""
        column = self._column.get(phrase)
        if column is None or not len(self._df):
            return 0.0
        everywhere = float(self._df[column]) * found.papers / max(first.papers, 1)
        return f1(found.support * papers, papers, everywhere)

    def _sample(self, group: Group) -> Sample:
        """Up to ``sample`` of a group's texts, evenly over its papers, for :func:`scan`."""
        rows = group.rows
        if not rows or not self._texts:
            return prepared(group.titles, group.texts)
        if len(rows) > self.sample:
            rows = [rows[i] for i in np.linspace(0, len(rows) - 1, self.sample).astype(int)]
        return prepared([self._titles[r] for r in rows], [self._texts[r] for r in rows])

    def _candidates(self, score: np.ndarray, count: np.ndarray, columns: np.ndarray,
                    parent_words: set[str]) -> tuple[list[str], np.ndarray]:
        """A node's best phrases by c-TF-IDF, and their relevance (best = 1); ``score`` and
        ``count`` hold the phrases ``columns`` (sorted) of the vocabulary."""
        # Multi-word phrases are more telling; a phrase must occur in the node twice.
        boosted = score * self._boost[columns] * (count >= 2)
        head = self.candidates * 2
        top = self._best(boosted, columns, head)
        best = {str(self._vocab[columns[i]]): float(boosted[i]) for i in top}
        for i in top:  # the phrase's column (its vector, its papers)
            self._column.setdefault(str(self._vocab[columns[i]]), int(columns[i]))
        phrases = [p for p in best if not set(p.split()) <= parent_words]
        phrases = _drop_contained(phrases)[: self.candidates]
        relevance = np.array([best[p] for p in phrases])
        return phrases, relevance / max(relevance.max(initial=0.0), 1e-12)

    def _best(self, boosted: np.ndarray, columns: np.ndarray, head: int) -> np.ndarray:
        """The indexes of the ``head`` best scores (ties to the earlier phrase) whose
        phrases a label may hold (:func:`~.labelrules.phrase_ok` but for their ending:
        no stop word of another language, markup or escape), looking further down while
        too many may not."""
        positive = np.flatnonzero(boosted > 0)
        want = head
        while True:
            pool = positive
            if len(positive) > want:
                cut = -np.partition(-boosted[positive], want - 1)[want - 1]
                pool = positive[boosted[positive] >= cut]
            pool = pool[np.lexsort((pool, -boosted[pool]))]
            fit = np.array([self._fits(int(columns[i])) for i in pool], dtype=bool)
            if fit.sum() >= head or len(pool) == len(positive):
                out: np.ndarray = pool[fit][:head]
                return out
            want *= 4

    def _fits(self, column: int) -> bool:
        """Whether the phrase of a column may be (the start of) a label; cached."""
        ok = self._fits_cache.get(column)
        if ok is None:
            ok = self._fits_cache[column] = phrase_ok(str(self._vocab[column]), ending=False)
        return ok

    def _reranked(self, phrases: list[str], relevance: np.ndarray, group: Group) -> list[str]:
        """Candidates re-ranked by MMR, best first (lower case)."""
        if not phrases:
            return []
        if group.centroid is not None and (self.embed or self._paper_vectors is not None):
            vecs = self._vectors(phrases)
            relevance = 0.5 * relevance + 0.5 * (vecs @ group.centroid)
            similarity = vecs @ vecs.T
        else:
            similarity = _overlap(phrases)
        order = mmr(relevance, similarity, len(phrases), self.diversity)
        return [phrases[i] for i in order]

    def _vectors(self, phrases: list[str]) -> np.ndarray:
        """Normalized vectors of phrases (see ``phrase_vectors``), cached per fit."""
        missing = list(dict.fromkeys(p for p in phrases if p not in self._cache))
        if missing and self.embed is not None:
            found = np.asarray(self.embed(missing))
        elif missing and self._paper_vectors is not None:
            columns = [self._column[p] for p in missing]
            weights = self._by_phrase[columns] if self._by_phrase is not None else \
                self._matrix[:, columns].T
            found = normalize_rows(np.asarray(weights @ self._paper_vectors))
        else:
            found = np.zeros((len(missing), 0), dtype=np.float32)
        for p, v in zip(missing, found, strict=True):
            self._cache[p] = v
        return np.stack([self._cache[p] for p in phrases]) if phrases else found

    def _display(self, phrase: str) -> str:
        words = [self._casing.get(w, w) for w in phrase.split()]
        text = " ".join(words)
        return text[:1].upper() + text[1:]


def _by_support(names: dict[str, float], least: float, first: int) -> list[str]:
    """Names in rank order but for the best ``first``: of these, the first of at least
    ``least`` support leads, else the one of most support (the earlier on a tie)."""
    order = list(names)
    head = order[:first]
    lead = next((n for n in head if names[n] >= least), None)
    if lead is None and head:
        lead = max(head, key=lambda n: names[n])
    return [lead, *(n for n in order if n != lead)] if lead is not None else order


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
    """The usual surface form of words written with capitals inside (LLM, 3D, BERT,
    CXCR4) in the titles, for phrases not read in their papers."""
    counts = Counter(m.group() for m in WORD.finditer("\n".join(titles)))
    wanted = {form.lower() for form in counts if shaped(form)}
    best: dict[str, tuple[int, str]] = {}
    for form, n in counts.items():  # the most frequent form; the first seen on a tie
        low = form.lower()
        if low in wanted and (low not in best or n > best[low][0]):
            best[low] = (n, form)
    return {low: form for low, (_, form) in best.items() if shaped(form)}
