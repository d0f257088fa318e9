"""BM25 over title + abstract with tantivy, updated incrementally, in shards.

The index lives in a folder beside the library file. One text field, ``all``, holds each
paper's title :data:`TITLE_COPIES` times and its abstract once, so title words weigh more
(a BM25F with the title weighted, in one field: one term query per query word), with
English stemming and stop words. Filters (collection, year, author, category) are indexed
fields, so counts and pagination are exact.

The papers are split over :data:`SHARDS` tantivy indexes (sub-folders ``v3.0``, ``v3.1``,
...: the layout's version, then the shard; a paper lives in shard ``id % SHARDS``),
searched side by side on their own threads once the library is large (tantivy releases
the GIL). tantivy's Python binding collects every match (no block-max pruning), so a
query's time grows with the postings it reads; shards split that work over the cores.
Each term's weight is corrected to the whole library's inverse document frequency, so a
paper scores as in one index (up to each shard's own average length, which is the
library's within a fraction of a percent at scale).

One process at a time writes the index (tantivy's writer locks, taken for every shard):
:meth:`LexicalIndex.writing` waits for another writer up to a bound, then raises
:class:`IndexBusyError`. Readers never wait; :meth:`LexicalIndex.reload` shows them what
another process committed; until then they search one generation of the index (tantivy's
manual reload), whose document frequencies are read once per term and kept.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import tantivy

from .lexical_query import NAME_WORDS, NameMatch, author_filter, ideal_of, idf
from .lexical_read import Generation
from .lexical_write import (
    LOCK_WAIT,
    TITLE_COPIES,
    IndexBusyError,
    IndexWriter,
    acquire,
    release,
)
from .query import terms

__all__ = ["LOCK_WAIT", "TITLE_COPIES", "Filters", "IndexBusyError", "IndexWriter",
           "LexicalHits", "LexicalIndex"]

#: Terms of a paper that "similar" searches with (Lucene MoreLikeThis' default).
MORE_LIKE_TERMS = 25
#: Shards of the index (each searched on its own thread; two cores on the reference box).
SHARDS = 2
#: From this many papers the shards are searched side by side (below, a thread's hand-off
#: costs more than the shard's search).
PARALLEL_MIN = 50_000
#: The version of the documents' fields; shard folders are named after it, so an index of
#: another layout is never opened with this schema (the next sync rebuilds it, and drops
#: the old folders).
LAYOUT = 4
_TOKENIZER = "en_stem_stop"
_KEYWORD = "raw_lower"
#: Author names: words in lower case without accents (``Karagöz`` finds ``Karagoz``).
_NAMES = "name_fold"
#: Title words as written (lower case, not stemmed): the vocabulary of spelling
#: suggestions (:mod:`.suggest`).
_WORDS = "title_words"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Filters:
    """Restrictions on a search; None means no restriction."""

    collection_id: int | None = None
    year_from: int | None = None
    year_to: int | None = None
    author: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class LexicalHits:
    """One page of lexical results: ``(paper_id, score)`` and the total match count."""

    hits: list[tuple[int, float]]
    total: int
    #: The best score of the whole ranking (the page's first may be further down).
    top: float = 0.0
    #: What a paper with every word of the query once would score
    #: (:func:`.lexical_query.ideal_of`): a word the library lacks adds to it only.
    ideal: float = 0.0
    #: The fewest papers any word of the query is in (as text, or as an author's name
    #: when the query is one): 0 when a word is in none.
    rarest: int = 0


def _analyzers() -> dict[str, Any]:
    """The tokenizers by name: the text's, keywords', author names' and title words'."""
    def simple() -> Any:
        return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
                .filter(tantivy.Filter.remove_long(40)).filter(tantivy.Filter.lowercase()))

    return {_TOKENIZER: simple().filter(tantivy.Filter.stopword("english"))
            .filter(tantivy.Filter.stemmer("english")).build(),
            _KEYWORD: tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
            .filter(tantivy.Filter.lowercase()).build(),
            _NAMES: simple().filter(tantivy.Filter.ascii_fold()).build(),
            _WORDS: simple().build()}


def _schema() -> Any:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("pid", stored=True, indexed=True, fast=True)
    sb.add_text_field("all", tokenizer_name=_TOKENIZER, stored=False)
    # Author names (scored: a query that is an author's name finds their papers), the
    # authors' keys (authors.author_key: the filter and the author pages) and title words.
    sb.add_text_field("author", tokenizer_name=_NAMES, stored=False, index_option="freq")
    sb.add_text_field("akey", tokenizer_name=_KEYWORD, stored=False, index_option="basic")
    sb.add_text_field("words", tokenizer_name=_WORDS, stored=False, index_option="basic")
    sb.add_text_field("category", tokenizer_name=_KEYWORD, stored=False)
    sb.add_integer_field("year", indexed=True, fast=True)
    sb.add_integer_field("collection", indexed=True)
    return sb.build()


class LexicalIndex:
    """A tantivy index of the library's papers, in ``shards`` sub-folders of ``path``."""

    def __init__(self, path: Path, *, shards: int = SHARDS,
                 parallel_min: int = PARALLEL_MIN) -> None:
        if shards < 1:
            raise ValueError(f"shards must be at least 1, not {shards}")
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.schema = _schema()
        self.settings = {"engine": "tantivy", "title_copies": TITLE_COPIES,
                         "version": LAYOUT, "shards": shards}
        self.parallel_min = parallel_min
        analyzers = _analyzers()
        self._names = {f"v{LAYOUT}.{i}" for i in range(shards)}
        self.shards = [self._open(path / f"v{LAYOUT}.{i}", analyzers)
                       for i in range(shards)]
        self._analyzer = analyzers[_TOKENIZER]
        self._name_analyzer = analyzers[_NAMES]
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._generation = Generation([index.searcher() for index in self.shards])

    def _open(self, folder: Path, analyzers: dict[str, Any]) -> Any:
        folder.mkdir(exist_ok=True)
        index = tantivy.Index(self.schema, path=str(folder),
                              reuse=tantivy.Index.exists(str(folder)))
        for name, analyzer in analyzers.items():
            index.register_tokenizer(name, analyzer)
        index.config_reader(reload_policy="manual")
        return index

    def analyze(self, text: str) -> list[str]:
        """The index terms of ``text`` (lowercased, stop words out, stemmed)."""
        return list(self._analyzer.analyze(text))

    @contextmanager
    def writing(self, wait: float = LOCK_WAIT) -> Iterator[IndexWriter]:
        """The index's writer, for one process at a time: waits up to ``wait`` seconds
        while another holds it (retrying with backoff), then raises
        :class:`IndexBusyError`. Each :meth:`IndexWriter.update` commits; an error rolls
        back what was not committed. The locks are released on leaving."""
        writers = acquire(self.shards, self.path, wait)
        ok = False
        try:
            self.reload()  # what the previous holder committed
            yield IndexWriter(writers, self.path, self._names, self.reload)
            ok = True
        finally:
            release(writers, commit_failed=not ok)
            self.reload()

    def reload(self) -> None:
        """Search what was last committed (by this process or another)."""
        for index in self.shards:
            index.reload()
        self._generation = Generation([index.searcher() for index in self.shards])

    def update(self, rows: Iterable[dict[str, Any]], removed: Iterable[int], *,
               wait: float = LOCK_WAIT) -> None:
        """Replace the given papers' documents and drop the removed ones; one commit."""
        with self.writing(wait) as writer:
            writer.update(rows, removed)

    def clear(self, *, wait: float = LOCK_WAIT) -> None:
        with self.writing(wait) as writer:
            writer.clear()

    def close(self) -> None:
        """Let the shard-search threads go (a later search makes new ones)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)

    def more_like(self, text: str, filters: Filters | None = None, *,
                  limit: int = 10, max_terms: int = MORE_LIKE_TERMS) -> LexicalHits:
        """Papers sharing the most telling words of ``text`` (a paper's title and abstract):
        its ``max_terms`` terms of highest tf-idf, as Lucene's MoreLikeThis picks them."""
        tokens = self._analyzer.analyze(" ".join(terms(text)))
        generation = self._generation
        n = max(sum(int(s.num_docs) for s in generation.searchers), 1)
        tf = Counter(tokens)
        per_shard = generation.doc_freqs(list(tf))
        weight = {tok: count * math.log(1 + n / (1 + sum(f[i] for f in per_shard)))
                  for i, (tok, count) in enumerate(tf.items())}
        chosen = sorted(weight, key=lambda tok: (-weight[tok], tok))[:max_terms]
        return self._bm25(chosen, filters, limit, 0)

    def search(self, query: str, filters: Filters | None = None, *, limit: int = 10,
               offset: int = 0, side_by_side: bool = True) -> LexicalHits:
        """BM25 over titles (weighted) and abstracts. ``side_by_side=False`` searches the
        shards one after the other (when another thread has the other core: hybrid
        search's vector half)."""
        words = terms(query)
        tokens = list(dict.fromkeys(self._analyzer.analyze(" ".join(words))))
        names = list(dict.fromkeys(self._name_analyzer.analyze(" ".join(words)))) if (
            len(words) <= NAME_WORDS) else []
        return self._bm25(tokens, filters, limit, offset, side_by_side, names)

    def _bm25(self, tokens: list[str], filters: Filters | None, limit: int,
              offset: int, side_by_side: bool = True,
              names: list[str] | None = None) -> LexicalHits:
        if not (tokens or names) or limit <= 0:
            return LexicalHits([], 0)
        generation = self._generation
        searchers = generation.searchers
        docs = [int(s.num_docs) for s in searchers]
        freqs = generation.doc_freqs(tokens)
        whole = [idf(sum(docs), sum(f[i] for f in freqs)) for i in range(len(tokens))]
        by_name = NameMatch.of(generation.doc_freqs(names, "author") if names else [],
                               names or [], docs)
        f = filters or Filters()

        def one(shard: int) -> tuple[list[tuple[float, int]], int]:
            searcher = searchers[shard]
            # Built from analyzed terms, never parsed: user text cannot be engine syntax.
            should = [(tantivy.Occur.Should, tantivy.Query.boost_query(
                tantivy.Query.term_query(self.schema, "all", tok),
                whole[i] / idf(docs[shard], freqs[shard][i])))
                for i, tok in enumerate(tokens) if freqs[shard][i]]
            if (clause := by_name.clause(self.schema, shard)) is not None:
                should.append((tantivy.Occur.Should, clause))
            if not should:
                return [], 0
            query = self._filtered(tantivy.Query.boolean_query(should), f)
            result = searcher.search(query, offset + limit, count=True)
            pids = searcher.fast_field_values("pid", [addr for _, addr in result.hits])
            count = getattr(result, "count", None)  # present at run time, not in the stubs
            return ([(float(score), int(pid))
                     for pid, (score, _) in zip(pids, result.hits, strict=True)
                     if pid is not None], int(count or 0))

        parts = self._each(len(searchers), one,
                           side_by_side and sum(docs) >= self.parallel_min)
        best = heapq.nsmallest(offset + limit, (hit for hits, _ in parts for hit in hits),
                               key=lambda hit: (-hit[0], hit[1]))
        counts = [sum(f[i] for f in freqs) for i in range(len(tokens))]
        return LexicalHits([(pid, score) for score, pid in best[offset:]],
                           sum(count for _, count in parts), best[0][0] if best else 0.0,
                           *ideal_of(whole, counts, by_name))

    def browse(self, filters: Filters, *, limit: int = 10, offset: int = 0) -> LexicalHits:
        """The papers that pass ``filters``, the latest year first (a search with no words
        but a filter, such as an author's papers); every score is 0."""
        query = self._filtered(tantivy.Query.all_query(), filters)
        searchers = self._searchers()

        def one(shard: int) -> tuple[list[tuple[int, int]], int]:
            searcher = searchers[shard]
            result = searcher.search(query, offset + limit, count=True, order_by_field="year")
            pids = searcher.fast_field_values("pid", [addr for _, addr in result.hits])
            count = getattr(result, "count", None)
            return ([(int(year or 0), int(pid)) for pid, (year, _) in
                     zip(pids, result.hits, strict=True) if pid is not None], int(count or 0))

        parts = self._each(len(searchers), one, len(self) >= self.parallel_min)
        best = heapq.nsmallest(offset + limit, (hit for hits, _ in parts for hit in hits),
                               key=lambda hit: (-hit[0], -hit[1]))
        total = sum(count for _, count in parts)
        return LexicalHits([(pid, 0.0) for _, pid in best[offset:]], total, rarest=total)

    def term_freqs(self, field: str, words: list[str]) -> list[int]:
        """How many papers have each of ``words`` (analyzed already) in ``field``."""
        per_shard = self._generation.doc_freqs(words, field)
        return [sum(f[i] for f in per_shard) for i in range(len(words))]

    def vocabulary(self, field: str, prefix: str, limit: int) -> dict[str, int]:
        """The ``limit`` commonest terms of ``field`` that start with ``prefix`` in each
        shard, with how many papers have them."""
        found: Counter[str] = Counter()
        for searcher in self._searchers():
            for term, count in searcher.terms_with_prefix(field, prefix, limit=limit):
                found[term] += int(count)
        return dict(found)

    def analyze_names(self, text: str) -> list[str]:
        """The author-name terms of ``text`` (lower case, accents folded)."""
        return list(self._name_analyzer.analyze(text))

    def count(self, filters: Filters) -> int:
        """How many papers pass the filters (counted in the index, none read out)."""
        query = self._filtered(tantivy.Query.all_query(), filters)
        total = 0
        for searcher in self._searchers():
            count = getattr(searcher.search(query, 1, count=True), "count", None)
            total += int(count or 0)  # present at run time, missing from the stubs
        return total

    def matching_ids(self, filters: Filters) -> np.ndarray:
        """Every paper id that passes the filters, ascending (for filtering other modes);
        read from the ``pid`` fast field (~8 ms for 17k papers, ~0.4 s for 1M)."""
        query = self._filtered(tantivy.Query.all_query(), filters)
        searchers = self._searchers()
        parts = self._each(len(searchers), lambda i: _ids(searchers[i], query),
                           sum(int(s.num_docs) for s in searchers) >= self.parallel_min)
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def passing(self, paper_ids: Iterable[int], filters: Filters) -> np.ndarray:
        """Those of ``paper_ids`` that pass the filters, ascending."""
        n = len(self.shards)
        wanted: list[list[int]] = [[] for _ in range(n)]
        for pid in sorted(set(paper_ids)):
            wanted[pid % n].append(pid)
        found = [_ids(searcher, self._filtered(
            tantivy.Query.term_set_query(self.schema, "pid", ids), filters), len(ids))
            for searcher, ids in zip(self._searchers(), wanted, strict=True) if ids]
        return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def _searchers(self) -> list[Any]:
        return self._generation.searchers

    def _each(self, n: int, work: Callable[[int], _T], side_by_side: bool) -> list[_T]:
        """``work(shard)`` for every shard, side by side on threads when asked (this
        thread takes the first shard)."""
        if n == 1 or not side_by_side:
            return [work(i) for i in range(n)]
        pending = [self._threads().submit(work, i) for i in range(1, n)]
        first = work(0)
        return [first] + [p.result() for p in pending]

    def _threads(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2 * (len(self.shards) - 1),
                                                thread_name_prefix="lexical-shard")
            return self._pool

    def _filtered(self, text: Any, f: Filters) -> Any:
        must = []
        if f.collection_id is not None:
            must.append(tantivy.Query.term_query(self.schema, "collection", f.collection_id))
        if f.year_from is not None or f.year_to is not None:
            must.append(tantivy.Query.range_query(
                self.schema, "year", tantivy.FieldType.Integer, f.year_from, f.year_to))
        if f.author and (by_author := author_filter(
                self.schema, f.author, self.analyze_names(f.author))) is not None:
            must.append(by_author)
        if f.category:
            must.append(tantivy.Query.term_query(self.schema, "category", f.category.lower()))
        if not must:
            return text
        # A filter only restricts: it adds nothing to a paper's score (a scored author or
        # collection clause would rank papers by the filter's own term statistics).
        clauses = [(tantivy.Occur.Must, text)] + [
            (tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)) for q in must]
        return tantivy.Query.boolean_query(clauses)

    def __len__(self) -> int:
        return sum(int(s.num_docs) for s in self._searchers())


def _ids(searcher: Any, query: Any, limit: int | None = None) -> np.ndarray:
    result = searcher.search(query, limit or max(int(searcher.num_docs), 1), count=False)
    found = searcher.fast_field_values("pid", [addr for _, addr in result.hits])
    return np.unique(np.asarray(found, dtype=np.int64))
