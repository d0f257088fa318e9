"""Issue 19: sentences split at index time and embedded when a question needs them,
evidence retrieval and answers without an LLM (``paperatlas ask``), on real SQLite with
the hashing stand-in embedder."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.cli.state import State
from paperatlas.errors import InvalidOptionError, ParseError
from paperatlas.records.trees import Node, Tree
from paperatlas.search import sentences as sentences_module
from paperatlas.search.evidence import SentenceVectors
from paperatlas.search.sentences import STATE, split_abstracts
from paperatlas.search.splitter import sentence_spans, split_sentences
from paperatlas.store.migrations_late import (
    m018_paper_sentences,
    m019_sentences_without_vectors,
)
from paperatlas.store.sentences import SentenceRow
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


def test_migrations_18_and_19_run_twice_and_keep_the_splits(tmp_path: Path) -> None:
    lib = Library(tmp_path / "m.db", embedding_model=None)
    m018_paper_sentences(lib.store.conn)  # already applied: nothing changes, no error
    m019_sentences_without_vectors(lib.store.conn)
    cols = [r[1] for r in lib.store.conn.execute("PRAGMA table_info(paper_sentences)")]
    assert cols == ["paper_id", "text_hash", "sentences"]
    lib.close()
    old = sqlite3.connect(tmp_path / "old.db")  # a table of migration 18, with vectors
    old.executescript("CREATE TABLE papers (id INTEGER PRIMARY KEY);"
                      "INSERT INTO papers VALUES (7);")
    m018_paper_sentences(old)
    old.execute("INSERT INTO paper_sentences VALUES (7, 'h', 'm', 2, '[\"A.\", \"B.\"]', x'00')")
    m019_sentences_without_vectors(old)
    m019_sentences_without_vectors(old)
    assert old.execute("SELECT * FROM paper_sentences").fetchall() == [(7, "h", '["A.", "B."]')]
    old.close()


def test_index_splits_sentences_once_and_follows_changes(alib: Library, tmp_path: Path) -> None:
    rows = {r.paper_id: r for r in alib.store.sentences.get_many([1, 2, 3])}
    assert [len(r.sentences) for r in rows.values()] == [3, 3, 3]
    embedder = alib.search.service.embedder
    assert isinstance(embedder, HashingEmbedder)
    calls = embedder.calls
    assert embedder.calls == 6  # the papers and their titles: the index embeds no sentence
    assert alib.index().sentences is not None and embedder.calls == calls  # nothing to do
    changed = [dict(PAPERS[0], text="One new sentence. And a second one.")]
    with alib.store.transaction():  # the same paper's abstract, revised
        alib.store.conn.execute("UPDATE papers SET abstract = ? WHERE key = 'ocean'",
                                (changed[0]["text"],))
    report = alib.index().sentences
    assert report is not None and report.split == 1 and report.sentences == 8
    assert alib.store.sentences.get_many([1])[0].sentences[1] == "And a second one."
    with alib.store.transaction():
        alib.store.conn.execute("DELETE FROM papers WHERE key = 'graph'")
    assert alib.index().sentences.papers == 2  # type: ignore[union-attr]


def test_sentences_are_embedded_when_a_question_needs_them_then_kept(alib: Library) -> None:
    embedder = alib.search.service.embedder
    assert isinstance(embedder, HashingEmbedder)
    before = embedder.calls
    alib.ask("neonicotinoid exposure honey bee colony survival", papers=["bees", "ocean"])
    assert embedder.calls == before + 6 + 1  # two papers' three sentences, and the question
    alib.ask("coral bleaching in the ocean", papers=["bees", "ocean"])
    assert embedder.calls == before + 6 + 2  # the sentences were kept: the question only
    finder = alib.ask.finder
    kept = finder.vectors()
    assert finder.vectors() is kept and kept.model == "hash-64"
    finder._vectors = SentenceVectors(HashingEmbedder("old", 32).encode, "old")
    assert finder.vectors().model == "hash-64"  # another model's vectors are not used


def test_sentence_vectors_keep_the_most_recently_used_up_to_a_limit() -> None:
    embedder = HashingEmbedder("hash-8", 8)
    kept = SentenceVectors(embedder.encode, "hash-8", limit=5)
    rows = [SentenceRow(i, f"h{i}", [f"s{i} one", f"s{i} two"]) for i in range(4)]
    got = kept(rows[:2])
    assert [m.shape for m in got] == [(2, 8), (2, 8)] and got[0].dtype == np.float16
    assert embedder.calls == 4
    kept(rows[:1])  # paper 0 used again: paper 1 is now the oldest
    kept(rows[2:3])  # 6 sentences > 5: paper 1 goes
    assert embedder.calls == 6
    kept(rows[:1])
    assert embedder.calls == 6  # paper 0 was kept
    kept(rows[1:2])
    assert embedder.calls == 8  # paper 1 was not
    changed = SentenceRow(0, "another hash", ["s0 changed"])
    assert kept([changed])[0].shape == (1, 8) and embedder.calls == 9


def test_splitting_resumes_after_the_last_batch(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    lib = Library(tmp_path / "r.db", embedding_model=None)
    lib.ingest([write_papers(tmp_path / "p.jsonl", PAPERS)])
    split, seen = sentences_module.split_sentences, []

    def failing(text: str) -> list[str]:
        seen.append(text)
        if len(seen) > 2:
            raise KeyboardInterrupt  # as a killed index job stops
        return split(text)

    monkeypatch.setattr(sentences_module, "split_sentences", failing)
    with pytest.raises(KeyboardInterrupt):
        split_abstracts(lib.store, batch=2)
    assert lib.store.sentences.totals()[0] == 2  # the first batch committed with its place
    assert lib.store.search.state(STATE)[0] > 0
    monkeypatch.setattr(sentences_module, "split_sentences", split)
    report = split_abstracts(lib.store, batch=2)
    assert report.split == 1 and report.papers == 3
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
    assert json.loads(r.output)["sentences"]["split"] == 1


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


def test_a_large_scope_is_searched_within_its_papers(alib: Library) -> None:
    alib.ask.finder.papers = 1  # a scope of more than one paper retrieves papers first
    only = alib.ask("neonicotinoid honey bee colony", papers=["graph", "ocean"])
    assert {e.key for e in only.evidence + only.nearest} <= {"graph", "ocean"}
    assert alib.ask("neonicotinoid honey bee colony", papers=["bees"]).evidence[0].key == "bees"
