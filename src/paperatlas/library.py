"""The facade: a small composition root whose nouns do the work (sqlite-utils' shape).

``lib.papers``, ``lib.collections``, ``lib.search``, ``lib.trees``, ``lib.map``,
``lib.follow``, ``lib.ask``, ``lib.review``, ``lib.people``, ``lib.signups`` and
``lib.jobs``; the library itself ingests, indexes and counts. Each noun is built from typed
collaborators (the store, the services, other nouns), never from the library, so nothing
below calls back up into it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from .accounts import AccountService
from .backup import BackupReport, RestoreReport, restore_backup, write_backup
from .embed import Embedder
from .embed.sbert import BACKENDS, DEFAULT_MODEL, SentenceTransformerEmbedder
from .errors import InvalidOptionError
from .facade.ask import Ask
from .facade.authors import Authors
from .facade.exports import Export
from .facade.feeds import FeedBuilder
from .facade.follow import Follow
from .facade.maps import Map
from .facade.papers import Collections, Papers
from .facade.review import Reviews
from .facade.search import Search
from .facade.sources import Sources
from .facade.trees import Trees
from .follow.service import FollowService
from .follow.trending import TrendingService
from .importer import Importer, IngestOptions, ProgressFn
from .ingest import FieldMap
from .jobs import JobService
from .mapview import MapService
from .organize.service import TreeService
from .records.papers import IngestReport, Stats
from .records.vectors import VectorExportReport, VectorImportReport
from .search import IndexReport, SearchService
from .search.evidence import EvidenceFinder
from .search.exchange import export_vectors, import_vectors
from .search.ray_embed import RayOptions
from .signups import SignupService
from .store import Store
from .vectors import ANN_MIN, SqliteVectorStore
from .work import Indexer, Progress, after_ingest

__all__ = ["Library"]


class Library:
    """A paper library stored in one SQLite file.

    >>> lib = Library("papers.db")                  # doctest: +SKIP
    >>> lib.ingest(["listing.txt"]).added           # doctest: +SKIP
    >>> lib.search("protein folding").hits[0].key   # doctest: +SKIP
    >>> lib.papers["2405.00001"].title              # doctest: +SKIP
    >>> lib.trees.build("default")                  # doctest: +SKIP
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
        self.store = store = Store(self.path)
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
        self.vectors = SqliteVectorStore(store, index_folder, ann_min=ann_min)
        self.papers = Papers(store)
        self.collections = Collections(store, self.papers)
        self.search = search = Search(
            SearchService(store, index_folder, factory, vectors=self.vectors), self.papers)
        encode = search.encode_queries if factory else None
        #: Questions answered with the papers' sentences (``lib.ask("...")``).
        self.ask = Ask(store, self.papers, EvidenceFinder(search.service))
        #: Literature reviews of topics (``lib.review("default:4")``).
        self.review = Reviews(store, self.ask.finder)
        tree_service = TreeService(store, self.vectors, embed=encode, search=search.ids)
        self.people = AccountService(store)
        #: Open sign-up: pending accounts that exist once their address confirms them.
        self.signups = SignupService(store, self.people)
        self.jobs = JobService(store)
        #: Index sync, embedding, tree updates and map placement, as jobs.
        self.indexer = Indexer(store, self.jobs, search.service, tree_service, self.vectors)
        self.trees = Trees(tree_service, self.papers, search, self.indexer)
        #: Papers out as BibTeX, RIS, CSL-JSON, JSONL or CSV (``lib.export("ris", out,
        #: node="default:4")``): a collection, a search, a topic or papers by key.
        self.export = Export(self.papers, search, self.trees)
        #: Authors' pages and feeds, their name variants as one (``lib.authors.get``).
        self.authors = Authors(search, self.papers, self.trees)
        self.map = Map(MapService(store, self.vectors, index_folder))
        #: Remote sources followed; one sync at a time (a lock file beside the library).
        self.sources = Sources(store, self.jobs, None if str(path) == ":memory:" else
                               self.path.with_name(self.path.name + ".sync.lock"))
        trends = TrendingService(store, self.papers.complete)
        self.follow = Follow(
            store, self.papers, trends,
            FollowService(store, vectors=self.vectors, resolve=self.papers.resolve,
                          analyze=search.analyze, index=self.indexer.index,
                          encode=lambda: encode),
            FeedBuilder(self.papers, search, self.trees, trends))

    def close(self) -> None:
        self.search.service.close()
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            follow_ups = after_ingest(report)
            if not follow_ups and self.search.pending():
                # Nothing new, yet papers wait: an earlier run was killed after its last
                # batch committed and before it queued their index job.
                follow_ups = [("index", {"collections": sorted(
                    {f.collection for f in report.files if f.ok and f.collection})})]
            for kind, params in follow_ups:
                self.jobs.enqueue(kind, params)
            if index:
                self.index()
        return report

    def index(self, *, embed: bool = True, switch_model: bool = False,
              progress: Progress | None = None, wait: float | None = None,
              ray: RayOptions | None = None, sentences: bool = True) -> IndexReport:
        """Bring the search index, the token cache that tree builds read and (with an
        embedding model) the vectors up to date, as an ``index`` job run here (the queued
        one, if any); ``wait`` bounds the wait for another process that is indexing
        (``StoreError``, ``IndexBusyError`` after); ``ray`` embeds on a Ray cluster;
        ``sentences`` also splits the abstracts into sentences (``ask``)."""
        return self.indexer.index(embed=embed, switch_model=switch_model, progress=progress,
                                  wait=wait, ray=ray, sentences=sentences)

    def import_vectors(self, path: str | Path, *, model: str | None = None,
                       switch_model: bool = False) -> VectorImportReport:
        """Vectors computed elsewhere, from an ``.npz`` file (``model``: who made them, when
        the file does not say); see :mod:`.search.exchange`."""
        service = self.search.service
        return import_vectors(self.store, self.vectors, Path(path),
                              service.embedder if service.semantic_enabled else None,
                              self.papers.resolve, model=model, switch_model=switch_model)

    def export_vectors(self, path: str | Path) -> VectorExportReport:
        """Every paper's vectors, named by key, to an ``.npz`` file ``vectors import`` reads."""
        return export_vectors(self.store, self.vectors, Path(path))

    def stats(self) -> Stats:
        """How many papers, sources, collections, files and ingest runs the library holds."""
        papers = self.store.papers.counts()
        prov = self.store.provenance.counts()
        return Stats(
            papers=papers["papers"], sources=prov["sources"],
            collections=self.store.collections.count(), files=prov["files"],
            ingest_runs=prov["ingest_runs"], with_abstract=papers["with_abstract"],
            identifiers=papers["identifiers"], last_ingest=prov["last_ingest"],
            schema_version=self.store.schema_version)

    def backup(self, dest: str | Path, *, wait: float | None = None) -> BackupReport:
        """Back up the library (and its index, uploads and secret) into the new folder
        ``dest``, safe while a server, a worker or an ingest runs (:mod:`.backup`)."""
        return write_backup(self.path, Path(dest), self.search.service, wait=wait)

    @staticmethod
    def restore(source: str | Path, path: str | Path, *, force: bool = False) -> RestoreReport:
        """Restore the backup folder ``source`` as the library file ``path``, checked
        first; an existing library there is replaced only with ``force``."""
        return restore_backup(Path(source), Path(path), force=force)
