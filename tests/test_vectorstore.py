"""The :class:`VectorStore` contract, run on every implementation through the interface
only: SQLite scored exactly, with its ANN index (faiss) kept by ``optimize``, and both
again from the memory-mapped serving file ``optimize`` writes.
A new implementation joins by adding a case to ``IMPLEMENTATIONS``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from paperatlas.store import Store, utcnow
from paperatlas.vectors import (
    STATE,
    ModelMismatchError,
    SqliteVectorStore,
    VectorFilter,
    VectorRecord,
    VectorStore,
)

DIM = 16
MODEL = "model-a"

#: name -> a VectorStore over a store; the ANN case keeps an index from the first vector.
IMPLEMENTATIONS: dict[str, Callable[[Store, Path], VectorStore]] = {
    "sqlite-exact": lambda store, folder: SqliteVectorStore(store),
    "sqlite-ann": lambda store, folder: SqliteVectorStore(store, folder, ann_min=1),
    "sqlite-mapped": lambda store, folder: SqliteVectorStore(store, folder, ann_min=10**9,
                                                             serve_min=1),
    "sqlite-mapped-ann": lambda store, folder: SqliteVectorStore(store, folder, ann_min=1,
                                                                 serve_min=1),
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "v.db")
    yield s
    s.close()


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def vs(request: pytest.FixtureRequest, store: Store, tmp_path: Path) -> VectorStore:
    return IMPLEMENTATIONS[request.param](store, tmp_path / "index")


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    m = rng.standard_normal((n, dim)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def add_papers(store: Store, n: int, *, start: int = 0) -> list[int]:
    """``n`` papers, years 2000..2009 by turn, the even ones in collection ``even``."""
    now = utcnow()
    ids = []
    with store.transaction():
        even = store.collections.ensure("even", now)
        for i in range(start, start + n):
            pid = store.papers.insert(
                key=f"p{i}", title=f"Paper {i}", norm_title=f"paper {i}", abstract="a",
                authors=[], date=f"{2000 + i % 10}-01-01", venue=None, categories=[],
                links=[], now=now)
            if i % 2 == 0:
                store.collections.add_paper(even, pid, now)
            ids.append(pid)
    return ids


def embed(store: Store, vs: VectorStore, ids: list[int], rng: np.random.Generator, *,
          titles: bool = True, model: str = MODEL) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Upsert random unit vectors (a title vector for every other paper when ``titles``)
    as the embedding job does: with its change-log position, in one transaction; then
    ``optimize``. ``paper id -> (text vector, title vector)`` as stored (float16)."""
    mats, heads = unit(rng, len(ids)), unit(rng, len(ids))
    records = [VectorRecord(p, mats[i], heads[i] if titles and i % 2 else None, f"h{p}")
               for i, p in enumerate(ids)]
    seq = max((s for s, _ in store.search.changed_since(0, 10**6)), default=0)
    with store.transaction():
        vs.upsert(model, records)
        store.search.set_state(STATE, seq, {"model": model}, utcnow())
    vs.optimize()
    return {r.paper_id: (_f16(r.vector), _f16(r.vector if r.title_vector is None
                                              else r.title_vector)) for r in records}


def _f16(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.float16).astype(np.float32)


def brute(stored: dict[int, tuple[np.ndarray, np.ndarray]], q: np.ndarray, k: int, *,
          titles: bool = True, among: set[int] | None = None,
          exclude: frozenset[int] = frozenset()) -> list[int]:
    scores = {p: max(float(v @ q), float(t @ q)) if titles else float(v @ q)
              for p, (v, t) in stored.items()
              if (among is None or p in among) and p not in exclude}
    return sorted(scores, key=lambda p: (-scores[p], p))[:k]


