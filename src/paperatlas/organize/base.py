"""The swappable stages of tree building, each behind a tiny base class.

build = features (vectors of a node's papers) -> cluster (split them into children) ->
label (name each group of siblings) -> assign (link every paper to its leaves). Pass a
different object to :class:`~paperatlas.organize.builder.TreeBuilder` to swap a stage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import overload

import numpy as np

from .parallel import release_memory
from .phrases import PhraseCounts, Tokens, count_tokens, phrase_min_df, tokenize

#: Words that say nothing about a topic in a paper abstract.
ACADEMIC_STOPWORDS = frozenset("""
paper papers propose proposed proposes present presents presented approach approaches method
methods methodology result results show shows shown demonstrate demonstrates novel new based
using use used uses study studies work works task tasks model models existing state art
performance experiments experimental extensive significantly significant outperforms achieve
achieves achieved improve improves improved improvement effective effectively efficient
framework frameworks introduce introduces introduced address addresses problem problems data
able including include includes various different specific furthermore moreover however recent
recently key large code available github com https http www et al also well first two three one
new way make makes made provide provides provided paradigm benchmark benchmarks evaluation
evaluate evaluated analysis findings research researchers aim aims significantly purpose
objective objectives plays play played critical role roles develop developed important
potential main characteristics associated high higher low lower increased decreased suggest
suggests suggesting reveal reveals revealed investigate investigated observed found
""".split())  # noqa: SIM905


#: From this many papers on, the stages read the corpus's one phrase matrix: no transposed
#: copy of it for the labeler, no copy of its single words for the features.
ONE_MATRIX_MIN = 150_000


@cache
def stop_words() -> frozenset[str]:
    """English stop words (scikit-learn's list) and :data:`ACADEMIC_STOPWORDS`: the words
    that break counted phrases and are no features. (The stop words of other languages
    are left out of labels only, :mod:`.labelrules`: as breaks they would change the
    features, and so the trees, of English texts.)"""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | ACADEMIC_STOPWORDS


@dataclass
class Corpus:
    """The papers a tree is built over: ids, normalized embeddings and texts, row-aligned."""

    ids: list[int]
    vectors: np.ndarray
    titles: list[str]  # "" where a record had none (its first words stood in)
    texts: list[str]  # title + abstract
    #: Reads the tokens of ``titles`` and ``texts`` from a cache, when one is up to date
    #: (None otherwise: they are tokenized here); see :mod:`.tokencache`.
    token_cache: Callable[[], Tokens | None] | None = field(default=None, repr=False,
                                                            compare=False)

    def __post_init__(self) -> None:
        self.row = {pid: i for i, pid in enumerate(self.ids)}

    def rows(self, paper_ids: object) -> list[int]:
        return [self.row[p] for p in paper_ids if p in self.row]  # type: ignore[attr-defined]

    @cached_property
    def tokens(self) -> Tokens:
        """The tokens of every title and text, read once for every count below."""
        cached = self.token_cache() if self.token_cache is not None else None
        return cached if cached is not None else tokenize(self.titles, self.texts)

    @cached_property
    def phrases(self) -> PhraseCounts:
        """Counts of 1-3 word phrases per paper (titles count three times), counted once
        for every stage; phrases of fewer than :func:`~.phrases.phrase_min_df` papers are
        left out (two below 150,000 papers; one, in a corpus of fewer than four). The
        tokens are handed to the counting, which lets them go once it has copied them in
        chunks (nothing else reads them)."""
        tokens = self.tokens
        del self.__dict__["tokens"]
        counts = count_tokens(tokens, stop_words=stop_words(), max_words=3,
                              min_df=phrase_min_df(len(self.ids)), release=True)
        release_memory()
        return counts

    @cached_property
    def words(self) -> PhraseCounts:
        """The single words of :attr:`phrases` (counted alone when those are not yet)."""
        return self.phrases.unigrams() if "phrases" in self.__dict__ else self.count(1)

    def count(self, max_words: int) -> PhraseCounts:
        """Counts of the phrases of up to ``max_words`` words (as :attr:`phrases`)."""
        return count_tokens(self.tokens, stop_words=stop_words(), max_words=max_words,
                            min_df=phrase_min_df(len(self.ids)))


class TextView(Sequence[str]):
    """Texts written or looked up when read, one at a time (no list of them is made)."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def text(self, i: int) -> str:
        """Text ``i`` (``0 <= i < len(self)``)."""

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self.text(j) for j in range(*i.indices(len(self)))]
        at = i + len(self) if i < 0 else i
        if not 0 <= at < len(self):
            raise IndexError(i)
        return self.text(at)


@dataclass
class Group:
    """What a labeler sees of one node: its papers' texts, representative ones first."""

    node_id: int
    titles: list[str]
    texts: list[str]  # title + abstract, same order as ``titles``
    keywords: list[str] = field(default_factory=list)  # filled by the keyword labeler
    rows: list[int] = field(default_factory=list)  # its papers' rows in the labeler's fit
    centroid: np.ndarray | None = None  # normalized mean embedding of its papers


@dataclass
class NodeLabel:
    """A node's name (2-6 words), keywords and an optional one-sentence description."""

    label: str
    keywords: list[str] = field(default_factory=list)
    description: str = ""
    #: Other names the labeler found fit, best first (a tree's duplicate takes one).
    alternatives: list[str] = field(default_factory=list)


#: Maps more papers (their normalized embeddings, their rows in the last fit) into the
#: feature space of a :meth:`Featurizer.sampled` call.
Projection = Callable[[np.ndarray, list[int]], np.ndarray]


class Featurizer(ABC):
    """Turns a node's papers into the vectors its split is computed on."""

    def fit(self, corpus: Corpus) -> None:  # noqa: B027 (optional hook)
        """See every paper of the tree once (``features`` ``rows`` index ``corpus``)."""

    @abstractmethod
    def features(self, vectors: np.ndarray, texts: Sequence[str],
                 rows: list[int] | None = None) -> np.ndarray:
        """Rows of L2-normalized features, one per paper (``vectors`` are normalized
        embeddings, ``texts`` the papers' titles and abstracts, ``rows`` their rows in
        the last :meth:`fit`, when there was one)."""

    def sampled(self, vectors: np.ndarray, texts: Sequence[str],
                rows: list[int] | None = None) -> tuple[np.ndarray, Projection | None]:
        """:meth:`features` of a sample of a node's papers, and how to map its other
        papers into the same space (None where this featurizer cannot: they are then
        placed by their embeddings)."""
        return self.features(vectors, texts, rows), None


class Clusterer(ABC):
    """Splits a node's papers into children, choosing how many from the data."""

    @abstractmethod
    def split(self, features: np.ndarray, *, max_children: int, min_size: int,
              seed: int) -> np.ndarray:
        """A cluster number per row (0..k-1); a single cluster means "do not split"."""


class Labeler(ABC):
    """Names sibling nodes together, so that their names differ."""

    #: Whether :meth:`label` may run in a forked worker process (no network connections,
    #: no model with threads of its own); subtrees are then named in parallel.
    forkable: bool = False

    def fit(self, corpus: Corpus) -> None:  # noqa: B027 (optional hook)
        """See every paper of the tree once before naming (``Group.rows`` index ``corpus``)."""

    @abstractmethod
    def label(self, groups: list[Group], *, parent: str = "") -> list[NodeLabel]:
        """One :class:`NodeLabel` per group, in order; ``parent`` is the parent's label."""
