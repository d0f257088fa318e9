"""Typed records of evidence: sentences of papers that answer a question (``paperatlas
ask``), a language model's answer written from them with its citations checked, and the
events of an answer streamed as the model writes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

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


#: How a sentence of a model's answer stands with its citations: it cites only evidence
#: the model was given (``cited``), cites nothing (``uncited``), or cites at least one
#: number it was not given (``miscited``).
SentenceStatus: TypeAlias = Literal["cited", "uncited", "miscited"]


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of a model's answer, its citation markers taken out of ``text``:
    ``citations`` are the numbers it cites that were given (``[n]`` is the answer's
    ``evidence[n - 1]``), ``invalid`` those it cites that were not."""

    text: str
    citations: list[int]
    status: SentenceStatus
    invalid: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    """An answer: without a language model, the best evidence grouped by paper, or an
    abstention when even the best is too weak (``nearest`` then holds what came closest).

    ``evidence`` is every returned sentence, best first; ``message`` says in words what
    the library holds ("No paper in this library addresses ...").

    With a model (``model`` names it), ``evidence`` is the numbered evidence it was given
    and ``papers`` their papers; ``sentences`` is its answer, every sentence kept with its
    status (uncited and mis-cited ones flagged, not dropped); ``citation_precision`` is
    the share of its citations that name given evidence (``None``: it cited nothing);
    ``verdict`` its first line (``SUPPORT``, ``CONTRADICT``, ``MIXED``, ``ANSWER``, ``NOT
    ENOUGH EVIDENCE``; ``None`` if it wrote none). ``abstained`` is also true when the
    model found the evidence not enough (its evidence then stays, as it was given).
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
    sentences: list[AnswerSentence] = field(default_factory=list)
    citation_precision: float | None = field(default=None, metadata=json_field(digits=4))
    model: str | None = None
    verdict: str | None = None


@dataclass(frozen=True)
class EvidenceEvent:
    """A streamed answer's first event: the numbered evidence (``[n]`` is
    ``evidence[n - 1]``) and its papers; empty when the library does not address the
    question (the answer event follows at once, and no model is asked)."""

    type: Literal["evidence"] = field(default="evidence", init=False)
    evidence: list[Evidence]
    papers: list[Citation]


@dataclass(frozen=True)
class DeltaEvent:
    """A piece of the model's answer as it writes it (unchecked: the answer event holds
    the checked sentences)."""

    type: Literal["delta"] = field(default="delta", init=False)
    text: str


@dataclass(frozen=True)
class AnswerEvent:
    """A streamed answer's last event: the whole answer, its citations checked."""

    type: Literal["answer"] = field(default="answer", init=False)
    answer: Answer


#: What ``lib.ask.stream`` yields: evidence, then deltas, then the answer.
AskEvent: TypeAlias = EvidenceEvent | DeltaEvent | AnswerEvent
