"""Honest result pages: whether the best result is a real match, how many papers have the
query's words, and a spelling suggestion when a word is unknown.

**Strength** of a ranking, per mode (the scores of the modes are not comparable):

- lexical: the best BM25 score over the query's ideal (:func:`.lexical_query.ideal_of`:
  a paper with each word once), so a query of words the library lacks, or whose best
  paper has few of them, scores low whatever the library's size;
- semantic: the best cosine between the query and a paper;
- hybrid: :data:`~.fusion.ALPHA` of the best cosine plus the rest of the lexical strength
  (capped at 1): the convex fusion's own weights, on the raw scores rather than on
  scores divided by the best of their list (which make every top result 1.0).

A page is **weak** when its strength is below the mode's threshold in
:data:`THRESHOLDS` and the query is not the name of one of its first paper's authors
(a name matches with the weight of a short field, whose scores the text's ideal does
not describe), chosen on SciFact train and NFCorpus dev (``bench/weak_threshold.py``;
``bench/RESULTS.md``, "Issue 20: honest search") for the default model
(all-MiniLM-L6-v2): another model's cosines differ, and its semantic and hybrid
thresholds should be chosen again with that script.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..authors import author_key, fold
from .fusion import ALPHA
from .lexical import LexicalHits, LexicalIndex
from .query import Mode, terms
from .results import SearchPage
from .suggest import suggest

#: The strength under which a page is weak, by mode (``bench/weak_threshold.py``).
THRESHOLDS: dict[str, float] = {Mode.LEXICAL: 0.67, Mode.SEMANTIC: 0.51, Mode.HYBRID: 0.6}
#: A query word in at most this many papers makes a spelling suggestion worth looking for.
RARE = 2


@dataclass(frozen=True)
class Ranked:
    """A ranking before its papers are read: the page's ``(paper id, score)``, how many
    papers it ranks, and what says how good it is (the lexical half's hits, the best
    cosine of the semantic half)."""

    hits: list[tuple[int, float]]
    total: int
    lexical: LexicalHits | None = None
    cosine: float | None = None
    #: A list with no words (an empty query with a filter): never weak.
    browsing: bool = False


def strength(mode: str, lexical: LexicalHits | None, cosine: float | None) -> float:
    """How good the best result of a ranking is, on the mode's scale (see the module)."""
    lex = lexical.top / lexical.ideal if lexical is not None and lexical.ideal > 0 else 0.0
    if mode == Mode.LEXICAL:
        return lex
    if mode == Mode.SEMANTIC:
        return cosine or 0.0
    return ALPHA * (cosine or 0.0) + (1 - ALPHA) * min(lex, 1.0)


def is_weak(mode: str, value: float) -> bool:
    """Whether a ranking of that strength has no real match (``THRESHOLDS``)."""
    return value < THRESHOLDS[mode]


def names_author(query: str, authors: list[str]) -> bool:
    """Whether ``query`` names one of ``authors``: every word of it in one author's name
    (accents folded), or, for two words or more, the same author key."""
    words = set(terms(fold(query)))
    key = author_key(query) if len(words) > 1 else ""
    return bool(words) and any(words <= set(terms(fold(a))) or (key and author_key(a) == key)
                               for a in authors)


def judge(page: SearchPage, ranked: Ranked, index: LexicalIndex) -> None:
    """Fill ``page``'s ``matched``, ``strength``, ``weak`` and ``suggestion`` (its hits
    read already): the suggestion is looked for only when the page is weak or a word is
    rare (a normal query pays for none of it)."""
    if ranked.lexical is not None:
        page.matched = ranked.lexical.total
    if ranked.browsing:
        page.matched = ranked.total
        return
    if not terms(page.query):
        return
    page.strength = round(strength(page.mode, ranked.lexical, ranked.cosine), 4)
    page.weak = bool(page.hits) and is_weak(page.mode, page.strength) and not names_author(
        page.query, page.hits[0].authors)
    rare = ranked.lexical is None or ranked.lexical.rarest <= RARE
    if page.weak or rare:
        page.suggestion = suggest(index, page.query)
