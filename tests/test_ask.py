"""Issue 19: sentences stored at index time, evidence retrieval and answers without an LLM
(``paperatlas ask``), on real SQLite with the hashing stand-in embedder."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.cli.state import State
from paperatlas.errors import InvalidOptionError, ParseError
from paperatlas.records.trees import Node, Tree
from paperatlas.search.sentences import STATE, embed_sentences
from paperatlas.search.splitter import sentence_spans, split_sentences
from paperatlas.store.migrations_late import m018_paper_sentences
from test_semantic import HashingEmbedder

PAPERS = [
    {"_id": "ocean", "title": "Ocean heat",
     "text": "We measured sea surface temperature in the Pacific. Warming of the ocean "
             "raised coral bleaching by 40%. Results are discussed."},
    {"_id": "graph", "title": "Graph networks",
     "text": "Graph neural networks pass messages between nodes. We show that deeper "
             "message passing oversmooths node features. Code is released."},
    {"_id": "bees", "title": "Bee decline",
     "text": "Pesticides harm pollinators. Neonicotinoid exposure reduced honey bee "
             "colony survival in field trials. Policy options are reviewed."},
]


def write_papers(path: Path, papers: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in papers), encoding="utf-8")
    return path


@pytest.fixture
def alib(tmp_path: Path) -> Iterator[Library]:
    lib = Library(tmp_path / "a.db", embedding_model=HashingEmbedder("hash-64", 64))
    lib.ingest([write_papers(tmp_path / "corpus.jsonl", PAPERS)], collection="c", index=True)
    yield lib
    lib.close()


def test_splitter_keeps_abbreviations_decimals_and_initials() -> None:
    text = ("Smith et al. showed a 1.5-fold rise (Fig. 2), e.g. in mice, i.e. not rats. "
            "Dose A vs. dose B differed (p < 0.05). J. Smith agreed! mRNA levels fell. "
            "Was it real?   \\n CONCLUSION It was.")
    got = split_sentences(text)
    assert got == ["Smith et al. showed a 1.5-fold rise (Fig. 2), e.g. in mice, i.e. not rats.",
                   "Dose A vs. dose B differed (p < 0.05).", "J. Smith agreed!",
                   "mRNA levels fell.", "Was it real?", "CONCLUSION It was."]
    assert [text[a:b] for a, b in sentence_spans(text, got)] == got
    assert split_sentences("  ") == [] and split_sentences("no end") == ["no end"]
    assert split_sentences("It rose. then fell.") == ["It rose. then fell."]


def test_migration_18_runs_twice(tmp_path: Path) -> None:
    lib = Library(tmp_path / "m.db", embedding_model=None)
    m018_paper_sentences(lib.store.conn)  # already applied: nothing changes, no error
    cols = [r[1] for r in lib.store.conn.execute("PRAGMA table_info(paper_sentences)")]
    assert cols == ["paper_id", "text_hash", "model", "dim", "sentences", "vectors"]
    lib.close()


def test_index_stores_sentences_once_and_follows_changes(alib: Library, tmp_path: Path) -> None:
    rows = {r.paper_id: r for r in alib.store.sentences.get_many([1, 2, 3], "hash-64")}
    assert [len(r.sentences) for r in rows.values()] == [3, 3, 3]
    assert rows[1].vectors.dtype == np.float16 and rows[1].vectors.shape == (3, 64)
    embedder = alib.search.service.embedder
    assert isinstance(embedder, HashingEmbedder)
    calls = embedder.calls
    assert alib.index().sentences is not None and embedder.calls == calls  # nothing to do
    changed = [dict(PAPERS[0], text="One new sentence. And a second one.")]
    alib.ingest([write_papers(tmp_path / "v2.jsonl", changed)], collection="c")
    with alib.store.transaction():  # the same paper's abstract, revised
        alib.store.conn.execute("UPDATE papers SET abstract = ? WHERE key = 'ocean'",
                                (changed[0]["text"],))
    report = alib.index().sentences
    assert report is not None and report.embedded == 1 and report.sentences == 8
    assert alib.store.sentences.get_many([1], "hash-64")[0].sentences[1] == "And a second one."
    with alib.store.transaction():
        alib.store.conn.execute("DELETE FROM papers WHERE key = 'graph'")
    assert alib.index().sentences.papers == 2  # type: ignore[union-attr]


def test_a_new_model_embeds_every_sentence_again(alib: Library) -> None:
    other = HashingEmbedder("hash-32", 32)
    report = embed_sentences(alib.store, other)
    assert report.embedded == 3 and other.calls == 9
    assert alib.store.sentences.get_many([1, 2, 3], "hash-32")[0].vectors.shape == (3, 32)


class Failing(HashingEmbedder):
    """Fails on its second batch, as a killed index job would stop."""

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        if self.calls:
            raise KeyboardInterrupt
        return super().encode(texts, kind=kind)


def test_sentence_embedding_resumes_after_the_last_batch(tmp_path: Path) -> None:
    lib = Library(tmp_path / "r.db", embedding_model=None)
    lib.ingest([write_papers(tmp_path / "p.jsonl", PAPERS)])
    with pytest.raises(KeyboardInterrupt):
        embed_sentences(lib.store, Failing("hash-64", 64), batch=2)
    assert lib.store.sentences.totals()[0] == 2  # the first batch committed with its place
    assert lib.store.search.state(STATE)[0] > 0
    again = HashingEmbedder("hash-64", 64)
    report = embed_sentences(lib.store, again, batch=2)
    assert report.embedded == 1 and again.calls == 3 and report.papers == 3
    lib.close()


def test_ask_cites_the_sentence_and_abstains_when_nothing_fits(alib: Library) -> None:
    answer = alib.ask("neonicotinoid exposure honey bee colony survival")
    assert not answer.abstained and answer.evidence[0].key == "bees"
    assert answer.evidence[0].sentence == 1
    assert answer.evidence[0].text.startswith("Neonicotinoid exposure reduced")
    assert answer.papers[0].key == "bees" and answer.papers[0].title == "Bee decline"
    empty = alib.ask("quantum chromodynamics lattice gauge")
    assert empty.abstained and empty.evidence == [] and empty.papers == []
    assert empty.message.startswith("No paper in this library addresses")


def test_ask_scopes(alib: Library) -> None:
    question = "warming ocean coral bleaching"
    assert alib.ask(question, collection="c").evidence[0].key == "ocean"
    only = alib.ask(question, papers=["graph"])
    assert {e.key for e in only.evidence + only.nearest} <= {"graph"}
    with pytest.raises(InvalidOptionError, match="valid values are: c"):
        alib.ask(question, collection="nope")
    with pytest.raises(InvalidOptionError, match="TREE:ID"):
        alib.ask(question, node="default")
    with pytest.raises(InvalidOptionError, match="tree 'default'"):
        alib.ask(question, node="default:1")


def test_ask_in_a_topic_reads_only_its_subtree(alib: Library) -> None:
    nodes = {0: Node(0, None, kind="root"), 1: Node(1, 0, "sea", papers={1: 0.9}),
             2: Node(2, 1, "coral", papers={2: 0.8}), 3: Node(3, 0, "bees", papers={3: 0.9})}
    with alib.store.transaction():
        alib.store.trees.save(Tree("t", nodes, 0, next_id=4))
    answer = alib.ask("neonicotinoid honey bee", node="t:1")  # the sea and, below, coral
    assert {e.key for e in answer.evidence + answer.nearest} == {"ocean", "graph"}
    assert alib.ask("neonicotinoid honey bee", node="t:3").evidence[0].key == "bees"
    with pytest.raises(InvalidOptionError, match="topic of tree 't'"):
        alib.ask("bees", node="t:999")


def test_reads_never_write(tmp_path: Path) -> None:
    lib = Library(tmp_path / "w.db", embedding_model=HashingEmbedder("hash-64", 64))
    lib.ingest([write_papers(tmp_path / "p.jsonl", PAPERS)], index=True)
    with lib.store.transaction():
        lib.store.conn.execute("UPDATE papers SET abstract = 'Changed. Entirely.' WHERE id = 3")
    before = sqlite3.connect(lib.path).execute("SELECT * FROM paper_sentences").fetchall()
    answer = lib.ask("neonicotinoid honey bee")
    assert answer.pending == 1  # the changed paper waits for the index job
    after = sqlite3.connect(lib.path).execute("SELECT * FROM paper_sentences").fetchall()
    assert after == before
    lib.close()


@pytest.fixture
def cli(alib: Library, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI on ``alib``'s file, opened with the hashing embedder."""
    monkeypatch.setattr(State, "library", lambda self: alib)
    monkeypatch.setattr(State, "close", lambda self: None)
    return alib.path


