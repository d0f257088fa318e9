"""What colours the map: each paper's first-level topic in a tree, computed over arrays (a
tree of 2.5M papers has millions of links)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ..records.trees import UNSORTED

#: ``node id -> (parent, label, kind)``, as ``TreeRepo.heads`` reads a tree.
Heads = Mapping[int, tuple[int | None, str, str]]


def top_nodes(heads: Heads) -> dict[int, int]:
    """``node id -> its first-level ancestor`` (itself at the first level; the root left
    out)."""
    root = next(nid for nid, head in heads.items() if head[0] is None)
    top: dict[int, int] = {}
    for start in heads:
        if start == root:
            continue
        path, nid = [], start
        while nid not in top:
            path.append(nid)
            parent = heads[nid][0]
            if parent == root:
                top[nid] = nid
                break
            assert parent is not None
            nid = parent
        found = top[nid]
        for n in path:
            top[n] = found
    return top


def first_level_arrays(heads: Heads, papers: np.ndarray, nodes: np.ndarray,
                       scores: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The first-level topics in treemap order (by distinct papers below them, descending,
    then id; Unsorted last; empty ones left out), and for each paper with a link (ids
    ascending) the first-level topic of its best link (highest score, then lowest node id).
    ``papers``, ``nodes`` and ``scores`` are the tree's links, row-aligned."""
    top = top_nodes(heads)
    size = max([*heads, int(nodes.max()) if len(nodes) else 0]) + 1
    lookup = np.full(size, -1, dtype=np.int64)
    for nid, head in top.items():
        lookup[nid] = head
    head_of = lookup[np.clip(nodes, 0, size - 1)]
    keep = (nodes >= 0) & (head_of >= 0)
    papers, nodes, scores, head_of = papers[keep], nodes[keep], scores[keep], head_of[keep]
    by_paper = np.lexsort((head_of, papers))  # (sorts, not np.unique: several times faster)
    p, h = papers[by_paper], head_of[by_paper]
    distinct = np.ones(len(p), dtype=bool)  # the first row of each (paper, topic)
    distinct[1:] = (p[1:] != p[:-1]) | (h[1:] != h[:-1])
    members = np.bincount(h[distinct], minlength=size)
    count = {int(t): int(members[t]) for t in np.flatnonzero(members)}
    order = sorted(count, key=lambda t: (heads[t][2] == UNSORTED, -count[t], t))
    best = np.lexsort((nodes, -scores, papers))
    ranked = papers[best]
    first = np.ones(len(ranked), dtype=bool)
    first[1:] = ranked[1:] != ranked[:-1]
    return order, ranked[first], head_of[best][first]


def first_level(heads: Heads, links: Iterable[tuple[int, int, float]],
                ) -> tuple[list[int], dict[int, int]]:
    """:func:`first_level_arrays` of ``(paper id, node id, score)`` links, with ``paper id
    -> first-level topic`` as a dict."""
    rows = np.array(list(links), dtype=np.float64).reshape(-1, 3)
    order, papers, tops = first_level_arrays(heads, rows[:, 0].astype(np.int64),
                                             rows[:, 1].astype(np.int64), rows[:, 2])
    return order, dict(zip(papers.tolist(), tops.tolist(), strict=True))


def topic_index(order: list[int], papers: np.ndarray, tops: np.ndarray,
                wanted: np.ndarray) -> np.ndarray:
    """The index in ``order`` of each of ``wanted``'s first-level topic (-1: none), int16."""
    if not len(papers):
        return np.full(len(wanted), -1, dtype=np.int16)
    position = np.full(int(max(order, default=0)) + 1, -1, dtype=np.int16)
    for i, nid in enumerate(order):
        position[nid] = i
    top = int(max(papers[-1], wanted.max() if len(wanted) else 0))
    if top < 4 * (len(papers) + len(wanted)) + 1_000_000:  # ids are dense: a lookup table
        table = np.full(top + 1, -1, dtype=np.int16)
        table[papers] = position[tops]
        found: np.ndarray = table[wanted]
        return found
    at = np.minimum(np.searchsorted(papers, wanted), len(papers) - 1)
    hit = papers[at] == wanted
    out = np.full(len(wanted), -1, dtype=np.int16)
    out[hit] = position[tops[at[hit]]]
    return out
