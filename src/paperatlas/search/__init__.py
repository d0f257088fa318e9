"""Search: a lexical (BM25) index kept in step with the store, and the query service."""

from .service import MODES, IndexReport, SearchHit, SearchPage, SearchService
from .snippets import Snippet

__all__ = ["MODES", "IndexReport", "SearchHit", "SearchPage", "SearchService", "Snippet"]
