"""``lib.map``: the 2-D map of the papers' vectors (the work is in ``mapview/``)."""

from __future__ import annotations

from ..errors import InvalidOptionError
from ..mapview import MapInfo, MapReport, MapService, MapView
from ..records.maps import MapPaper, MapTree, MapWindow


class Map:
    """Fit, read and colour the map: ``lib.map.build()``, ``.info()``, ``.points()``,
    ``.window()``, ``.paper()``."""

    def __init__(self, service: MapService) -> None:
        self.service = service

    def build(self, *, method: str | None = None, rebuild: bool = False) -> MapReport:
        """Fit the 2-D map of the papers' vectors (``method``: one of ``mapview.METHODS``,
        default pca) the first time, on ``rebuild`` or for another method; else place the
        papers added since on the fitted projection. Maps the vectors there are: papers
        not embedded yet are counted in ``without_vectors`` (``index`` embeds them)."""
        return self.service.build(method=method, rebuild=rebuild)

    def info(self) -> MapInfo | None:
        """How the map was fitted and how many papers it shows (None before a build)."""
        return self.service.info()

    def points(self, collection: str | None = None, tree: str | None = None) -> MapView:
        """The map's points (of a collection) with key and title, each coloured by its
        first-level topic in ``tree``, and that tree's legend."""
        return self.service.view(collection=collection, tree=tree)

    def window(self, *, collection: str | None = None, tree: str | None = None,
               box: tuple[float, float, float, float] | None = None,
               budget: int = 200_000) -> MapWindow:
        """At most ``budget`` points of a box of the map (None: all of it), a uniform
        sample of it, from the point file ``build`` writes."""
        return self.service.window(collection=collection, tree=tree, box=box, budget=budget)

    def trees(self) -> list[MapTree]:
        """The trees that can colour the map (names and collections; no counts, cheap)."""
        return self.service.trees()

    def prepare(self, *, collection: str | None = None, tree: str | None = None) -> None:
        """Compute what the first window of a collection and tree needs (the point file
        mapped, the collection's points, the tree's colour per point: seconds at 2.5M
        points), e.g. in a thread while the page that will ask for it loads."""
        self.service.prepare(collection=collection, tree=tree)

    def paper(self, paper_id: int | None = None, *, x: float | None = None,
              y: float | None = None, collection: str | None = None) -> MapPaper:
        """The paper of a point, by paper id or nearest to ``(x, y)``."""
        if paper_id is not None:
            return self.service.paper(paper_id)
        if x is None or y is None:
            raise InvalidOptionError("point", "", ["a paper id", "x and y"])
        return self.service.nearest(x, y, collection)
