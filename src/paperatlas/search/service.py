"""Search over a library: keep the index in step with the store, and answer queries.

Searches only read: they use what :meth:`SearchService.sync` and
:meth:`SearchService.embed` (``paperatlas index``, ``ingest --index``, the web's upload
job) put in the indexes, and each page says how many papers are not indexed yet.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..bounds import check_limit, check_offset, check_year
from ..embed import Embedder
from ..errors import InvalidOptionError, PreconditionError
from ..store import Store, utcnow
from . import ann
from .ann import AnnReport
from .fusion import FUSIONS, convex, rrf
from .lexical import LOCK_WAIT, Filters, LexicalIndex
from .query import terms
from .semantic import STATE, EmbedReport, VectorIndex, check_model, embed_changes
from .snippets import Snippet, StemCache, make_snippet

#: Search modes; hybrid fuses the other two.
MODES: tuple[str, ...] = ("hybrid", "lexical", "semantic")
_LEXICAL = "lexical"
_SYNC_BATCH = 5000
#: How many candidates each mode contributes to a hybrid fusion (at least).
FUSION_DEPTH = 200
#: Libraries with at least this many vectors get an ANN index (below, exact search is fast).
ANN_MIN = 20_000


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
    #: Papers added, changed or removed since the indexes this page used were updated.
    pending: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The page as ``search --json`` and ``/api/search`` show it."""
        return {
            "query": self.query, "mode": self.mode, "total": self.total, "offset": self.offset,
            "limit": self.limit, "pending": self.pending,
            "results": [{"rank": h.rank, "key": h.key, "title": h.title, "score": h.score,
                         "year": h.year, "authors": h.authors, "snippet": h.snippet.text,
                         "highlights": h.snippet.highlights} for h in self.hits],
        }


@dataclass(frozen=True)
class IndexReport:
    """What an index sync did: the lexical index, and the vectors when embedding ran."""

    updated: int
    removed: int
    rebuilt: bool
    documents: int
    embedding: EmbedReport | None = None
    ann: AnnReport | None = None


