"""The 2-D map of a library: a stored projection of the paper vectors (PCA or UMAP)."""

from ..records.maps import MapInfo, MapPaper, MapPoint, MapReport, MapTopic, MapView, MapWindow
from .projection import METHODS, Projection
from .service import MapService

__all__ = ["METHODS", "MapInfo", "MapPaper", "MapPoint", "MapReport", "MapService", "MapTopic",
           "MapView", "MapWindow", "Projection"]
