"""Combining ranked lists (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

#: The usual reciprocal-rank-fusion constant (Cormack et al. 2009).
RRF_K = 60


def rrf(rankings: Sequence[Sequence[tuple[int, float]]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of ``(id, score)`` lists; returns ``(id, fused)`` best first."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (pid, _) in enumerate(ranking, 1):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def minmax(ranking: Sequence[tuple[int, float]]) -> dict[int, float]:
    if not ranking:
        return {}
    scores = [s for _, s in ranking]
    lo, hi = min(scores), max(scores)
    span = hi - lo
    return {pid: (s - lo) / span if span else 1.0 for pid, s in ranking}


def weighted(lexical: Sequence[tuple[int, float]], semantic: Sequence[tuple[int, float]],
             alpha: float = 0.5) -> list[tuple[int, float]]:
    """Min-max normalized scores, ``alpha * semantic + (1 - alpha) * lexical``."""
    lex, sem = minmax(lexical), minmax(semantic)
    ids = set(lex) | set(sem)
    fused = {pid: alpha * sem.get(pid, 0.0) + (1 - alpha) * lex.get(pid, 0.0) for pid in ids}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
