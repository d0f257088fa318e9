"""The interface of a store of paper vectors, and the small records it speaks in.

Every vector of a library goes in and out through a :class:`VectorStore`: the embedding
job upserts, search and "more like these" search, trees, digests and the map read.
Each paper has a vector of its text (title + abstract) and, when it has an abstract, one
of its title; all vectors of a store come from one model and have one dimension.
Writes run inside the caller's ``store.transaction()``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import PreconditionError


class ModelMismatchError(PreconditionError):
    """The library's vectors were made by another model (or have another dimension) than
    the ones asked for or offered."""


@dataclass(frozen=True)
class VectorRecord:
    """One paper's vectors: of its text, and of its title (None: the text's stands in);
    ``text_hash`` names the text they were made from."""

    paper_id: int
    vector: np.ndarray
    title_vector: np.ndarray | None = None
    text_hash: str = ""


class PaperSet(AbstractSet[int]):
    """An immutable set of paper ids held as a sorted array (a filter's allow-list that
    is kept between searches): membership by binary search, and room for what a vector
    store derives from it (e.g. an ANN's entry bitmap) to be kept with it."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids: np.ndarray = np.unique(np.asarray(ids, dtype=np.int64))
        self.ids.setflags(write=False)
        self._derived: dict[object, Any] = {}

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, int | np.integer):
            return False
        at = int(np.searchsorted(self.ids, item))
        return at < len(self.ids) and int(self.ids[at]) == int(item)

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return len(self.ids)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PaperSet):
            return other is self or np.array_equal(other.ids, self.ids)
        return super().__eq__(other)

    def derived(self, key: object, make: Callable[[np.ndarray], Any]) -> Any:
        """``make(ids)``, computed once for ``key`` and kept with the set."""
        if key not in self._derived:
            self._derived[key] = make(self.ids)
        return self._derived[key]


@dataclass(frozen=True)
class VectorFilter:
    """Which papers a search or an iteration may return; every field given must hold.

    ``papers`` is an explicit allow-list (e.g. what the lexical index matched for an
    author or a category; a :class:`PaperSet` when it is kept between searches);
    ``collection_id`` and the years are the paper's own.
    """

    papers: AbstractSet[int] | None = None
    collection_id: int | None = None
    year_from: int | None = None
    year_to: int | None = None

    @property
    def empty(self) -> bool:
        """Whether it lets every paper through."""
        return self == VectorFilter()


@dataclass(frozen=True)
class VectorBatch:
    """Rows of vectors, row-aligned: paper ids (ascending), text vectors, title vectors
    (the text vector where a paper has none; the text matrix itself when not asked for)
    and text hashes."""

    ids: list[int]
    vectors: np.ndarray
    titles: np.ndarray
    hashes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VectorHit:
    """A paper and its cosine to the query (the better of its two vectors when titles
    count)."""

    paper_id: int
    score: float


@dataclass(frozen=True)
class AnnReport:
    """What bringing a store's search structure (an ANN index) up to date did
    (``entries`` 0: none is kept)."""

    entries: int
    added: int
    stale: int
    rebuilt: bool


class VectorStore(ABC):
    """Paper vectors of one model: write, read, iterate and search them."""

    # -- what is stored ------------------------------------------------------------------
    @abstractmethod
    def models(self) -> list[str]:
        """The models the stored vectors come from (one, or none when empty)."""

    @abstractmethod
    def dimension(self) -> int | None:
        """The length of the stored vectors (None when there are none)."""

    @abstractmethod
    def count(self, filters: VectorFilter | None = None) -> int:
        """How many papers have vectors (that pass ``filters``)."""

    @abstractmethod
    def ids(self, filters: VectorFilter | None = None) -> list[int]:
        """The papers with vectors (that pass ``filters``), ascending."""

    @abstractmethod
    def hashes(self, paper_ids: Sequence[int] | None = None) -> dict[int, tuple[str, str]]:
        """``paper id -> (model, text hash)`` of those of ``paper_ids`` (None: all) that
        have vectors."""

    def check_model(self, model: str) -> None:
        """Raise :class:`ModelMismatchError` when the vectors are another model's."""
        stored = [m for m in self.models() if m != model]
        if stored:
            raise ModelMismatchError(
                f"this library's vectors were made with {stored[0]!r}, not {model!r}; use "
                f"that model, or re-embed everything with `paperatlas index --model {model} "
                "--switch-model`")

    # -- writing -------------------------------------------------------------------------
    @abstractmethod
    def upsert(self, model: str, records: Sequence[VectorRecord]) -> None:
        """Store (or replace) papers' vectors; :class:`ModelMismatchError` when the store
        holds another model's vectors or vectors of another dimension."""

    @abstractmethod
    def delete(self, paper_ids: Iterable[int]) -> int:
        """Remove papers' vectors; how many there were."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every vector (before embedding again with another model)."""

    # -- reading -------------------------------------------------------------------------
    @abstractmethod
    def get(self, paper_ids: Sequence[int], *,
            titles: bool = False) -> dict[int, np.ndarray]:
        """The text vector (or, with ``titles``, the title vector, the text's where there
        is none) of each of ``paper_ids`` that has one (float32)."""

    @abstractmethod
    def iterate(self, filters: VectorFilter | None = None, *, titles: bool = True,
                batch: int = 50_000) -> Iterator[VectorBatch]:
        """Every stored paper (that passes ``filters``) in batches, by paper id."""

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """Up to ``n`` text vectors spread evenly over the papers (by id), as rows."""
        ids = self.ids()
        step = max(len(ids) // max(n, 1), 1)
        chosen = [p for r, p in enumerate(ids, 1) if (r + seed) % step == 0][:n]
        found = self.get(chosen)
        if not found:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack([found[p] for p in chosen if p in found])

    # -- searching -----------------------------------------------------------------------
    @abstractmethod
    def search(self, vector: np.ndarray, k: int, filters: VectorFilter | None = None,
               exclude: Iterable[int] = (), *, titles: bool = True) -> list[VectorHit]:
        """The ``k`` papers nearest to ``vector`` (a unit vector) by exact cosine, best
        first (ties: lower paper id first), among those passing ``filters`` and not in
        ``exclude``. With ``titles`` a paper scores the better of its two vectors."""

    @abstractmethod
    def cosines(self, vector: np.ndarray, paper_ids: Iterable[int], *,
                titles: bool = True) -> dict[int, float]:
        """The exact score :meth:`search` would give each of ``paper_ids`` with vectors."""

    def optimize(self, *, rebuild: bool = False) -> AnnReport:
        """Bring any structure that speeds up :meth:`search` up to date with the vectors
        (built again with ``rebuild``); a store without one reports nothing kept."""
        return AnnReport(0, 0, 0, False)
