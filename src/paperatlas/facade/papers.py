"""``lib.papers`` and ``lib.collections``: papers by key or identifier, listed, counted and
exported; the collections people make."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from .. import ids as idmod
from ..bounds import MAX_LIST, check_limit, check_offset
from ..errors import ConflictError, InvalidOptionError, NotFoundError
from ..export import writer_for
from ..records.papers import CollectionInfo, Paper
from ..store import Store, utcnow

#: How :meth:`Papers.__call__` can order papers.
PAPER_ORDERS: tuple[str, ...] = ("id", "recent")


class Papers:
    """The library's papers: ``lib.papers[key]``, ``key in lib.papers``,
    ``lib.papers(collection=..., limit=...)`` (streamed), ``lib.papers.count()``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def resolve(self, key: str) -> int:
        """A paper's id from its key or any identifier it carries (DOI, arXiv id, ...)."""
        paper_id = self.store.papers.id_for(key)
        if paper_id is not None:
            return paper_id
        hit = idmod.recognize(key)
        if hit:
            found = self.store.papers.by_identifier(hit[0], hit[1])
            if found:
                return found[0]
        raise NotFoundError(f"no paper with key or identifier {key!r}")

    def has(self, key: str) -> bool:
        """Whether a paper with this key (or identifier) is in the library."""
        try:
            self.resolve(key)
        except NotFoundError:
            return False
        return True

    __contains__ = has

    def get(self, key: str) -> Paper:
        """A paper by its key, or by any identifier it carries."""
        return self.complete(self.store.papers.get_many([self.resolve(key)]))[0]

    __getitem__ = get

    def complete(self, papers: list[Paper]) -> list[Paper]:
        """The papers with their collections and sources filled in."""
        ids = [p.id for p in papers]
        names = self.store.collections.names_for(ids)
        sources = self.store.provenance.sources_for(ids)
        for p in papers:
            p.collections = names.get(p.id, [])
            p.sources = sources.get(p.id, [])
        return papers

    def signals(self, papers: list[Paper]) -> dict[str, dict[str, dict[str, Any]]]:
        """What remote sources say of the papers (upvotes, comments, repository, ...):
        ``key -> source -> name -> value``, read in one query, for those that have any."""
        found = self.store.signals.of([p.id for p in papers])
        return {p.key: found[p.id] for p in papers if p.id in found}

    def __call__(self, *, collection: str | None = None, limit: int | None = None,
                 offset: int = 0, order: str = "id") -> Iterator[Paper]:
        """Papers with collections and sources, streamed in batches; ``order`` is one of
        ``PAPER_ORDERS`` (``recent``: newest date first, then newest ingested)."""
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
            yield from self.complete(self.store.papers.get_many(batch))
            if remaining is not None and remaining <= 0:
                return

    def count(self, collection: str | None = None) -> int:
        """How many papers the library (or one collection) holds."""
        collection_id = self.store.collections.require(collection)
        if collection_id is None:
            return int(self.store.papers.counts()["papers"])
        return next(c.papers for c in self.store.collections.all() if c.name == collection)

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest ingest runs, newest first."""
        check_limit(limit, MAX_LIST)
        return self.store.provenance.runs(limit)

    def export(self, format: str, out: TextIO, *, collection: str | None = None) -> int:
        """Write every paper (or a collection's) to ``out``; returns how many."""
        writer = writer_for(format)
        return writer(self(collection=collection), out)


class Collections:
    """Named groups of papers: ``lib.collections.all()``, ``.create``, ``.add``, ``.remove``."""

    def __init__(self, store: Store, papers: Papers) -> None:
        self.store = store
        self.papers = papers

    def all(self) -> list[CollectionInfo]:
        return self.store.collections.all()

    def create(self, name: str) -> CollectionInfo:
        """A new, empty collection."""
        name = " ".join(name.split())
        if not name or len(name) > 200:
            raise InvalidOptionError("collection name", name, ["1 to 200 characters"])
        if self.store.collections.id_for(name) is not None:
            raise ConflictError(f"a collection named {name!r} already exists")
        with self.store.transaction():
            self.store.collections.ensure(name, utcnow())
        made = self.store.collections.get(name)
        assert made is not None  # committed just now
        return made

    def add(self, name: str, keys: Iterable[str]) -> int:
        """Put papers (by key or identifier) in a collection; returns how many were new."""
        repo = self.store.collections
        return self._change(name, keys, lambda c, p: repo.add_paper(c, p, utcnow()))

    def remove(self, name: str, keys: Iterable[str]) -> int:
        """Take papers out of a collection (they stay in the library); returns how many."""
        return self._change(name, keys, self.store.collections.remove_paper)

    def _change(self, name: str, keys: Iterable[str],
                change: Callable[[int, int], bool]) -> int:
        cid = self.store.collections.require(name) or 0
        ids = [self.papers.resolve(k) for k in keys]
        with self.store.transaction():
            return sum(change(cid, pid) for pid in ids)
