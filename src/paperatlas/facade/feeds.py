"""Feeds of the library (RSS and Atom are written by ``follow.feeds.render_feed``)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from ..errors import InvalidOptionError
from ..follow.feeds import FEED_KINDS, Feed, paper_entry, trending_entry
from ..follow.trending import TrendingService
from ..urls import SITE
from .papers import Papers
from .search import Search
from .trees import Trees


class FeedBuilder:
    """Feeds of one library, made from the same calls as its pages."""

    def __init__(self, papers: Papers, search: Search, trees: Trees,
                 trends: TrendingService) -> None:
        self.papers = papers
        self.search = search
        self.trees = trees
        self.trends = trends

    def build(self, kind: str, *, window: str = "week", collection: str | None = None,
              tree: str | None = None, node: int | None = None, query: str = "",
              mode: str | None = None, limit: int = 50,
              now: datetime | None = None) -> Feed:
        """The feed ``kind`` (one of ``FEED_KINDS``) with its newest (or best) papers."""
        if kind not in FEED_KINDS:
            raise InvalidOptionError("feed", kind, FEED_KINDS)
        if not 1 <= limit <= 500:
            raise InvalidOptionError("feed limit", limit, ["1 to 500"])
        if kind == "trending":
            found = self.trends.trending(window, collection=collection, tree=tree, node=node,
                                         limit=limit, now=now)
            params = {"window": window, "collection": collection or "",
                      "node": f"{tree}:{node}" if tree is not None and node is not None else ""}
            query_string = urlencode({k: v for k, v in params.items() if v})
            return Feed(kind, f"Trending in the last {window}",
                        f"The papers upvoted in the last {window}, by votes / (age in hours"
                        " + 2) ^ 1.8", f"/feeds/trending?{query_string}",
                        f"/?tab=trending&{query_string}",
                        [trending_entry(p, window) for p in found.papers])
        if kind == "search":
            return self._search(query, mode, limit)
        if kind == "node":
            if tree is None or node is None:
                raise InvalidOptionError("topic node", node, ["a tree name and a node id"])
            topic = self.trees.node(tree, node)
            papers = self.trends.newest(self.trends.scope(None, tree, node), limit)
            where = SITE.tree(tree, node)
            return Feed(kind, f"Topic: {topic.label}",
                        f"The newest papers under the topic {topic.label!r} of tree {tree!r}",
                        SITE.feed(where), where, [paper_entry(p) for p in papers])
        if kind == "collection":
            if not collection:
                raise InvalidOptionError("collection", collection, ["a collection name"])
            papers = list(self.papers(collection=collection, limit=limit, order="recent"))
            where = SITE.collection(collection)
            return Feed(kind, f"Collection: {collection}",
                        f"The newest papers of the collection {collection!r}",
                        SITE.feed(where), where, [paper_entry(p) for p in papers])
        papers = list(self.papers(limit=limit, order="recent"))
        return Feed(kind, "Newest papers", "The newest papers of the library",
                    SITE.url("/feeds/newest"), SITE.home(), [paper_entry(p) for p in papers])

    def _search(self, query: str, mode: str | None, limit: int) -> Feed:
        text = " ".join(query.split())
        if not text:
            raise InvalidOptionError("search feed query", query, ["any non-empty text"])
        page = self.search(text, mode=mode, limit=limit, snippets=False)
        papers = self.papers.store.papers.get_many(self.search.ids_of(page))
        return Feed("search", f"Search: {text}", f"The papers that best match {text!r}",
                    SITE.search_feed(text, mode), SITE.search(text, mode),
                    [paper_entry(p) for p in papers])
