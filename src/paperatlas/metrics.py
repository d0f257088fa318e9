"""Retrieval metrics over ranked lists of keys (pure functions)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at(ranked: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with graded relevance and the exponential gain BEIR uses (via pytrec_eval)."""
    dcg = sum((2 ** relevance.get(key, 0) - 1) / math.log2(i + 2)
              for i, key in enumerate(ranked[:k]))
    ideal = sorted((r for r in relevance.values() if r > 0), reverse=True)[:k]
    idcg = sum((2 ** r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevance: Mapping[str, int], k: int = 100) -> float:
    relevant = {key for key, r in relevance.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def mrr_at(ranked: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    for i, key in enumerate(ranked[:k]):
        if relevance.get(key, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0
