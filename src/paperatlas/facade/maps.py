"""``lib.map``: the 2-D map of the papers' vectors (the work is in ``mapview/``)."""

from __future__ import annotations

from ..mapview import MapInfo, MapReport, MapService, MapView
from ..work import Indexer


class Map:
    """Fit, read and colour the map: ``lib.map.build()``, ``.info()``, ``.points()``."""

    def __init__(self, service: MapService, indexer: Indexer) -> None:
        self.service = service
        self.indexer = indexer

    def build(self, *, method: str | None = None, rebuild: bool = False) -> MapReport:
        """Fit the 2-D map of the papers' vectors (``method``: one of ``mapview.METHODS``,
        default pca) the first time, on ``rebuild`` or for another method; else place the
        papers added since on the fitted projection. Brings the embeddings up to date
        first."""
        self.indexer.index()
        return self.service.build(method=method, rebuild=rebuild)

    def info(self) -> MapInfo | None:
        """How the map was fitted and how many papers it shows (None before a build)."""
        return self.service.info()

    def points(self, collection: str | None = None, tree: str | None = None) -> MapView:
        """The map's points (of a collection) with key and title, each coloured by its
        first-level topic in ``tree``, and that tree's legend."""
        return self.service.view(collection=collection, tree=tree)
