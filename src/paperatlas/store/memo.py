"""Answers to whole-table queries, kept until the database changes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any


class Memo:
    """Remembers computed answers until the database changes: a commit by another
    connection (``PRAGMA data_version`` moves) or a change made on this one
    (``total_changes`` moves). Checking costs one pragma, far less than the scans it saves
    (the embeddings table is about 150 MB at 100k papers)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        # per connection (a store routes each thread to its own): (state, answers)
        self._seen: dict[int, tuple[tuple[int, int], dict[str, Any]]] = {}

    def get(self, name: str, compute: Callable[[], Any]) -> Any:
        """The remembered answer called ``name``, computed again after any change."""
        conn: sqlite3.Connection = getattr(self.conn, "target", self.conn)
        now = (int(conn.execute("PRAGMA data_version").fetchone()[0]), conn.total_changes)
        at, answers = self._seen.get(id(conn), ((-1, -1), {}))
        if now != at:
            answers = {}
            self._seen[id(conn)] = (now, answers)
        if name not in answers:
            answers[name] = compute()
        return answers[name]
