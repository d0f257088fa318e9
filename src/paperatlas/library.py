"""The facade: one object that does everything the CLI and web edges offer."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, Unpack

from . import work
from .accounts import AccountService
from .bounds import MAX_LIST, check_id, check_limit, check_offset
from .embed import Embedder
from .embed.sbert import BACKENDS, DEFAULT_MODEL, SentenceTransformerEmbedder
from .errors import InvalidOptionError
from .export import writer_for
from .follow.feeds import Feed, FeedBuilder
from .follow.service import FollowService
from .follow.trending import TrendingService
from .importer import Importer, IngestOptions, ProgressFn
from .ingest import FieldMap
from .jobs import JobService, record_ingest
from .library_follow import FollowMixin
from .library_people import PeopleMixin
from .mapview import MapInfo, MapReport, MapService, MapView
from .organize.base import Labeler
from .organize.edit_types import MovePaper, TreeEdit, Unpin
from .organize.export import PaperRef, treemap_svg
from .organize.label import KeywordLabeler
from .organize.llm import LLMLabeler
from .organize.service import TreeService
from .organize.service import check_name as check_tree_name
from .records.jobs import Job
from .records.papers import CollectionInfo, IngestReport, Paper, Stats
from .records.serialize import to_json
from .records.trees import BuildReport, EvalReport, Tree, TreeInfo, TreeSettings, UpdateReport
from .search import IndexReport, Mode, SearchOptions, SearchPage, SearchQuery, SearchService
from .search.query import terms
from .store import Store
from .treeview import PaperTopic, TopicPage, page_paper_ids, paper_topics, subtree, topic_page
from .vectors import ANN_MIN, SqliteVectorStore

#: How :meth:`Library.papers` can order papers.
PAPER_ORDERS: tuple[str, ...] = ("id", "recent")


class Library(PeopleMixin, FollowMixin):
    """A paper library stored in one SQLite file.

    >>> lib = Library("papers.db")            # doctest: +SKIP
    >>> lib.ingest(["listing.txt"]).added     # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *,
                 embedding_model: str | Embedder | None = DEFAULT_MODEL,
                 embed_backend: str = "auto", embed_threads: int | None = None,
                 ann_min: int = ANN_MIN) -> None:
        """Open (or create) a library; ``embedding_model`` is a sentence-transformers name
        or path, an :class:`Embedder`, or None for a library without semantic search;
        ``embed_backend`` (one of ``BACKENDS``) says how a named model encodes passages;
        ``embed_threads`` caps its threads (a server with a process per core wants 1);
        ``index`` keeps an ANN index of the vectors once there are ``ann_min``."""
        if embed_backend not in BACKENDS:
            raise InvalidOptionError("embedding backend", embed_backend, list(BACKENDS))
        self.path = Path(path)
        self.store = Store(self.path)
        index_folder = self.path.with_name(self.path.name + ".index")
        factory: Callable[[], Embedder] | None = None
        if isinstance(embedding_model, Embedder):
            model = embedding_model
            factory = lambda: model  # noqa: E731
        elif embedding_model:
            name = embedding_model
            factory = lambda: SentenceTransformerEmbedder(  # noqa: E731
                name, backend=embed_backend, cache_dir=index_folder / "models",
                threads=embed_threads)
        #: Every paper vector, read and written through the one interface.
        self.vectors = SqliteVectorStore(self.store, index_folder, ann_min=ann_min)
        self.search_service = SearchService(self.store, index_folder, factory,
                                            vectors=self.vectors)
        self.tree_service = TreeService(
            self.store, self.vectors, embed=self._encode_short if factory else None,
            search=self._search_ids)
        self.accounts = AccountService(self.store)
        self.job_service = JobService(self.store)
        self.trends = TrendingService(self.store, self._complete)
        self.follow = FollowService(
            self.store, vectors=self.vectors, resolve=self._resolve, analyze=self._analyze,
            index=self.index,
            encode=lambda: self._encode_short if factory else None)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest --------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], *, collection: str | None = None,
               format: str | None = None, mapping: FieldMap | list[str] | None = None,
               dry_run: bool = False, progress: ProgressFn | None = None,
               index: bool = False, strict: bool = False) -> IngestReport:
        """Ingest files (or folders of files); each file commits on its own.

        New or merged papers queue an ``index`` job (for a worker); with ``index`` it runs
        right after, here. With ``strict``, a rejected record fails its whole file.
        """
        fmap = FieldMap.parse(mapping) if isinstance(mapping, list) else mapping
        options = IngestOptions(collection=collection, format=format, mapping=fmap,
                                dry_run=dry_run, strict=strict)
        report = Importer(self.store).ingest(paths, options, progress)
        if not dry_run:
            for kind, params in work.after_ingest(report):
                self.job_service.enqueue(kind, params)
            if index:
                self.index()
        return report

    # -- search --------------------------------------------------------------------
    def index(self, *, embed: bool = True, switch_model: bool = False,
              progress: Callable[[int, int], None] | None = None,
              wait: float | None = None) -> IndexReport:
        """Bring the search index, the token cache that tree builds read and (with an
        embedding model) the vectors up to date, as an ``index`` job run here (the queued
        one, if any); ``wait`` bounds the wait for another process that is indexing
        (``StoreError``, ``IndexBusyError`` after)."""
        def run(job: Job, report_progress: work.Progress) -> work.Outcome:
            report = work.index_now(self, embed=embed, switch_model=switch_model,
                                    progress=report_progress, wait=wait)
            job.result = to_json(report)
            return work.Outcome(report, work.after_index(self, job, report))

        value: IndexReport = work.run_foreground(
            self, "index", {"embed": embed, "collections": None}, run, progress=progress,
            wait=wait)
        return value

    def pending(self) -> int:
        """Papers changed since the search index (or the vectors) last took them in: what
        the queued ``index`` job has still to do."""
        return self.search_service.pending(self.search_service.default_mode())

    def warm(self) -> None:
        """Load what the first search needs (the index, the vectors, the embedding model),
        so that a server's first visitor does not wait for it."""
        self.search("warm up", limit=1, snippets=False)

    def similar(self, keys: list[str], *, limit: int = 10, collection: str | None = None,
                mode: str | Mode | None = None) -> SearchPage:
        """Papers most like the given ones, excluding them (``mode`` as in :meth:`search`)."""
        ids = [self._resolve(k) for k in keys]
        return self.search_service.similar(keys, ids, limit=limit, collection=collection,
                                           mode=mode)

    def search(self, query: str | SearchQuery, **options: Unpack[SearchOptions]) -> SearchPage:
        """Papers matching ``query``: a :class:`SearchQuery`, or its text with the query's
        options (``lib.search("lora", mode="lexical", limit=20)``; given with a
        ``SearchQuery``, they replace its own). Any text is accepted (an empty one finds
        nothing); ``mode`` is one of ``MODES`` (default: hybrid when the library has
        vectors), ``fusion`` (one of ``FUSIONS``) says how hybrid combines its two lists.
        """
        if isinstance(query, SearchQuery):
            q = query.replace(**options) if options else query
        else:
            q = SearchQuery(query, **options)
        return self.search_service.search(q)

    def run_queries(self, queries: Iterable[tuple[str, str]], out: TextIO, *,
                    tag: str = "paperatlas", **options: Unpack[SearchOptions]) -> int:
        """Write a TREC run file (``qid Q0 key rank score tag``) for ``(qid, text)`` pairs,
        each searched with ``options`` as :meth:`search` takes them (default: 100 results;
        no snippets)."""
        merged = SearchOptions(limit=100)
        merged.update(options)
        merged["snippets"] = False
        base = SearchQuery("", **merged)
        n = 0
        for qid, text in queries:
            page = self.search_service.search(dataclasses.replace(base, text=text))
            for hit in page.hits:
                out.write(f"{qid} Q0 {hit.key} {hit.rank} {hit.score:.6f} {tag}\n")
            n += 1
        return n

    # -- topic trees ----------------------------------------------------------------------
    def tree_build(self, name: str = "default", *, collection: str | None = None,
                   max_depth: int = 3, min_size: int = 5, max_children: int = 10,
                   margin: float = 0.02, max_links: int = 2, seed: int = 0,
                   llm_url: str | None = None, llm_model: str | None = None,
                   llm_key: str | None = None) -> BuildReport:
        """Build (or rebuild, keeping ids and replaying edits) a topic tree of a collection
        (default: the whole library). Brings the embeddings up to date first."""
        settings = TreeSettings(max_depth=max_depth, min_size=min_size,
                                max_children=max_children, margin=margin,
                                max_links=max_links, seed=seed, collection=collection)
        if self.store.trees.id_for(name) is None:
            check_tree_name(name)  # before indexing, which may take long
        self.index()
        return self.tree_service.build(name, settings,
                                       labeler=self._labeler(llm_url, llm_model, llm_key))

    def tree_update(self, name: str = "default", *, llm_url: str | None = None,
                    llm_model: str | None = None, llm_key: str | None = None) -> UpdateReport:
        """Place papers that joined the tree's collection since it was built (a
        ``tree_update`` job run here, after an ``index`` job)."""
        labeler = self._labeler(llm_url, llm_model, llm_key)
        self.tree(name)  # a missing tree fails before indexing
        self.index()

        def run(job: Job, progress: work.Progress) -> work.Outcome:
            report = self.tree_service.update(name, labeler=labeler)
            job.result = {"trees": {name: {"added": len(report.added),
                                           "removed": report.removed,
                                           "unsorted": report.unsorted}}}
            progress(1, 1)
            return work.Outcome(report)

        value: UpdateReport = work.run_foreground(
            self, "tree_update", {"trees": [name]}, run, take_queued=False)
        return value

    def tree_edit(self, name: str, edit: TreeEdit) -> str:
        """One correction (an ``organize.edit_types`` dataclass, e.g. from ``parse_edit``);
        a paper named by key or identifier is resolved to its id here."""
        if isinstance(edit, (MovePaper, Unpin)):
            edit = dataclasses.replace(edit, paper=self._resolve(str(edit.paper)))
        return self.tree_service.edit(name, edit)

    def tree(self, name: str = "default") -> Tree:
        return self.tree_service.get(name)

    def trees(self) -> list[TreeInfo]:
        return self.tree_service.all()

    def tree_outline(self, name: str = "default", *, show_papers: int = 0,
                     max_depth: int | None = None) -> list[str]:
        check_limit(show_papers, MAX_LIST, option="papers shown", low=0)
        return self.tree_service.outline(name, show_papers=show_papers, max_depth=max_depth)

    def tree_export(self, name: str, format: str, out: TextIO) -> None:
        self.tree_service.export(name, format, out)

    def tree_eval(self, name: str, gold: str | Path) -> EvalReport:
        return self.tree_service.evaluate(name, gold, self.store.papers.id_for)

    def tree_node(self, name: str, node_id: int) -> TopicPage:
        """One topic of a tree: its path, sub-topics with sizes, keywords and papers."""
        check_id("topic", node_id)
        tree = self.tree(name)
        texts = self.store.papers.texts(page_paper_ids(tree, node_id))
        return topic_page(tree, node_id, {pid: PaperRef(k, t) for pid, (k, t, _) in
                                          texts.items()})

    def tree_picture(self, name: str, node_id: int | None = None, *, width: int = 960,
                     height: int = 540) -> str:
        """An SVG treemap of a tree's first two levels (or of those under ``node_id``)."""
        tree = self.tree(name)
        return treemap_svg(tree if node_id is None else subtree(tree, node_id), width, height)

    def paper_topics(self, key: str) -> list[PaperTopic]:
        """The topics a paper is linked to, in every tree, with the path to each."""
        links = self.store.trees.links_of(self._resolve(key))
        heads = {name: self.store.trees.heads(name) for name in {link[0] for link in links}}
        return paper_topics(links, heads)

    def tree_history(self, name: str = "default", limit: int = 20) -> list[dict[str, Any]]:
        check_limit(limit, MAX_LIST)
        return self.tree_service.history(name, limit)

    def tree_delete(self, name: str) -> None:
        self.tree_service.delete(name)

    def _labeler(self, url: str | None, model: str | None, key: str | None) -> Labeler | None:
        if not url and not model:
            return None
        if not url or not model:
            raise InvalidOptionError("LLM settings", "url without model" if url else
                                     "model without url", ["both --llm-url and --llm-model"])
        embed = self._encode_short if self.search_service.semantic_enabled else None
        return LLMLabeler(url, model, keywords=KeywordLabeler(embed=embed), api_key=key)

    def _encode_short(self, texts: list[str]) -> Any:
        return self.search_service.embedder.encode(texts, kind="query")

    def _analyze(self, text: str) -> list[str]:
        return self.search_service.lexical.analyze(" ".join(terms(text)))

    def _search_ids(self, query: str, limit: int, collection: str | None) -> list[int]:
        page = self.search(query, limit=limit, collection=collection, snippets=False)
        ids = (self.store.papers.id_for(hit.key) for hit in page.hits)
        return [i for i in ids if i is not None]

    # -- the map ---------------------------------------------------------------------------
    def map_build(self, *, method: str | None = None, rebuild: bool = False) -> MapReport:
        """Fit the 2-D map of the papers' vectors (``method``: one of ``mapview.METHODS``,
        default pca) the first time, on ``rebuild`` or for another method; else place the
        papers added since on the fitted projection. Brings the embeddings up to date first."""
        self.index()
        return MapService(self.store, self.vectors).build(method=method, rebuild=rebuild)

    def map_info(self) -> MapInfo | None:
        """How the map was fitted and how many papers it shows (None before a build)."""
        return MapService(self.store, self.vectors).info()

    def map_points(self, collection: str | None = None, tree: str | None = None) -> MapView:
        """The map's points (of a collection) with key and title, each coloured by its
        first-level topic in ``tree``, and that tree's legend."""
        return MapService(self.store, self.vectors).view(collection=collection, tree=tree)

    # -- reading ---------------------------------------------------------------------
    def paper(self, key: str) -> Paper:
        """A paper by its key, or by any identifier it carries (DOI, arXiv id, ...)."""
        paper_id = self._resolve(key)
        return self._complete(self.store.papers.get_many([paper_id]))[0]

    def papers(self, *, collection: str | None = None, limit: int | None = None,
               offset: int = 0, order: str = "id") -> Iterator[Paper]:
        """Papers with ids, collections and sources, streamed in batches; ``order`` is one
        of ``PAPER_ORDERS`` (``recent``: newest date first, then newest ingested)."""
        if order not in PAPER_ORDERS:
            raise InvalidOptionError("paper order", order, PAPER_ORDERS)
        check_offset(offset, MAX_LIST)
        if limit is not None:
            check_limit(limit, MAX_LIST, low=0)
        collection_id = self.store.collections.require(collection)
        remaining, skip = limit, offset
        for batch in self.store.papers.iter_ids(collection_id=collection_id, order=order):
            if skip:
                batch, skip = batch[skip:], max(skip - len(batch), 0)
                if not batch:
                    continue
            if remaining is not None:
                batch = batch[:remaining]
                remaining -= len(batch)
            yield from self._complete(self.store.papers.get_many(batch))
            if remaining is not None and remaining <= 0:
                return

    def paper_count(self, collection: str | None = None) -> int:
        """How many papers the library (or one collection) holds."""
        collection_id = self.store.collections.require(collection)
        if collection_id is None:
            return int(self.store.papers.counts()["papers"])
        return next(c.papers for c in self.collections() if c.name == collection)

    def collections(self) -> list[CollectionInfo]:
        return self.store.collections.all()

    def stats(self) -> Stats:
        papers = self.store.papers.counts()
        prov = self.store.provenance.counts()
        return Stats(
            papers=papers["papers"], sources=prov["sources"],
            collections=self.store.collections.count(), files=prov["files"],
            ingest_runs=prov["ingest_runs"], with_abstract=papers["with_abstract"],
            identifiers=papers["identifiers"], last_ingest=prov["last_ingest"],
            schema_version=self.store.schema_version)

    def ingest_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        check_limit(limit, MAX_LIST)
        return self.store.provenance.runs(limit)

    def export(self, format: str, out: TextIO, *, collection: str | None = None) -> int:
        """Write every paper (or a collection's) to ``out``; returns how many."""
        writer = writer_for(format)
        return writer(self.papers(collection=collection), out)

    # -- jobs and feeds (need ingest and the whole library) ------------------------
    def ingest_job(self, job_id: int, paths: Iterable[str | Path], *,
                   collection: str | None = None, format: str | None = None,
                   index: bool = False, progress: Callable[[Job], None] | None = None) -> Job:
        """Run a queued job here as :meth:`ingest`, recording progress, counts and per-record
        errors on it (and queueing the index it calls for); a file that cannot be ingested
        fails the job with its message. ``progress`` sees the job as bytes are read."""
        claim = self.job_service.claim_job(job_id)

        def run(job: Job, report_progress: work.Progress) -> work.Outcome:
            def on_bytes(_: str, done: int, total: int) -> None:
                report_progress(done, total)
                if progress is not None:
                    progress(job)

            if progress is not None:
                progress(job)
            report = Importer(self.store).ingest(
                paths, IngestOptions(collection=collection, format=format), on_bytes)
            record_ingest(job, report)
            return work.Outcome(report, work.after_ingest(report))

        with contextlib.suppress(Exception):  # recorded on the job
            work.run_claimed(self, claim, run)
        done = self.job_service.get(job_id)
        if index and done.status == "done":
            self.index()
        return done

    def feed(self, kind: str, **params: Any) -> Feed:
        """A feed (``follow.feeds.FEED_KINDS``) to write with ``follow.feeds.render_feed``;
        ``params`` as :meth:`FeedBuilder.build` takes them."""
        return FeedBuilder(self).build(kind, **params)
