"""The swappable stages of tree building, each behind a tiny base class.

build = features (vectors of a node's papers) -> cluster (split them into children) ->
label (name each group of siblings) -> assign (link every paper to its leaves). Pass a
different object to :class:`~paperatlas.organize.builder.TreeBuilder` to swap a stage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


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


class Featurizer(ABC):
    """Turns a node's papers into the vectors its split is computed on."""

    @abstractmethod
    def features(self, vectors: np.ndarray, texts: list[str]) -> np.ndarray:
        """Rows of L2-normalized features, one per paper (``vectors`` are normalized
        embeddings, ``texts`` the papers' titles and abstracts)."""


class Clusterer(ABC):
    """Splits a node's papers into children, choosing how many from the data."""

    @abstractmethod
    def split(self, features: np.ndarray, *, max_children: int, min_size: int,
              seed: int) -> np.ndarray:
        """A cluster number per row (0..k-1); a single cluster means "do not split"."""


class Labeler(ABC):
    """Names sibling nodes together, so that their names differ."""

    def fit(self, titles: list[str], texts: list[str]) -> None:  # noqa: B027 (optional hook)
        """See every paper of the tree once before naming (``Group.rows`` index these)."""

    @abstractmethod
    def label(self, groups: list[Group], *, parent: str = "") -> list[NodeLabel]:
        """One :class:`NodeLabel` per group, in order; ``parent`` is the parent's label."""
