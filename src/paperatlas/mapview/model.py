"""Typed records of the map: its state, what a build did, and a view of its points."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MapInfo:
    """The library's map: how it was fitted and how many papers it shows."""

    method: str
    model: str  # the embedding model of the vectors it projects
    fitted: int  # vectors the projection was fitted on
    points: int  # papers on the map now (fitted + placed since)
    unplaced: int  # papers with a vector but no current point (`map build` places them)
    built_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MapReport:
    """What ``map build`` did: refit the projection, or place new papers on it."""

    method: str
    model: str
    refitted: bool
    placed: int  # points written by this build (every paper when refitted)
    points: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MapTopic:
    """A first-level topic of the tree that colours a map, and its points on this map."""

    id: int
    label: str
    kind: str
    size: int


@dataclass(frozen=True)
class MapPoint:
    """One paper on the map."""

    key: str
    title: str
    x: float
    y: float
    topic: MapTopic | None  # its first-level topic in the colouring tree


@dataclass
class MapView:
    """The points of a map (of one collection), coloured by a tree's first-level topics.

    Points are held as columns (one entry per paper, by paper id), since a map may show
    100,000 of them; :meth:`points` gives them one by one as :class:`MapPoint`.
    ``topic[i]`` indexes ``legend`` (-1: none). The legend lists every first-level topic
    of the tree in the order of its treemap (by size, Unsorted last), so a topic keeps its
    colour whatever collection is shown.
    """

    method: str
    model: str
    collection: str | None
    tree: str | None
    papers: int  # papers in scope, on the map or not
    keys: list[str]
    titles: list[str]
    x: np.ndarray
    y: np.ndarray
    topic: np.ndarray  # int, per point
    legend: list[MapTopic] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def points(self) -> Iterator[MapPoint]:
        for i, key in enumerate(self.keys):
            t = int(self.topic[i])
            yield MapPoint(key, self.titles[i], float(self.x[i]), float(self.y[i]),
                           self.legend[t] if t >= 0 else None)

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        """Columnar JSON: arrays of keys, titles, x, y (rounded) and topic index."""
        return {
            "method": self.method, "model": self.model, "collection": self.collection,
            "tree": self.tree, "papers": self.papers, "count": len(self.keys),
            "topics": [asdict(t) for t in self.legend],
            "keys": self.keys, "titles": self.titles,
            "x": np.round(self.x, digits).tolist(), "y": np.round(self.y, digits).tolist(),
            "topic": self.topic.tolist(),
        }
