"""Typed records of a literature review of a topic (``paperatlas review TREE:NODE``): an
outline of the topic's sub-topics, each with its representative papers and their key
sentences, cited; every cited paper once in the references."""

from __future__ import annotations

from dataclasses import dataclass, field

from .evidence import AnswerSentence, Evidence
from .serialize import json_field


@dataclass(frozen=True)
class ReviewPaper:
    """A representative paper of a section and its key sentences (best first).
    ``closeness`` is the paper's cosine to the section's centroid, as the tree stored it
    (0 for a paper chosen by the fallback)."""

    key: str
    title: str
    year: int | None
    authors: list[str]
    closeness: float = field(metadata=json_field(digits=4))
    evidence: list[Evidence]


@dataclass(frozen=True)
class Section:
    """One sub-topic of the reviewed topic (the topic itself when it has none): its tree
    node, label, size (distinct papers), keywords, the ``question`` its sentences were
    scored against (label and keywords), its papers, and the ``evidence`` in the order it
    was numbered for a language model (``[1]`` is ``evidence[0]``). With a model,
    ``paragraph`` holds the sentences it wrote from that evidence alone, each checked
    (uncited and mis-cited ones kept and flagged by their ``status``), and ``precision``
    the share of its citations that name given evidence (None without a model or without
    citations); ``declined`` says the model found the evidence not enough."""

    id: int
    label: str
    size: int
    keywords: list[str]
    question: str
    papers: list[ReviewPaper]
    evidence: list[Evidence]
    paragraph: list[AnswerSentence] = field(default_factory=list)
    precision: float | None = field(default=None, metadata=json_field(digits=4))
    declined: bool = False


@dataclass(frozen=True)
class Reference:
    """A cited paper as the references list and the BibTeX file name it (``bibkey``: its
    citation key in the BibTeX file, the paper's key where BibTeX allows it)."""

    key: str
    bibkey: str
    title: str
    authors: list[str]
    year: int | None
    venue: str | None
    ids: dict[str, str]
    url: str | None


@dataclass(frozen=True)
class Review:
    """A literature review of the topic ``node`` of tree ``tree``: its label, size,
    keywords and path (labels from the first level down to its parent), one section per
    sub-topic (largest first; ``omitted`` sub-topics left out by the section limit, the
    "unsorted" node never a section), and every cited paper once in ``references`` (in
    order of first citation). ``model`` names the language model that wrote the
    paragraphs (None: no paragraphs); ``precision`` is over all their citations."""

    tree: str
    node: int
    label: str
    size: int
    keywords: list[str]
    description: str
    path: list[str]
    sections: list[Section]
    references: list[Reference]
    omitted: int = 0
    model: str | None = None
    precision: float | None = field(default=None, metadata=json_field(digits=4))
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict, metadata=json_field(digits=1))
