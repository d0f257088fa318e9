"""Combining ranked lists (pure functions).

Two fusions, measured on SciFact train in ``bench/RESULTS.md``:

- ``convex`` (the default): ``alpha * s / s_max + (1 - alpha) * b / b_max``, each
  paper's cosine ``s`` and BM25 score ``b`` divided by the best of its list (a min-max
  normalization with the theoretical minimum 0, "TMM" in Bruch et al. 2023); a paper
  missing from the lexical list has ``b = 0``, and every candidate has its exact ``s``.
- ``rrf``: reciprocal rank fusion, ``sum 1 / (k + rank)`` over the lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum


class Fusion(StrEnum):
    """How hybrid search combines its lexical and semantic lists; the first is the default."""

    CONVEX = "convex"
    RRF = "rrf"


#: The fusion methods' names (the valid values), the default first.
FUSIONS: tuple[str, ...] = tuple(f.value for f in Fusion)
#: The usual reciprocal-rank-fusion constant (Cormack et al. 2009).
RRF_K = 60
#: Weight of the semantic score in the convex combination.
ALPHA = 0.5


def rrf(rankings: Sequence[Sequence[tuple[int, float]]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of ``(id, score)`` lists; returns ``(id, fused)`` best first."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (pid, _) in enumerate(ranking, 1):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (k + rank)
    return _ordered(fused)


def convex(lexical: Sequence[tuple[int, float]], semantic: Mapping[int, float],
           alpha: float = ALPHA) -> list[tuple[int, float]]:
    """Convex combination of max-normalized scores over the union of both lists.

    ``lexical`` is ``(id, bm25)`` best first; ``semantic`` maps every candidate (those of
    both lists) to its cosine.
    """
    b_max = max((score for _, score in lexical), default=0.0) or 1.0
    s_max = max(semantic.values(), default=0.0) or 1.0
    bm25 = dict(lexical)
    ids = set(bm25) | set(semantic)
    fused = {pid: alpha * semantic.get(pid, 0.0) / s_max
             + (1 - alpha) * bm25.get(pid, 0.0) / b_max for pid in ids}
    return _ordered(fused)


def _ordered(fused: Mapping[int, float]) -> list[tuple[int, float]]:
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
