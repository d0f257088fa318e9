"""``lib.search``: ``lib.search("lora", mode="lexical")``, ``lib.search.similar(keys)``,
``lib.search.pending()`` (the engines are in ``search/``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, TextIO, Unpack

from ..search import Mode, SearchOptions, SearchPage, SearchQuery, SearchService
from ..search.query import terms
from .papers import Papers


class Search:
    """Searches of the library: call it with a :class:`SearchQuery` or its text."""

    def __init__(self, service: SearchService, papers: Papers) -> None:
        self.service = service
        self.papers = papers

    def __call__(self, query: str | SearchQuery, **options: Unpack[SearchOptions]) -> SearchPage:
        """Papers matching ``query``: a :class:`SearchQuery`, or its text with the query's
        options (``lib.search("lora", mode="lexical", limit=20)``; given with a
        ``SearchQuery``, they replace its own). Any text is accepted (an empty one finds
        nothing); ``mode`` is one of ``MODES`` (default: hybrid when the library has
        vectors), ``fusion`` (one of ``FUSIONS``) says how hybrid combines its two lists.
        Nothing is indexed or embedded here: papers not indexed yet are counted in the
        page's ``pending``."""
        if isinstance(query, SearchQuery):
            q = query.replace(**options) if options else query
        else:
            q = SearchQuery(query, **options)
        return self.service.search(q)

    def similar(self, keys: list[str], *, limit: int = 10, collection: str | None = None,
                mode: str | Mode | None = None) -> SearchPage:
        """Papers most like the given ones (by key or identifier), excluding them."""
        ids = [self.papers.resolve(k) for k in keys]
        return self.service.similar(keys, ids, limit=limit, collection=collection, mode=mode)

    def run_queries(self, queries: Iterable[tuple[str, str]], out: TextIO, *,
                    tag: str = "paperatlas", **options: Unpack[SearchOptions]) -> int:
        """Write a TREC run file (``qid Q0 key rank score tag``) for ``(qid, text)`` pairs,
        each searched with ``options`` (default: 100 results; no snippets)."""
        merged = SearchOptions(limit=100)
        merged.update(options)
        merged["snippets"] = False
        base = SearchQuery("", **merged)
        n = 0
        for qid, text in queries:
            page = self.service.search(dataclasses.replace(base, text=text))
            for hit in page.hits:
                out.write(f"{qid} Q0 {hit.key} {hit.rank} {hit.score:.6f} {tag}\n")
            n += 1
        return n

    def warm(self) -> None:
        """Load what the first search needs (the index, the vectors, the embedding model),
        so that a server's first visitor does not wait for it."""
        self("warm up", limit=1, snippets=False)

    def pending(self) -> int:
        """Papers changed since the search index (or the vectors) last took them in: what
        the queued ``index`` job has still to do."""
        return self.service.pending(self.service.default_mode())

    # -- what other parts of the library ask of search ------------------------------------
    @property
    def semantic_enabled(self) -> bool:
        return self.service.semantic_enabled

    def ids(self, query: str, limit: int, collection: str | None) -> list[int]:
        """The ids of the best papers for ``query`` (tree builds seed topics with them)."""
        return self.ids_of(self(query, limit=limit, collection=collection, snippets=False))

    def ids_of(self, page: SearchPage) -> list[int]:
        """The paper ids of a page's hits, in rank order."""
        found = self.papers.store.papers.ids_for([hit.key for hit in page.hits])
        return [found[hit.key] for hit in page.hits if hit.key in found]

    def encode_queries(self, texts: list[str]) -> Any:
        """Short texts (labels, phrases) as query vectors of the library's model."""
        return self.service.embedder.encode(texts, kind="query")

    def analyze(self, text: str) -> list[str]:
        """``text`` as the lexical index's analyzer splits and stems it."""
        return self.service.lexical.analyze(" ".join(terms(text)))
