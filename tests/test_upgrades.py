"""Upgrades: a library of every earlier schema version opens with the current paperatlas,
migrated in one transaction, its data kept and searchable; a migration that fails midway
leaves the library at its old version, unchanged."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import paperatlas.store.db as db
from paperatlas import Library
from paperatlas.errors import StoreError
from paperatlas.store.migrations import MIGRATIONS

from conftest import schema_at

NOW = "2024-01-02T03:04:05Z"
LATEST = len(MIGRATIONS)
PAPERS = [
    ("2401.00001", "Graph neural networks for protein folding", "We fold proteins.", 2024),
    ("2401.00002", "Quantum error correction with surface codes", "Codes correct errors.", 2023),
    ("2401.00003", "Retrieval augmented generation for question answering", "", 2022),
]


def make_library(path: Path, version: int) -> None:
    """A library at schema ``version``: migrations 1..version, then rows in every table a
    library of that version fills, written with SQL that version takes."""
    conn = schema_at(path, version)
    conn.execute("BEGIN")
    fill(conn)
    conn.execute("COMMIT")
    conn.close()


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def fill(conn: sqlite3.Connection) -> None:
    have = tables(conn)
    conn.execute("INSERT INTO files (sha256, path, size, format, encoding, first_ingested_at)"
                 " VALUES ('ab12', 'old.jsonl', 10, 'jsonl', 'utf-8', ?)", (NOW,))
    conn.execute("INSERT INTO ingest_runs (started_at, finished_at, status) VALUES (?, ?, 'done')",
                 (NOW, NOW))
    conn.execute("INSERT INTO collections (name, created_at) VALUES ('old', ?)", (NOW,))
    for pid, (arxiv, title, abstract, year) in enumerate(PAPERS, start=1):
        conn.execute(
            "INSERT INTO papers (id, key, title, norm_title, abstract, authors, year, categories,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '[\"cs.LG\"]', ?, ?)",
            (pid, arxiv, title, title.lower(), abstract, json.dumps(["Ada Lovelace"]), year,
             NOW, NOW))
        conn.execute("INSERT INTO paper_ids (paper_id, scheme, value, raw) VALUES (?, 'arxiv', ?, ?)",
                     (pid, arxiv, f"arXiv:{arxiv}"))
        conn.execute("INSERT INTO sources (paper_id, file_id, run_id, entry, line, title,"
                     " match_rule, ingested_at) VALUES (?, 1, 1, ?, ?, ?, 'new', ?)",
                     (pid, pid, pid, title, NOW))
        conn.execute("INSERT INTO collection_papers (collection_id, paper_id, added_at)"
                     " VALUES (1, ?, ?)", (pid, NOW))
    if "embeddings" in have:
        vector = np.ones(8, dtype=np.float16).tobytes()
        conn.execute("INSERT INTO embeddings (paper_id, model, text_hash, vector)"
                     " VALUES (1, 'old-model', 'h1', ?)", (vector,))
    if "trees" in have:
        conn.execute("INSERT INTO trees (name, next_id, root, created_at, updated_at)"
                     " VALUES ('t', 2, 0, ?, ?)", (NOW, NOW))
        conn.execute("INSERT INTO tree_nodes (tree_id, node_id, parent, kind, label)"
                     " VALUES (1, 0, NULL, 'root', ''), (1, 1, 0, 'topic', 'Proteins')")
        conn.execute("INSERT INTO tree_links (tree_id, node_id, paper_id, score)"
                     " VALUES (1, 1, 1, 0.9), (1, 1, 2, 0.5)")
    if "users" in have:
        conn.execute("INSERT INTO users (name, password_hash, created_at)"
                     " VALUES ('alice', 'not-a-hash', ?)", (NOW,))
        conn.execute("INSERT INTO jobs (kind, status, created_at) VALUES ('ingest', 'done', ?)",
                     (NOW,))
    if "votes" in have:
        conn.execute("INSERT INTO votes (user_id, paper_id, created_at) VALUES (1, 1, ?)", (NOW,))
    if "subscriptions" in have:
        conn.execute("INSERT INTO subscriptions (email, frequency, confirmed_at, created_at)"
                     " VALUES ('a@example.org', 'weekly', ?, ?)", (NOW, NOW))
        conn.execute("INSERT INTO subscription_items (subscription_id, kind, value)"
                     " VALUES (1, 'search', 'protein folding')")
    if "title_keys" in have:
        conn.execute("INSERT INTO title_keys (key, paper_id) VALUES ('p:graph neural networks', 1)")
    if "title_hashes" in have:
        conn.execute("INSERT INTO title_hashes (h, paper_id) VALUES (12345, 1)")


def dump(path: Path) -> tuple[int, list[tuple[object, ...]], dict[str, list[tuple[object, ...]]]]:
    """The schema version, the schema and every row of a library file."""
    conn = sqlite3.connect(path)
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        schema = [tuple(r) for r in conn.execute(
            "SELECT type, name, sql FROM sqlite_master ORDER BY type, name")]
        rows = {t: sorted(tuple(r) for r in conn.execute(f"SELECT * FROM \"{t}\""))
                for t in sorted(tables(conn))}
    finally:
        conn.close()
    return version, schema, rows


@pytest.mark.parametrize("version", range(1, LATEST))
def test_a_library_of_every_earlier_version_opens_migrated(tmp_path: Path, version: int) -> None:
    path = tmp_path / f"v{version}.db"
    make_library(path, version)
    had = tables(sqlite3.connect(path))
    with Library(path, embedding_model=None) as lib:
        assert lib.store.schema_version == LATEST
        conn = lib.store.conn
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert [(p.key, p.title) for p in (lib.papers[a] for a, *_ in PAPERS)] == \
            [(a, t) for a, t, *_ in PAPERS]
        assert lib.stats().sources == 3 and lib.stats().collections == 1
        lib.index(embed=False)
        page = lib.search("protein folding", mode="lexical")
        assert page.pending == 0 and page.hits[0].key == "2401.00001"
        assert [h.key for h in lib.search("surface codes", collection="old").hits] == \
            ["2401.00002"]
        if "trees" in had:
            tree = lib.trees.get("t")
            assert tree.nodes[1].label == "Proteins"
            assert [r[0] for r in conn.execute(
                "SELECT paper_id FROM tree_links WHERE tree_id = 1 ORDER BY paper_id")] == [1, 2]
        if "users" in had:
            assert [u.name for u in lib.people.all()] == ["alice"]
        if "subscriptions" in had:
            assert conn.execute("SELECT COUNT(*) FROM subscription_items").fetchone()[0] == 1
        if "embeddings" in had:
            assert [r[0] for r in conn.execute("SELECT model FROM embeddings")] == ["old-model"]
        # the identifiers still find the papers: a record of one merges into it
        write = tmp_path / "again.jsonl"
        write.write_text(json.dumps({"arxiv": "2401.00003", "title": PAPERS[2][1]}) + "\n",
                         encoding="utf-8")
        report = lib.ingest([write])
        assert (report.added, report.merged) == (0, 1)


def test_a_migration_that_fails_midway_leaves_the_library_unchanged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start = LATEST - 3
    path = tmp_path / "old.db"
    make_library(path, start)
    before = dump(path)

    def breaks(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x INTEGER)")
        conn.execute("DELETE FROM collection_papers")
        conn.execute("ALTER TABLE papers ADD COLUMN half INTEGER")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(db, "MIGRATIONS", [*MIGRATIONS[:LATEST - 1], breaks])
    with pytest.raises(StoreError, match=f"migration {LATEST} .*still at schema version {start}"):
        Library(path, embedding_model=None)
    assert dump(path) == before  # migrations start+1 .. LATEST-1 were rolled back with it
    monkeypatch.undo()
    with Library(path, embedding_model=None) as lib:
        assert lib.store.schema_version == LATEST
        assert lib.stats().papers == 3
