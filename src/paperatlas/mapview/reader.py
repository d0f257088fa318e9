"""Reading the map for drawing: windows of its point file and the paper under the pointer.

A server process maps the point file (:mod:`.pointfile`) and keeps, per version of it, a
mask of each collection's rows and each tree's first-level topic per row (a few bytes a
point, computed on first use and kept while the file, the collection's papers or the tree
are unchanged). It never holds the points as Python objects: a 2.5M-point map costs the
server about 30 MB of page cache plus a few MB per collection and tree shown.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InvalidOptionError, NotFoundError, PreconditionError
from ..records.maps import MapPaper, MapTopic, MapWindow
from ..store import Store
from ..treeview import display_label
from . import colours, pointfile
from .pointfile import PointFile
from .topics import Heads, first_level_arrays, topic_index

#: Masks and topic arrays kept per process (the least recently used go first).
KEPT = 8
#: The most points one window may hold.
MAX_BUDGET = 1_000_000
#: Papers a map of a library without its point file is too big to draw from SQL.
NO_FILE = ("this library's map has no point file yet (maps built before this version): run "
           "`paperatlas map build`")


class MapReader:
    """Windows of the map and the paper under the pointer, from the point file in
    ``folder``."""

    def __init__(self, store: Store, folder: Path | None) -> None:
        self.store = store
        self.folder = folder
        self._lock = threading.Lock()
        self._file: tuple[tuple[int, int, int] | None, PointFile | None] = (None, None)
        self._kept: OrderedDict[tuple[object, ...], object] = OrderedDict()
        self._making: dict[tuple[object, ...], threading.Lock] = {}

    def points(self) -> PointFile:
        """The current point file (mapped again when a build has replaced it)."""
        if self.folder is None:
            raise PreconditionError(NO_FILE)
        now = pointfile.version(self.folder)
        with self._lock:
            if now is None or now != self._file[0] or self._file[1] is None:
                self._file = (now, None if now is None else pointfile.load(self.folder))
                self._kept.clear()
            found = self._file[1]
        if found is None:
            raise PreconditionError(NO_FILE)
        return found

    def prepare(self, *, collection: str | None, tree: str | None) -> None:
        """Compute what windows of this collection and tree need (the file mapped, the
        collection's mask, the tree's topic per point) before the first one asks."""
        points = self.points()
        collection_id = self.store.collections.require(collection)
        if collection_id is not None:
            self._scope(points, collection_id)
        if tree:
            self._topics(points, tree)

    def window(self, *, collection: str | None, tree: str | None,
               box: tuple[float, float, float, float] | None, budget: int) -> MapWindow:
        """At most ``budget`` points of ``box`` (None: the whole map), lowest in rank."""
        if not 1 <= budget <= MAX_BUDGET:
            raise InvalidOptionError("budget", str(budget), [f"1 to {MAX_BUDGET:,}"])
        if box is not None and (box[0] > box[2] or box[1] > box[3]):
            raise InvalidOptionError("box", ",".join(map(str, box)),
                                     ["x0,y0,x1,y1 with x0 <= x1 and y0 <= y1"])
        points = self.points()
        collection_id = self.store.collections.require(collection)
        mask = None if collection_id is None else self._scope(points, collection_id)
        legend, topic = self._topics(points, tree) if tree else ([], None)
        meta = points.meta
        rows, complete = pointfile.window(points, box or meta.bounds, budget, mask)
        if topic is not None:
            inside = topic if mask is None else topic[mask]
            counts = np.bincount(inside[inside >= 0], minlength=len(legend))
            legend = [MapTopic(t.id, t.label, t.kind, int(n))
                      for t, n in zip(legend, counts, strict=True)]
        return MapWindow(
            method=meta.method, model=meta.model, collection=collection, tree=tree,
            papers=self.store.maps.scope_size(collection_id),
            points=meta.rows if mask is None else int(mask.sum()), bounds=meta.bounds,
            box=box or meta.bounds, budget=budget, complete=complete,
            x=np.asarray(points.x[rows]), y=np.asarray(points.y[rows]),
            paper=np.asarray(points.paper[rows]),
            topic=(np.full(len(rows), -1, dtype=np.int16) if topic is None else topic[rows]),
            legend=legend)

    def paper(self, paper_id: int) -> MapPaper:
        """A paper on the map: key, title, year and point."""
        found = self.store.maps.brief(paper_id)
        xy = self.store.maps.xy_of([paper_id]).get(paper_id)
        if found is None or xy is None:
            raise NotFoundError(f"no paper with id {paper_id} on the map")
        return MapPaper(paper_id, found[0], found[1], found[2], xy[0], xy[1])

    def nearest(self, x: float, y: float, collection: str | None) -> MapPaper:
        """The paper whose point is nearest to ``(x, y)`` (of a collection)."""
        points = self.points()
        collection_id = self.store.collections.require(collection)
        mask = None if collection_id is None else self._scope(points, collection_id)
        row = pointfile.nearest(points, x, y, mask)
        if row is None:
            raise NotFoundError("no paper on this map" + (
                f" in collection {collection!r}" if collection else ""))
        return self.paper(int(points.paper[row]))

    # -- kept per version of the file ------------------------------------------------------
    def _scope(self, points: PointFile, collection_id: int) -> np.ndarray:
        """A row mask of the collection's points."""
        key = (points.meta.stem, "collection", collection_id, self.store.maps.change_head())
        found = self._kept_or(key, lambda: np.isin(
            points.paper, self.store.maps.collection_ids(collection_id)))
        assert isinstance(found, np.ndarray)
        return found

    def _topics(self, points: PointFile, tree: str,
                ) -> tuple[list[MapTopic], np.ndarray]:
        """The tree's first-level topics (sizes 0) and each row's index among them."""
        tree_id = tree_id_of(self.store, tree)
        now = self.store.maps.tree_version(tree_id)
        key = (points.meta.stem, "tree", tree_id, now)

        def make() -> tuple[list[MapTopic], np.ndarray]:
            heads = self.store.trees.heads(tree)
            stored = None if self.folder is None else colours.read(
                self.folder, points.meta.stem, tree_id)
            if stored is not None and usable(self.store, stored, points.meta.rows, tree_id,
                                             heads, now)[0]:
                return legend_of(heads, stored.order), stored.topic  # as `map build` left them
            order, topic = tree_colours(self.store, tree_id, heads, np.asarray(points.paper))
            return legend_of(heads, order), topic

        found = self._kept_or(key, make)
        assert isinstance(found, tuple)
        return found

    def _kept_or(self, key: tuple[object, ...], make: Callable[[], object]) -> object:
        """The value kept under ``key``, else ``make()``'s, kept (made once: a second
        thread asking meanwhile waits for the first)."""
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._kept:
                    return self._kept[key]
            value = make()
            with self._lock:
                self._kept[key] = value
                while len(self._kept) > KEPT:
                    self._kept.popitem(last=False)
                self._making.pop(key, None)
        return value


