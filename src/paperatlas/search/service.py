"""Search over a library: keep the index in step with the store, and answer queries.

Searches only read: they use what :meth:`SearchService.sync` and
:meth:`SearchService.embed` (``paperatlas index``, ``ingest --index``, the web's upload
job) put in the indexes, and each page says how many papers are not indexed yet.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..bounds import check_limit
from ..embed import Embedder
from ..errors import PreconditionError
from ..options import choose
from ..records.sentences import SentenceReport
from ..store import Store, utcnow
from ..vectors import (
    STATE,
    AnnReport,
    PaperSet,
    SqliteVectorStore,
    VectorFilter,
    VectorStore,
)
from .fusion import Fusion, convex, rrf
from .honest import Ranked, judge
from .lexical import LOCK_WAIT, Filters, LexicalIndex
from .query import MODES as MODES  # the valid modes, where they were defined before
from .query import Mode, SearchQuery, terms
from .ray_embed import RayOptions, embed_on_ray
from .results import IndexReport, SearchHit, SearchPage
from .semantic import EmbedReport, embed_changes
from .sentences import split_abstracts
from .snippets import Snippet, StemCache, make_snippet

_LEXICAL = "lexical"  # the lexical index's folder and state name
_SYNC_BATCH = 5000
#: How many candidates each mode contributes to a hybrid fusion (at least).
FUSION_DEPTH = 200
#: An author or category filter matching at most this many papers reaches the vector
#: store as an allow-list (read once, ~0.9 us a paper: 0.39 s for the first query of a
#: 356k-paper category at 2.5M, 42 ms after); a broader one is checked on its candidates
#: (``_semantic``), which loses recall (0.9725 against 0.9925 for that category).
ALLOW_MAX = 500_000
#: A broader one asks the vector store for this many times the candidates it should need.
CHECK_MARGIN = 1.5


class SearchService:
    """Owns the search indexes of one library (kept in ``<library>.index/``); a sync
    waits up to ``lock_wait`` seconds (default :data:`.lexical.LOCK_WAIT`) while another
    process writes the lexical index."""

    def __init__(self, store: Store, folder: Path,
                 embedder: Callable[[], Embedder] | None = None, *,
                 vectors: VectorStore | None = None, lock_wait: float | None = None) -> None:
        self.store = store
        self.folder = folder
        self.lock_wait = LOCK_WAIT if lock_wait is None else lock_wait
        self._lexical: LexicalIndex | None = None
        self._read_seq = -1  # the lexical state the reader last reloaded at
        #: ``(filters, lexical state) -> papers`` of the last author/category filters.
        self._matched: dict[tuple[Filters, int], PaperSet] = {}
        self._beside_pool: ThreadPoolExecutor | None = None
        self._beside_lock = threading.Lock()
        # Snippets stem every word of every shown abstract; words repeat across queries.
        self._stems = StemCache()
        self._make_embedder = embedder
        self._embedder: Embedder | None = None
        self._loading = threading.Lock()  # one thread loads the model and opens the index
        #: Every vector goes through it (the default: in the store, an ANN in ``folder``).
        self.vectors = vectors or SqliteVectorStore(store, folder)
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
              progress: Callable[[int, int], None] | None = None,
              ray: RayOptions | None = None) -> EmbedReport:
        """Embed new and changed papers here, or on a Ray cluster with ``ray``."""
        if ray is not None:
            return embed_on_ray(self.store, self.vectors, self.embedder, ray,
                                switch_model=switch_model, progress=progress)
        return embed_changes(self.store, self.vectors, self.embedder, switch_model=switch_model,
                             progress=progress)

    def split_sentences(self, progress: Callable[[int, int], None] | None = None
                        ) -> SentenceReport:
        """Split the abstracts of new and changed papers into sentences (``paperatlas
        ask`` scores them)."""
        return split_abstracts(self.store, progress=progress)

    def query_vector(self, text: str) -> np.ndarray:
        """``text`` as a query vector of the library's model (kept for repeated queries)."""
        return self._query_vector(text)

    def candidates(self, text: str, depth: int, *, collection_id: int | None = None,
                   papers: PaperSet | None = None) -> list[tuple[int, float]]:
        """The ``depth`` best papers for ``text`` (hybrid with vectors, else lexical),
        best first, among ``papers`` when given (the lexical half is read deeper and
        filtered; the semantic half searches the allow-list)."""
        filters = Filters(collection_id)
        mode = self.default_mode()
        if papers is None:
            return self._ranked(text, mode, filters, depth, 0, Fusion.CONVEX).hits
        found = self._reader().search(text, filters, limit=max(depth, FUSION_DEPTH) * 10)
        lexical = [(pid, score) for pid, score in found.hits if pid in papers][:depth]
        if mode == Mode.LEXICAL or not terms(text):
            return lexical
        vector = self._query_vector(text)
        semantic = [(h.paper_id, h.score) for h in self.vectors.search(
            vector, depth, VectorFilter(papers=papers, collection_id=collection_id),
            set(), titles=True)]
        return self._fuse(lexical, semantic, vector, True, Fusion.CONVEX)[:depth]

    def update_ann(self, *, rebuild: bool = False) -> AnnReport:
        """Bring the vector store's ANN index up to the vectors (``rebuild``: built again)."""
        return self.vectors.optimize(rebuild=rebuild)

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

    def default_mode(self) -> Mode:
        """Hybrid when the library has vectors of the configured model, else lexical."""
        if self.semantic_enabled and self.vectors.count():
            return Mode.HYBRID
        return Mode.LEXICAL

    def search(self, q: SearchQuery) -> SearchPage:
        """A page of papers matching ``q`` (checked when it was made)."""
        mode = q.mode or self.default_mode()
        filters = Filters(self.store.collections.require(q.collection), q.year_from, q.year_to,
                          q.author, q.category)
        if terms(q.text) or filters == Filters():
            ranked = self._ranked(q.text, mode, filters, q.limit, q.offset, q.fusion)
        else:  # no words but a filter: its papers, newest first
            found = self._reader().browse(filters, limit=q.limit, offset=q.offset)
            ranked = Ranked(found.hits, found.total, browsing=True)
        page = SearchPage(query=q.text, mode=mode, total=ranked.total, offset=q.offset,
                          limit=q.limit, pending=self.pending(mode))
        stems = set(self.lexical.analyze(" ".join(terms(q.text)))) if q.snippets else None
        self._fill(page, ranked.hits, stems)
        judge(page, ranked, self._reader())
        return page

    def similar(self, keys: list[str], paper_ids: list[int], *, limit: int = 10,
                collection: str | None = None, mode: str | Mode | None = None) -> SearchPage:
        """Papers most like the given ones ("more like these"), excluding them.

        Semantic (the default with vectors): nearest to the mean of their vectors, scored
        by cosine. Lexical: BM25 of their best tf-idf terms (MoreLikeThis). Hybrid fuses
        both. Semantic alone was chosen by leave-one-out over CSFCube's dev queries
        (``bench/similar_modes.py``: no fused weight beat it by more than the noise).
        Papers not indexed yet take no part (nothing is indexed or embedded here).
        """
        default = Mode.SEMANTIC if self.default_mode() == Mode.HYBRID else Mode.LEXICAL
        mode = choose(Mode, "similar mode", mode) if mode else default
        check_limit(limit, low=0)
        filters = Filters(self.store.collections.require(collection))
        exclude = set(paper_ids)
        depth = max(FUSION_DEPTH, limit)
        lexical: list[tuple[int, float]] = []
        if mode != Mode.SEMANTIC:
            text = " ".join(f"{p.title} {p.abstract}" for p in
                            self.store.papers.get_many(paper_ids))
            found = self._reader().more_like(text, filters, limit=depth + len(exclude))
            lexical = [(pid, score) for pid, score in found.hits if pid not in exclude]
        hits = lexical
        if mode != Mode.LEXICAL:
            self.vectors.check_model(self.embedder.name)
            given = self.vectors.get(paper_ids)
            if given:
                centre = np.vstack([given[p] for p in paper_ids if p in given]).mean(axis=0)
                centre = centre / (np.linalg.norm(centre) or 1.0)
                semantic, _ = self._semantic(centre, depth, filters, exclude, titles=False)
                hits = semantic if mode == Mode.SEMANTIC else self._fuse(
                    lexical, semantic, centre, False, Fusion.CONVEX)
        page = SearchPage(query=" ".join(keys), mode=mode, total=len(hits), offset=0,
                          limit=limit, pending=self.pending(mode))
        self._fill(page, hits[:limit], None)
        return page

    def _semantic(self, vector: np.ndarray, depth: int, filters: Filters,
                  exclude: set[int] | None = None, *,
                  titles: bool) -> tuple[list[tuple[int, float]], int]:
        """The ``depth`` nearest papers that pass ``filters``, and how many pass.

        A collection and years reach the vector store as such (it keeps their papers
        until the vectors change). An author or a category is matched as words in the
        lexical index: up to :data:`ALLOW_MAX` matching papers go to the vector store as
        an allow-list (read out of a fast field the first time, ~26 ms for 17k and
        ~0.3 s for 356k at 2.5M papers, then kept until the lexical index changes); a
        broader one is checked on the vector store's candidates instead, asking for more
        of them until ``depth`` pass or there are no more."""
        among = VectorFilter(collection_id=filters.collection_id,
                             year_from=filters.year_from, year_to=filters.year_to)
        skip = exclude or set()

        def nearest(k: int, where: VectorFilter) -> list[tuple[int, float]]:
            return [(h.paper_id, h.score) for h in self.vectors.search(
                vector, k, where, skip, titles=titles)]

        if filters.author is None and filters.category is None:
            return nearest(depth, among), self.vectors.count(among)
        reader = self._reader()
        key = (filters, self._read_seq)
        allowed = self._matched.get(key)
        total = reader.count(filters) if allowed is None else len(allowed)
        if allowed is None and total <= ALLOW_MAX:
            allowed = PaperSet(reader.matching_ids(filters))
            if len(self._matched) >= 16:
                self._matched.clear()
            self._matched[key] = allowed
        if allowed is not None:
            return nearest(depth, replace(among, papers=allowed)), total
        ask = int(np.ceil(depth * CHECK_MARGIN * max(self.vectors.count(), 1) / total))
        while True:
            hits = nearest(ask, among)
            passed = set(reader.passing([pid for pid, _ in hits], filters).tolist())
            found = [(pid, score) for pid, score in hits if pid in passed]
            if len(found) >= depth or len(hits) < ask:
                return found[:depth], total
            ask *= 4

    def _fuse(self, lexical: list[tuple[int, float]], semantic: list[tuple[int, float]],
              vector: np.ndarray, titles: bool, fusion: Fusion) -> list[tuple[int, float]]:
        if fusion == Fusion.RRF:
            return rrf([lexical, semantic])
        cosine = dict(semantic)
        missing = [pid for pid, _ in lexical if pid not in cosine]
        exact = self.vectors.cosines(vector, missing, titles=titles)
        for pid in missing:
            cosine[pid] = exact.get(pid) or 0.0
        return convex(lexical, cosine)

    def _ranked(self, query: str, mode: Mode, filters: Filters, limit: int,
                offset: int, fusion: Fusion) -> Ranked:
        if mode == Mode.LEXICAL:
            found = self._reader().search(query, filters, limit=limit, offset=offset)
            return Ranked(found.hits, found.total, found)
        if not terms(query):
            return Ranked([], 0)
        depth = max(FUSION_DEPTH, limit + offset)
        self.vectors.check_model(self.embedder.name)
        if mode == Mode.SEMANTIC and not self.vectors.count():
            raise PreconditionError("no paper vectors yet: the semantic mode needs them; run "
                                    "`paperatlas index` with an embedding model first")
        # Hybrid also matches the query against title vectors (measured: +0.004 nDCG@10
        # hybrid, -0.018 semantic alone on SciFact train; bench/RESULTS.md).
        # Hybrid runs its lexical half in another thread meanwhile (tantivy, the encoder
        # and faiss release the GIL): the query's latency is the longer half, not the sum.
        # Its shards one after the other: the vector half has the other core (measured at
        # 2.5M papers: hybrid p50 19.6-19.9 -> 18.9 ms).
        # Semantic pages say how many papers have the words too (a one-hit lexical search).
        pending = self._beside().submit(
            self._reader().search, query, filters, side_by_side=False,
            limit=1 if mode == Mode.SEMANTIC else depth)
        vector, titles = self._query_vector(query), mode == Mode.HYBRID
        semantic, total = self._semantic(vector, depth, filters, titles=titles)
        lexical = pending.result()
        cosine = semantic[0][1] if semantic else None
        if mode == Mode.SEMANTIC:
            return Ranked(semantic[offset:offset + limit], total, lexical, cosine)
        fused = self._fuse(lexical.hits, semantic, vector, titles, fusion)
        return Ranked(fused[offset:offset + limit], max(lexical.total, len(fused)), lexical,
                      cosine)

    def close(self) -> None:
        """Let the threads of :meth:`_beside` and of the lexical shards go (a later search
        makes new ones)."""
        with self._beside_lock:
            pool, self._beside_pool = self._beside_pool, None
        if pool is not None:
            pool.shutdown(wait=False)
        if self._lexical is not None:
            self._lexical.close()

    def _beside(self) -> ThreadPoolExecutor:
        """The threads hybrid searches run their lexical half in (made on first use)."""
        with self._beside_lock:
            if self._beside_pool is None:
                self._beside_pool = ThreadPoolExecutor(max_workers=4,
                                                       thread_name_prefix="lexical-half")
            return self._beside_pool

    def _fill(self, page: SearchPage, hits: list[tuple[int, float]],
              stems: set[str] | None) -> None:
        papers = self.store.papers.shown([pid for pid, _ in hits])
        for rank, (pid, score) in enumerate(hits, page.offset + 1):
            paper = papers.get(pid)
            if paper is None:
                continue  # deleted since the last sync
            page.hits.append(SearchHit(
                rank=rank, key=paper.key, title=paper.title, score=score, year=paper.year,
                authors=paper.authors,
                snippet=make_snippet(paper.abstract, stems, self._stems.__getitem__)
                if stems is not None and paper.abstract else Snippet("")))
