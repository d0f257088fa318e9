"""Choosing sibling labels that lead to their own papers (issue 20, point 5).

A reader walks a topic tree by picking, among sibling labels, the one closest to what they
look for; ``tree eval``'s navigability does the same with a paper's title and the label
embeddings. Of each node's names (real phrases of its papers, :mod:`.labelrules`), the
siblings' labels are chosen together so that a sample of each node's papers is closest,
by the library's embedding, to its own node's label (counted per paper), plus how well
each label's papers are the node's papers (the F1 of the two sets, per paper of the node:
a label that its papers share with the rest of the library finds other papers in a
search). Coordinate ascent from the labels chosen alone, a node at a time, two rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: Weight of one paper's label F1 against one paper led to its node.
FIDELITY_WEIGHT = 1.0
ROUNDS = 2


@dataclass
class Choice:
    """One node's options: its names (the first is its label chosen alone), each name's
    F1 against the node, its papers' vectors (a sample) and how many papers it has."""

    names: list[str]
    f1: dict[str, float]
    vectors: np.ndarray  # sampled papers x dim, normalized
    papers: int


def route(choices: Sequence[Choice], embed: Callable[[list[str]], np.ndarray],
          taken: set[str]) -> list[str]:
    """The label of each node (one of its ``names``; distinct case-folded, none of
    ``taken``): the set that best leads each node's papers to it (see the module doc)."""
    current = [c.names[0] for c in choices]
    if len(choices) < 2 or all(len(c.names) < 2 for c in choices):
        return current
    listed = list(dict.fromkeys(n for c in choices for n in c.names))
    vectors = np.asarray(embed(listed), dtype=np.float32)
    column = {n: i for i, n in enumerate(listed)}
    papers = np.vstack([c.vectors for c in choices])
    sims = papers @ vectors.T  # papers x names
    own = np.concatenate([np.full(len(c.vectors), i) for i, c in enumerate(choices)])
    weight = np.concatenate([np.full(len(c.vectors), c.papers / max(len(c.vectors), 1))
                             for c in choices])

    def score(labels: list[str]) -> float:
        picked = sims[:, [column[n] for n in labels]]
        led = float(weight[np.argmax(picked, axis=1) == own].sum())
        return led + FIDELITY_WEIGHT * sum(c.papers * c.f1.get(n, 0.0)
                                           for c, n in zip(choices, labels, strict=True))

    best = score(current)
    for _ in range(ROUNDS):
        changed = False
        for i, choice in enumerate(choices):
            others = taken | {n.casefold() for j, n in enumerate(current) if j != i}
            for name in choice.names:
                if name == current[i] or name.casefold() in others:
                    continue
                trial = [*current[:i], name, *current[i + 1:]]
                value = score(trial)
                if value > best + 1e-9:
                    best, current, changed = value, trial, True
        if not changed:
            break
    return current


def f1(inside: float, papers: int, everywhere: float) -> float:
    """F1 of a phrase's papers against a node's: ``inside`` of the node's ``papers`` have
    it, ``everywhere`` papers of the library do (at least those inside)."""
    return 2 * inside / max(papers + max(everywhere, inside), 1e-12)