def tree_id_of(store: Store, tree: str) -> int:
    """The id of a tree by name, else :class:`NotFoundError` naming the trees there are."""
    tree_id = store.trees.id_for(tree)
    if tree_id is None:
        known = [t.name for t in store.trees.all()]
        raise NotFoundError(f"no tree named {tree!r}" +
                            (f"; trees: {', '.join(known)}" if known else ""))
    return tree_id


def tree_colours(store: Store, tree_id: int, heads: Heads,
                 papers: np.ndarray) -> tuple[list[int], np.ndarray]:
    """The tree's first-level topics (node ids, treemap order) and, for each of ``papers``,
    the index of its first-level topic among them (-1: none)."""
    order, linked, tops = first_level_arrays(heads, *store.maps.link_arrays(tree_id))
    return order, topic_index(order, linked, tops, papers)


def legend_of(heads: Heads, order: list[int]) -> list[MapTopic]:
    """The legend of first-level topics ``order`` (sizes 0)."""
    return [MapTopic(nid, display_label(heads[nid][1], heads[nid][2], nid), heads[nid][2], 0)
            for nid in order]


def usable(store: Store, stored: colours.Colours | None, rows: int, tree_id: int, heads: Heads,
           now: str) -> tuple[bool, str | None]:
    """Whether ``stored`` colours (of a point file of ``rows``) hold for the tree as it is
    (version ``now``); and its fingerprint, where that had to be computed."""
    if stored is None or len(stored.topic) != rows or any(n not in heads for n in stored.order):
        return False, None
    if stored.version == now:
        return True, None
    found = colours.fingerprint(store.maps.link_fingerprint(tree_id), heads)
    return found == stored.fingerprint, found
