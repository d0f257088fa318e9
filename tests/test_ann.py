"""The ANN index of paper vectors: when it is built, kept up to date, and that search
results with it are those of exact search."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from paperatlas import Library
from paperatlas.embed import Embedder
from paperatlas.vectors import SqliteVectorStore, ann

WORDS = ["graph", "protein", "galaxy", "language", "model", "neural", "quantum", "network",
         "learning", "vision", "robot", "speech", "memory", "search", "ranking", "retrieval",
         "cell", "gene", "climate", "energy"]


class RandomEmbedder(Embedder):
    """A deterministic embedder: each text's unit vector is drawn from a seed of its hash."""

    def __init__(self, name: str = "random-a", dim: int = 32) -> None:
        self.name, self.dim = name, dim

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int(hashlib.md5(text.encode()).hexdigest()[:8], 16)
            out[i] = np.random.default_rng(seed).standard_normal(self.dim)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def papers_csv(path: Path, start: int, count: int) -> Path:
    rng = np.random.default_rng(start)
    rows = ["title,abstract,year"]
    for i in range(start, start + count):
        words = " ".join(rng.choice(WORDS, 6))
        rows.append(f"Paper {i} on {words},We study {words} and more {i},{2000 + i % 20}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def open_lib(tmp_path: Path, embedder: Embedder | None = None, ann_min: int = 50) -> Library:
    return Library(tmp_path / "a.db", embedding_model=embedder or RandomEmbedder(),
                   ann_min=ann_min)


def add_papers(lib: Library, tmp_path: Path, start: int, count: int) -> None:
    lib.ingest([papers_csv(tmp_path / f"p{start}.csv", start, count)])


def folder(lib: Library) -> Path:
    return lib.search.service.folder


def exact_top(lib: Library, vector: np.ndarray, k: int,
              titles: bool = True) -> list[tuple[int, float]]:
    """The top ``k`` of a store with no ANN index: every paper scored."""
    return top(SqliteVectorStore(lib.store), vector, k, titles)


def top(vectors: SqliteVectorStore, vector: np.ndarray, k: int,
        titles: bool = True) -> list[tuple[int, float]]:
    return [(h.paper_id, h.score) for h in vectors.search(vector, k, titles=titles)]


def unit(rng: np.random.Generator, dim: int = 32) -> np.ndarray:
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_built_above_the_minimum_and_not_below(tmp_path: Path) -> None:
    lib = open_lib(tmp_path)
    add_papers(lib, tmp_path, 0, 40)
    report = lib.index().ann
    assert report is not None and report.entries == 0
    assert not (folder(lib) / ann.META).exists()
    assert not lib.search.service.vectors.ann_in_use
    add_papers(lib, tmp_path, 40, 30)
    report = lib.index().ann
    assert report is not None and report.rebuilt and report.entries == 140  # paper + title
    meta = json.loads((folder(lib) / ann.META).read_text())
    assert (meta["model"], meta["dim"], meta["entries"]) == ("random-a", 32, 140)
    assert lib.search.service.vectors.ann_in_use
    again = lib.index().ann  # nothing changed: the file stays as it is
    assert again is not None and (again.added, again.rebuilt) == (0, False)
    assert json.loads((folder(lib) / ann.META).read_text())["file"] == meta["file"]
    lib.close()


def test_new_papers_are_added_and_found(tmp_path: Path) -> None:
    lib = open_lib(tmp_path)
    add_papers(lib, tmp_path, 0, 60)
    lib.index()
    first = json.loads((folder(lib) / ann.META).read_text())
    add_papers(lib, tmp_path, 60, 10)
    # Embedded, not yet in the ANN: found anyway (scored beside its candidates).
    lib.search.service.embed()
    lib.search("graph", mode="semantic")
    vectors = lib.search.service.vectors
    assert vectors.ann_in_use and vectors.count() == 70
    new = vectors.ids()[-10:]
    for pid in new[:5]:
        assert top(vectors, vectors.get([pid])[pid], 1)[0][0] == pid
    report = lib.index().ann
    assert report is not None and (report.added, report.rebuilt) == (20, False)
    meta = json.loads((folder(lib) / ann.META).read_text())
    assert meta["file"] != first["file"] and meta["entries"] == 140
    assert not (folder(lib) / first["file"]).exists()
    other = open_lib(tmp_path)  # another process reads the new file
    index = other.search.service.vectors
    assert index.ann_in_use and index.ann is not None and len(index.ann.papers) == 70
    for pid in new:
        assert top(index, index.get([pid])[pid], 1)[0][0] == pid
    other.close()
    lib.close()


def test_deleted_papers_are_never_returned(tmp_path: Path) -> None:
    lib = open_lib(tmp_path)
    add_papers(lib, tmp_path, 0, 80)
    lib.index()
    vectors = lib.search.service.vectors
    gone = vectors.ids()[:10]
    queries = list(vectors.get(gone).values())
    with lib.store.transaction():
        lib.store.conn.executemany("DELETE FROM papers WHERE id = ?", [(p,) for p in gone])
    for q in queries:  # the file still holds them
        hits = top(vectors, q, 20)
        assert len(hits) == 20 and not {p for p, _ in hits} & set(gone)
    report = lib.index().ann
    assert report is not None and report.stale == 20 and not report.rebuilt
    assert vectors.ann_in_use
    for q in queries:
        assert not {p for p, _ in top(vectors, q, 70, titles=False)} & set(gone)
    with lib.store.transaction():  # over a fifth stale: built again
        lib.store.conn.execute("DELETE FROM papers WHERE id IN (SELECT id FROM papers LIMIT 15)")
    report = lib.index().ann
    assert report is not None and report.rebuilt and report.stale == 0
    lib.close()


def test_re_embedded_paper_is_scored_by_its_new_vector(tmp_path: Path) -> None:
    lib = open_lib(tmp_path)
    add_papers(lib, tmp_path, 0, 60)
    lib.index()
    vectors = lib.search.service.vectors
    pid = vectors.ids()[7]
    old = vectors.get([pid])[pid]
    with lib.store.transaction():
        lib.store.conn.execute("UPDATE papers SET abstract = 'Something else entirely'"
                               " WHERE id = ?", (pid,))
    report = lib.index().ann
    assert report is not None and (report.added, report.stale) == (2, 2)
    new = vectors.get([pid])[pid]
    assert not np.array_equal(old, new)
    best = top(vectors, new, 5, titles=False)
    assert best[0][0] == pid and best[0][1] == pytest.approx(1.0, abs=1e-3)
    assert dict(top(vectors, old, 60, titles=False))[pid] == vectors.cosines(
        old, [pid], titles=False)[pid]
    lib.close()


def test_switching_model_rebuilds(tmp_path: Path) -> None:
    lib = open_lib(tmp_path)
    add_papers(lib, tmp_path, 0, 60)
    lib.index()
    lib.close()
    other = open_lib(tmp_path, RandomEmbedder("random-b", dim=24))
    report = other.index(switch_model=True).ann
    assert report is not None and report.rebuilt and report.entries == 120
    meta = json.loads((folder(other) / ann.META).read_text())
    assert (meta["model"], meta["dim"]) == ("random-b", 24)
    assert other.search.service.vectors.ann_in_use
    assert other.search("graph protein", mode="semantic").hits
    other.close()


def test_corrupt_file_is_ignored_then_rebuilt(tmp_path: Path) -> None:
    lib = open_lib(tmp_path)
    add_papers(lib, tmp_path, 0, 60)
    lib.index()
    expected = [h.key for h in lib.search("graph network", mode="hybrid").hits]
    lib.close()
    meta = json.loads((folder(lib) / ann.META).read_text())
    (folder(lib) / meta["file"]).write_bytes(b"not an index" * 10)
    again = open_lib(tmp_path)
    assert [h.key for h in again.search("graph network", mode="hybrid").hits] == expected
    assert not again.search.service.vectors.ann_in_use
    report = again.index().ann
    assert report is not None and report.rebuilt
    assert again.search.service.vectors.ann_in_use
    (folder(lib) / ann.META).write_text("{broken", encoding="utf-8")
    assert [h.key for h in again.search("graph network", mode="hybrid").hits] == expected
    assert not again.search.service.vectors.ann_in_use
    assert again.index().ann.rebuilt  # type: ignore[union-attr]
    again.close()


def test_an_index_of_an_older_kind_is_rebuilt_and_its_file_removed(tmp_path: Path) -> None:
    lib = open_lib(tmp_path)
    add_papers(lib, tmp_path, 0, 60)
    lib.index()
    lib.close()
    meta = json.loads((folder(lib) / ann.META).read_text())
    (folder(lib) / ann.META).write_text(json.dumps({**meta, "kind": "ivf-fp16"}))
    again = open_lib(tmp_path)
    assert not again.search.service.vectors.ann_in_use  # not read as what it is not
    report = again.index().ann
    assert report is not None and report.rebuilt
    now = json.loads((folder(lib) / ann.META).read_text())
    assert now["kind"] == ann.KIND and not (folder(lib) / meta["file"]).exists()
    assert [p.name for p in folder(lib).glob("ann-*")] == [now["file"]]
    again.close()


def test_leftover_temporary_files_are_ignored(tmp_path: Path) -> None:
    lib = open_lib(tmp_path)
    add_papers(lib, tmp_path, 0, 60)
    lib.index()
    lib.close()
    (folder(lib) / "ann-0123abcd.hnsw.tmp").write_bytes(b"half written")
    (folder(lib) / f"{ann.META}.0123abcd.tmp").write_text("{\"model\":", encoding="utf-8")
    again = open_lib(tmp_path)
    assert again.search.service.vectors.ann_in_use
    assert len(again.search("graph", mode="semantic").hits) == 10
    again.close()


def test_ann_removed_below_the_minimum(tmp_path: Path) -> None:
    lib = open_lib(tmp_path)
    add_papers(lib, tmp_path, 0, 60)
    lib.index()
    lib.vectors.ann_min = 100
    assert lib.index().ann.entries == 0  # type: ignore[union-attr]
    assert not list(folder(lib).glob("ann*"))
    assert not lib.search.service.vectors.ann_in_use
    lib.close()


def test_recall_and_exact_scores_against_brute_force(tmp_path: Path) -> None:
    lib = open_lib(tmp_path)
    add_papers(lib, tmp_path, 0, 400)
    lib.index()
    index = lib.search.service.vectors
    assert index.ann_in_use
    rng = np.random.default_rng(7)
    for titles in (True, False):
        found = total = 0
        for _ in range(200):
            q = unit(rng)
            exact = exact_top(lib, q, 10, titles)
            got = top(index, q, 10, titles=titles)
            assert len(got) == 10
            scores = SqliteVectorStore(lib.store).cosines(q, [p for p, _ in got], titles=titles)
            for pid, score in got:  # scores exactly as the brute force has them
                assert score == scores[pid]
            found += len({p for p, _ in got} & {p for p, _ in exact})
            total += 10
        assert found / total >= 0.95, (titles, found / total)
    lib.close()


def test_search_results_match_exact_search(tmp_path: Path) -> None:
    lib = open_lib(tmp_path)
    add_papers(lib, tmp_path, 0, 300)
    lib.index()
    queries = [f"{a} {b}" for a, b in zip(WORDS, WORDS[3:], strict=False)]
    with_ann = {(q, m): [(h.key, h.score) for h in lib.search(q, mode=m, limit=10).hits]
                for q in queries for m in ("semantic", "hybrid")}
    filtered = lib.search("graph", mode="semantic", year_from=2010, limit=50)
    assert filtered.hits and all(lib.papers.get(h.key).year >= 2010 for h in filtered.hits)  # type: ignore[operator]
    similar = lib.search.similar([lib.search("graph", mode="lexical").hits[0].key], limit=10)
    assert lib.search.service.vectors.ann_in_use
    lib.close()
    ann.remove(folder(lib))
    exact = open_lib(tmp_path)
    assert not exact.search.service.vectors.ann_in_use
    same = sum(with_ann[(q, m)] == [(h.key, h.score) for h in exact.search(
        q, mode=m, limit=10).hits] for q, m in with_ann)
    assert same / len(with_ann) >= 0.95
    assert [h.key for h in exact.search("graph", mode="semantic", year_from=2010,
                                        limit=50).hits] == [h.key for h in filtered.hits]
    assert [h.key for h in exact.search.similar([similar.query], limit=10).hits] == [
        h.key for h in similar.hits]
    exact.close()


def test_update_reads_a_copy_only_to_add_and_never_beside_a_rebuild() -> None:
    rng = np.random.default_rng(3)
    vectors = np.stack([unit(rng) for _ in range(200)])
    ids = np.arange(1, 201, dtype=np.int64)

    def rows(at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return ids[at], vectors[at], vectors[at]

    mapped, _ = ann.updated(None, model="m", seq=1, ids=ids[:150], rows=rows, dim=32,
                            changed=[])
    copies: list[int] = []

    def editable() -> ann.AnnIndex:
        copies.append(1)
        copy, _ = ann.updated(None, model="m", seq=1, ids=ids[:150], rows=rows, dim=32,
                              changed=[])
        return copy

    same, report = ann.updated(mapped, model="m", seq=2, ids=ids[:150], rows=rows, dim=32,
                               changed=[], editable=editable)
    assert same is mapped and copies == [] and report.added == 0
    grown, report = ann.updated(mapped, model="m", seq=3, ids=ids, rows=rows, dim=32,
                                changed=[], editable=editable)
    assert grown is not mapped and copies == [1] and report.added == 50
    assert not report.rebuilt and grown.entries == 200
    # changed in the log but not in their vectors (their codes are the same): nothing added
    kept, report = ann.updated(grown, model="m", seq=4, ids=ids, rows=rows, dim=32,
                               changed=ids[:10].tolist(), editable=editable)
    assert kept is grown and report.added == 0 and not report.rebuilt
    vectors[:60] = np.stack([unit(rng) for _ in range(60)])  # 60 of 200 re-embedded
    rebuilt, report = ann.updated(grown, model="m", seq=4, ids=ids, rows=rows, dim=32,
                                  changed=ids[:60].tolist(), editable=editable)
    assert report.rebuilt and copies == [1] and rebuilt.entries == 200