def test_upsert_get_iterate_and_what_is_stored(store: Store, vs: VectorStore) -> None:
    assert (vs.count(), vs.models(), vs.dimension(), vs.ids()) == (0, [], None, [])
    ids = add_papers(store, 30)
    stored = embed(store, vs, ids, np.random.default_rng(1))
    assert (vs.count(), vs.models(), vs.dimension(), vs.ids()) == (30, [MODEL], DIM, ids)
    assert vs.hashes(ids[:2]) == {ids[0]: (MODEL, f"h{ids[0]}"), ids[1]: (MODEL, f"h{ids[1]}")}
    assert set(vs.hashes()) == set(ids)
    got = vs.get([ids[1], ids[2], 10**6])
    assert set(got) == {ids[1], ids[2]}
    np.testing.assert_array_equal(got[ids[1]], stored[ids[1]][0])
    heads = vs.get(ids[1:3], titles=True)  # a paper without a title vector: its text's
    np.testing.assert_array_equal(heads[ids[1]], stored[ids[1]][1])
    np.testing.assert_array_equal(heads[ids[2]], stored[ids[2]][0])
    batches = list(vs.iterate(batch=7))
    assert [len(b.ids) for b in batches] == [7, 7, 7, 7, 2]
    assert [p for b in batches for p in b.ids] == ids
    rows = {p: (b.vectors[i], b.titles[i], b.hashes[i]) for b in batches
            for i, p in enumerate(b.ids)}
    for p in ids:
        np.testing.assert_array_equal(rows[p][0], stored[p][0])
        np.testing.assert_array_equal(rows[p][1], stored[p][1])
        assert rows[p][2] == f"h{p}"
    plain = next(vs.iterate(titles=False))  # no title vectors read: the text's stand in
    np.testing.assert_array_equal(plain.titles, plain.vectors)
    again = embed(store, vs, ids[:3], np.random.default_rng(2))  # replaced, not added
    assert vs.count() == 30
    np.testing.assert_array_equal(vs.get([ids[0]])[ids[0]], again[ids[0]][0])
    assert vs.search(again[ids[0]][0], 1, titles=False)[0].paper_id == ids[0]


def test_filters_on_iterate_and_ids(store: Store, vs: VectorStore) -> None:
    ids = add_papers(store, 40)
    embed(store, vs, ids[:30], np.random.default_rng(3))  # the last 10 have no vectors
    cid = store.collections.require("even")
    even = [p for i, p in enumerate(ids[:30]) if i % 2 == 0]
    assert vs.ids(VectorFilter(collection_id=cid)) == even
    years = [p for i, p in enumerate(ids[:30]) if 2003 <= 2000 + i % 10 <= 2004]
    assert vs.ids(VectorFilter(year_from=2003, year_to=2004)) == years
    assert vs.ids(VectorFilter(year_from=2008)) == [
        p for i, p in enumerate(ids[:30]) if i % 10 >= 8]
    assert vs.ids(VectorFilter(papers={ids[0], ids[5], ids[35]})) == [ids[0], ids[5]]
    both = VectorFilter(papers=set(ids[:10]), collection_id=cid, year_to=2004)
    assert vs.ids(both) == [ids[0], ids[2], ids[4]]
    assert [p for b in vs.iterate(both, batch=2) for p in b.ids] == vs.ids(both)
    assert list(vs.iterate(VectorFilter(papers=set()))) == []


def test_search_with_filters_and_exclude(store: Store, vs: VectorStore) -> None:
    ids = add_papers(store, 200)
    stored = embed(store, vs, ids, np.random.default_rng(4))
    cid = store.collections.require("even")
    rng = np.random.default_rng(5)
    even = set(vs.ids(VectorFilter(collection_id=cid)))
    recent = set(vs.ids(VectorFilter(year_from=2005)))
    for q in unit(rng, 10):
        for titles in (True, False):
            hits = vs.search(q, 10, titles=titles)
            assert [h.paper_id for h in hits] == brute(stored, q, 10, titles=titles)
            assert all(a.score >= b.score for a, b in pairwise(hits))
            cos = vs.cosines(q, [h.paper_id for h in hits], titles=titles)
            assert cos == {h.paper_id: h.score for h in hits}  # the same exact score
        skip = frozenset(brute(stored, q, 3))
        assert [h.paper_id for h in vs.search(q, 5, exclude=skip)] == brute(
            stored, q, 5, exclude=skip)
        for f, among in ((VectorFilter(collection_id=cid), even),
                         (VectorFilter(year_from=2005), recent),
                         (VectorFilter(papers=set(ids[:20])), set(ids[:20])),
                         (VectorFilter(papers=set(ids[:150])), set(ids[:150]))):
            got = vs.search(q, 8, f, exclude=skip)
            assert [h.paper_id for h in got] == brute(stored, q, 8, among=among, exclude=skip)
    few = vs.search(unit(rng, 1)[0], 50, VectorFilter(papers={ids[0], ids[1], 10**6}))
    assert sorted(h.paper_id for h in few) == [ids[0], ids[1]]
    assert vs.search(unit(rng, 1)[0], 0) == []


