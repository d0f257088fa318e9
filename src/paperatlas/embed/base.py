"""The embedding stage: a tiny base class, so any model can be passed in."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class Embedder(ABC):
    """Turns texts into L2-normalized float32 vectors of one fixed dimension."""

    #: A stable identifier of the model (recorded with the vectors it made).
    name: str
    dim: int

    @abstractmethod
    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        """Vectors for ``texts``; ``kind`` is ``"query"`` or ``"passage"``."""


def paper_text(title: str, abstract: str) -> str:
    """What is embedded for a paper: its title, then its abstract; the abstract alone when
    it starts with the title (an untitled record whose first words stand in as title)."""
    if not abstract:
        return title
    if title_in_abstract(title, abstract):
        return abstract
    return f"{title}. {abstract}"


def title_in_abstract(title: str, abstract: str) -> bool:
    """Whether ``abstract`` begins with ``title`` (spacing and case aside)."""
    words = title.split()
    if not words:
        return False
    return " ".join(abstract.split(maxsplit=len(words))[: len(words)]).lower() == \
        " ".join(words).lower()
