"""Lexical search through the library: robust queries, filters, updates, batch runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from paperatlas import InvalidOptionError, Library, NotFoundError, PreconditionError
from paperatlas.beir import evaluate
from paperatlas.cli import main
from paperatlas.search.query import MAX_TERMS, terms

from conftest import ABSTRACT_A, ABSTRACT_B, daily_page

HOSTILE = ['"', '"unclosed', "(", "a AND", "OR", "NOT", "NOT x", "*", "title:x", ":", "-",
           "--", "x -y", "+", "^2", "~", "a~2", "[1 TO 5]", "{}", "\\", "'", "🚀", "日本語",
           "emoji 🧬 proteins", "", "   ", "\x00", "a" * 10_000, "protein " * 2_000]


@pytest.fixture
def seeded(lib: Library, seeds: Path) -> Library:
    lib.ingest([seeds], index=True)
    return lib


def test_known_seed_paper_is_found_first(seeded: Library) -> None:
    page = seeded.search("CHIME hierarchical organization of scientific studies")
    assert page.hits[0].title.startswith("CHIME:")
    assert page.total >= len(page.hits) == 10
    snippet = page.hits[0].snippet
    marked = [snippet.text[a:b].lower() for a, b in snippet.highlights]
    assert marked and all(m.startswith(("hierarch", "organ", "scientif", "studi", "chime"))
                          for m in marked)


@pytest.mark.parametrize("query", HOSTILE)
def test_any_string_gives_results_or_nothing(seeded: Library, query: str) -> None:
    page = seeded.search(query)
    assert isinstance(page.hits, list) and page.total >= len(page.hits)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    terms(text)
    assert len(terms(text)) <= MAX_TERMS


def test_pagination_and_filters(lib: Library, write) -> None:
    rows = [{"_id": f"p{i}", "title": f"Protein study {i}", "text": ABSTRACT_B,
             "year": 2000 + i, "authors": ["Ada Lovelace"] if i % 2 else ["Bob Smith"],
             "categories": ["q-bio.BM"] if i < 5 else ["cs.LG"]} for i in range(10)]
    lib.ingest([write("c.jsonl", "\n".join(json.dumps(r) for r in rows))], collection="bio")
    lib.ingest([write("d.csv", f"title,abstract\nProtein elsewhere,\"{ABSTRACT_B}\"\n")],
               index=True)
    first = lib.search("protein structures", limit=4)
    second = lib.search("protein structures", limit=4, offset=4)
    assert first.total == second.total == 11
    assert not {h.key for h in first.hits} & {h.key for h in second.hits}
    assert [h.rank for h in second.hits] == [5, 6, 7, 8]
    assert lib.search("protein", collection="bio").total == 10
    assert {h.year for h in lib.search("protein", year_from=2003, year_to=2005).hits} == {2003, 2004, 2005}
    assert lib.search("protein", author="Ada Lovelace").total == 5
    assert lib.search("protein", author="lovelace").total == 5
    assert lib.search("protein", category="CS.LG").total == 5
    with pytest.raises(NotFoundError):
        lib.search("protein", collection="nope")
    with pytest.raises(InvalidOptionError, match="valid values are: hybrid, lexical, semantic"):
        lib.search("protein", mode="fuzzy")
    with pytest.raises(PreconditionError, match="no embedding model configured"):
        lib.search("protein", mode="semantic")


def test_a_paper_without_abstract_has_no_snippet(lib: Library, write) -> None:
    lib.ingest([write("t.csv", "title,abstract\nProtein folding by title alone,\n"
                      f"Protein folding with a text,\"{ABSTRACT_B}\"\n")], index=True)
    snippets = {h.title: h.snippet.text for h in lib.search("protein folding").hits}
    assert snippets["Protein folding by title alone"] == ""  # not the title again
    assert "protein" in snippets["Protein folding with a text"].lower()


def test_index_follows_ingest_updates_and_deletes(lib: Library, write) -> None:
    lib.ingest([write("a.csv", "title\nGraph networks\n")], index=True)
    assert lib.search("graph").total == 1
    # a new paper, and an abstract filled in later, are found without a rebuild
    lib.ingest([write("b.csv", f"title,abstract\nGraph networks,\"{ABSTRACT_A}\"\nOther,x\n")])
    assert lib.search.service.pending() == 2
    page = lib.search("literature review hierarchies")  # searches never index
    assert (page.total, page.pending) == (0, 2)
    report = lib.index()
    assert (report.updated, report.rebuilt) == (2, False)
    assert lib.search("literature review hierarchies").total == 1
    lib.store.conn.execute("DELETE FROM papers WHERE title = 'Other'")
    assert lib.index().removed == 1 and lib.search("other").total == 0


def test_lost_index_folder_is_rebuilt(tmp_path: Path, write) -> None:
    lib = Library(tmp_path / "l.db", embedding_model=None)
    lib.ingest([write("a.csv", "title\nGraph networks\nProtein folding\n")], index=True)
    lib.close()
    shutil.rmtree(tmp_path / "l.db.index")
    lib = Library(tmp_path / "l.db", embedding_model=None)
    report = lib.index()
    assert report.rebuilt and report.documents == 2
    assert lib.search("protein").total == 1
    lib.close()


def test_run_file_and_cli_search(tmp_path: Path, write) -> None:
    db = str(tmp_path / "c.db")
    page = write("page.txt", daily_page([("Graph networks for molecules", ABSTRACT_A),
                                         ("Protein folding at scale", ABSTRACT_B)]))
    runner = CliRunner()
    db_args = ["--db", db, "--model", "none"]
    assert runner.invoke(main, [*db_args, "ingest", str(page), "--index"]).exit_code == 0
    out = runner.invoke(main, [*db_args, "search", "protein structures", "--json"])
    data = json.loads(out.output)
    assert data["total"] == 1 and data["results"][0]["title"] == "Protein folding at scale"
    assert data["results"][0]["highlights"]
    text = runner.invoke(main, [*db_args, "search", "protein"]).output
    assert text.startswith("1 results for 'protein' [lexical]")
    queries = write("q.jsonl", '{"_id": "q1", "text": "protein"}\n{"_id": "q2", "text": "(("}\n')
    run = tmp_path / "run.trec"
    result = runner.invoke(main, [*db_args, "search", "--queries", str(queries),
                                  "--run-file", str(run)])
    assert result.exit_code == 0, result.output
    fields = run.read_text().split()
    assert fields[:4] == ["q1", "Q0", data["results"][0]["key"], "1"] and fields[5] == "paperatlas"
    bad = runner.invoke(main, [*db_args, "search", "--queries", str(queries)])
    assert bad.exit_code == 2 and "--run-file" in bad.output
    assert runner.invoke(main, [*db_args, "index"]).output.startswith("indexed 0 papers")


def test_bench_beir_on_a_few_hundred_scifact_documents(shared: Path, tmp_path: Path) -> None:
    src = shared / "data" / "scifact"
    qrels = [line.split("\t") for line in (src / "qrels" / "train.tsv").read_text().splitlines()[1:]]
    qrels = qrels[:60]
    keep = {row[1] for row in qrels}
    corpus = [line for line in (src / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
              if json.loads(line)["_id"] in keep]
    extra = (src / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:300]
    folder = tmp_path / "mini"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("\n".join(dict.fromkeys(corpus + extra)) + "\n")
    (folder / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "\n".join("\t".join(r) for r in qrels) + "\n")
    shutil.copy(src / "queries-train.jsonl", folder / "queries-train.jsonl")
    result, hybrid = evaluate(folder, "train", ("lexical", "hybrid"))
    assert result.queries == len({r[0] for r in qrels})
    assert result.documents == len(dict.fromkeys(corpus + extra))
    assert result.ndcg_at_10 > 0.6 and result.recall_at_100 > 0.85
    assert hybrid.mode == "hybrid" and hybrid.ndcg_at_10 > 0.6
    out = CliRunner().invoke(main, ["bench", "beir", str(folder), "--split", "train",
                                    "--mode", "lexical"])
    assert out.exit_code == 0 and "[lexical]" in out.output and "nDCG@10 0." in out.output


def test_more_like_searches_with_the_most_telling_terms(tmp_path: Path) -> None:
    from paperatlas.search.lexical import LexicalIndex

    index = LexicalIndex(tmp_path / "lex")
    rows = [{"id": i, "title": f"Protein study {i}", "abstract": "protein protein model",
             "authors": [], "categories": [], "year": None, "collections": []}
            for i in range(1, 40)]
    rows.append({"id": 99, "title": "Chaperone kinetics", "abstract": "chaperone kinetics",
                 "authors": [], "categories": [], "year": None, "collections": []})
    index.update(rows, [])
    text = "Protein protein protein protein model chaperone kinetics"
    assert index.more_like(text, limit=1).hits[0][0] == 99  # rare words outweigh frequent
    only_common = index.more_like(text, limit=5, max_terms=2)
    assert only_common.hits[0][0] == 99 and len(only_common.hits) == 1  # just the 2 rarest
    assert index.more_like("", limit=3).hits == []