def test_delete_and_clear(store: Store, vs: VectorStore) -> None:
    ids = add_papers(store, 50)
    stored = embed(store, vs, ids, np.random.default_rng(6))
    q = stored[ids[3]][0]
    assert vs.search(q, 1, titles=False)[0].paper_id == ids[3]
    with store.transaction():
        assert vs.delete([ids[3], ids[4], 10**6]) == 2
    assert vs.count() == 48 and vs.get([ids[3]]) == {}
    hits = vs.search(q, 48, titles=False)
    assert len(hits) == 48 and ids[3] not in {h.paper_id for h in hits}
    assert ids[3] not in vs.cosines(q, [ids[3]])
    with store.transaction():
        vs.clear()
    assert (vs.count(), vs.models(), vs.dimension(), vs.search(q, 5)) == (0, [], None, [])


def test_model_and_dimension_mismatch(store: Store, vs: VectorStore) -> None:
    ids = add_papers(store, 4)
    embed(store, vs, ids[:2], np.random.default_rng(7))
    rng = np.random.default_rng(8)
    vs.check_model(MODEL)
    with pytest.raises(ModelMismatchError, match="made with 'model-a', not 'model-b'"):
        vs.check_model("model-b")
    with store.transaction(), pytest.raises(ModelMismatchError, match="model-a"):
        vs.upsert("model-b", [VectorRecord(ids[2], unit(rng, 1)[0])])
    with store.transaction(), pytest.raises(ModelMismatchError, match="dimensions"):
        vs.upsert(MODEL, [VectorRecord(ids[2], unit(rng, 1, DIM + 4)[0])])
    with store.transaction(), pytest.raises(ModelMismatchError, match="dimensions"):
        vs.upsert(MODEL, [VectorRecord(ids[2], unit(rng, 1)[0], unit(rng, 1, 8)[0])])
    assert (vs.count(), vs.models(), vs.dimension()) == (2, [MODEL], DIM)
    with store.transaction():
        vs.clear()
        vs.upsert("model-b", [VectorRecord(ids[3], unit(rng, 1, 8)[0])])  # a fresh start
    assert (vs.models(), vs.dimension()) == (["model-b"], 8)


def test_sample_spreads_over_the_papers(store: Store, vs: VectorStore) -> None:
    assert vs.sample(5).shape == (0, 0)
    ids = add_papers(store, 40)
    stored = embed(store, vs, ids, np.random.default_rng(9), titles=False)
    sample = vs.sample(4)
    assert sample.shape == (4, DIM)
    picked = [next(p for p, (v, _) in stored.items() if np.array_equal(v, row)) for row in sample]
    assert picked == [ids[9], ids[19], ids[29], ids[39]]  # every tenth, by id
    assert vs.sample(100).shape == (40, DIM)


def test_exact_and_ann_agree_on_top_hits(store: Store, tmp_path: Path) -> None:
    ids = add_papers(store, 500)
    ann = SqliteVectorStore(store, tmp_path / "index", ann_min=100)
    embed(store, ann, ids, np.random.default_rng(10))
    assert ann.ann_in_use
    exact = SqliteVectorStore(store)
    rng = np.random.default_rng(11)
    found = total = 0
    for q in unit(rng, 100):
        for titles in (True, False):
            a, e = ann.search(q, 10, titles=titles), exact.search(q, 10, titles=titles)
            same = {h.paper_id for h in a} & {h.paper_id for h in e}
            found, total = found + len(same), total + 10
            scores = {h.paper_id: h.score for h in e}
            assert all(h.score == scores[h.paper_id] for h in a if h.paper_id in same)
            assert a[0] == e[0]  # the best hit is never missed here
    assert found / total >= 0.95