def test_cli_ask_text_json_and_batch(cli: Path, tmp_path: Path) -> None:
    run = CliRunner().invoke
    r = run(main, ["--db", str(cli), "ask", "neonicotinoid honey bee colony survival"])
    assert r.exit_code == 0 and "[bees] Bee decline" in r.output and "(1) Neonicotinoid" in r.output
    r = run(main, ["--db", str(cli), "ask", "coral bleaching", "--json", "--paper", "ocean"])
    assert r.exit_code == 0 and json.loads(r.output)["evidence"][0]["key"] == "ocean"
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"_id": "1", "text": "honey bee colony survival"}\n'
                         '{"_id": "2", "text": "lattice gauge chromodynamics"}\n')
    out = tmp_path / "out.jsonl"
    r = run(main, ["--db", str(cli), "ask", "--questions", str(questions), "--out", str(out)])
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [list(line) for line in lines] == [["_id", "abstained", "evidence"]] * 2
    assert lines[0]["abstained"] is False and lines[1] == {"_id": "2", "abstained": True,
                                                           "evidence": []}
    assert list(lines[0]["evidence"][0]) == ["key", "sentence", "text", "score"]
    assert lines[0]["evidence"][0]["key"] == "bees" and lines[0]["evidence"][0]["sentence"] == 1