class SearchService:
    """Owns the search indexes of one library (kept in ``<library>.index/``); a sync
    waits up to ``lock_wait`` seconds (default :data:`.lexical.LOCK_WAIT`) while another
    process writes the lexical index."""

    def __init__(self, store: Store, folder: Path,
                 embedder: Callable[[], Embedder] | None = None, *,
                 ann_min: int = ANN_MIN, lock_wait: float | None = None) -> None:
        self.store = store
        self.folder = folder
        self.ann_min = ann_min
        self.lock_wait = LOCK_WAIT if lock_wait is None else lock_wait
        self._lexical: LexicalIndex | None = None
        self._read_seq = -1  # the lexical state the reader last reloaded at
        # Snippets stem every word of every shown abstract; words repeat across queries.
        self._stems = StemCache()
        self._make_embedder = embedder
        self._embedder: Embedder | None = None
        self._loading = threading.Lock()  # one thread loads the model and opens the index
        self.vectors = VectorIndex(store, folder)
        # The next page of a search, or a shared link, embeds the same query again.
        self._query_vector = functools.lru_cache(maxsize=1024)(self._encode_query)

    def _encode_query(self, query: str) -> np.ndarray:
        vector: np.ndarray = self.embedder.encode([query], kind="query")[0]
        vector.setflags(write=False)  # shared by every search of this query
        return vector

    @property
    def semantic_enabled(self) -> bool:
        """Whether an embedding model is configured (it loads on first use)."""
        return self._make_embedder is not None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            if self._make_embedder is None:
                raise PreconditionError(
                    "no embedding model configured: semantic and hybrid search and embedding "
                    "need one (--model or PAPERATLAS_MODEL); the lexical mode needs none")
            with self._loading:
                if self._embedder is None:
                    self._embedder = self._make_embedder()
        return self._embedder

    def embed(self, *, switch_model: bool = False,
              progress: Callable[[int, int], None] | None = None) -> EmbedReport:
        return embed_changes(self.store, self.embedder, switch_model=switch_model,
                             progress=progress)

    def update_ann(self, *, rebuild: bool = False) -> AnnReport:
        """Bring the ANN index up to the vectors (built again with ``rebuild``); remove it
        when the library has fewer than ``ann_min`` vectors."""
        models = self.store.vectors.models()
        if self.store.vectors.count() < self.ann_min or len(models) != 1:
            ann.remove(self.folder)
            return AnnReport(0, 0, 0, False)
        vectors = self.vectors
        current = vectors.loaded_ann()
        before = None if current is None else current.meta
        seq = self.store.search.state(STATE)[0]
        changed = [] if current is None else self.store.search.changed_between(
            current.meta.seq, seq, len(vectors.ids) + 1)
        index, report = ann.updated(
            current, model=models[0], seq=seq, ids=vectors.ids, matrix=vectors.matrix,
            titles=vectors.titles, changed=changed,
            rebuild=rebuild or current is None or current.meta.seq > seq)
        if index.dirty or index.meta != before:
            index.save(self.folder)
            vectors.adopt_ann(index)
        return report

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            with self._loading:
                if self._lexical is None:
                    self._lexical = LexicalIndex(self.folder / _LEXICAL)
        return self._lexical

    def pending(self, mode: str = _LEXICAL) -> int:
        """Papers changed since the lexical index (and, for the semantic and hybrid
        modes, the vectors) last took them in."""
        repo = self.store.search
        counts = [repo.pending(repo.state(_LEXICAL)[0])]
        if mode != _LEXICAL:
            counts.append(repo.pending(repo.state(STATE)[0]))
        return max(counts)

    def _reader(self) -> LexicalIndex:
        """The lexical index, reloaded when a sync (of any process) committed since."""
        index = self.lexical
        seq = self.store.search.state(_LEXICAL)[0]
        if seq != self._read_seq:
            index.reload()
            self._read_seq = seq
        return index

    def sync(self, progress: Callable[[int, int], None] | None = None, *,
             wait: float | None = None) -> IndexReport:
        """Absorb every paper change since the last sync (resumable: batch by batch).

        Holds the lexical index's writer throughout: a sync of another process that
        started first finishes first, and this one takes in only what it left. ``wait``
        (default ``lock_wait``) bounds the wait for that writer.
        """
        repo = self.store.search
        index = self.lexical
        with index.writing(self.lock_wait if wait is None else wait) as writer:
            seq, settings = repo.state(_LEXICAL)  # read under the lock
            rebuilt = False
            if seq and (settings != index.settings or len(index) == 0):
                writer.clear()  # settings changed, or the index folder was lost: start over
                seq, rebuilt = 0, True
            total = repo.pending(seq)
            updated = removed = done = 0
            while batch := repo.changed_since(seq, _SYNC_BATCH):
                ids = [pid for _, pid in batch]
                rows = repo.index_rows(ids)
                present = {r["id"] for r in rows}
                gone = [pid for pid in ids if pid not in present]
                writer.update(rows, gone)
                seq = batch[-1][0]
                with self.store.transaction():
                    repo.set_state(_LEXICAL, seq, index.settings, utcnow())
                updated, removed = updated + len(rows), removed + len(gone)
                done += len(ids)
                if progress is not None:
                    progress(done, total)
        self._read_seq = seq
        return IndexReport(updated, removed, rebuilt, len(index))

    def default_mode(self) -> str:
        """Hybrid when the library has vectors of the configured model, else lexical."""
        if self.semantic_enabled and self.store.vectors.count():
            return "hybrid"
        return _LEXICAL

    def search(self, query: str, *, mode: str | None = None, limit: int = 10, offset: int = 0,
               collection: str | None = None, year_from: int | None = None,
               year_to: int | None = None, author: str | None = None,
               category: str | None = None, snippets: bool = True,
               fusion: str = FUSIONS[0]) -> SearchPage:
        mode = mode or self.default_mode()
        if mode not in MODES:
            raise InvalidOptionError("search mode", mode, MODES)
        if fusion not in FUSIONS:
            raise InvalidOptionError("fusion", fusion, FUSIONS)
        check_limit(limit, low=0)  # before any engine: tantivy allocates offset + limit
        check_offset(offset)
        check_year("year from", year_from)
        check_year("year to", year_to)
        filters = Filters(self.store.collections.require(collection), year_from, year_to,
                          author, category)
        hits, total = self._ranked(query, mode, filters, limit, offset, fusion)
        page = SearchPage(query=query, mode=mode, total=total, offset=offset, limit=limit,
                          pending=self.pending(mode))
        stems = set(self.lexical.analyze(" ".join(terms(query)))) if snippets else set()
        self._fill(page, hits, stems if snippets else None)
        return page

    def similar(self, keys: list[str], paper_ids: list[int], *, limit: int = 10,
                collection: str | None = None, mode: str | None = None) -> SearchPage:
        """Papers most like the given ones ("more like these"), excluding them.

        Semantic: nearest to the mean of their vectors. Lexical: BM25 with their titles
        and abstracts as the query. Hybrid (the default with vectors) fuses both. Papers
        not indexed yet take no part (nothing is indexed or embedded here).
        """
        mode = mode or self.default_mode()
        if mode not in MODES:
            raise InvalidOptionError("similar mode", mode, MODES)
        check_limit(limit, low=0)
        filters = Filters(self.store.collections.require(collection))
        exclude = set(paper_ids)
        depth = max(FUSION_DEPTH, limit)
        lexical: list[tuple[int, float]] = []
        if mode != "semantic":
            text = " ".join(f"{p.title} {p.abstract}" for p in
                            self.store.papers.get_many(paper_ids))
            found = self._reader().more_like(text, filters, limit=depth + len(exclude))
            lexical = [(pid, score) for pid, score in found.hits if pid not in exclude]
        hits = lexical
        if mode != _LEXICAL:
            check_model(self.store, self.embedder.name)
            vectors = self.vectors.vectors_of(paper_ids)
            if len(vectors):
                centre = vectors.mean(axis=0)
                centre = centre / (np.linalg.norm(centre) or 1.0)
                allowed = None if filters == Filters() else self._reader().matching_ids(filters)
                semantic = self.vectors.search(centre, depth, titles=False, allowed=allowed,
                                               exclude=exclude)
                hits = semantic if mode == "semantic" else self._fuse(
                    lexical, semantic, centre, False, FUSIONS[0])
        page = SearchPage(query=" ".join(keys), mode=mode, total=len(hits), offset=0,
                          limit=limit, pending=self.pending(mode))
        self._fill(page, hits[:limit], None)
        return page

    def _fuse(self, lexical: list[tuple[int, float]], semantic: list[tuple[int, float]],
              vector: np.ndarray, titles: bool, fusion: str) -> list[tuple[int, float]]:
        if fusion == "rrf":
            return rrf([lexical, semantic])
        cosine = dict(semantic)
        missing = [pid for pid, _ in lexical if pid not in cosine]
        exact = self.vectors.cosines(vector, missing, titles=titles)
        for pid in missing:
            cosine[pid] = exact.get(pid) or 0.0
        return convex(lexical, cosine)

    def _ranked(self, query: str, mode: str, filters: Filters, limit: int,
                offset: int, fusion: str) -> tuple[list[tuple[int, float]], int]:
        if mode == _LEXICAL:
            found = self._reader().search(query, filters, limit=limit, offset=offset)
            return found.hits, found.total
        if not terms(query):
            return [], 0
        depth = max(FUSION_DEPTH, limit + offset)
        check_model(self.store, self.embedder.name)
        if mode == "semantic" and not self.store.vectors.count():
            raise PreconditionError("no paper vectors yet: the semantic mode needs them; run "
                                    "`paperatlas index` with an embedding model first")
        # Hybrid also matches the query against title vectors (measured: +0.004 nDCG@10
        # hybrid, -0.018 semantic alone on SciFact train; bench/RESULTS.md).
        vector, titles = self._query_vector(query), mode == "hybrid"
        allowed = None if filters == Filters() else self._reader().matching_ids(filters)
        semantic = self.vectors.search(vector, depth, titles=titles, allowed=allowed)
        if mode == "semantic":
            total = len(allowed) if allowed is not None else len(self.vectors.ids)
            return semantic[offset:offset + limit], total
        lexical = self._reader().search(query, filters, limit=depth)
        fused = self._fuse(lexical.hits, semantic, vector, titles, fusion)
        return fused[offset:offset + limit], max(lexical.total, len(fused))

    def _fill(self, page: SearchPage, hits: list[tuple[int, float]],
              stems: set[str] | None) -> None:
        papers = {p.id: p for p in self.store.papers.get_many([pid for pid, _ in hits])}
        for rank, (pid, score) in enumerate(hits, page.offset + 1):
            paper = papers.get(pid)
            if paper is None:
                continue  # deleted since the last sync
            page.hits.append(SearchHit(
                rank=rank, key=paper.key, title=paper.title, score=score, year=paper.year,
                authors=paper.authors,
                snippet=make_snippet(paper.abstract or paper.title, stems,
                                     self._stems.__getitem__) if stems is not None
                else Snippet("")))
