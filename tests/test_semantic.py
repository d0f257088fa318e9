"""Semantic and hybrid search, similar papers, and the rules on embedding models."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.embed import Embedder
from paperatlas.vectors import ModelMismatchError


class HashingEmbedder(Embedder):
    """A small deterministic embedder (bag of hashed words), to test model bookkeeping."""

    def __init__(self, name: str, dim: int = 64) -> None:
        self.name, self.dim, self.calls = name, dim, 0

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Library]:
    """The first 120 seed papers, embedded once with the real default model."""
    from conftest import shared_dir

    seeds = shared_dir() / "seeds"
    if not seeds.is_dir():
        pytest.skip("shared seeds not found")
    lib = Library(tmp_path_factory.mktemp("minilm") / "m.db")
    lib.ingest(sorted(seeds.glob("*.txt"))[:2])
    lib.index()
    yield lib
    lib.close()


def test_modes_find_the_known_paper(minilm: Library) -> None:
    query = "organizing scientific studies into a hierarchy for literature reviews"
    for mode in ("lexical", "semantic", "hybrid"):
        page = minilm.search(query, mode=mode, limit=5)
        assert page.hits[0].title.startswith("CHIME:"), mode
    assert minilm.search(query).mode == "hybrid"  # the default once vectors exist


def test_semantic_finds_without_shared_words(minilm: Library) -> None:
    lexical = minilm.search("automatic taxonomy induction", mode="lexical", limit=10)
    semantic = minilm.search("automatic taxonomy induction", mode="semantic", limit=10)
    assert semantic.hits and len(semantic.hits) == 10
    assert {h.key for h in semantic.hits} != {h.key for h in lexical.hits}


def test_semantic_respects_filters_and_pagination(minilm: Library) -> None:
    coll = minilm.collections.all()[0].name
    page = minilm.search("language models", mode="semantic", collection=coll, limit=5)
    keys = {h.key for h in page.hits}
    assert all(coll in minilm.papers.get(k).collections for k in keys)
    second = minilm.search("language models", mode="hybrid", limit=5, offset=5)
    first = minilm.search("language models", mode="hybrid", limit=5)
    assert not {h.key for h in first.hits} & {h.key for h in second.hits}
    assert [h.rank for h in second.hits] == [6, 7, 8, 9, 10]


@pytest.mark.parametrize("query", ["", "   ", "((", "NOT", "🚀", "x" * 10_000])
def test_robust_queries_in_every_mode(minilm: Library, query: str) -> None:
    for mode in ("semantic", "hybrid"):
        page = minilm.search(query, mode=mode)
        assert page.total >= len(page.hits)


def test_similar_excludes_inputs(minilm: Library) -> None:
    chime = minilm.search("CHIME", mode="lexical", limit=1).hits[0].key
    page = minilm.search.similar([chime], limit=5)
    assert chime not in {h.key for h in page.hits} and len(page.hits) == 5
    assert any("Hierarch" in h.title for h in page.hits)
    two = minilm.search.similar([chime, page.hits[0].key], limit=5)
    assert not {chime, page.hits[0].key} & {h.key for h in two.hits}


def test_cli_similar_and_index(minilm: Library) -> None:
    key = minilm.search("CHIME", mode="lexical", limit=1).hits[0].key
    out = CliRunner().invoke(main, ["--db", str(minilm.path), "similar", key, "--json", "-n", "3"])
    assert out.exit_code == 0, out.output
    assert len(json.loads(out.output)["results"]) == 3
    again = CliRunner().invoke(main, ["--db", str(minilm.path), "index", "--json"])
    assert json.loads(again.output)["embedding"]["embedded"] == 0


def test_models_never_mix_and_switching_reembeds(tmp_path: Path, write) -> None:
    path = write("a.csv", "title,abstract\nGraph networks,nodes and edges\nProteins,folding\n")
    first = HashingEmbedder("hash-a")
    lib = Library(tmp_path / "h.db", embedding_model=first)
    lib.ingest([path])
    assert lib.index().embedding.embedded == 2  # type: ignore[union-attr]
    assert lib.index().embedding.embedded == 0  # type: ignore[union-attr]  # nothing changed
    lib.close()
    other = Library(tmp_path / "h.db", embedding_model=HashingEmbedder("hash-b"))
    with pytest.raises(ModelMismatchError, match="made with 'hash-a'"):
        other.index()
    with pytest.raises(ModelMismatchError):
        other.search("graph", mode="semantic")
    report = other.index(switch_model=True).embedding
    assert report is not None and (report.embedded, report.model) == (2, "hash-b")
    assert other.search("graph networks", mode="semantic").hits[0].title == "Graph networks"
    other.close()


def test_remembered_vector_counts_follow_every_connection(tmp_path: Path, write) -> None:
    path = write("a.csv", "title,abstract\nGraph networks,nodes and edges\nProteins,folding\n")
    lib = Library(tmp_path / "h.db", embedding_model=HashingEmbedder("hash-a"))
    lib.ingest([path])
    lib.index()
    assert (lib.store.vectors.count(), lib.store.vectors.models()) == (2, ["hash-a"])
    assert lib.search("graph", mode="semantic").total == 2
    other = Library(tmp_path / "h.db", embedding_model=None)  # e.g. a CLI beside a server
    with other.store.transaction():
        other.store.conn.execute("DELETE FROM embeddings WHERE paper_id ="
                                 " (SELECT min(paper_id) FROM embeddings)")
    assert lib.store.vectors.count() == 1  # the other connection's commit is seen
    assert lib.search("graph", mode="semantic").total == 1
    with lib.store.transaction():
        lib.store.vectors.delete_all()
    assert (lib.store.vectors.count(), lib.store.vectors.models()) == (0, [])  # and its own
    other.close()
    lib.close()


def test_embedding_resumes_after_interruption(tmp_path: Path, write) -> None:
    rows = "".join(f"Paper {i},words {i}\n" for i in range(600))
    lib = Library(tmp_path / "r.db", embedding_model=None)
    lib.ingest([write("many.csv", "title,abstract\n" + rows)])
    lib.close()

    class Failing(HashingEmbedder):
        def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
            if self.calls >= 2 * 256:  # after the first batch: its papers and titles
                raise KeyboardInterrupt
            return super().encode(texts, kind=kind)

    lib = Library(tmp_path / "r.db", embedding_model=Failing("hash"))
    with pytest.raises(KeyboardInterrupt):
        lib.index()
    assert lib.store.vectors.count() == 256  # the finished batch was kept
    lib.close()
    resumed = HashingEmbedder("hash")
    lib = Library(tmp_path / "r.db", embedding_model=resumed)
    # (sentences are embedded after the papers, by the same job: counted apart)
    assert lib.index(sentences=False).embedding.vectors == 600  # type: ignore[union-attr]
    assert resumed.calls == 2 * (600 - 256)  # each paper and its title
    lib.close()


@pytest.mark.parametrize("allow_max", [50_000, 0])
def test_author_and_category_filters_in_semantic_mode(
        tmp_path: Path, write, monkeypatch: pytest.MonkeyPatch, allow_max: int) -> None:
    """Narrow author/category filters reach the vectors as an allow-list, broad ones (all
    of them with ``ALLOW_MAX`` 0) are checked on the nearest papers: both give the exact
    filtered top, and the count of the papers that pass."""
    from paperatlas.search import service

    monkeypatch.setattr(service, "ALLOW_MAX", allow_max)
    words = ["graph", "protein", "language", "model", "cell", "network", "vision", "gene"]
    rows = ["title,abstract,authors,categories"]
    for i in range(90):
        text = " ".join(words[(i * k) % 8] for k in range(1, 6))
        rows.append(f"Paper {i} {words[i % 8]},{text},Ada Lovelace{i % 3},cs.{'LG' if i % 4 else 'CL'}")
    lib = Library(tmp_path / "f.db", embedding_model=HashingEmbedder("hash-f"))
    lib.ingest([write("f.csv", "\n".join(rows) + "\n")])
    lib.index()
    papers = {p.key: p for p in lib.papers(limit=1000)}
    query = "graph protein network"
    ranked = [h.key for h in lib.search(query, mode="semantic", limit=200).hits]
    assert len(ranked) == 90
    for given, holds in (({"category": "cs.CL"}, lambda p: "cs.CL" in p.categories),
                         ({"author": "Lovelace1"}, lambda p: "Ada Lovelace1" in p.authors)):
        page = lib.search(query, mode="semantic", limit=5, **given)
        assert [h.key for h in page.hits] == [k for k in ranked if holds(papers[k])][:5]
        assert page.total == sum(1 for p in papers.values() if holds(p)) < 90
        hybrid = lib.search(query, mode="hybrid", limit=5, **given)
        assert hybrid.hits and all(holds(papers[h.key]) for h in hybrid.hits)
    # the papers a filter matched are kept only until the lexical index changes
    lib.ingest([write("g.csv", "title,abstract,authors,categories\n"
                      "Graph protein network,graph protein network,Ada Lovelace1,cs.CL\n")])
    lib.index()
    assert lib.search(query, mode="semantic", limit=5, author="Lovelace1").total == 31
    assert lib.search(query, mode="semantic", limit=5, category="cs.CL").total == 24
    lib.close()


def test_hybrid_runs_its_lexical_half_beside_the_vectors(
        tmp_path: Path, write, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from paperatlas.search.lexical import LexicalIndex

    path = write("a.csv", "title,abstract\nGraph networks,nodes and edges\nProteins,folding\n")
    lib = Library(tmp_path / "h.db", embedding_model=HashingEmbedder("hash-a"))
    lib.ingest([path])
    lib.index()
    threads: list[str] = []
    real = LexicalIndex.search

    def spy(self: LexicalIndex, *args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread().name)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LexicalIndex, "search", spy)
    alone = [h.key for h in lib.search("graph networks", mode="lexical").hits]
    hybrid = lib.search("graph networks", mode="hybrid")
    assert hybrid.hits[0].title == "Graph networks" and alone
    assert threads[0] == threading.current_thread().name
    assert threads[1].startswith("lexical-half")
    lib.close()
    assert lib.search.service._beside_pool is None
