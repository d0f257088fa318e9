"""Counting the words and phrases of a set of papers, once, for every stage that needs them.

A phrase is 1 to ``max_words`` consecutive words that do not cross a stop word, a
punctuation mark or the end of a title or abstract (so "graph neural networks" is a
phrase of "... with graph neural networks, ..." and "learning the model" is not). Title
words count ``title_weight`` times. The counting is vectorised: tokens become integer
ids once, and the n-grams are integer keys counted with numpy, which is several times
faster than scikit-learn's ``CountVectorizer`` with ``ngram_range=(1, 3)``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any

import numpy as np

from .ngrams import Chunk, key_ranges, merged, stacked
from .parallel import fork_map, release_memory, thread_map, threads

#: A token of lower-cased text: a word starts with a letter (or a number glued to a
#: letter: "100b", "3d"), has two characters at least, keeps hyphens inside
#: ("fine-tuning"); or punctuation that ends a phrase. Letters are any script's
#: ("planlægning", "hif-1\u03b1"); ASCII text is read by the faster ASCII-only pattern, which
#: finds the same tokens there.
_ASCII = r"[a-z][a-z0-9\-]*[a-z0-9]|[0-9]+[a-z][a-z0-9\-]*|[.,;:!?()\[\]{}]"
_UNICODE = r"[^\W\d_](?:[^\W_]|-)*[^\W_]|[0-9]+[^\W\d_](?:[^\W_]|-)*|[.,;:!?()\[\]{}]"
_TOKENS = re.compile(_ASCII)
_TOKENS_UNICODE = re.compile(_UNICODE)
_SPLIT = re.compile(_ASCII + "|\x00")  # the same, and the NUL between segments
_SPLIT_UNICODE = re.compile(_UNICODE + "|\x00")
#: Markup left in abstracts (``<span class="...">``, ``<jats:p>``), a tag at a time.
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9:\-]*(?:\s[^<>\x00]*)?/?>")
#: A literal ``\uXXXX`` escape of a non-ASCII character (``\u03b1``).
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
#: Texts longer than this (in characters) are tokenized in parallel parts.
PARALLEL_CHARS = 2_000_000
#: Characters of titles and texts joined and tokenized at once (:func:`_token_ids`).
GROUP_CHARS = 64_000_000
#: Tokens read at once when numbering cached tokens (:func:`assemble`).
FIRST_BLOCK = 1 << 20
#: Papers whose phrases are counted at once (bounds the work arrays of a count).
CHUNK_PAPERS = 20_000
#: Papers per step of the least document frequency of a phrase (:func:`phrase_min_df`).
MIN_DF_STEP = 50_000
#: Positions where a phrase may start counted at once (a range of keys over every chunk).
RANGE_POSITIONS = 4_000_000
#: Ranges of keys per length at most (more positions a range then): every range reads
#: every chunk's prefixes once.
MAX_RANGES = 32


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


def _token_ids(segments: Iterable[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Lower-case tokens of every segment, concatenated, as ids numbered in order of first
    appearance; the token of each id; and where each segment's tokens start (int64, one
    more than the segments: the last is the number of tokens). Segments are read
    :data:`GROUP_CHARS` characters at a time (only that much text is joined), each group as
    one text joined by NUL characters (a token of their own here, then dropped), twice as
    fast as a regular-expression call per segment; a long group is read in parts, one per
    worker process (:func:`~.parallel.threads`), with the same result."""
    table: dict[str, int] = {}
    pieces: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    for group in _groups(segments):
        ids, sizes = _group_ids(group, table)
        pieces.append(ids)
        lengths.append(sizes)
    ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    del pieces
    offsets = np.zeros(sum(map(len, lengths)) + 1, dtype=np.int64)
    if len(offsets) > 1:
        np.cumsum(np.concatenate(lengths), out=offsets[1:])
    return ids, list(table), offsets


def _groups(segments: Iterable[str]) -> Iterator[list[str]]:
    """Consecutive groups of segments of about :data:`GROUP_CHARS` characters."""
    group: list[str] = []
    chars = 0
    for text in segments:
        group.append(text)
        chars += len(text) + 1
        if chars >= GROUP_CHARS:
            yield group
            group, chars = [], 0
    if group:
        yield group


