"""Typed records of evidence: sentences of papers that answer a question (``paperatlas
ask``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .serialize import json_field


@dataclass(frozen=True)
class Evidence:
    """One sentence of a paper's abstract as evidence: ``sentence`` is its index among the
    abstract's sentences, ``text`` the sentence itself; ``score`` combines its closeness
    to the question in meaning (``cosine``) and in words (``lexical``, 0-1); ``paper`` is
    its paper's retrieval score relative to the best paper's (evidence is ordered by
    ``score`` plus that, weighted)."""

    key: str
    sentence: int
    text: str
    score: float = field(metadata=json_field(digits=4))
    cosine: float = field(metadata=json_field(digits=4))
    lexical: float = field(metadata=json_field(digits=4))
    paper: float = field(default=0.0, metadata=json_field(digits=4))


@dataclass(frozen=True)
class Citation:
    """A paper cited by an answer, and its evidence sentences (best first)."""

    key: str
    title: str
    year: int | None
    authors: list[str]
    evidence: list[Evidence]


@dataclass(frozen=True)
class Answer:
    """An answer without a language model: the best evidence grouped by paper, or an
    abstention when even the best is too weak (``nearest`` then holds what came closest).

    ``evidence`` is every returned sentence, best first; ``message`` says in words what
    the library holds ("No paper in this library addresses ...").
    """

    question: str
    abstained: bool
    message: str
    evidence: list[Evidence]
    papers: list[Citation]
    nearest: list[Evidence] = field(default_factory=list)
    #: Papers changed since the sentences were last indexed (they take no part).
    pending: int = 0
    timings: dict[str, float] = field(default_factory=dict, metadata=json_field(digits=1))
