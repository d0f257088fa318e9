"""Search: a lexical (BM25) index kept in step with the store, and the query service."""

from .fusion import FUSIONS, Fusion
from .query import MODES, Mode, SearchOptions, SearchQuery
from .results import IndexReport, SearchHit, SearchPage
from .service import SearchService
from .snippets import Snippet

__all__ = ["FUSIONS", "MODES", "Fusion", "IndexReport", "Mode", "SearchHit", "SearchOptions",
           "SearchPage", "SearchQuery", "SearchService", "Snippet"]
