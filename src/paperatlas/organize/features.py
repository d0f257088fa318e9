"""Feature stages: what a node's papers are clustered on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import ONE_MATRIX_MIN, Corpus, Featurizer, Projection, stop_words
from .phrases import count_phrases


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.maximum(norms, 1e-12), dtype=np.float32)


class EmbeddingFeatures(Featurizer):
    """The papers' stored embeddings, as they are."""

    def features(self, vectors: np.ndarray, texts: Sequence[str],
                 rows: list[int] | None = None) -> np.ndarray:
        return normalize_rows(vectors)


def _word_counts(texts: Sequence[str]) -> Any:
    """A ``docs x words`` sparse count matrix of some papers' texts (stop words left out)."""
    return count_phrases(texts, texts, stop_words=stop_words(), max_words=1, min_df=1,
                         title_weight=0).matrix


def node_tfidf(counts: Any, max_df: float = 0.5) -> Any:
    """Sublinear TF-IDF of one node's count rows, with the node's own document
    frequencies: words in fewer than two of its papers, or more than ``max_df`` of them,
    are dropped; rows are L2-normalized."""
    return _tfidf(counts, *_idf(counts, max_df))


def _idf(counts: Any, max_df: float) -> tuple[np.ndarray, np.ndarray]:
    """The columns :func:`node_tfidf` keeps of these count rows, and their weights."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    keep = np.flatnonzero((df >= 2) & (df <= max_df * n))
    return keep, (np.log((1.0 + n) / (1.0 + df[keep])) + 1.0).astype(np.float32)


def _tfidf(counts: Any, keep: np.ndarray, idf: np.ndarray) -> Any:
    """Sublinear TF-IDF of count rows over the columns ``keep`` weighted ``idf``."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    sub = sparse.csr_matrix(counts[:, keep], dtype=np.float32)
    if not len(keep):
        return sub
    sub.data = 1.0 + np.log(sub.data)
    sub = sub @ sparse.diags(idf)
    return normalize(sub)


class CombinedFeatures(Featurizer):
    """Embeddings beside a latent-semantic (TF-IDF + SVD) view of the node's own words.

    The word view is fit on the node's papers only (document frequencies and SVD), so
    deeper nodes separate on the vocabulary that differs inside them; the words are
    counted once, in :meth:`fit`. ``text_weight`` scales the word view against the
    embedding; the view has ``dims`` dimensions, at most one per ``docs_per_dim`` papers
    (10 at least), so a small node is not described by noise.
    """

    def __init__(self, text_weight: float = 1.0, dims: int = 100, min_docs: int = 20,
                 power_iterations: int = 2, docs_per_dim: int = 5) -> None:
        self.text_weight = text_weight
        self.dims = dims
        self.min_docs = min_docs
        self.power_iterations = power_iterations
        self.docs_per_dim = docs_per_dim
        self._counts: Any = None
        self._columns: np.ndarray | None = None  # the single words' columns of _counts

    def fit(self, corpus: Corpus) -> None:
        self._counts, self._columns = None, None
        if self.text_weight <= 0:
            return
        if len(corpus.ids) >= ONE_MATRIX_MIN and "phrases" in corpus.__dict__:
            # A large corpus's words are read from its phrase matrix, node by node.
            self._counts = corpus.phrases.matrix
            self._columns = np.flatnonzero(corpus.phrases.words == 1)
        else:
            self._counts = corpus.words.matrix

    def features(self, vectors: np.ndarray, texts: Sequence[str],
                 rows: list[int] | None = None) -> np.ndarray:
        return self.sampled(vectors, texts, rows)[0]

    def sampled(self, vectors: np.ndarray, texts: Sequence[str],
                rows: list[int] | None = None) -> tuple[np.ndarray, Projection | None]:
        """The features, and a map of other papers into them: their word view is their
        TF-IDF (with these papers' document frequencies) on these papers' SVD axes."""
        emb = normalize_rows(vectors)
        if self.text_weight <= 0 or len(texts) < self.min_docs:
            return emb, _embeddings
        counts = self._rows(rows) if rows is not None and self._counts is not None else \
            _word_counts(texts)
        keep, idf = _idf(counts, 0.5)
        tfidf = _tfidf(counts, keep, idf)
        del counts
        dims = min(self.dims, tfidf.shape[1] - 1, len(texts) - 1)
        if self.docs_per_dim:
            dims = min(dims, max(10, len(texts) // self.docs_per_dim))
        if dims < 2:
            return emb, _embeddings
        from sklearn.utils.extmath import randomized_svd

        u, sigma, axes = randomized_svd(tfidf, dims, n_iter=self.power_iterations,
                                        random_state=0)
        feats = normalize_rows(np.hstack([emb, self.text_weight * normalize_rows(u * sigma)]))
        if rows is None or self._counts is None:  # words counted here: no other rows
            return feats, None

        def project(more: np.ndarray, more_rows: list[int]) -> np.ndarray:
            words = np.asarray(_tfidf(self._rows(more_rows), keep, idf) @ axes.T)
            return normalize_rows(np.hstack([normalize_rows(more),
                                             self.text_weight * normalize_rows(words)]))

        return feats, project

    def _rows(self, rows: list[int]) -> Any:
        """The word counts of some rows of the fitted corpus."""
        counts = self._counts[rows]
        return counts[:, self._columns] if self._columns is not None else counts


def _embeddings(vectors: np.ndarray, rows: list[int]) -> np.ndarray:
    """The features of papers where they are their embeddings."""
    return normalize_rows(vectors)
