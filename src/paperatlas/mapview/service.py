"""MapService: fits the library's 2-D map once, places new papers on it, and reads it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import PreconditionError
from ..records.maps import MapInfo, MapPaper, MapReport, MapTopic, MapTree, MapView, MapWindow
from ..store import Store
from ..vectors import VectorStore
from . import colours, pointfile
from .build import fit_all, place_new, write_fit
from .projection import METHODS, VERSION, Projection, check_method
from .reader import MapReader, legend_of, tree_colours, tree_id_of, usable
from .topics import first_level

__all__ = ["MapService", "first_level"]

#: The most points :meth:`MapService.view` lists (a key and a title each, as Python objects).
JSON_LIMIT = 250_000
#: A map is fitted again once it shows this many times the papers of its last fit.
REFIT_GROWTH = 1.5


class MapService:
    """The map of one library: one point per paper with a vector, from one fitted
    projection of those vectors (see :mod:`.projection`)."""

    def __init__(self, store: Store, vectors: VectorStore, folder: Path | None = None) -> None:
        self.store = store
        self.vectors = vectors
        #: Where the point file is written (beside the library: its index folder).
        self.folder: Path | None = folder if folder is not None else getattr(
            vectors, "folder", None)
        self.reader = MapReader(store, self.folder)

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
        else place the papers that are new or whose text changed, and fit it again once it
        shows :data:`REFIT_GROWTH` times the papers it was fitted on (new papers on an old
        projection land where the old papers' axes put them); then write the point file
        the web app draws from. Reads only the vectors there are: papers without one are
        counted (``without_vectors``), never embedded here."""
        start = time.perf_counter()
        if method is not None:
            check_method(method)
        model = self._model()
        maps = self.store.maps
        state = maps.state()
        wanted = method or (state["method"] if state else METHODS[0])
        refit = (rebuild or state is None or state["method"] != wanted
                 or state["model"] != model or state["version"] != VERSION)
        if not refit:
            assert state is not None
            projection = Projection.from_blob(wanted, state["params"])
            placed = place_new(self.store, self.vectors, projection, method=wanted,
                               model=model, seed=int(state["settings"].get("seed", 0)))
            at_fit = int(state["settings"].get("points") or 0)  # 0: a fit of older versions
            refit = bool(at_fit) and maps.count() >= REFIT_GROWTH * at_fit
        if refit:
            fitted = fit_all(self.vectors, check_method(wanted), seed)
            write_fit(self.store, fitted, method=wanted, model=model, seed=seed)
            placed = len(fitted.ids)
            del fitted
        self._publish(force=refit or placed > 0)
        return MapReport(method=wanted, model=model, refitted=refit, placed=placed,
                         points=maps.count(), seconds=time.perf_counter() - start,
                         without_vectors=maps.without_vectors())

    def _publish(self, *, force: bool) -> None:
        """Write the point file from the stored points (when they changed, or when it is
        missing or was written from another build)."""
        state = self.store.maps.state()
        if self.folder is None or state is None:
            return
        meta = pointfile.read_meta(self.folder)
        if force or meta is None or meta.built_at != state["updated_at"]:
            meta = pointfile.write(
                self.folder, self.store.maps.point_arrays(), method=state["method"],
                model=state["model"], built_at=state["updated_at"],
                seed=int(state["settings"].get("seed", 0)))
        points = pointfile.load(self.folder)
        if points is None:
            return
        for name, _ in self.store.maps.tree_names():  # each tree's colours, when changed
            tree_id = tree_id_of(self.store, name)
            now = self.store.maps.tree_version(tree_id)
            stored = colours.read(self.folder, meta.stem, tree_id)
            heads = self.store.trees.heads(name)
            holds, found = usable(self.store, stored, meta.rows, tree_id, heads, now)
            if holds and stored is not None and stored.version == now:
                continue
            found = found or colours.fingerprint(self.store.maps.link_fingerprint(tree_id),
                                                 heads)
            if holds and stored is not None:  # relabelled only: the same colours
                order, topic = stored.order, stored.topic
            else:
                order, topic = tree_colours(self.store, tree_id, heads,
                                            np.asarray(points.paper))
            colours.write(self.folder, meta.stem, tree_id,
                          colours.Colours(now, found, order, topic))

    def window(self, *, collection: str | None = None, tree: str | None = None,
               box: tuple[float, float, float, float] | None = None,
               budget: int = 200_000) -> MapWindow:
        """At most ``budget`` points of ``box`` (x0, y0, x1, y1; None: the whole map), a
        uniform sample of it, coloured by ``tree``'s first-level topics."""
        return self.reader.window(collection=collection, tree=tree, box=box, budget=budget)

    def trees(self) -> list[MapTree]:
        """The trees that can colour the map, by name."""
        return [MapTree(name, collection) for name, collection in self.store.maps.tree_names()]

    def prepare(self, *, collection: str | None = None, tree: str | None = None) -> None:
        """Compute ahead what the first window of this collection and tree needs (a read)."""
        self.reader.prepare(collection=collection, tree=tree)

    def paper(self, paper_id: int) -> MapPaper:
        """The paper of a point: key, title, year."""
        return self.reader.paper(paper_id)

    def nearest(self, x: float, y: float, collection: str | None = None) -> MapPaper:
        """The paper nearest to a place on the map."""
        return self.reader.nearest(x, y, collection)

    def view(self, *, collection: str | None = None, tree: str | None = None) -> MapView:
        """The points of the map (of a collection), coloured by ``tree``'s first-level
        topics when one is named."""
        state = self.store.maps.state()
        if state is None:
            raise PreconditionError("this library has no map yet: build one with "
                                "`paperatlas map build`")
        collection_id = self.store.collections.require(collection)
        if (n := self.store.maps.count()) > JSON_LIMIT and (
                collection_id is None or self.store.maps.scope_size(collection_id) > JSON_LIMIT):
            raise PreconditionError(
                f"the map has {n:,} points, more than the {JSON_LIMIT:,} a whole listing gives: "
                "read it in windows (lib.map.window, GET /api/map/points)")
        legend: list[MapTopic] = []
        rows = self.store.maps.points(collection_id)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        topic = np.full(len(rows), -1, dtype=np.int16)
        if tree is not None:
            heads = self.store.trees.heads(tree)
            order, topic = tree_colours(self.store, tree_id_of(self.store, tree), heads, ids)
            legend = legend_of(heads, order)
        counts = np.bincount(topic[topic >= 0], minlength=len(legend))
        legend = [MapTopic(t.id, t.label, t.kind, int(n))
                  for t, n in zip(legend, counts, strict=True)]
        return MapView(
            method=state["method"], model=state["model"], collection=collection, tree=tree,
            papers=self.store.maps.scope_size(collection_id), keys=[r[1] for r in rows],
            titles=[r[2] for r in rows], x=np.array([r[3] for r in rows], dtype=np.float64),
            y=np.array([r[4] for r in rows], dtype=np.float64), topic=topic, legend=legend)

    def _model(self) -> str:
        models = self.vectors.models()
        if not models:
            raise PreconditionError("the map needs paper vectors: run `paperatlas index` "
                                    "with an embedding model first")
        if len(models) > 1:
            raise PreconditionError(f"the library holds vectors of several models "
                                    f"({', '.join(models)}); re-embed with --switch-model")
        return models[0]

