"""Decide whether a new record is a paper the library already holds.

Order of evidence: a shared identifier, then the same normalized title, then
a near-identical title (with the same numbers in it) confirmed by the
abstract. Conflicting DOIs or arXiv ids always block a merge, and so do
distinct keys given by one file (the file itself says the two records are
different papers).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from rapidfuzz import fuzz, process

from . import ids as idmod
from .records.papers import Candidate
from .text import block_keys, normalize_text

#: Two normalized titles at least this similar (0-100) may be the same paper.
FUZZY_TITLE = 92.0
#: Without abstracts to compare, a fuzzy title match needs this much.
FUZZY_TITLE_ALONE = 97.0
#: Abstract similarity (0-1) a fuzzy title match needs when both have abstracts.
FUZZY_ABSTRACT = 0.3
#: Below this abstract similarity, even an identical title is a different paper
#: (generic titles such as "Summary" or "Editorial").
EXACT_TITLE_MIN_ABSTRACT = 0.05
#: Abstracts shorter than this are not compared.
MIN_ABSTRACT_CHARS = 100

@dataclass(frozen=True)
class Match:
    """A stored paper the record belongs to, and by which rule."""

    paper_id: int
    rule: str  # "id:<scheme>", "title", "fuzzy-title"
    score: float = 1.0


class CandidateSource(Protocol):
    """What the matcher needs from the store."""

    def by_identifiers(self, ids: dict[str, str]) -> dict[str, list[int]]: ...
    def by_title_keys(self, keys: list[str]) -> list[tuple[int, str]]: ...
    def candidates(self, paper_ids: list[int]) -> list[Candidate]: ...


def match_ids(ids: dict[str, str]) -> dict[str, str]:
    """A record's identifiers as ``scheme -> match value``."""
    out: dict[str, str] = {}
    for scheme, raw in ids.items():
        pair = idmod.normalize(scheme, raw)
        if pair:
            out[scheme] = pair[0]
    return out


def conflicts(record_ids: dict[str, str], candidate: Candidate) -> bool:
    """Whether a DOI or arXiv id of the record differs from the candidate's."""
    for scheme in idmod.CONFLICTING_SCHEMES:
        mine = record_ids.get(scheme)
        theirs = candidate.ids.get(scheme)
        if mine and theirs and mine not in theirs:
            return True
    return False


def _bigrams(text: str) -> set[tuple[str, str]]:
    words = normalize_text(text).split()
    return set(itertools.pairwise(words))


def abstract_similarity(a: str, b: str) -> float | None:
    """Jaccard overlap of word bigrams of two abstracts; None if either is too short."""
    if len(a) < MIN_ABSTRACT_CHARS or len(b) < MIN_ABSTRACT_CHARS:
        return None
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return None
    return len(x & y) / len(x | y)


def numbers(norm_title: str) -> list[str]:
    """The tokens of a title that hold digits ("gpt 4", "part 2", "semeval 2016")."""
    return sorted(t for t in norm_title.split() if any(ch.isdigit() for ch in t))


def title_similarity(a_norm: str, b_norm: str) -> float:
    """Similarity (0-100) of two normalized titles."""
    return float(fuzz.ratio(a_norm, b_norm))


class Matcher:
    """Finds the stored paper a record duplicates, if any."""

    def __init__(self, source: CandidateSource) -> None:
        self.source = source

    def match(self, norm_title: str, abstract: str, record_ids: dict[str, str],
              exclude: Iterable[int] = (), keys: list[str] | None = None) -> Match | None:
        """The best match for a record, skipping papers in ``exclude``; ``keys``: the
        title's :func:`~.text.block_keys`, when the caller has them."""
        skip = set(exclude)
        found = self.source.by_identifiers(record_ids) if record_ids else {}
        for scheme in record_ids:
            hits = [p for p in found.get(scheme, ()) if p not in skip]
            for cand in self.source.candidates(hits):
                if not conflicts(record_ids, cand):
                    return Match(cand.paper_id, f"id:{scheme}")
        if not norm_title:
            return None
        # every paper filed under one of the title's blocking keys (an identical title
        # has the same keys), with the title it was filed under
        titles = [(pid, title) for pid, title in self.source.by_title_keys(
            block_keys(norm_title) if keys is None else keys) if pid not in skip]
        exact = sorted({pid for pid, title in titles if title == norm_title})
        for cand in self.source.candidates(exact):
            sim = abstract_similarity(abstract, cand.abstract)
            if not conflicts(record_ids, cand) and (sim is None or sim >= EXACT_TITLE_MIN_ABSTRACT):
                return Match(cand.paper_id, "title")
        return self._fuzzy(norm_title, abstract, record_ids, titles)

    def _fuzzy(self, norm_title: str, abstract: str, record_ids: dict[str, str],
               titles: list[tuple[int, str]]) -> Match | None:
        if not titles:
            return None
        scores: dict[int, float] = {}
        digits = numbers(norm_title)  # "Llama 2" and "Llama 3" are different papers
        for _, score, i in process.extract(norm_title, [t for _, t in titles],
                                           scorer=fuzz.ratio, score_cutoff=FUZZY_TITLE,
                                           limit=None):
            pid, title = titles[i]
            if numbers(title) == digits and score > scores.get(pid, -1.0):
                scores[pid] = float(score)
        best: Match | None = None
        for cand in self.source.candidates(sorted(scores)):  # abstracts only for close titles
            score = scores[cand.paper_id]
            if conflicts(record_ids, cand):
                continue
            sim = abstract_similarity(abstract, cand.abstract)
            ok = score >= FUZZY_TITLE_ALONE if sim is None else sim >= FUZZY_ABSTRACT
            if ok and (best is None or score > best.score):
                best = Match(cand.paper_id, "fuzzy-title", score)
        return best
