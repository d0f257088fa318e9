"""The SQLite store: pragmas, migrations, transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from paperatlas import Library, StoreError
from paperatlas.store import Store
from paperatlas.store.keys import key_hash
from paperatlas.store.migrations import MIGRATIONS

from conftest import schema_at


def test_new_library_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    conn = store.conn
    assert store.schema_version == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    store.close()
    again = Store(tmp_path / "a.db")  # reopening applies nothing twice
    assert again.schema_version == len(MIGRATIONS)
    again.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Library(path)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a paperatlas library"):
        Library(path)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Library(tmp_path / "nope" / "lib.db")


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    with pytest.raises(RuntimeError), store.transaction():
        store.collections.ensure("temp", "2026-01-01T00:00:00Z")
        raise RuntimeError("boom")
    assert store.collections.all() == []
    with store.transaction(dry_run=True):
        store.collections.ensure("dry", "2026-01-01T00:00:00Z")
    assert store.collections.all() == []
    store.close()


def test_deleting_a_paper_cascades(tmp_path: Path, write) -> None:
    lib = Library(tmp_path / "a.db")
    lib.ingest([write("a.csv", "title,doi\nA paper,10.1000/x\n")])
    conn = lib.store.conn
    conn.execute("DELETE FROM papers")
    for table in ("paper_ids", "sources", "collection_papers", "title_hashes"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
    lib.close()


def test_busy_library_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = Store(path)
    holder.conn.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    waiting = Store(path, busy_timeout_ms=50)
    with pytest.raises(StoreError, match="busy"), waiting.transaction():
        pass
    holder.conn.execute("ROLLBACK")
    holder.close()
    waiting.close()


def test_a_library_of_schema_15_keeps_finding_its_duplicates(tmp_path: Path, write) -> None:
    """Migration 16 files each title under hashes of its blocking keys: a library
    ingested before it still finds exact and near-duplicate titles after it."""
    path = tmp_path / "old.db"
    conn = schema_at(path, 15)
    now = "2024-01-01T00:00:00Z"
    conn.execute("INSERT INTO papers (key, title, norm_title, abstract, created_at, updated_at)"
                 " VALUES ('old', 'Sparse attention for long documents in legal question answering',"
                 " 'sparse attention for long documents in legal question answering', '', ?, ?)",
                 (now, now))
    conn.executemany("INSERT INTO title_keys (key, paper_id) VALUES (?, 1)",
                     [("p:sparse attention long documents",),
                      ("s:documents legal question answering",)])
    conn.close()
    with Library(path, embedding_model=None) as lib:
        assert lib.store.schema_version == len(MIGRATIONS)
        rows = lib.store.conn.execute("SELECT h, paper_id FROM title_hashes")
        assert sorted(tuple(r) for r in rows) == sorted(
            [(key_hash("p:sparse attention long documents"), 1),
             (key_hash("s:documents legal question answering"), 1)])
        report = lib.ingest([write("new.jsonl", "\n".join([
            '{"title": "Sparse Attention for Long Documents in Legal Question-Answering"}',
            '{"title": "Sparse attention for lnog documents in legal question answering"}'])
            + "\n")])
        assert (report.added, report.merged) == (0, 2)
