"""The serving file: vectors memory-mapped by every reader, written by ``optimize`` (the
index job), patched with what changed since, never left broken by a failed write; and
filters reaching the ANN as id selectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from paperatlas.store import Store
from paperatlas.vectors import SqliteVectorStore, VectorFilter, serving
from paperatlas.vectors import sqlite as sqlite_vectors
from test_vectorstore import DIM, add_papers, brute, embed, unit


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "v.db")
    yield s
    s.close()


def mapped_file(vs: SqliteVectorStore) -> str:
    base = vs._current().base
    assert base is not None and isinstance(base.text, np.memmap)
    return str(base.text.filename)


def test_readers_share_one_mapping_and_see_a_new_version(store: Store,
                                                         tmp_path: Path) -> None:
    folder = tmp_path / "index"
    writer = SqliteVectorStore(store, folder, ann_min=10**6, serve_min=1)
    ids = add_papers(store, 40)
    stored = embed(store, writer, ids, np.random.default_rng(1))
    other = Store(tmp_path / "v.db")  # another server process
    try:
        reader = SqliteVectorStore(other, folder, ann_min=10**6)
        q = unit(np.random.default_rng(2), 1)[0]
        assert [h.paper_id for h in reader.search(q, 10)] == brute(stored, q, 10)
        first = mapped_file(reader)
        assert first == mapped_file(writer)  # one file, mapped by both
        assert len(reader._current().ids) == 0  # nothing in memory: all from the file
        ids += add_papers(store, 20, start=40)  # new papers, embedded by the index job
        stored.update(embed(store, writer, ids[40:], np.random.default_rng(3)))
        # Few changed: the file stays, the reader reads just those from SQLite.
        assert mapped_file(reader) == first and len(reader._current().ids) == 20
        assert [h.paper_id for h in reader.search(q, 60)] == brute(stored, q, 60)
        writer.optimize(rebuild=True)  # the index job writes a new version
        assert mapped_file(reader) != first and len(reader._current().ids) == 0
        assert not Path(first).exists()  # the old one is gone once nobody names it
        assert [h.paper_id for h in reader.search(q, 60)] == brute(stored, q, 60)
    finally:
        other.close()


def test_a_stale_file_is_written_again_before_any_vector_is_read(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vs = SqliteVectorStore(store, tmp_path / "index", ann_min=10**6, serve_min=1)
    ids = add_papers(store, 3000)
    stored = embed(store, vs, ids, np.random.default_rng(10))
    first = vs.serving
    assert first is not None

    def every_vector(*args: object) -> None:
        raise AssertionError("every vector read into memory")

    monkeypatch.setattr(vs, "_load", every_vector)
    # 1,500 changed: too many to patch in (and the file is stale): written again first
    stored.update(embed(store, vs, ids[:1500], np.random.default_rng(11)))
    assert vs.serving is not None and vs.serving.stem != first.stem
    q = unit(np.random.default_rng(12), 1)[0]
    assert [h.paper_id for h in vs.search(q, 20)] == brute(stored, q, 20)


def test_the_file_gives_the_scores_of_vectors_in_memory(store: Store, tmp_path: Path) -> None:
    mapped = SqliteVectorStore(store, tmp_path / "index", ann_min=10**6, serve_min=1)
    ids = add_papers(store, 120)
    embed(store, mapped, ids, np.random.default_rng(4))
    assert mapped.serving is not None
    in_memory = SqliteVectorStore(store)
    assert in_memory.serving is None
    for q in unit(np.random.default_rng(5), 10):
        for titles in (True, False):
            a, b = mapped.search(q, 15, titles=titles), in_memory.search(q, 15, titles=titles)
            assert [h.paper_id for h in a] == [h.paper_id for h in b]
            np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-6)
            assert mapped.cosines(q, [h.paper_id for h in a], titles=titles) == {
                h.paper_id: h.score for h in a}


def test_a_failed_write_leaves_the_old_version_in_use(store: Store, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "index"
    vs = SqliteVectorStore(store, folder, ann_min=10**6, serve_min=1)
    ids = add_papers(store, 50)
    stored = embed(store, vs, ids, np.random.default_rng(6))
    before = serving.read_meta(folder)
    q = unit(np.random.default_rng(7), 1)[0]
    expected = brute(stored, q, 20)

    def killed(*args: object, **kwargs: object) -> Iterator[tuple[list[int], np.ndarray,
                                                                  np.ndarray]]:
        yield [ids[0]], np.zeros((1, DIM)), np.zeros((1, DIM))
        raise KeyboardInterrupt  # the index job killed halfway

    real_write = serving.write
    monkeypatch.setattr(serving, "write", lambda folder, **kw: real_write(
        folder, **{**kw, "batches": killed()}))
    with pytest.raises(KeyboardInterrupt):
        vs.optimize(rebuild=True)
    monkeypatch.undo()
    assert serving.read_meta(folder) == before and list(folder.glob("*.tmp"))
    fresh = SqliteVectorStore(store, folder)
    assert fresh.serving == before
    assert [h.paper_id for h in fresh.search(q, 20)] == expected
    assert before is not None  # a cut-short file is never mapped: exact search from SQLite
    with open(folder / f"{before.stem}.text", "r+b") as f:
        f.truncate(DIM * 2 * 10)
    again = SqliteVectorStore(store, folder, serve_min=1)
    assert again.serving is None
    assert [h.paper_id for h in again.search(q, 20)] == expected
    again.optimize()  # the index job writes it again
    assert again.serving is not None and again.serving.stem != before.stem


def test_filters_reach_the_ann_as_a_selector(store: Store, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A narrow filter goes into the ANN search as a selector; a broad one (a quarter of
    the papers or more) is applied to the ANN's candidates; both keep the recall."""
    monkeypatch.setattr(sqlite_vectors, "_EXACT_ROWS", 30)  # more than 30: the ANN
    vs = SqliteVectorStore(store, tmp_path / "index", ann_min=10, serve_min=1)
    ids = add_papers(store, 600)
    stored = embed(store, vs, ids, np.random.default_rng(8))
    assert vs.ann_in_use
    searched: list[int] = []
    ann = vs.ann
    assert ann is not None
    real = type(ann).search

    def spy(self: object, vector: np.ndarray, n: int, **kw: object) -> object:
        searched.append(0 if kw.get("allowed") is None else len(kw["allowed"]))  # type: ignore[arg-type]
        return real(self, vector, n, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(type(ann), "search", spy)
    cid = store.collections.require("even")
    even = set(vs.ids(VectorFilter(collection_id=cid)))
    recent = set(vs.ids(VectorFilter(year_from=2008)))
    few = set(ids[:25])
    narrow = set(ids[200:300])  # a sixth: below the share applied afterwards
    found = total = 0
    for q in unit(np.random.default_rng(9), 30):
        for f, among in ((VectorFilter(collection_id=cid), even),
                         (VectorFilter(year_from=2008), recent),
                         (VectorFilter(papers=set(ids[:300])), set(ids[:300])),
                         (VectorFilter(papers=narrow), narrow),
                         (VectorFilter(papers=few), few)):
            got = [h.paper_id for h in vs.search(q, 10, f)]
            exact = brute(stored, q, 10, among=among)
            assert set(got) <= among and len(got) == 10
            if among is few:
                assert got == exact  # few: every one scored exactly
            else:
                assert got[0] == exact[0]
                found, total = found + len(set(got) & set(exact)), total + 10
    assert found / total >= 0.95
    assert len(even) / 600 >= 0.25 > len(recent) / 600
    assert sorted(set(searched)) == sorted({0, len(recent), len(narrow)})  # broad: none
    assert len(vs._allowed) == 2  # the collection's and the years' ids, kept
    kept = sorted(len(a._derived) for a in vs._allowed.values())
    assert kept == [0, 1]  # the narrow filter's bitmap is kept with its papers
