"""Feature stages: what a node's papers are clustered on."""

from __future__ import annotations

import numpy as np

from .base import Featurizer


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.maximum(norms, 1e-12), dtype=np.float32)


class EmbeddingFeatures(Featurizer):
    """The papers' stored embeddings, as they are."""

    def features(self, vectors: np.ndarray, texts: list[str]) -> np.ndarray:
        return normalize_rows(vectors)


class CombinedFeatures(Featurizer):
    """Embeddings beside a latent-semantic (TF-IDF + SVD) view of the node's own words.

    The word view is fit on the node's papers only, so deeper nodes separate on the
    vocabulary that differs inside them. ``text_weight`` scales it against the embedding.
    """

    def __init__(self, text_weight: float = 1.0, dims: int = 100, min_docs: int = 20) -> None:
        self.text_weight = text_weight
        self.dims = dims
        self.min_docs = min_docs

    def features(self, vectors: np.ndarray, texts: list[str]) -> np.ndarray:
        emb = normalize_rows(vectors)
        if self.text_weight <= 0 or len(texts) < self.min_docs:
            return emb
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        try:
            tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2,
                                    max_df=0.5, dtype=np.float32).fit_transform(texts)
        except ValueError:  # no word occurs in two papers
            return emb
        dims = min(self.dims, tfidf.shape[1] - 1, len(texts) - 1)
        if dims < 2:
            return emb
        lsa = TruncatedSVD(dims, random_state=0, algorithm="randomized").fit_transform(tfidf)
        return normalize_rows(np.hstack([emb, self.text_weight * normalize_rows(lsa)]))
