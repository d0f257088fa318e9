"""Counting the words and phrases of a set of papers, once, for every stage that needs them.

A phrase is 1 to ``max_words`` consecutive words that do not cross a stop word, a
punctuation mark or the end of a title or abstract (so "graph neural networks" is a
phrase of "... with graph neural networks, ..." and "learning the model" is not). Title
words count ``title_weight`` times. The counting is vectorised: tokens become integer
ids once, and the n-grams are integer keys counted with numpy, which is several times
faster than scikit-learn's ``CountVectorizer`` with ``ngram_range=(1, 3)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from .parallel import fork_map, threads

#: A word: starts with a letter (or a digit followed by a letter: "3D"), two characters
#: at least; hyphens inside are kept ("fine-tuning").
WORD = r"\b[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]\b|\b[0-9][A-Za-z][A-Za-z0-9\-]*\b"
#: The same on lower-cased text, plus punctuation that ends a phrase (no ``\b``: faster;
#: a number glued to letters is kept whole: "100b", "3d").
_TOKENS = re.compile(r"[a-z][a-z0-9\-]*[a-z0-9]|[0-9]+[a-z][a-z0-9\-]*|[.,;:!?()\[\]{}]")
_SPLIT = re.compile(_TOKENS.pattern + "|\x00")  # the same, and the NUL between segments
#: Texts longer than this (in characters) are tokenized in parallel parts.
PARALLEL_CHARS = 2_000_000
#: Papers whose phrases are counted at once (bounds the work arrays of a count).
CHUNK_PAPERS = 20_000
#: Papers per step of the least document frequency of a phrase (:func:`phrase_min_df`).
MIN_DF_STEP = 50_000
#: Distinct keys of the chunks merged at once when counting document frequencies.
MERGE_KEYS = 8_000_000


@dataclass
class PhraseCounts:
    """Phrase counts of papers: ``matrix`` is papers x phrases (scipy CSR, float32),
    ``vocab`` the phrases (lower case) and ``words`` how many words each has."""

    matrix: Any
    vocab: np.ndarray
    words: np.ndarray

    def select(self, columns: np.ndarray) -> PhraseCounts:
        """The counts of some phrases only (``columns`` indexes ``vocab``)."""
        return PhraseCounts(self.matrix[:, columns], self.vocab[columns], self.words[columns])

    def unigrams(self) -> PhraseCounts:
        """The counts of single words."""
        return self.select(np.flatnonzero(self.words == 1))


def _token_ids(segments: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Lower-case tokens of every segment, concatenated, as ids numbered in order of first
    appearance; the token of each id; and the segment of each token. The segments are read
    as one text joined by NUL characters (a token of their own here, then dropped), twice as
    fast as a regular-expression call per segment; a long text is read in parts, one per
    worker process (:func:`~.parallel.threads`), with the same result."""
    joined = "\x00".join(segments).lower()
    if joined.count("\x00") != max(len(segments) - 1, 0):  # NUL in a text: call per segment
        found = [_TOKENS.findall(s.lower()) for s in segments]
        table: dict[str, int] = {}
        add = table.setdefault
        ids = np.array([add(t, len(table)) for t in chain.from_iterable(found)],
                       dtype=np.int32)
        return ids, list(table), np.repeat(np.arange(len(segments), dtype=np.int32),
                                           [len(f) for f in found])
    parts = _parts(joined, threads() if len(joined) >= PARALLEL_CHARS else 1)
    table = {}
    add = table.setdefault
    pieces = []
    for local, vocab in fork_map(_part_ids, joined, parts, len(parts)):
        pieces.append(np.array([add(t, len(table)) for t in vocab], dtype=np.int32)[local])
    del joined
    ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    del pieces
    if "\x00" not in table:
        return ids, list(table), np.zeros(len(ids), dtype=np.int32)
    sep = table.pop("\x00")  # drop the separators; later ids move down by one
    is_sep = ids == sep
    segment = np.cumsum(is_sep, dtype=np.int32)[~is_sep]
    ids = ids[~is_sep]
    ids -= ids > sep
    return ids, list(table), segment


