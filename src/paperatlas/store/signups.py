"""SQL for ``signups``: sign-ups waiting for their confirmation link (hashes only)."""

from __future__ import annotations

import sqlite3

from ..records.signups import PendingSignup

_COLUMNS = "SELECT id, name, email, created_at, expires_at FROM signups"


class SignupRepo:
    """Reads and writes ``signups``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, name: str, email: str, password_hash: str, secret_hash: str, now: str,
            expires_at: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO signups (name, email, password_hash, secret_hash, created_at,"
            " expires_at) VALUES (?,?,?,?,?,?)",
            (name, email, password_hash, secret_hash, now, expires_at))
        return int(cur.lastrowid or 0)

    def get(self, signup_id: int) -> PendingSignup | None:
        row = self.conn.execute(f"{_COLUMNS} WHERE id = ?", (signup_id,)).fetchone()
        return PendingSignup(*row) if row else None

    def named(self, name: str) -> PendingSignup | None:
        """The sign-up of this name (names compare without case), expired or not."""
        row = self.conn.execute(f"{_COLUMNS} WHERE name = ?", (name,)).fetchone()
        return PendingSignup(*row) if row else None

    def hashes(self, signup_id: int) -> tuple[str, str] | None:
        """``(password hash, link secret hash)`` of a sign-up."""
        row = self.conn.execute("SELECT password_hash, secret_hash FROM signups WHERE id = ?",
                                (signup_id,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def remove(self, signup_id: int) -> bool:
        """Delete a sign-up (its unsent messages are cancelled when next claimed)."""
        return self.conn.execute("DELETE FROM signups WHERE id = ?",
                                 (signup_id,)).rowcount > 0

    def prune(self, expired_before: str) -> int:
        """Delete sign-ups that expired before ``expired_before``; how many went."""
        return self.conn.execute("DELETE FROM signups WHERE expires_at < ?",
                                 (expired_before,)).rowcount

    def all(self) -> list[PendingSignup]:
        return [PendingSignup(*r) for r in self.conn.execute(f"{_COLUMNS} ORDER BY id")]
