"""What every part of :class:`~paperatlas.library.Library` shares: the store and finding a
paper by its key or one of its identifiers."""

from __future__ import annotations

from . import ids as idmod
from .errors import NotFoundError
from .records.papers import Paper
from .store import Store


class LibraryBase:
    """The store, and papers by key (the parts of ``Library`` build on this)."""

    store: Store

    def has_paper(self, key: str) -> bool:
        """Whether a paper with this key (or identifier) is in the library."""
        try:
            self._resolve(key)
        except NotFoundError:
            return False
        return True

    def _resolve(self, key: str) -> int:
        paper_id = self.store.papers.id_for(key)
        if paper_id is not None:
            return paper_id
        hit = idmod.recognize(key)
        if hit:
            found = self.store.papers.by_identifier(hit[0], hit[1])
            if found:
                return found[0]
        raise NotFoundError(f"no paper with key or identifier {key!r}")

    def _complete(self, papers: list[Paper]) -> list[Paper]:
        ids = [p.id for p in papers]
        names = self.store.collections.names_for(ids)
        sources = self.store.provenance.sources_for(ids)
        for p in papers:
            p.collections = names.get(p.id, [])
            p.sources = sources.get(p.id, [])
        return papers