def _parts(joined: str, count: int) -> list[tuple[int, int]]:
    """``count`` spans of about equal length that start at a NUL (or at 0)."""
    cuts = [0]
    for i in range(1, count):
        cut = joined.find("\x00", max(cuts[-1] + 1, len(joined) * i // count))
        if cut < 0:
            break
        cuts.append(cut)
    return list(zip(cuts, [*cuts[1:], len(joined)], strict=True))


def _part_ids(joined: str, span: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """The tokens of one span as ids local to it, and the token of each id; read
    :data:`PARALLEL_CHARS` characters at a time (cut at a NUL), so that no list holds
    more than their tokens."""
    table: dict[str, int] = {}
    add = table.setdefault
    pieces = []
    begin, end = span
    while begin < end:
        stop = joined.find("\x00", min(begin + PARALLEL_CHARS, end), end)
        stop = end if stop < 0 else stop
        pieces.append(np.array([add(t, len(table)) for t in _SPLIT.findall(joined, begin, stop)],
                               dtype=np.int32))
        begin = stop
    ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    return ids, list(table)


@dataclass
class Tokens:
    """The tokens of some papers: ``ids`` (int32) of the tokens of every title, then of
    every text (numbered in order of first appearance), ``names`` the token of each id,
    and ``segment`` (int32) the title (``i``) or text (``papers + i``) each token is in."""

    ids: np.ndarray
    names: list[str]
    segment: np.ndarray
    papers: int


def tokens_of(text: str) -> list[str]:
    """The lower-case tokens of one title or text, as :func:`tokenize` reads them."""
    return _TOKENS.findall(text.lower())


def assemble(titles: list[np.ndarray], texts: list[np.ndarray],
             names: Callable[[np.ndarray], list[str]]) -> Tokens:
    """The :class:`Tokens` of papers tokenized before (:func:`tokens_of`): each title and
    text is an array of ids of some larger vocabulary, of which ``names`` gives the token of
    each id asked for. The ids are numbered anew in order of first appearance, so the
    result is what :func:`tokenize` gives for the same texts."""
    segments = [*titles, *texts]
    if not segments or not sum(map(len, segments)):
        return Tokens(np.zeros(0, dtype=np.int32), [], np.zeros(0, dtype=np.int32),
                      len(texts))
    ids = np.concatenate(segments).astype(np.int64)
    size = int(ids.max()) + 1
    first = np.full(size, len(ids), dtype=np.int64)
    np.minimum.at(first, ids, np.arange(len(ids)))
    present = np.flatnonzero(first < len(ids))
    order = present[np.argsort(first[present], kind="stable")]
    local = np.empty(size, dtype=np.int32)
    local[order] = np.arange(len(order))
    lengths = np.fromiter(map(len, segments), dtype=np.int64, count=len(segments))
    return Tokens(local[ids], names(order),
                  np.repeat(np.arange(len(segments), dtype=np.int32), lengths), len(texts))


def tokenize(titles: list[str], texts: list[str]) -> Tokens:
    """The tokens of paper ``i``'s title ``titles[i]`` and text ``texts[i]``."""
    if len(titles) != len(texts):
        raise ValueError(f"titles ({len(titles)}) and texts ({len(texts)}) differ in length")
    ids, names, segment = _token_ids(list(titles) + list(texts))
    return Tokens(ids, names, segment, len(texts))


def count_phrases(titles: list[str], texts: list[str], *, stop_words: frozenset[str],
                  max_words: int = 3, min_df: int = 2, title_weight: int = 2) -> PhraseCounts:
    """Count the phrases of paper ``i`` in ``texts[i]`` plus ``title_weight`` times
    ``titles[i]`` (texts usually hold the title too: then it counts ``title_weight + 1``
    times). Phrases in fewer than ``min_df`` papers are dropped."""
    return count_tokens(tokenize(titles, texts), stop_words=stop_words, max_words=max_words,
                        min_df=min_df, title_weight=title_weight)


def phrase_min_df(papers: int) -> int:
    """The least number of papers a counted phrase is in: 2 (1 under four papers), and
    one more for every :data:`MIN_DF_STEP` papers from ``3 x MIN_DF_STEP`` on."""
    return 1 if papers < 4 else max(2, papers // MIN_DF_STEP)


def count_tokens(tokens: Tokens, *, stop_words: frozenset[str], max_words: int = 3,
                 min_df: int = 2, title_weight: int = 2) -> PhraseCounts:
    """:func:`count_phrases` of papers already tokenized (the phrases of up to
    ``max_words`` words; those of one word are the same whatever ``max_words``).

    Papers are counted :data:`CHUNK_PAPERS` at a time, twice per phrase length: once for
    every phrase's document frequency, once for the counts of those kept; what is held
    for every token between lengths is an int32 rank and two flags."""
    from scipy import sparse

    n, size = tokens.papers, max(len(tokens.names), 1)
    names = np.array(tokens.names, dtype=object)
    breaks = np.array([t in stop_words or not t[0].isalnum() for t in names], dtype=bool)
    chunks = [_Chunk.of(tokens, start, min(n, start + CHUNK_PAPERS), breaks, title_weight)
              for start in range(0, n, CHUNK_PAPERS)]
    columns: list[Any] = []
    kept_keys: list[np.ndarray] = []  # per length, the keys of the phrases kept (sorted)
    for length in range(1, max_words + 1):
        # A phrase in min_df papers has its prefix and its last word in them too, so
        # only positions where both were kept can start one (the kept set is the same).
        # Keys: a token id, then the prefix's rank among those kept x vocabulary size +
        # the last token id (ranks grow with keys: the kept keys keep their order).
        kept = _kept((c.found(length, size) for c in chunks), size, length == 1, min_df)
        parts = [c.count(kept, length) for c in chunks]
        columns.append(sparse.vstack(parts, format="csr", dtype=np.float32) if parts else
                       sparse.csr_matrix((0, len(kept)), dtype=np.float32))
        del parts
        kept_keys.append(kept)
        if length < max_words and len(kept) * size >= 2**62:  # the next keys would overflow
            raise OverflowError(f"too many distinct {length}-word phrases to count")
    vocab = [_texts(names, kept_keys, length, np.arange(len(kept)), size)
             for length, kept in enumerate(kept_keys, start=1)]
    words = [np.full(len(kept), length, dtype=np.int64) for length, kept in
             enumerate(kept_keys, start=1)]
    matrix = sparse.hstack(columns, format="csr", dtype=np.float32)
    vocabulary = np.concatenate(vocab) if vocab else np.zeros(0, dtype=object)
    return PhraseCounts(matrix, vocabulary.astype(object), np.concatenate(words))


@dataclass
class _Chunk:
    """The tokens of some papers (their titles, then their texts: views of the corpus's
    arrays, joined only while the chunk is worked on) and, between phrase lengths, each
    position's rank of the phrase counted there (-1: none) and whether it was kept, and
    whether its word was: six bytes a token held between lengths."""

    tokens: Tokens
    cut: tuple[int, int, int, int]  # token spans of the chunk's titles and texts
    start: int  # the chunk's first paper
    title_weight: float
    papers: int
    alive: np.ndarray
    word_alive: np.ndarray
    rank: np.ndarray
    #: Between :meth:`found` and :meth:`count`: positions, distinct keys, key of each.
    pending: tuple[np.ndarray, np.ndarray, np.ndarray] = (np.zeros(0, dtype=np.int64),) * 3

    @classmethod
    def of(cls, tokens: Tokens, start: int, stop: int, breaks: np.ndarray,
           title_weight: int) -> _Chunk:
        n = tokens.papers
        a, b, c, d = np.searchsorted(tokens.segment, [start, stop, n + start, n + stop]).tolist()
        chunk = cls(tokens, (a, b, c, d), start, float(title_weight), stop - start,
                    np.zeros(0, dtype=bool), np.zeros(0, dtype=bool),
                    np.zeros(0, dtype=np.int32))
        ids = chunk.ids
        ok = ~breaks[ids] if len(ids) else np.zeros(0, dtype=bool)
        chunk.alive = chunk.word_alive = ok
        return chunk

    def _joined(self, array: np.ndarray) -> np.ndarray:
        a, b, c, d = self.cut
        return np.concatenate([array[a:b], array[c:d]])

    @property
    def ids(self) -> np.ndarray:
        return self._joined(self.tokens.ids)

    @property
    def segment(self) -> np.ndarray:
        return self._joined(self.tokens.segment)

    def doc(self, at: np.ndarray) -> np.ndarray:
        """The chunk's paper of the tokens at ``at``."""
        doc: np.ndarray = (self.segment[at] % self.tokens.papers - self.start)
        return doc.astype(np.int32)

    def weight(self, at: np.ndarray) -> np.ndarray:
        """The weight of the tokens at ``at`` (titles' tokens come first)."""
        titles = self.cut[1] - self.cut[0]
        return np.where(at < titles, np.float32(self.title_weight), np.float32(1.0))

    def positions(self, length: int) -> np.ndarray:
        """Where a phrase of ``length`` words may start."""
        if length == 1:
            return np.flatnonzero(self.alive)
        segment = self.segment
        same = segment[length - 1:] == segment[: len(segment) - length + 1]
        return np.flatnonzero(self.alive[:-1] & self.word_alive[length - 1:] & same)

    def keys(self, length: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Where a phrase of ``length`` words may start here, and its key there."""
        at = self.positions(length)
        ids = self.ids
        if length == 1:
            return at, ids[at].astype(np.int64)
        return at, self.rank[at].astype(np.int64) * size + ids[at + length - 1]

    def found(self, length: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """The distinct keys of the phrases of ``length`` words here (sorted), and the
        number of papers each is in; remembered (int32 per position) for :meth:`count`."""
        at, keys = self.keys(length, size)
        local, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel().astype(np.int32)
        self.pending = (at.astype(np.int32), local, inverse)
        seen = sparse_matrix((np.ones(len(at), dtype=np.float32), (self.doc(at), inverse)),
                             (self.papers, len(local)))
        return local, np.bincount(seen.indices, minlength=len(local))

    def count(self, kept: np.ndarray, length: int) -> Any:
        """The counts of the kept phrases of ``length`` words (papers x kept phrases;
        ``kept`` their keys, sorted); remembers each position's rank among the kept
        phrases (-1: not kept)."""
        at, local, inverse = self.pending
        self.pending = (at[:0], local[:0], inverse[:0])
        found = np.searchsorted(kept, local)
        hit = found < len(kept)
        hit[hit] = kept[found[hit]] == local[hit]
        rank = np.where(hit, found, -1).astype(np.int32)[inverse]
        del found, hit, local, inverse
        a, b, c, d = self.cut
        self.rank = np.full(max(0, b - a + d - c - length + 1), -1, dtype=np.int32)
        self.rank[at] = rank
        alive = np.zeros(len(self.rank), dtype=bool)
        alive[at] = rank >= 0
        self.alive = alive
        if length == 1:
            self.word_alive = alive
        use = rank >= 0
        at = at[use]
        return sparse_matrix((self.weight(at), (self.doc(at), rank[use])),
                             (self.papers, len(kept)))


def sparse_matrix(entries: tuple[np.ndarray, tuple[np.ndarray, np.ndarray]],
                  shape: tuple[int, int]) -> Any:
    """A float32 CSR matrix of ``(values, (rows, columns))``, duplicates summed."""
    from scipy import sparse

    out = sparse.csr_matrix(entries, shape=shape, dtype=np.float32)
    out.sum_duplicates()
    return out


def _kept(found: Iterable[tuple[np.ndarray, np.ndarray]], size: int, dense: bool,
          min_df: int) -> np.ndarray:
    """The keys (sorted) in at least ``min_df`` papers; ``found`` holds each chunk's
    distinct keys (sorted) and the number of its papers each is in. The keys are merged
    in ranges of about :data:`MERGE_KEYS` keys (cut at the same keys in every chunk), so
    no array holds every chunk's keys at once."""
    keys_df = [(local, per.astype(np.int32)) for local, per in found if len(local)]
    if not keys_df:
        return np.zeros(0, dtype=np.int64)
    if dense:
        df = np.zeros(size, dtype=np.int64)
        for local, per in keys_df:
            df[local] += per
        return np.flatnonzero(df >= min_df)
    total = sum(len(k) for k, _ in keys_df)
    ranges = -(-total // MERGE_KEYS)
    bounds = np.zeros(0, dtype=np.int64)
    if ranges > 1:  # cut points: quantiles of a sample of every chunk's keys
        every = np.concatenate([k[:: max(1, len(k) // 4096)] for k, _ in keys_df])
        bounds = np.unique(np.quantile(every, np.linspace(0, 1, ranges + 1)[1:-1],
                                       method="lower"))
    cuts = [np.concatenate([[0], np.searchsorted(k, bounds), [len(k)]]) for k, _ in keys_df]
    out = []
    for r in range(len(bounds) + 1):
        keys = np.concatenate([k[c[r]:c[r + 1]] for (k, _), c in zip(keys_df, cuts, strict=True)])
        per = np.concatenate([p[c[r]:c[r + 1]] for (_, p), c in zip(keys_df, cuts, strict=True)])
        uniq, inverse = np.unique(keys, return_inverse=True)
        df = np.bincount(inverse.ravel(), weights=per, minlength=len(uniq))
        out.append(uniq[df >= min_df])
    return np.concatenate(out)


def _texts(names: np.ndarray, kept_keys: list[np.ndarray], length: int,
           positions: np.ndarray, size: int) -> np.ndarray:
    """The text of the kept ``length``-word phrases at ``positions`` among those kept
    (only those are built); a key's prefix is the kept phrase of its rank."""
    keys = kept_keys[length - 1][positions]
    if length == 1:
        return np.asarray(names[keys], dtype=object)
    prefix = _texts(names, kept_keys, length - 1, keys // size, size)
    lasts = names[keys % size]
    return np.array([f"{a} {b}" for a, b in zip(prefix, lasts, strict=True)], dtype=object)