def test_cli_index_no_sentences_leaves_them_for_a_later_index(cli: Path, alib: Library,
                                                              tmp_path: Path) -> None:
    run = CliRunner().invoke
    new = [{"_id": "soil", "title": "Soil carbon",
            "text": "Tilling released soil carbon. No-till plots kept it."}]
    alib.ingest([write_papers(tmp_path / "new.jsonl", new)])
    r = run(main, ["--db", str(cli), "index", "--no-sentences", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["sentences"] is None
    r = run(main, ["--db", str(cli), "index", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["sentences"]["embedded"] == 1


def test_cli_ask_bad_input_names_the_line_or_option(cli: Path, tmp_path: Path) -> None:
    run = CliRunner().invoke
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"_id": "1", "text": "bees"}\n{"_id": "2"}\n')
    r = run(main, ["--db", str(cli), "ask", "--questions", str(questions), "--out",
                   str(tmp_path / "o.jsonl")])
    assert r.exit_code == 1 and "q.jsonl:2: field 'text' is missing" in r.output
    assert not (tmp_path / "o.jsonl").exists()
    r = run(main, ["--db", str(cli), "ask", "bees", "--collection", "x"])
    assert r.exit_code == 1 and "valid values are: c" in r.output
    r = run(main, ["--db", str(cli), "ask"])
    assert r.exit_code == 2 and "give a QUESTION" in r.output
    from paperatlas.beir import read_queries
    questions.write_text("[1]\n")
    with pytest.raises(ParseError, match="line"):
        list(read_queries(questions))


def test_a_large_scope_is_searched_within_its_papers(alib: Library,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from paperatlas.search import evidence

    monkeypatch.setattr(evidence, "SCAN_ALL", 0)  # every scope retrieves papers first
    only = alib.ask("neonicotinoid honey bee colony", papers=["graph", "ocean"])
    assert {e.key for e in only.evidence + only.nearest} <= {"graph", "ocean"}
    assert alib.ask("neonicotinoid honey bee colony", papers=["bees"]).evidence[0].key == "bees"