def _group_ids(segments: list[str], table: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """The ids of one group's tokens (numbered in ``table``, which new tokens join) and the
    number of tokens of each segment."""
    add = table.setdefault
    joined = clean("\x00".join(segments).lower())
    if joined.count("\x00") != len(segments) - 1:  # NUL in a text: call per segment
        del joined
        found = [tokens_of(s) for s in segments]
        ids = np.array([add(t, len(table)) for t in chain.from_iterable(found)],
                       dtype=np.int32)
        return ids, np.fromiter(map(len, found), dtype=np.int64, count=len(found))
    parts = _parts(joined, threads() if len(joined) >= PARALLEL_CHARS else 1)
    pieces = []
    for local, vocab in fork_map(_part_ids, joined, parts, len(parts)):
        # The separator is never numbered (-1 here, dropped below).
        known = np.array([-1 if t == "\x00" else add(t, len(table)) for t in vocab],
                         dtype=np.int32)
        pieces.append(known[local])
    del joined
    ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    del pieces
    at = np.flatnonzero(ids < 0)  # the separators, one between each two segments
    sizes = np.diff(np.concatenate([[-1], at, [len(ids)]])) - 1
    if len(at):
        ids = np.delete(ids, at)
    return ids, sizes.astype(np.int64)


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
        split = _SPLIT if joined[begin:stop].isascii() else _SPLIT_UNICODE
        pieces.append(np.array([add(t, len(table)) for t in split.findall(joined, begin, stop)],
                               dtype=np.int32))
        begin = stop
    ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    return ids, list(table)


@dataclass
class Tokens:
    """The tokens of some papers: ``ids`` (int32) of the tokens of every title, then of
    every text (numbered in order of first appearance), ``names`` the token of each id,
    and ``offsets`` (int64) where the tokens of each title (``i``) and text
    (``papers + i``) start, and after the last, the number of tokens."""

    ids: np.ndarray
    names: list[str]
    offsets: np.ndarray
    papers: int

    @property
    def segment(self) -> np.ndarray:
        """The title or text (as in :attr:`offsets`) each token is in (int32; built when
        asked for: four bytes a token)."""
        return np.repeat(np.arange(len(self.offsets) - 1, dtype=np.int32),
                         np.diff(self.offsets))


def tokens_of(text: str) -> list[str]:
    """The lower-case tokens of one title or text, as :func:`tokenize` reads them."""
    text = clean(text.lower())
    return (_TOKENS if text.isascii() else _TOKENS_UNICODE).findall(text)


def clean(text: str) -> str:
    """Text as it is tokenized (any case): markup tags and entities (``<span ...>``,
    ``&amp;``) become spaces, literal ``\\uXXXX`` escapes the characters they stand for
    (each only looked for where its first character occurs)."""
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "\\u" in text:
        text = _ESCAPE.sub(_unescaped, text)
    return text


def _unescaped(match: re.Match[str]) -> str:
    """The character of a ``\\uXXXX`` escape; an ASCII or surrogate code: a space."""
    code = int(match.group(1), 16)
    return chr(code) if code >= 0x80 and not 0xD800 <= code < 0xE000 else " "


def assemble(titles: list[np.ndarray], texts: list[np.ndarray],
             names: Callable[[np.ndarray], list[str]]) -> Tokens:
    """The :class:`Tokens` of papers tokenized before (:func:`tokens_of`): each title and
    text is an array of ids of some larger vocabulary, of which ``names`` gives the token of
    each id asked for. The ids are numbered anew in order of first appearance, so the
    result is what :func:`tokenize` gives for the same texts. The ids stay int32; the
    first appearances are found :data:`FIRST_BLOCK` tokens at a time, among the tokens not
    seen before only."""
    segments = [*titles, *texts]
    if not segments or not sum(map(len, segments)):
        return Tokens(np.zeros(0, dtype=np.int32), [], np.zeros(len(segments) + 1,
                                                                 dtype=np.int64), len(texts))
    ids = np.concatenate(segments).astype(np.int32, copy=False)
    size = int(ids.max()) + 1
    first = np.full(size, len(ids), dtype=np.int64)
    for start in range(0, len(ids), FIRST_BLOCK):
        block = ids[start:start + FIRST_BLOCK]
        new = np.flatnonzero(first[block] == len(ids))
        if len(new):
            uniq, index = np.unique(block[new], return_index=True)
            first[uniq] = new[index] + start
    present = np.flatnonzero(first < len(ids))
    order = present[np.argsort(first[present], kind="stable")]
    del first
    local = np.empty(size, dtype=np.int32)
    local[order] = np.arange(len(order), dtype=np.int32)
    offsets = np.zeros(len(segments) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, segments), dtype=np.int64, count=len(segments)),
              out=offsets[1:])
    return Tokens(local[ids], names(order), offsets, len(texts))


