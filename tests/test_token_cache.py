"""The token cache that tree builds read: filled by index, identical to tokenizing, never
trusted when stale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paperatlas import Library
from paperatlas.organize import tokencache
from paperatlas.organize.phrases import Tokens, assemble, tokenize, tokens_of
from test_tree import papers_of, tlib, write_csv  # noqa: F401  (the tlib fixture)


def same(a: Tokens, b: Tokens) -> bool:
    return (np.array_equal(a.ids, b.ids) and a.names == b.names
            and np.array_equal(a.segment, b.segment) and a.papers == b.papers)


def test_assemble_numbers_tokens_as_tokenize_does() -> None:
    titles = ["Graph Neural Networks", "", "3D protein folding"]
    texts = ["Graph neural networks, for 3D graphs.", "Empty title (here)!", "Folding: proteins"]
    vocab: dict[str, int] = {"zzz": 0}  # a larger vocabulary, numbered in another order
    for text in reversed(titles + texts):
        for t in tokens_of(text):
            vocab.setdefault(t, len(vocab))
    names = {i: t for t, i in vocab.items()}
    encode = [np.array([vocab[t] for t in tokens_of(s)], dtype=np.int32) for s in titles + texts]
    got = assemble(encode[:3], encode[3:], lambda ids: [names[int(i)] for i in ids])
    assert same(got, tokenize(titles, texts))
    assert assemble([], [], lambda ids: []).ids.size == 0


def test_index_fills_the_cache_and_builds_read_it(tlib: Library) -> None:  # noqa: F811
    tlib.index()
    corpus = tlib.trees.service.corpus("main")
    assert corpus.token_cache is not None and (cached := corpus.token_cache()) is not None
    assert same(cached, tokenize(corpus.titles, corpus.texts))
    tlib.trees.build("cached", collection="main", min_size=4)
    corpus.token_cache = None  # the same tree from tokens read afresh
    tree = tlib.trees.service.builder(tlib.trees.get("cached").settings).build("fresh", corpus)
    cached = tlib.trees.get("cached")
    assert sorted((n.label, sorted(n.papers)) for n in cached.nodes.values() if n.parent) == \
        sorted((n.label, sorted(n.papers)) for n in tree.nodes.values() if n.parent)


def test_a_stale_cache_is_not_used_and_index_refreshes_it(tlib: Library, tmp_path: Path) -> None:  # noqa: F811
    tlib.index()
    pid = tlib.trees.service.corpus("main").ids[0]
    with tlib.store.transaction():
        tlib.store.conn.execute("UPDATE papers SET abstract = 'quasar nebula telescope'"
                                " WHERE id = ?", (pid,))
    ids = tlib.trees.service.corpus("main").ids
    assert tokencache.cached_tokens(tlib.store, ids) is None  # changed since the sync
    assert tokencache.cached_tokens(tlib.store, [p for p in ids if p != pid]) is not None
    report = tlib.trees.service.sync_tokens()
    assert (report.updated, report.removed) == (1, 0)
    corpus = tlib.trees.service.corpus("main")
    cached = tokencache.cached_tokens(tlib.store, corpus.ids)
    assert cached is not None and same(cached, tokenize(corpus.titles, corpus.texts))
    assert same(corpus.tokens, cached) and {"quasar", "nebula"} <= set(cached.names)


def test_removed_papers_leave_the_cache(tlib: Library) -> None:  # noqa: F811
    tlib.index()
    pid = tlib.trees.service.corpus("main").ids[-1]
    with tlib.store.transaction():
        tlib.store.conn.execute("DELETE FROM papers WHERE id = ?", (pid,))
    assert tlib.trees.service.sync_tokens().removed == 1
    assert pid not in tlib.store.tokens.load([pid])


def test_a_new_tokenizer_version_restarts_the_cache(tlib: Library,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tlib.index()
    monkeypatch.setattr(tokencache, "SETTINGS", {"tokenizer": -1})
    assert tokencache.cached_tokens(tlib.store, [1]) is None
    report = tlib.trees.service.sync_tokens()
    assert report.rebuilt and report.updated == 120
    assert tokencache.cached_tokens(tlib.store, [1, 2]) is not None


def test_a_library_indexed_before_the_cache_gets_it_on_the_next_index(tmp_path: Path) -> None:
    lib = Library(tmp_path / "l.db", embedding_model=None)
    try:
        lib.ingest([write_csv(tmp_path / "a.csv", papers_of("ocean", 5))])
        assert tokencache.cached_tokens(lib.store, [1]) is None
        lib.index()
        got = tokencache.cached_tokens(lib.store, [1, 2, 3])
        assert got is not None and got.papers == 3 and "ocean" in got.names
        lib.index()  # nothing to do
        assert lib.trees.service.sync_tokens().updated == 0
    finally:
        lib.close()


def test_assemble_in_small_blocks_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from paperatlas.organize import phrases

    rng = np.random.default_rng(4)
    vocab = [f"t{i}k" for i in range(60)]
    segments = [" ".join(rng.choice(vocab, int(rng.integers(0, 9)))) for _ in range(80)]
    table = {t: 1000 - i for i, t in enumerate(vocab)}
    encode = [np.array([table[t] for t in tokens_of(s)], dtype=np.int32) for s in segments]
    name = {i: t for t, i in table.items()}
    whole = assemble(encode[:40], encode[40:], lambda ids: [name[int(i)] for i in ids])
    monkeypatch.setattr(phrases, "FIRST_BLOCK", 3)
    blocks = assemble(encode[:40], encode[40:], lambda ids: [name[int(i)] for i in ids])
    assert same(blocks, whole) and same(whole, tokenize(segments[:40], segments[40:]))
    assert blocks.ids.dtype == np.int32
