"""Search over a library: keep the index in step with the store, and answer queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import Stemmer

from ..errors import InvalidOptionError, NotFoundError
from ..store import Store, utcnow
from .lexical import Filters, LexicalIndex
from .query import terms
from .snippets import Snippet, make_snippet

#: Search modes available; semantic and hybrid come with embeddings.
MODES: tuple[str, ...] = ("lexical",)
_LEXICAL = "lexical"
_SYNC_BATCH = 5000


@dataclass(frozen=True)
class SearchHit:
    """One result, named by the paper's key."""

    rank: int
    key: str
    title: str
    score: float
    year: int | None
    authors: list[str]
    snippet: Snippet


@dataclass
class SearchPage:
    """A page of results and how many papers match in all."""

    query: str
    mode: str
    total: int
    offset: int
    limit: int
    hits: list[SearchHit] = field(default_factory=list)


@dataclass(frozen=True)
class IndexReport:
    """What an index sync did."""

    updated: int
    removed: int
    rebuilt: bool
    documents: int


class SearchService:
    """Owns the search indexes of one library (kept in ``<library>.index/``)."""

    def __init__(self, store: Store, folder: Path) -> None:
        self.store = store
        self.folder = folder
        self._lexical: LexicalIndex | None = None
        self._stemmer = Stemmer.Stemmer("english")

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            self._lexical = LexicalIndex(self.folder / _LEXICAL)
        return self._lexical

    def pending(self) -> int:
        seq, _ = self.store.search.state(_LEXICAL)
        return self.store.search.pending(seq)

    def sync(self, progress: Callable[[int, int], None] | None = None) -> IndexReport:
        """Absorb every paper change since the last sync (resumable: batch by batch)."""
        repo = self.store.search
        seq, settings = repo.state(_LEXICAL)
        index = self.lexical
        rebuilt = False
        if seq and (settings != index.settings or len(index) == 0):
            index.clear()  # settings changed, or the index folder was lost: start over
            seq, rebuilt = 0, True
        total = repo.pending(seq)
        updated = removed = done = 0
        while batch := repo.changed_since(seq, _SYNC_BATCH):
            ids = [pid for _, pid in batch]
            rows = repo.index_rows(ids)
            present = {r["id"] for r in rows}
            gone = [pid for pid in ids if pid not in present]
            index.update(rows, gone)
            seq = batch[-1][0]
            with self.store.transaction():
                repo.set_state(_LEXICAL, seq, index.settings, utcnow())
            updated, removed, done = updated + len(rows), removed + len(gone), done + len(ids)
            if progress is not None:
                progress(done, total)
        return IndexReport(updated, removed, rebuilt, len(index))

    def search(self, query: str, *, mode: str = _LEXICAL, limit: int = 10, offset: int = 0,
               collection: str | None = None, year_from: int | None = None,
               year_to: int | None = None, author: str | None = None,
               category: str | None = None, snippets: bool = True) -> SearchPage:
        if mode not in MODES:
            raise InvalidOptionError("search mode", mode, MODES)
        if limit < 0 or offset < 0:
            raise InvalidOptionError("limit/offset (must be >= 0)", (limit, offset), ["0, 1, ..."])
        filters = Filters(self._collection_id(collection), year_from, year_to, author, category)
        if self.pending():
            self.sync()
        found = self.lexical.search(query, filters, limit=limit, offset=offset)
        page = SearchPage(query=query, mode=mode, total=found.total, offset=offset, limit=limit)
        papers = {p.id: p for p in self.store.papers.get_many([pid for pid, _ in found.hits])}
        stems = set(self.lexical.analyze(" ".join(terms(query)))) if snippets else set()
        for rank, (pid, score) in enumerate(found.hits, offset + 1):
            paper = papers.get(pid)
            if paper is None:
                continue  # deleted since the last sync
            page.hits.append(SearchHit(
                rank=rank, key=paper.key, title=paper.title, score=score, year=paper.year,
                authors=paper.authors,
                snippet=make_snippet(paper.abstract or paper.title, stems,
                                     self._stemmer.stemWord) if snippets else Snippet("")))
        return page

    def _collection_id(self, name: str | None) -> int | None:
        if name is None:
            return None
        cid = self.store.collections.id_for(name)
        if cid is None:
            raise NotFoundError(f"no collection named {name!r}")
        return cid
