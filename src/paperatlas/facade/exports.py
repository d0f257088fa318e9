"""``lib.export``: papers written out as citations or data, chosen the ways people find them:
a collection, a search, a topic (with its sub-topics) or papers named by key.

``lib.export("bibtex", out, node="default:4")`` writes; ``lib.export.text("ris",
papers=["2401.00001"])`` returns the text; ``lib.export.papers(...)`` the papers chosen.
The writers are in :mod:`paperatlas.export`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import TextIO

from ..bounds import MAX_LIMIT, check_limit
from ..errors import InvalidOptionError
from ..export import WRITERS, writer_for
from ..records.papers import Paper
from .ask import parse_node
from .papers import Papers
from .search import Search
from .trees import Trees

#: Results of a search that an export takes unless told otherwise.
SEARCH_LIMIT = 100
#: Papers read from the store at a time.
_BATCH = 500
#: Ways of choosing the papers (one at a time; a search may keep to a collection).
SCOPES: tuple[str, ...] = ("collection", "query", "node", "papers")


class Export:
    """Exports of one library: call it with a format, an output and what to export."""

    def __init__(self, papers: Papers, search: Search, trees: Trees) -> None:
        self.papers_of = papers
        self.search = search
        self.trees = trees

    def __call__(self, format: str, out: TextIO, *, collection: str | None = None,
                 query: str | None = None, mode: str | None = None,
                 node: str | None = None, papers: Sequence[str] | None = None,
                 limit: int | None = None) -> int:
        """Write the chosen papers (see :meth:`papers`) to ``out`` in ``format`` (one of
        ``paperatlas.export.WRITERS``: ``bibtex``, ``ris``, ``csljson``, ``jsonl``,
        ``csv``); returns how many. Nothing is written when an option is bad."""
        writer = writer_for(format)
        chosen = self.papers(collection=collection, query=query, mode=mode, node=node,
                             papers=papers, limit=limit)
        return writer(chosen, out)

    def text(self, format: str, **scope: str | Sequence[str] | int | None) -> str:
        """The export as a string (a Cite box, a download)."""
        out = io.StringIO()
        self(format, out, **scope)  # type: ignore[arg-type]
        return out.getvalue()

    @staticmethod
    def formats() -> tuple[str, ...]:
        return tuple(WRITERS)

    def papers(self, *, collection: str | None = None, query: str | None = None,
               mode: str | None = None, node: str | None = None,
               papers: Sequence[str] | None = None,
               limit: int | None = None) -> Iterator[Paper]:
        """The papers an export takes, checked before the first is read:

        * ``query`` (with ``mode``): the best ``limit`` results (default
          :data:`SEARCH_LIMIT`) of that search, in rank order, within ``collection`` if
          given;
        * ``node`` (``TREE:ID``): every paper of that topic and of its sub-topics, the
          closest to the topic first;
        * ``papers``: those papers, by key or identifier, in that order;
        * ``collection`` alone: that collection; nothing: the whole library.
        """
        given = [name for name, value in (("query", query), ("node", node),
                                          ("papers", papers)) if value is not None]
        if len(given) > 1 or (collection is not None and given and given != ["query"]):
            raise InvalidOptionError("export scope", " and ".join(
                (["collection"] if collection is not None else []) + given),
                ["one of " + ", ".join(SCOPES) + " (a query may keep to a collection)"])
        if mode is not None and query is None:
            raise InvalidOptionError("export mode", mode, ["a mode with a query"])
        if limit is not None:
            check_limit(limit, MAX_LIMIT)
        if query is not None:
            return self._search(query, mode, collection, limit or SEARCH_LIMIT)
        if node is not None:
            return self._topic(node, limit)
        if papers is not None:
            ids = list(dict.fromkeys(self.papers_of.resolve(k) for k in papers))
            return self._complete(ids[:limit] if limit else ids)
        return self.papers_of(collection=collection, limit=limit)

    def _search(self, query: str, mode: str | None, collection: str | None,
                limit: int) -> Iterator[Paper]:
        text = " ".join(query.split())
        if not text:
            raise InvalidOptionError("export query", query, ["any non-empty text"])
        page = self.search(text, mode=mode, limit=limit, collection=collection,
                           snippets=False)
        return self._complete(self.search.ids_of(page))

    def _topic(self, node: str, limit: int | None) -> Iterator[Paper]:
        name, node_id = parse_node(node)
        self.trees.node(name, node_id)  # a missing tree or topic is NotFoundError
        tree = self.trees.get(name)
        best: dict[int, float] = {}
        for nid in tree.subtree_ids(node_id):
            for pid, score in tree.nodes[nid].papers.items():
                best[pid] = max(score, best.get(pid, score))
        ids = sorted(best, key=lambda pid: (-best[pid], pid))
        return self._complete(ids[:limit] if limit else ids)

    def _complete(self, ids: list[int]) -> Iterator[Paper]:
        """The papers of ``ids`` in that order, read :data:`_BATCH` at a time."""
        for start in range(0, len(ids), _BATCH):
            yield from self.papers_of.complete(
                self.papers_of.store.papers.get_many(ids[start:start + _BATCH]))
