"""SQL for ``throttle_events``: timestamped events per key, counted in a sliding window.

Every server process writes to and counts the same table, so a limit holds across
``serve --workers N``. Keys are free-form (``signin:user:ada``, ``mail:to:a@b.c``).
"""

from __future__ import annotations

import sqlite3


class ThrottleRepo:
    """Reads and writes ``throttle_events``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def record(self, key: str, at: float) -> None:
        """Note one event for ``key`` at time ``at`` (seconds since the epoch)."""
        self.conn.execute("INSERT INTO throttle_events (key, at) VALUES (?, ?)", (key, at))

    def count(self, key: str, since: float) -> int:
        """Events for ``key`` at or after ``since``."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM throttle_events WHERE key = ? AND at >= ?",
            (key, since)).fetchone()
        return int(row[0])

    def oldest(self, key: str, since: float) -> float | None:
        """The earliest event for ``key`` at or after ``since`` (when the window frees up)."""
        row = self.conn.execute(
            "SELECT MIN(at) FROM throttle_events WHERE key = ? AND at >= ?",
            (key, since)).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def clear(self, key: str) -> None:
        """Forget every event for ``key`` (a successful sign-in clears its failures)."""
        self.conn.execute("DELETE FROM throttle_events WHERE key = ?", (key,))

    def prune(self, before: float) -> int:
        """Drop events older than ``before``; how many went."""
        return self.conn.execute("DELETE FROM throttle_events WHERE at < ?",
                                 (before,)).rowcount
