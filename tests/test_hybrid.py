"""Fusion, similar papers in every mode, BEIR helpers and the embedding backends."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from paperatlas import InvalidOptionError, Library
from paperatlas.beir import evaluate, query_paper
from paperatlas.cli import main
from paperatlas.search.fusion import convex, rrf
from paperatlas.store.migrations import MIGRATIONS

from conftest import ABSTRACT_A, ABSTRACT_B

ranked = st.lists(st.tuples(st.integers(0, 50), st.floats(0.01, 30)), max_size=30,
                  unique_by=lambda t: t[0]).map(lambda xs: sorted(xs, key=lambda t: -t[1]))


def test_convex_combines_max_normalized_scores() -> None:
    lexical = [(1, 10.0), (2, 5.0)]
    cosine = {1: 0.2, 2: 0.8, 3: 0.4}
    fused = dict(convex(lexical, cosine, alpha=0.5))
    assert fused[1] == pytest.approx(0.5 * 0.2 / 0.8 + 0.5 * 1.0)
    assert fused[2] == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)
    assert fused[3] == pytest.approx(0.5 * 0.4 / 0.8)  # not in the lexical list: BM25 0
    assert [pid for pid, _ in convex(lexical, cosine, alpha=1.0)] == [2, 3, 1]
    assert [pid for pid, _ in convex(lexical, cosine, alpha=0.0)][:2] == [1, 2]


@given(ranked, ranked)
def test_fusions_keep_every_candidate_once(a: list[tuple[int, float]],
                                           b: list[tuple[int, float]]) -> None:
    cosine = {pid: score / 30 for pid, score in b}
    for fused in (rrf([a, b]), convex(a, cosine)):
        ids = [pid for pid, _ in fused]
        assert len(ids) == len(set(ids)) == len({p for p, _ in a} | {p for p, _ in b})
        scores = [s for _, s in fused]
        assert scores == sorted(scores, reverse=True)


def test_similar_lexical_works_without_embeddings(lib: Library, write) -> None:
    docs = [{"_id": "a", "title": "Protein folding with deep networks", "text": ABSTRACT_A},
            {"_id": "b", "title": "Folding proteins by structure prediction networks",
             "text": ABSTRACT_A + " More."},
            {"_id": "c", "title": "Galaxy rotation curves", "text": ABSTRACT_B}]
    lib.ingest([write("p.jsonl", "".join(json.dumps(d) + "\n" for d in docs))], index=True)
    first = "a"
    page = lib.search.similar([first])  # no model: lexical "more like this"
    assert page.mode == "lexical"
    assert first not in [h.key for h in page.hits]
    assert page.hits[0].title.startswith("Folding proteins")
    with pytest.raises(InvalidOptionError, match="hybrid, lexical, semantic"):
        lib.search.similar([first], mode="fuzzy")


def test_beir_untitled_documents_get_derived_titles(lib: Library, write) -> None:
    line = {"_id": "MED-1", "title": "", "text": "statin use and breast cancer survival in a "
            "nationwide cohort study from finland with long follow up"}
    report = lib.ingest([write("c.jsonl", json.dumps(line) + "\n")], format="beir")
    assert report.added == 1
    paper = lib.papers.get("MED-1")
    assert paper.title == " ".join(line["text"].split()[:12])
    assert paper.abstract == line["text"]


def test_query_by_example_benchmark(tmp_path: Path) -> None:
    folder = tmp_path / "qbe"
    (folder / "qrels").mkdir(parents=True)
    docs = [{"_id": "1", "title": "Protein folding with deep networks", "text": ABSTRACT_A},
            {"_id": "2", "title": "Deep networks predict protein structure", "text": ABSTRACT_A},
            {"_id": "3", "title": "Galaxy rotation curves", "text": ABSTRACT_B}]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (folder / "queries-dev.jsonl").write_text(json.dumps({"_id": "1_method", "text": "x"}) + "\n")
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n1_method\t2\t3\n")
    assert query_paper("1_method") == "1" and query_paper("42") == "42"
    [result] = evaluate(folder, "dev", ("lexical",), by_example=True)
    assert result.ndcg_at_10 == 1.0 and result.queries == 1
    out = CliRunner().invoke(main, ["bench", "beir", str(folder), "--split", "dev",
                                    "--mode", "lexical", "--by-example"])
    assert out.exit_code == 0 and "nDCG@10 1.0000" in out.output


def test_migration_4_makes_old_vectors_re_embed(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for number, fn in enumerate(MIGRATIONS[:3], start=1):
        fn(conn)
        conn.execute(f"PRAGMA user_version={number}")
    conn.execute("INSERT INTO index_state (name, seq, updated_at) VALUES ('semantic', 9, 'x')")
    conn.commit()
    conn.close()
    with Library(path, embedding_model=None) as lib:
        row = lib.store.conn.execute("SELECT seq FROM index_state WHERE name='semantic'")
        assert row.fetchone()[0] == 0
        columns = [r[1] for r in lib.store.conn.execute("PRAGMA table_info(embeddings)")]
        assert "title_vector" in columns


def test_bad_embed_backend_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(InvalidOptionError, match="auto, openvino, torch"):
        Library(tmp_path / "x.db", embed_backend="cuda")
    out = CliRunner().invoke(main, ["--db", str(tmp_path / "x.db"), "--embed-backend", "gpu",
                                    "stats"])
    assert out.exit_code == 2 and "auto" in out.output


def test_openvino_vectors_match_pytorch(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    from paperatlas.embed.sbert import SentenceTransformerEmbedder

    texts = [ABSTRACT_A, ABSTRACT_B, "A short title", "Hierarchical topic trees " * 40]
    torch_vectors = SentenceTransformerEmbedder(backend="torch").encode(texts)
    fast = SentenceTransformerEmbedder(backend="openvino", cache_dir=tmp_path / "models")
    assert fast.backend == "openvino"
    vectors = fast.encode(texts)
    assert np.all(np.sum(vectors * torch_vectors, axis=1) > 0.99)
    assert list((tmp_path / "models").glob("*.xml"))  # the conversion is kept
    again = SentenceTransformerEmbedder(backend="openvino", cache_dir=tmp_path / "models")
    assert np.allclose(again.encode(texts), vectors, atol=1e-3)
    one = SentenceTransformerEmbedder(backend="openvino", cache_dir=tmp_path / "models",
                                      threads=1)  # as each `serve --workers` process does
    assert np.allclose(one.encode(texts), vectors, atol=1e-3)
    compiled = one._openvino().request.get_compiled_model()
    assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 1