def test_reads_see_writes_of_another_connection(store: Store, vs: VectorStore,
                                                tmp_path: Path) -> None:
    ids = add_papers(store, 30)
    embed(store, vs, ids[:20], np.random.default_rng(12))
    q = unit(np.random.default_rng(13), 1)[0]
    assert len(vs.search(q, 30)) == 20
    other = Store(tmp_path / "v.db")  # another process's embedding job
    try:
        writer = SqliteVectorStore(other)
        embed(other, writer, ids[20:], np.random.default_rng(14))
    finally:
        other.close()
    assert vs.count() == 30 and len(vs.search(q, 30)) == 30


def test_another_process_changes_are_patched_in(store: Store, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader reads again only the papers changed since its last read (new, re-embedded,
    deleted), and ends with exactly what a full read gives."""
    vs = SqliteVectorStore(store)
    ids = add_papers(store, 30)
    stored = embed(store, vs, ids, np.random.default_rng(21))
    q = unit(np.random.default_rng(22), 1)[0]
    assert [h.paper_id for h in vs.search(q, 40)] == brute(stored, q, 40)
    other = Store(tmp_path / "v.db")  # another process: new papers, new texts, a deletion
    try:
        writer = SqliteVectorStore(other)
        ids += add_papers(other, 10, start=30)
        with other.transaction():
            other.conn.execute("UPDATE papers SET title = 'Changed' WHERE id IN (?, ?)",
                               (ids[3], ids[17]))
            other.conn.execute("DELETE FROM papers WHERE id = ?", (ids[8],))
        stored.pop(ids[8])
        stored.update(embed(other, writer, [ids[3], ids[17], *ids[30:]],
                            np.random.default_rng(23)))
    finally:
        other.close()

    def no_full_read(*args: object) -> None:
        raise AssertionError("read every vector again")

    monkeypatch.setattr(SqliteVectorStore, "_load", no_full_read)
    hits = vs.search(q, 40)
    assert [h.paper_id for h in hits] == brute(stored, q, 40)
    patched = vs._current()
    monkeypatch.undo()
    full = SqliteVectorStore(store)._current()
    assert patched.ids.tolist() == full.ids.tolist() == sorted(stored)
    assert np.array_equal(patched.matrix, full.matrix)
    assert np.array_equal(patched.titles, full.titles)


def test_a_model_switch_reads_every_vector_again(store: Store, tmp_path: Path) -> None:
    vs = SqliteVectorStore(store)
    ids = add_papers(store, 20)
    embed(store, vs, ids, np.random.default_rng(31))
    q = unit(np.random.default_rng(32), 1)[0]
    assert len(vs.search(q, 5)) == 5
    other = Store(tmp_path / "v.db")
    try:
        writer = SqliteVectorStore(other)
        with other.transaction():
            writer.clear()
            other.search.set_state(STATE, 0, {"model": "model-b"}, utcnow())
        stored = embed(other, writer, ids, np.random.default_rng(33), model="model-b")
    finally:
        other.close()
    assert [h.paper_id for h in vs.search(q, 20)] == brute(stored, q, 20)


def test_paper_set_is_a_sorted_set_that_keeps_what_is_derived() -> None:
    from paperatlas.vectors import PaperSet

    papers = PaperSet(np.array([9, 3, 3, 7]))
    assert list(papers) == [3, 7, 9] and len(papers) == 3
    assert 7 in papers and np.int64(9) in papers and 4 not in papers and "7" not in papers
    assert papers == {3, 7, 9} and papers == PaperSet(np.array([3, 7, 9]))
    assert papers != PaperSet(np.array([3, 7]))
    made: list[int] = []

    def make(ids: np.ndarray) -> int:
        made.append(1)
        return int(ids.sum())

    assert papers.derived("sum", make) == 19 and papers.derived("sum", make) == 19
    assert made == [1]
