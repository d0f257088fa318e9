"""`tree history` says what happened in words: topics by label, papers by title."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.organize.edit_types import Rename
from paperatlas.organize.history import describe
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv


def test_history_entries_name_topics_and_papers_in_words(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with Library(db, embedding_model=HashingEmbedder("hash-256", 256)) as lib:
        rows = papers_of("protein", 40) + papers_of("graph", 40) + papers_of("galaxy", 40)
        lib.ingest([write_csv(tmp_path / "in" / "base.csv", rows)], collection="main")
        lib.trees.build("t", collection="main", min_size=4)
        tree = lib.trees.get("t")
        node = next(n for n in tree.children(tree.root))
        old = node.label
        lib.trees.edit("t", Rename(node.id, "Protein folding"))
        lib.ingest([write_csv(tmp_path / "in" / "more.csv", papers_of("graph", 3, start=100))],
                   collection="main")
        lib.trees.update("t")
        history = lib.trees.history("t")
    update, edit, build = history[0]["text"], history[1]["text"], history[2]["text"]
    assert build.startswith("120 papers in ") and build.endswith(" topics")
    assert edit == "renamed a topic to “Protein folding”" and old
    assert update.startswith("3 papers added: “") and " → “" in update
    assert "graph study 100" in update.lower()
    out = CliRunner().invoke(main, ["--db", str(db), "tree", "history", "--name", "t"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert "update: 3 papers added: “" in lines[0] and "{" not in lines[0]
    assert "edit: renamed a topic to “Protein folding”" in lines[1]


def test_a_topic_or_paper_gone_since_is_named_by_its_number() -> None:
    entry = {"kind": "edit", "op": "move-paper", "args": {"paper": 7, "node": 3}}
    assert describe(entry, {}, {}) == "moved paper 7 to topic 3"
    entry = {"kind": "edit", "op": "merge", "args": {"nodes": [2, 3], "into": 4}}
    assert describe(entry, {2: "RAG", 4: "Retrieval"}, {}) == \
        "merged “RAG”, topic 3 into “Retrieval”"
