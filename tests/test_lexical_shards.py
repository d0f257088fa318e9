"""The lexical index in shards: the same ranking as one index, exact counts and filters,
writers held all or none, and an index of an older layout rebuilt on the next sync."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tantivy

from paperatlas import Library
from paperatlas.search.lexical import LAYOUT, Filters, IndexBusyError, LexicalIndex
from test_tree import papers_of, write_csv

WORDS = ["protein", "folding", "kinase", "membrane", "neuron", "cortex", "graph",
         "transformer", "attention", "retrieval", "language", "vision", "climate", "ocean",
         "carbon", "soil", "enzyme", "gene", "cell", "tumor", "immune", "vaccine", "quantum",
         "spin", "lattice", "photon", "galaxy", "star", "planet", "orbit"]


def _rows(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for pid in range(1, n + 1):
        title = " ".join(rng.choices(WORDS, k=rng.randint(2, 6)))
        abstract = " ".join(rng.choices(WORDS, k=rng.randint(10, 60)))
        rows.append({"id": pid, "title": title, "abstract": abstract,
                     "authors": [f"Author {pid % 17}"], "categories": [f"cat.{pid % 5}"],
                     "year": 2000 + pid % 20, "collections": [1] if pid % 3 == 0 else []})
    return rows


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> dict[int, LexicalIndex]:
    rows = _rows(1_500)
    made = {}
    for shards in (1, 2, 3):
        index = LexicalIndex(tmp_path_factory.mktemp(f"s{shards}") / "lex", shards=shards,
                             parallel_min=0)  # threads even at this size
        index.update(rows, [])
        made[shards] = index
    return made


QUERIES = ["protein folding", "graph transformer attention", "ocean carbon soil",
           "quantum spin lattice photon", "tumor immune vaccine gene", "star"]


@pytest.mark.parametrize("shards", [2, 3])
def test_shards_rank_and_count_as_one_index(indexes: dict[int, LexicalIndex],
                                            shards: int) -> None:
    one, split = indexes[1], indexes[shards]
    assert [len(s.searcher().num_docs and [1]) for s in split.shards] == [1] * shards
    assert len(split) == len(one) == 1_500
    for query in QUERIES:
        for f in (None, Filters(year_from=2005, year_to=2010), Filters(category="cat.2"),
                  Filters(collection_id=1), Filters(author="Author 3")):
            a = one.search(query, f, limit=20)
            b = split.search(query, f, limit=20)
            assert a.total == b.total  # every match counted once
            # Weights follow the whole index's document frequencies, so scores agree up
            # to each shard's own average length (random texts here: within a few %).
            scores_a = dict(a.hits)
            common = [pid for pid, _ in b.hits if pid in scores_a]
            assert len(common) >= 0.8 * min(len(a.hits), len(b.hits))
            for pid, score in b.hits:
                if pid in scores_a:
                    assert score == pytest.approx(scores_a[pid], rel=0.05)
        # Pages join up: page 2 starts where page 1 ended, no paper twice.
        p1, p2 = split.search(query, limit=10), split.search(query, limit=10, offset=10)
        both = split.search(query, limit=20)
        assert [pid for pid, _ in p1.hits + p2.hits] == [pid for pid, _ in both.hits]


def test_filters_and_ids_span_every_shard(indexes: dict[int, LexicalIndex]) -> None:
    one, split = indexes[1], indexes[3]
    for f in (Filters(category="cat.4"), Filters(collection_id=1), Filters(year_from=2015)):
        assert split.count(f) == one.count(f) > 0
        assert split.matching_ids(f).tolist() == one.matching_ids(f).tolist()
        wanted = list(range(1, 300, 7))
        assert split.passing(wanted, f).tolist() == one.passing(wanted, f).tolist()
    assert split.more_like("protein folding kinase enzyme", limit=5).hits
    assert split.passing([], Filters()).tolist() == []


def test_updates_and_removals_reach_the_right_shard(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lex", shards=2)
    rows = _rows(40)
    index.update(rows, [])
    assert [int(s.searcher().num_docs) for s in index.shards] == [20, 20]
    changed = dict(rows[4], title="zeppelin aerodynamics", abstract="zeppelin")
    index.update([changed], [1, 2])
    assert len(index) == 38
    assert [pid for pid, _ in index.search("zeppelin").hits] == [5]
    assert index.search("zeppelin").total == 1
    index.clear()
    assert len(index) == 0


HOLD_ONE = """
import sys, tantivy
from pathlib import Path
from paperatlas.search.lexical import LexicalIndex
index = LexicalIndex(Path(sys.argv[1]))
writer = index.shards[1].writer(heap_size=15_000_000, num_threads=1)
print("held", flush=True)
sys.stdin.readline()
writer.rollback()
writer.wait_merging_threads()
"""


def test_writers_are_held_all_or_none(tmp_path: Path) -> None:
    folder = tmp_path / "lex"
    LexicalIndex(folder)  # made before the other process opens it
    proc = subprocess.Popen([sys.executable, "-c", HOLD_ONE, str(folder)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        index = LexicalIndex(folder)
        with pytest.raises(IndexBusyError, match="another process"), \
                index.writing(wait=0.3):
            pass
        # Shard 0's writer was let go: it can be taken while shard 1 is still held.
        writer = index.shards[0].writer(heap_size=15_000_000, num_threads=1)
        writer.rollback()
        writer.wait_merging_threads()
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.close()
        proc.wait(10)
    index.update(_rows(4), [])
    assert len(index) == 4


def test_an_index_from_before_the_shards_is_rebuilt(lib: Library, tmp_path: Path) -> None:
    lib.ingest([write_csv(tmp_path / "in" / "p.csv", papers_of("protein", 6))], index=True)
    service = lib.search.service
    folder = service.lexical.path
    # What an older version left: one tantivy index at the folder's top level, and its
    # settings in the library's index state.
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("pid", stored=True, indexed=True, fast=True)
    old = tantivy.Index(builder.build(), path=str(folder))
    writer = old.writer(heap_size=15_000_000, num_threads=1)
    doc = tantivy.Document()
    doc.add_integer("pid", 1)
    writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()
    assert (folder / "meta.json").exists()
    (folder / "0").mkdir()  # and a shard of an earlier layout
    (folder / "0" / "meta.json").write_text("{}")
    repo = lib.store.search
    seq, _ = repo.state("lexical")
    with lib.store.transaction():
        repo.set_state("lexical", seq, {"engine": "tantivy", "title_boost": 0.2,
                                        "version": 1}, "2026-01-01T00:00:00Z")
    report = service.sync()
    assert report.rebuilt and report.documents == 6
    assert not (folder / "meta.json").exists() and not (folder / "0").exists()
    assert sorted(p.name for p in folder.iterdir()) == [f"v{LAYOUT}.0", f"v{LAYOUT}.1"]
    assert not [p for p in folder.iterdir() if p.is_file() and p.suffix == ".idx"]
    assert lib.search("protein", mode="lexical").total == 6
