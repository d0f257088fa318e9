"""``lib.authors``: an author's page (``lib.authors.get("J. Smith")``) and feed.

An author is the key their name variants share (``authors.author_key``: ``smith.j`` for
``John Smith``, ``J. Smith`` and ``Smith, John``; see that module for the rule and its
limits), joined with what the identifiers that sources give authors say
(:mod:`paperatlas.author_ids`): the papers of the same ORCID, Semantic Scholar, OpenAlex
or Hugging Face author are theirs under any name (``Wei Wang`` and ``Wang Wei``), and two
people of one name key with different ORCIDs are two authors (``orcid:0000-...`` names
each; the name key's page lists them and keeps the papers it cannot tell apart). The
papers of a name come from the search index's author keys (``index`` keeps them in step
with the library), those of an identifier from the store; nothing is written here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from ..author_ids import Person, group, id_url, parse_ref, ref
from ..authors import author_key, display_name, fold, is_key
from ..errors import InvalidOptionError, NotFoundError
from ..follow.feeds import Feed, paper_entry
from ..records.authors import AuthorIdentifier, AuthorPage, AuthorRef, AuthorTopic, Mention
from ..records.papers import AUTHOR_ID_SCHEMES, Paper
from ..search import SearchQuery
from ..store.author_ids import AuthorIdRepo
from .papers import Papers
from .search import Search
from .trees import Trees

#: Papers an author page reads (newest first); co-authors and topics are counted on them.
MAX_PAPERS = 500
#: Co-authors and topics an author page lists.
SHOWN = 20
#: Papers whose topics are read for an author page.
TOPIC_PAPERS = 200
#: Rounds of following identifiers to the authors that share them, and the most authors
#: of sources (mentions) read for one page.
ROUNDS = 3
MAX_MENTIONS = 50_000


class Authors:
    """The authors of a library, found through the search index and their identifiers."""

    def __init__(self, search: Search, papers: Papers, trees: Trees) -> None:
        self.search = search
        self.papers = papers
        self.trees = trees

    def resolve(self, name: str) -> str:
        """The author key for ``name``: an identifier as ``scheme:value``
        (``orcid:0000-0002-1689-6636``; a bare ORCID or its URL too), a key as given, a
        name of two words or more by ``author_key``, one word (a surname) as the commonest
        author with that word in their name. ``NotFoundError`` when no paper has such an
        author."""
        text = " ".join(name.split())
        if (found := parse_ref(text)) is not None:
            return ref(*found)
        if is_key(text):
            return text
        if len(text.split()) > 1:
            key = author_key(text)
            if key:
                return key
        word = fold(text)
        if not word or not word.replace("-", "").isalnum():
            raise InvalidOptionError("author", name, [
                "a name such as 'Ada Lovelace'", "an author key such as 'lovelace.a'",
                "an ORCID such as 'orcid:0000-0002-1825-0097'"])
        keys: Counter[str] = Counter()
        for paper in self._papers(text, MAX_PAPERS)[1]:
            keys.update({author_key(a) for a in paper.authors if word in fold(a).split()})
        if not keys:
            raise NotFoundError(f"no author named {text!r}")
        return keys.most_common(1)[0][0]

    def get(self, name: str, *, limit: int = 50) -> AuthorPage:
        """An author's page by name, key or identifier (see :meth:`resolve`): ``limit``
        papers newest first, co-authors and topics of their latest :data:`MAX_PAPERS`
        papers."""
        if not 1 <= limit <= MAX_PAPERS:
            raise InvalidOptionError("limit", limit, [f"1 to {MAX_PAPERS}"])
        key = self.resolve(name)
        found = parse_ref(key)
        page = self._by_id(found, limit) if found else self._by_key(key, limit)
        if page is None:
            raise NotFoundError(f"no papers by an author {name!r} (key {key!r})")
        return page

    def feed(self, name: str, *, limit: int = 50) -> Feed:
        """An author's newest papers as a feed."""
        page = self.get(name, limit=limit)
        where = f"/authors/{page.key}"
        return Feed("author", f"Author: {page.name}", f"The newest papers of {page.name}",
                    f"/feeds{where}", where, [paper_entry(p) for p in page.papers])

    # -- by name key, by identifier ---------------------------------------------------
    def _by_key(self, key: str, limit: int) -> AuthorPage | None:
        """The page of a name key: its papers and those of the identifiers its authors
        have; when ORCIDs tell several people apart, those people and the papers none of
        them has."""
        total, papers = self._papers(key, MAX_PAPERS)
        keys = _Keys()
        known = self._repo.on_papers(p.id for p in papers)
        seeds = [m for m in known if keys(m.name) == key]  # the names' keys are read
        # again for the page, from the cache
        people = self._people(seeds, keys, known)
        named = [p for p in people if p.orcid]
        if len(named) > 1:
            theirs = {m.paper_id for p in named for m in p.mentions if keys(m.name) == key}
            left = [p for p in papers if p.id not in theirs]
            others = [p for p in people if not p.orcid]
            return self._page(key, left, max(len(left), total - len(theirs)), {key}, others,
                              keys, limit, [_ref_of(p) for p in named])
        if not papers and not people:
            return None
        have = {p.id for p in papers}
        more = self._load({i for p in people for i in p.papers} - have)
        total += sum(1 for p in more if all(keys(a) != key for a in p.authors))
        own = {key} | {keys(m.name) for p in people for m in p.mentions}
        return self._page(key, papers + more, total, own, people, keys, limit, [])

    def _by_id(self, found: tuple[str, str], limit: int) -> AuthorPage | None:
        """The page of the author with an identifier: their name key's page when that key
        is theirs alone, else only the papers where they have it."""
        keys = _Keys()
        person = next((p for p in self._people(self._repo.with_ids([found]), keys)
                       if p.has(*found)), None)
        if person is None:
            return None
        counts = Counter(keys(m.name) for m in person.mentions)
        main = next((k for k, _ in counts.most_common() if is_key(k)), "")
        page = self._by_key(main, limit) if main else None
        mine = {(i.scheme, i.value) for i in page.ids} if page else set()
        if page is not None and not page.people and found in mine:
            return page
        me = ref("orcid", person.orcid) if person.orcid else ref(*found)
        others = [r for r in page.people if r.key != me] if page else []
        return self._page(me, self._load(person.papers), len(person.papers), set(counts),
                          [person], keys, limit, others)

    # -- the identifiers --------------------------------------------------------------
    @property
    def _repo(self) -> AuthorIdRepo:
        return self.papers.store.author_ids

    def _people(self, seeds: Iterable[Mention], keys: _Keys,
                known: Iterable[Mention] = ()) -> list[Person]:
        """The people that ``seeds`` are, with every mention their identifiers lead to:
        the same author in the other sources of their papers, the same identifier on any
        paper; followed :data:`ROUNDS` times or until :data:`MAX_MENTIONS` are read
        (``known``: all the mentions of some papers, read already)."""
        seeds = set(seeds)
        known = list(known)
        found = seeds | _partners(known)
        read = {m.paper_id for m in known}
        asked: set[tuple[str, str]] = set()
        for step in range(ROUNDS + 1):
            papers = {m.paper_id for m in found} - read
            found.update(self._repo.on_papers(self._repo.shared(papers)))
            read |= papers
            ours = [p for p in group(found, keys) if not seeds.isdisjoint(p.mentions)]
            wanted = {i for p in ours for m in p.mentions for i in m.ids} - asked
            if step == ROUNDS or not wanted or len(found) > MAX_MENTIONS:
                return ours
            asked |= wanted
            found.update(self._repo.with_ids(wanted))
        return []

    # -- the page ---------------------------------------------------------------------
    def _page(self, key: str, papers: list[Paper], total: int, own: set[str],
              people: list[Person], keys: _Keys, limit: int,
              refs: list[AuthorRef]) -> AuthorPage:
        """An author's page from their papers (``own``: their name keys; ``people``: what
        their identifiers say; ``refs``: the other people of their name)."""
        papers = sorted({p.id: p for p in papers}.values(),
                        key=lambda p: (p.date or str(p.year or ""), p.id), reverse=True)
        papers = papers[:MAX_PAPERS]
        written: dict[int, set[str]] = defaultdict(set)
        for person in people:
            for m in person.mentions:
                written[m.paper_id].add(m.name)
        variants: Counter[str] = Counter()
        others: dict[str, Counter[str]] = defaultdict(Counter)
        shared: Counter[str] = Counter()
        for paper in papers:
            names = set(written.get(paper.id, ()))
            seen: dict[str, str] = {}
            for a in paper.authors:
                k = keys(a)
                if k in own:
                    names.add(a)
                elif k:
                    seen.setdefault(k, a)
            variants.update(names)
            for k, a in seen.items():
                others[k][a] += 1
                shared[k] += 1
        coauthors = [AuthorRef(k, display_name(others[k].elements()), n)
                     for k, n in shared.most_common(SHOWN)]
        ids = {(s, v) for person in people for s, vs in person.ids.items() for v in vs}
        return AuthorPage(
            key=key, name=display_name(variants.elements()) or key,
            variants=sorted(variants, key=lambda v: (-variants[v], v)), total=total,
            coauthors=coauthors, topics=self._topics(papers[:TOPIC_PAPERS]),
            ids=[AuthorIdentifier(s, v, id_url(s, v)) for s, v in sorted(ids, key=_id_order)],
            people=refs, papers=self.papers.complete(papers[:limit]))

    def _load(self, paper_ids: set[int]) -> list[Paper]:
        return self.papers.store.papers.get_many(sorted(paper_ids)[:MAX_PAPERS * 4])

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


class _Keys:
    """``author_key`` of names, each worked out once."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        key = self.known.get(name)
        if key is None:
            key = self.known[name] = author_key(name)
        return key


def _partners(mentions: list[Mention]) -> set[Mention]:
    """The mentions of the papers that two sources give identifiers on: only there can an
    author join another by name key or place (elsewhere only the identifiers join)."""
    sources: dict[int, set[int]] = defaultdict(set)
    for m in mentions:
        sources[m.paper_id].add(m.source_id)
    return {m for m in mentions if len(sources[m.paper_id]) > 1}


def _ref_of(person: Person) -> AuthorRef:
    """One of the people of a name key, named by their ORCID."""
    return AuthorRef(ref("orcid", person.orcid or ""), display_name(person.names().elements()),
                     len(person.papers))


def _id_order(pair: tuple[str, str]) -> tuple[int, str]:
    scheme, value = pair
    known = AUTHOR_ID_SCHEMES
    return (known.index(scheme) if scheme in known else len(known), value)
