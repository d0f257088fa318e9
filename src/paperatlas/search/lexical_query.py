"""Parts of a lexical query besides the text's words: a query that is an author's name,
the author filter, and how strong a match could be (for :mod:`.honest`).

**Author names as a query.** A query of at most :data:`NAME_WORDS` words that are all in
one paper's author names (``Gotlieb``, ``Yann LeCun``, ``Karagoz``) also scores that
paper: every word must be in its names, so a topical query is untouched unless each of
its words is a name of one paper's authors, and the clause weighs
:data:`NAME_WEIGHT` of the same words in the text.

**The author filter** (``author=``): an author key (``smith.j``, see
:mod:`paperatlas.authors`) or a name of two words or more matches the papers of that key
(``J. Smith``, ``Smith, John``, ``John Smith`` alike); one word matches any author with
that name word (``Gotlieb``, ``Karagöz`` as ``Karagoz``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import tantivy

from ..authors import author_key, is_key

#: Queries of up to this many words are also tried as an author's name.
NAME_WORDS = 5
#: An author-name match weighs this much of the same words' match in the text (the
#: text holds titles twice: a surname that is also a topical word ranks its topical
#: papers first).
NAME_WEIGHT = 0.5


def idf(docs: int, doc_freq: int) -> float:
    """BM25's inverse document frequency as tantivy computes it (tantivy counts deleted
    papers not yet merged away in both; here ``docs`` are the live ones, so a document
    frequency above them is taken as all of them)."""
    doc_freq = min(doc_freq, docs)
    return math.log(1.0 + (docs - doc_freq + 0.5) / (doc_freq + 0.5))


@dataclass(frozen=True)
class NameMatch:
    """The query's words as an author's name: each word's papers per shard
    (``freqs[shard][i]``) when every word is some author's, else none."""

    names: list[str]
    freqs: list[list[int]]
    docs: list[int]

    @classmethod
    def of(cls, freqs: list[list[int]], names: list[str], docs: list[int]) -> NameMatch:
        every = bool(names) and all(sum(f[i] for f in freqs) for i in range(len(names)))
        return cls(names if every else [], freqs if every else [], docs)

    @property
    def whole(self) -> list[float]:
        """Each word's inverse document frequency among the authors of the library."""
        n = sum(self.docs)
        return [idf(n, sum(f[i] for f in self.freqs)) for i in range(len(self.names))]

    def clause(self, schema: Any, shard: int) -> Any | None:
        """The shard's query for papers whose authors have every word (None: no paper
        of the shard can match), each word weighed by the library's frequency."""
        if not self.names or not all(self.freqs[shard]):
            return None
        whole = self.whole
        return tantivy.Query.boolean_query([
            (tantivy.Occur.Must, tantivy.Query.boost_query(
                tantivy.Query.term_query(schema, "author", word),
                NAME_WEIGHT * whole[i] / idf(self.docs[shard], self.freqs[shard][i])))
            for i, word in enumerate(self.names)])


def ideal_of(whole: list[float], doc_freqs: list[int], names: NameMatch) -> tuple[float, int]:
    """``(ideal, rarest)`` of a query: the score of a paper that has each word once as
    text (the words' inverse document frequencies summed, those of words the library
    lacks included), or as its authors' names when that is less; and the fewest papers
    any word is in (as text, or as a name when the query is one)."""
    ideal = sum(whole)
    rarest = min(doc_freqs, default=0)
    if names.names:
        by_name = NAME_WEIGHT * sum(names.whole)
        ideal = min(ideal, by_name) if whole else by_name
        rarest = max(rarest, min(sum(f[i] for f in names.freqs)
                                 for i in range(len(names.names))))
    return ideal, rarest


def author_filter(schema: Any, text: str, words: list[str]) -> Any | None:
    """The query the ``author`` filter adds (see the module), or None for no name."""
    text = text.strip()
    if is_key(text):
        return tantivy.Query.term_query(schema, "akey", text)
    if len(words) > 1:
        key = author_key(text)
        return tantivy.Query.term_query(schema, "akey", key) if key else None
    return tantivy.Query.term_query(schema, "author", words[0]) if words else None
