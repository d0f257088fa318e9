"""SQL for what search indexes need: changed papers and each index's progress."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from typing import Any


class SearchRepo:
    """Reads ``paper_changes`` and reads/writes ``index_state``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def state(self, name: str) -> tuple[int, dict[str, Any]]:
        """The last change absorbed by an index, and the settings it was built with."""
        row = self.conn.execute(
            "SELECT seq, settings FROM index_state WHERE name = ?", (name,)).fetchone()
        return (int(row[0]), json.loads(row[1])) if row else (0, {})

    def set_state(self, name: str, seq: int, settings: dict[str, Any], now: str) -> None:
        self.conn.execute(
            "INSERT INTO index_state (name, seq, settings, updated_at) VALUES (?,?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, settings = excluded.settings,"
            " updated_at = excluded.updated_at", (name, seq, json.dumps(settings), now))

    def last_seq(self) -> int:
        return int(self.conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM paper_changes").fetchone()[0])

    def changed_since(self, seq: int, batch: int) -> list[tuple[int, int]]:
        """``(seq, paper_id)`` of papers changed after ``seq``, oldest first."""
        rows = self.conn.execute(
            "SELECT seq, paper_id FROM paper_changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, batch))
        return [(r[0], r[1]) for r in rows]

    def changed_between(self, after: int, upto: int, limit: int) -> list[int]:
        """Ids of papers whose latest change is after ``after`` and at most ``upto``."""
        rows = self.conn.execute(
            "SELECT paper_id FROM paper_changes WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (after, upto, limit))
        return [r[0] for r in rows]

    def pending(self, seq: int) -> int:
        return int(self.conn.execute(
            "SELECT COUNT(*) FROM paper_changes WHERE seq > ?", (seq,)).fetchone()[0])

    def index_rows(self, paper_ids: list[int]) -> list[dict[str, Any]]:
        """What the search index holds of each paper (missing ids were deleted)."""
        if not paper_ids:
            return []
        marks = ",".join("?" * len(paper_ids))
        colls: dict[int, list[int]] = defaultdict(list)
        for pid, cid in self.conn.execute(
                "SELECT paper_id, collection_id FROM collection_papers"
                f" WHERE paper_id IN ({marks})", paper_ids):
            colls[pid].append(cid)
        rows = self.conn.execute(
            f"SELECT id, title, abstract, authors, year, categories FROM papers"
            f" WHERE id IN ({marks})", paper_ids)
        return [{"id": r[0], "title": r[1], "abstract": r[2], "authors": json.loads(r[3]),
                 "year": r[4], "categories": json.loads(r[5]), "collections": colls[r[0]]}
                for r in rows]
