"""Typed records of the map: its state, what a build did, and a view of its points."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from .serialize import json_field

if TYPE_CHECKING:
    import numpy as np

#: The decimals of a map's coordinates in JSON.
MAP_DIGITS = 4


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


@dataclass(frozen=True)
class MapReport:
    """What ``map build`` did: refit the projection, or place new papers on it."""

    method: str
    model: str
    refitted: bool
    placed: int  # points written by this build (every paper when refitted)
    points: int
    seconds: float
    without_vectors: int = 0  # papers not on the map for want of a vector (`index` makes it)


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
    colour whatever collection is shown. Its JSON is columnar: arrays of keys, titles, x and
    y (rounded to :data:`MAP_DIGITS`) and topic index, with the legend as ``topics``.
    """

    json_computed: ClassVar[tuple[str, ...]] = ("count",)

    method: str
    model: str
    collection: str | None
    tree: str | None
    papers: int  # papers in scope, on the map or not
    keys: list[str] = field(metadata=json_field(last=True))
    titles: list[str] = field(metadata=json_field(last=True))
    x: np.ndarray = field(metadata=json_field(digits=MAP_DIGITS, last=True))
    y: np.ndarray = field(metadata=json_field(digits=MAP_DIGITS, last=True))
    topic: np.ndarray = field(metadata=json_field(last=True))  # int, per point
    legend: list[MapTopic] = field(default_factory=list, metadata=json_field(key="topics"))

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def count(self) -> int:
        """Points on this view."""
        return len(self.keys)

    def points(self) -> Iterator[MapPoint]:
        for i, key in enumerate(self.keys):
            t = int(self.topic[i])
            yield MapPoint(key, self.titles[i], float(self.x[i]), float(self.y[i]),
                           self.legend[t] if t >= 0 else None)


@dataclass
class MapWindow:
    """Points of one part of the map, at most a budget of them, for drawing.

    Every point has a fixed random rank (a seeded hash of its paper id), and a window holds
    the points of the box ``[x0, x1] x [y0, y1]`` lowest in rank, so any window is a uniform
    sample of its part of the map, and a window of a smaller part (a zoom) holds every
    point that the larger one showed there, and more. ``complete``: no point of the box is
    left out. ``x``, ``y`` (float32), ``paper`` (paper ids, uint32) and ``topic`` (int16, an
    index into ``legend``; -1 none) are row-aligned; its JSON leaves them out (they travel
    as binary arrays, see ``web/mapbin.py``).
    """

    json_computed: ClassVar[tuple[str, ...]] = ("count",)

    method: str
    model: str
    collection: str | None
    tree: str | None
    papers: int  # papers in scope, on the map or not
    points: int  # points in scope, on the whole map
    bounds: tuple[float, float, float, float]  # of the whole map: x0, y0, x1, y1
    box: tuple[float, float, float, float]
    budget: int
    complete: bool
    x: np.ndarray = field(metadata=json_field(omit=True))
    y: np.ndarray = field(metadata=json_field(omit=True))
    paper: np.ndarray = field(metadata=json_field(omit=True))
    topic: np.ndarray = field(metadata=json_field(omit=True))
    legend: list[MapTopic] = field(default_factory=list, metadata=json_field(key="topics"))

    @property
    def count(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class MapPaper:
    """What a map shows of the paper under the pointer."""

    id: int
    key: str
    title: str
    year: int | None
    x: float
    y: float


@dataclass(frozen=True)
class MapTree:
    """A tree that can colour the map: its name and the collection it organizes."""

    name: str
    collection: str | None
