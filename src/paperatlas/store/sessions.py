"""SQL for ``web_sessions``: one row per signed-in browser, named by the SHA-256 of the
random session id its cookie holds (the id itself is never stored)."""

from __future__ import annotations

import sqlite3


class SessionRepo:
    """Reads and writes ``web_sessions``; times are ISO 8601 UTC text, compared as text."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, id_hash: str, user: str, created_at: str, expires_at: str) -> bool:
        """A session for the user named ``user``; False if there is no such user."""
        cur = self.conn.execute(
            "INSERT INTO web_sessions (id_hash, user_id, created_at, expires_at)"
            " SELECT ?, id, ?, ? FROM users WHERE name = ?",
            (id_hash, created_at, expires_at, user))
        return cur.rowcount > 0

    def user(self, id_hash: str, now: str) -> str | None:
        """The name of the user a live (not expired) session belongs to, else None."""
        row = self.conn.execute(
            "SELECT u.name FROM web_sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.id_hash = ? AND s.expires_at > ?", (id_hash, now)).fetchone()
        return str(row[0]) if row else None

    def remove(self, id_hash: str) -> bool:
        return self.conn.execute("DELETE FROM web_sessions WHERE id_hash = ?",
                                 (id_hash,)).rowcount > 0

    def remove_user(self, user: str) -> int:
        """End every session of the user named ``user``; how many there were."""
        return self.conn.execute(
            "DELETE FROM web_sessions WHERE user_id = (SELECT id FROM users WHERE name = ?)",
            (user,)).rowcount

    def prune(self, now: str) -> int:
        """Drop the sessions that expired by ``now``; how many went."""
        return self.conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?",
                                 (now,)).rowcount