def tokenize(titles: Sequence[str], texts: Sequence[str]) -> Tokens:
    """The tokens of paper ``i``'s title ``titles[i]`` and text ``texts[i]`` (read a group
    at a time: no list of them all is made)."""
    if len(titles) != len(texts):
        raise ValueError(f"titles ({len(titles)}) and texts ({len(texts)}) differ in length")
    ids, names, offsets = _token_ids(chain(titles, texts))
    return Tokens(ids, names, offsets, len(texts))


def count_phrases(titles: Sequence[str], texts: Sequence[str], *, stop_words: frozenset[str],
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
                 min_df: int = 2, title_weight: int = 2, release: bool = False
                 ) -> PhraseCounts:
    """:func:`count_phrases` of papers already tokenized (the phrases of up to
    ``max_words`` words; those of one word are the same whatever ``max_words``). With
    ``release``, ``tokens`` are emptied once the chunks have copied them (a caller that
    holds no other reference to their arrays then gets that memory back during the count).

    Papers are counted :data:`CHUNK_PAPERS` at a time, one range of keys of about
    :data:`RANGE_POSITIONS` positions at a time (or more, in :data:`MAX_RANGES` ranges at
    most), twice per range: once for every phrase's
    document frequency, once for the counts of those kept (:mod:`.ngrams`); what is held
    for every token between lengths is its id, an int32 prefix and a flag."""
    n, size = tokens.papers, max(len(tokens.names), 1)
    names = np.array(tokens.names, dtype=object)
    breaks = np.array([t in stop_words or not t[0].isalnum() for t in names], dtype=bool)
    chunks = [Chunk.of(tokens, start, min(n, start + CHUNK_PAPERS), breaks, title_weight)
              for start in range(0, n, CHUNK_PAPERS)]
    if release:
        tokens.ids, tokens.names = np.zeros(0, dtype=np.int32), []
        tokens.offsets = np.zeros(1, dtype=np.int64)
        release_memory()
    kept_keys: list[np.ndarray] = []  # per length, the keys of the phrases kept (sorted)
    for length in range(1, max_words + 1):
        # A phrase in min_df papers has its prefix and its last word in them too, so
        # only positions where both were kept can start one (the kept set is the same).
        # Keys grow with prefixes' ranks: the kept keys of the ranges, joined, are sorted.
        domain = size if length == 1 else len(kept_keys[-1])
        weights = np.zeros(domain, dtype=np.int64)
        for part in thread_map(partial(Chunk.weights, domain=domain), chunks):
            weights += part
        kept: list[np.ndarray] = []
        offset = 0
        per = max(RANGE_POSITIONS, int(weights.sum()) // MAX_RANGES)
        for lo, hi in key_ranges(weights, per):
            found = thread_map(partial(Chunk.found, length=length, size=size, lo=lo, hi=hi),
                               chunks)
            keys = merged(found, min_df)
            del found
            thread_map(partial(Chunk.count, kept=keys, offset=offset), chunks)
            offset += len(keys)
            kept.append(keys)
            release_memory()
        thread_map(partial(Chunk.finish, length=length, max_words=max_words), chunks)
        kept_keys.append(np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64))
        if length < max_words and offset * size >= 2**62:  # the next keys would overflow
            raise OverflowError(f"too many distinct {length}-word phrases to count")
    matrix = stacked(chunks, n, sum(map(len, kept_keys)))
    del chunks
    vocab = [_texts(names, kept_keys, length, np.arange(len(kept)), size)
             for length, kept in enumerate(kept_keys, start=1)]
    words = [np.full(len(kept), length, dtype=np.int64) for length, kept in
             enumerate(kept_keys, start=1)]
    vocabulary = np.concatenate(vocab) if vocab else np.zeros(0, dtype=object)
    return PhraseCounts(matrix, vocabulary.astype(object), np.concatenate(words))


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
