"""SQL for accounts: ``users`` and their ``api_tokens`` (hashes only, never secrets)."""

from __future__ import annotations

import sqlite3

from ..records.people import ApiToken, User

_TOKEN_COLUMNS = ("SELECT t.id, u.name, t.label, t.created_at, t.last_used_at"
                  " FROM api_tokens t JOIN users u ON u.id = t.user_id")


class UserRepo:
    """Reads and writes ``users`` and ``api_tokens``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, name: str, password_hash: str, now: str) -> None:
        self.conn.execute("INSERT INTO users (name, password_hash, created_at) VALUES (?,?,?)",
                          (name, password_hash, now))

    def get(self, name: str) -> User | None:
        """A user by name (names compare without case)."""
        row = self.conn.execute(
            "SELECT u.name, u.created_at, COUNT(t.id) FROM users u"
            " LEFT JOIN api_tokens t ON t.user_id = u.id WHERE u.name = ? GROUP BY u.id",
            (name,)).fetchone()
        return User(row[0], row[1], row[2]) if row else None

    def password_hash(self, name: str) -> str | None:
        row = self.conn.execute("SELECT password_hash FROM users WHERE name = ?",
                                (name,)).fetchone()
        return str(row[0]) if row else None

    def set_password_hash(self, name: str, password_hash: str) -> None:
        self.conn.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                          (password_hash, name))

    def all(self) -> list[User]:
        rows = self.conn.execute(
            "SELECT u.name, u.created_at, COUNT(t.id) FROM users u"
            " LEFT JOIN api_tokens t ON t.user_id = u.id GROUP BY u.id ORDER BY u.name")
        return [User(r[0], r[1], r[2]) for r in rows]

    def remove(self, name: str) -> bool:
        """Delete a user and, by cascade, their tokens and web sessions."""
        return self.conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount > 0

    def add_token(self, name: str, token_hash: str, label: str, now: str) -> ApiToken:
        cur = self.conn.execute(
            "INSERT INTO api_tokens (user_id, token_hash, label, created_at)"
            " SELECT id, ?, ?, ? FROM users WHERE name = ?", (token_hash, label, now, name))
        return self._token("t.id = ?", int(cur.lastrowid or 0))

    def token_user(self, token_hash: str) -> ApiToken | None:
        """The token with this hash, or None."""
        row = self.conn.execute(f"{_TOKEN_COLUMNS} WHERE t.token_hash = ?",
                                (token_hash,)).fetchone()
        return ApiToken(*row) if row else None

    def remove_tokens(self, name: str) -> int:
        """Delete every API token of a user; how many there were."""
        return self.conn.execute(
            "DELETE FROM api_tokens WHERE user_id = (SELECT id FROM users WHERE name = ?)",
            (name,)).rowcount

    def touch_token(self, token_id: int, now: str) -> None:
        self.conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))

    def tokens(self, name: str) -> list[ApiToken]:
        rows = self.conn.execute(f"{_TOKEN_COLUMNS} WHERE u.name = ? ORDER BY t.id", (name,))
        return [ApiToken(*r) for r in rows]

    def _token(self, where: str, value: object) -> ApiToken:
        return ApiToken(*self.conn.execute(f"{_TOKEN_COLUMNS} WHERE {where}", (value,)).fetchone())
