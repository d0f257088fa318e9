"""``lib.authors``: an author's page (``lib.authors.get("J. Smith")``) and feed.

An author is the key their name variants share (``authors.author_key``: ``smith.j`` for
``John Smith``, ``J. Smith`` and ``Smith, John``; see that module for the rule and its
limits). The papers come from the search index's author keys (``index`` keeps them in
step with the library; nothing is written here).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from ..authors import author_key, display_name, fold, is_key
from ..errors import InvalidOptionError, NotFoundError
from ..follow.feeds import Feed, paper_entry
from ..records.authors import AuthorPage, AuthorRef, AuthorTopic
from ..records.papers import Paper
from ..search import SearchQuery
from .papers import Papers
from .search import Search
from .trees import Trees

#: Papers an author page reads (newest first); co-authors and topics are counted on them.
MAX_PAPERS = 500
#: Co-authors and topics an author page lists.
SHOWN = 20
#: Papers whose topics are read for an author page.
TOPIC_PAPERS = 200


class Authors:
    """The authors of a library, found through the search index."""

    def __init__(self, search: Search, papers: Papers, trees: Trees) -> None:
        self.search = search
        self.papers = papers
        self.trees = trees

    def resolve(self, name: str) -> str:
        """The author key for ``name``: a key as given, a name of two words or more by
        ``author_key``, one word (a surname) as the commonest author with that word in
        their name. ``NotFoundError`` when no paper has such an author."""
        text = " ".join(name.split())
        if is_key(text):
            return text
        if len(text.split()) > 1:
            key = author_key(text)
            if key:
                return key
        word = fold(text)
        if not word or not word.replace("-", "").isalnum():
            raise InvalidOptionError("author", name, ["a name such as 'Ada Lovelace'",
                                                      "an author key such as 'lovelace.a'"])
        keys: Counter[str] = Counter()
        for paper in self._papers(text, MAX_PAPERS)[1]:
            keys.update({author_key(a) for a in paper.authors if word in fold(a).split()})
        if not keys:
            raise NotFoundError(f"no author named {text!r}")
        return keys.most_common(1)[0][0]

    def get(self, name: str, *, limit: int = 50) -> AuthorPage:
        """An author's page by name or key (see :meth:`resolve`): ``limit`` papers newest
        first, co-authors and topics of their latest :data:`MAX_PAPERS` papers."""
        if not 1 <= limit <= MAX_PAPERS:
            raise InvalidOptionError("limit", limit, [f"1 to {MAX_PAPERS}"])
        key = self.resolve(name)
        total, papers = self._papers(key, MAX_PAPERS)
        if not papers:
            raise NotFoundError(f"no papers by an author {name!r} (key {key!r})")
        variants: Counter[str] = Counter()
        others: dict[str, Counter[str]] = defaultdict(Counter)
        shared: Counter[str] = Counter()
        for paper in papers:
            keys: dict[str, str] = {}
            for a in paper.authors:
                keys.setdefault(author_key(a), a)
            for k, a in keys.items():
                if k == key:
                    variants[a] += 1
                elif k:
                    others[k][a] += 1
                    shared[k] += 1
        coauthors = [AuthorRef(k, display_name(others[k].elements()), n)
                     for k, n in shared.most_common(SHOWN)]
        return AuthorPage(key=key, name=display_name(variants.elements()) or name,
                          variants=sorted(variants, key=lambda v: (-variants[v], v)),
                          total=total, coauthors=coauthors,
                          topics=self._topics(papers[:TOPIC_PAPERS]),
                          papers=self.papers.complete(papers[:limit]))

    def feed(self, name: str, *, limit: int = 50) -> Feed:
        """An author's newest papers as a feed."""
        page = self.get(name, limit=limit)
        where = f"/authors/{page.key}"
        return Feed("author", f"Author: {page.name}", f"The newest papers of {page.name}",
                    f"/feeds{where}", where, [paper_entry(p) for p in page.papers])

    def _papers(self, author: str, limit: int) -> tuple[int, list[Paper]]:
        """How many papers ``author`` (a key or a name word) has, and the newest
        ``limit`` of them, newest first."""
        page = self.search(SearchQuery("", author=author, limit=limit, snippets=False))
        papers = self.papers.store.papers.get_many(self.search.ids_of(page))
        papers.sort(key=lambda p: (p.date or str(p.year or ""), p.id), reverse=True)
        return page.total, papers

    def _topics(self, papers: list[Paper]) -> list[AuthorTopic]:
        counts: Counter[tuple[str, int]] = Counter()
        labels: dict[tuple[str, int], str] = {}
        for paper in papers:
            for topic in self.trees.topics_of(paper.key):
                counts[topic.tree, topic.id] += 1
                labels[topic.tree, topic.id] = topic.label
        return [AuthorTopic(tree, node, labels[tree, node], n)
                for (tree, node), n in counts.most_common(SHOWN)]
