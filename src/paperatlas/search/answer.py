"""Answers without a language model: the best evidence, grouped by paper, or an
abstention when the best is too weak (pure functions over scored sentences).

The cut-offs were chosen on SciFact's train claims (with and without evidence) and on
those claims asked of CSFCube (computer science: a library of another field) by
``bench/ask_evidence.py``; see bench/RESULTS.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..records.evidence import Answer, Citation, Evidence
from ..records.papers import Paper
from .evidence import Scored

#: A best sentence scoring below this means the library does not address the question
#: (the middle of the range that met both goals on the dev claims, 0.300-0.425).
ABSTAIN_BELOW = 0.365
#: Sentences returned at most, and at most per paper.
EVIDENCE = 2
PER_PAPER = 3
#: Sentences shown as the nearest when abstaining.
NEAREST = 3


@dataclass(frozen=True)
class AnswerSettings:
    """How evidence becomes an answer: the abstention threshold and how many sentences
    (in all, and per paper) are returned."""

    abstain_below: float = ABSTAIN_BELOW
    evidence: int = EVIDENCE
    per_paper: int = PER_PAPER


def select(scored: list[Scored], limit: int, per_paper: int) -> list[Scored]:
    """The best ``limit`` sentences (``scored`` is best first), at most ``per_paper``
    from one paper."""
    out: list[Scored] = []
    taken: dict[int, int] = {}
    for s in scored:
        if len(out) >= limit:
            break
        if taken.get(s.paper_id, 0) < per_paper:
            out.append(s)
            taken[s.paper_id] = taken.get(s.paper_id, 0) + 1
    return out


def abstains(scored: list[Scored], settings: AnswerSettings) -> bool:
    """Whether the best sentence's own score is too weak to answer with (or there is
    none)."""
    return not scored or max(s.score for s in scored) < settings.abstain_below


def make_answer(question: str, scored: list[Scored], papers: Mapping[int, Paper],
                settings: AnswerSettings, *, pending: int = 0,
                timings: dict[str, float] | None = None) -> Answer:
    """The answer to ``question`` from its scored sentences (best first); ``papers``
    holds the papers they come from (a paper deleted since is left out)."""
    live = [s for s in scored if s.paper_id in papers]

    def evidence(s: Scored) -> Evidence:
        return Evidence(papers[s.paper_id].key, s.sentence, s.text, s.score, s.cosine,
                        s.lexical, s.paper)

    if abstains(live, settings):
        nearest = [evidence(s) for s in select(live, NEAREST, 1)]
        where = "; ".join(f"{e.key}: {e.text}" for e in nearest[:1])
        message = f"No paper in this library addresses {question!r}" + (
            f"; nearest: {where}" if where else "")
        return Answer(question, True, message, [], [], nearest, pending, timings or {})
    chosen = select(live, settings.evidence, settings.per_paper)
    order: list[int] = []
    for s in chosen:
        if s.paper_id not in order:
            order.append(s.paper_id)
    cited = [Citation(papers[pid].key, papers[pid].title, papers[pid].year,
                      papers[pid].authors, [evidence(s) for s in chosen if s.paper_id == pid])
             for pid in order]
    message = f"{len(chosen)} sentence{'s' if len(chosen) != 1 else ''} from " \
              f"{len(cited)} paper{'s' if len(cited) != 1 else ''}"
    return Answer(question, False, message, [evidence(s) for s in chosen], cited, [],
                  pending, timings or {})
