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
        self._answers: dict[str, Any] = {}
        self._at: tuple[int, int] = (-1, -1)

    def get(self, name: str, compute: Callable[[], Any]) -> Any:
        """The remembered answer called ``name``, computed again after any change."""
        now = (int(self.conn.execute("PRAGMA data_version").fetchone()[0]),
               self.conn.total_changes)
        if now != self._at:
            self._answers, self._at = {}, now
        if name not in self._answers:
            self._answers[name] = compute()
        return self._answers[name]
