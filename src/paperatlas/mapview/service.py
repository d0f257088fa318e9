"""MapService: fits the library's 2-D map once, places new papers on it, and reads it."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import numpy as np

from ..errors import NotFoundError, PreconditionError
from ..records.maps import MapInfo, MapReport, MapTopic, MapView
from ..records.trees import UNSORTED
from ..store import Store, utcnow
from ..treeview import display_label
from ..vectors import VectorFilter, VectorStore
from .projection import METHODS, VERSION, Projection, check_method, fit, place

#: ``node id -> (parent, label, kind)``, as ``TreeRepo.heads`` reads a tree.
Heads = Mapping[int, tuple[int | None, str, str]]


class MapService:
    """The map of one library: one point per paper with a vector, from one fitted
    projection of those vectors (see :mod:`.projection`)."""

    def __init__(self, store: Store, vectors: VectorStore) -> None:
        self.store = store
        self.vectors = vectors

    def info(self) -> MapInfo | None:
        """The map's state, or None before the first ``map build``."""
        state = self.store.maps.state()
        if state is None:
            return None
        return MapInfo(method=state["method"], model=state["model"], fitted=state["fitted"],
                       points=self.store.maps.count(), unplaced=self.store.maps.unplaced(),
                       built_at=state["built_at"], updated_at=state["updated_at"])

    def build(self, *, method: str | None = None, rebuild: bool = False,
              seed: int = 0) -> MapReport:
        """Fit the map (the first time, on ``rebuild``, or for another method or model),
        else place the papers that are new or whose text changed; one transaction."""
        start = time.perf_counter()
        if method is not None:
            check_method(method)
        model = self._model()
        state = self.store.maps.state()
        wanted = method or (state["method"] if state else METHODS[0])
        refit = (rebuild or state is None or state["method"] != wanted
                 or state["model"] != model or state["version"] != VERSION)
        maps = self.store.maps
        if refit:
            ids, hashes, vectors, _ = self._vectors("all")
            projection, xy = fit(wanted, vectors, seed=seed)
            with self.store.transaction():
                maps.clear()
                maps.put(ids, hashes, xy, wanted, model)
                maps.set_state(method=wanted, model=model, version=VERSION, fitted=len(ids),
                               params=projection.to_blob(), settings={"seed": seed},
                               now=utcnow())
        else:
            assert state is not None
            ids, hashes, vectors, _ = self._vectors("unplaced")
            if ids:
                projection = Projection.from_blob(wanted, state["params"])
                mapped = None
                if not projection.linear:
                    _, _, known, points = self._vectors("placed")
                    mapped = (known, points)
                xy = place(projection, vectors, mapped=mapped)
                with self.store.transaction():
                    maps.put(ids, hashes, xy, wanted, model)
                    maps.touch(utcnow())
        return MapReport(method=wanted, model=model, refitted=refit, placed=len(ids),
                         points=maps.count(), seconds=time.perf_counter() - start)

    def view(self, *, collection: str | None = None, tree: str | None = None) -> MapView:
        """The points of the map (of a collection), coloured by ``tree``'s first-level
        topics when one is named."""
        state = self.store.maps.state()
        if state is None:
            raise PreconditionError("this library has no map yet: build one with "
                                "`paperatlas map build`")
        collection_id = self.store.collections.require(collection)
        legend: list[MapTopic] = []
        paper_top: dict[int, int] = {}
        if tree is not None:
            tree_id = self.store.trees.id_for(tree)
            if tree_id is None:
                known = [t.name for t in self.store.trees.all()]
                raise NotFoundError(f"no tree named {tree!r}" +
                                    (f"; trees: {', '.join(known)}" if known else ""))
            heads = self.store.trees.heads(tree)
            order, paper_top = first_level(heads, self.store.maps.tree_links(tree_id))
            legend = [MapTopic(nid, display_label(heads[nid][1], heads[nid][2], nid),
                               heads[nid][2], 0) for nid in order]
        rows = self.store.maps.points(collection_id)
        index = {t.id: i for i, t in enumerate(legend)}
        topic = np.array([index.get(paper_top.get(r[0], -1), -1) for r in rows],
                         dtype=np.int32)
        counts = np.bincount(topic[topic >= 0], minlength=len(legend))
        legend = [MapTopic(t.id, t.label, t.kind, int(n))
                  for t, n in zip(legend, counts, strict=True)]
        return MapView(
            method=state["method"], model=state["model"], collection=collection, tree=tree,
            papers=self.store.maps.scope_size(collection_id), keys=[r[1] for r in rows],
            titles=[r[2] for r in rows], x=np.array([r[3] for r in rows], dtype=np.float64),
            y=np.array([r[4] for r in rows], dtype=np.float64), topic=topic, legend=legend)

    def _vectors(self, which: str) -> tuple[list[int], list[str], np.ndarray, np.ndarray]:
        """``(paper ids, text hashes, vectors, points)`` of ``all`` papers with vectors,
        those ``unplaced`` (no point, or one made from an older text) or those ``placed``;
        points are NaN where there are none."""
        points = self.store.maps.placed()
        scope = VectorFilter()
        if which != "all":
            placed = {p for p, (_, h) in self.vectors.hashes().items()
                      if p in points and points[p][0] == h}
            scope = VectorFilter(papers=placed if which == "placed" else
                                 set(self.vectors.ids()) - placed)
            if not scope.papers:
                return [], [], np.zeros((0, 0), dtype=np.float32), np.zeros((0, 2))
        ids: list[int] = []
        hashes: list[str] = []
        parts: list[np.ndarray] = []
        for batch in self.vectors.iterate(scope, titles=False, batch=20_000):
            ids += batch.ids
            hashes += batch.hashes
            parts.append(batch.vectors)
        nan = ("", float("nan"), float("nan"))
        xy = np.array([points.get(p, nan)[1:] for p in ids], dtype=np.float64).reshape(-1, 2)
        matrix = np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        return ids, hashes, matrix, xy

    def _model(self) -> str:
        models = self.vectors.models()
        if not models:
            raise PreconditionError("the map needs paper vectors: run `paperatlas index` "
                                    "with an embedding model first")
        if len(models) > 1:
            raise PreconditionError(f"the library holds vectors of several models "
                                    f"({', '.join(models)}); re-embed with --switch-model")
        return models[0]


def first_level(heads: Heads, links: Iterable[tuple[int, int, float]],
                ) -> tuple[list[int], dict[int, int]]:
    """The first-level topics in treemap order (by distinct papers below them, descending,
    then id; Unsorted last; empty ones left out) and ``paper id -> first-level topic`` of
    each paper's best link (highest score, then lowest node id)."""
    root = next(nid for nid, head in heads.items() if head[0] is None)
    top: dict[int, int | None] = {root: None}

    def top_of(nid: int) -> int | None:
        path = []
        while nid not in top:
            path.append(nid)
            parent = heads[nid][0]
            if parent == root:
                top[nid] = nid
                break
            assert parent is not None
            nid = parent
        found = top[nid]
        for n in path:
            top[n] = found
        return found

    best: dict[int, tuple[float, int]] = {}
    members: dict[int, set[int]] = {}
    for pid, nid, score in links:
        head = top_of(nid)
        if head is None:
            continue
        members.setdefault(head, set()).add(pid)
        if pid not in best or (-score, nid) < best[pid]:
            best[pid] = (-score, nid)
    order = sorted(members, key=lambda t: (heads[t][2] == UNSORTED, -len(members[t]), t))
    return order, {pid: head for pid, (_, nid) in best.items()
                   if (head := top[nid]) is not None}
