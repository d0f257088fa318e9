"""SQL for the outbox: rendered messages, their delivery state and attempts."""

from __future__ import annotations

import sqlite3

from ..records.follow import OutboxMessage

_COLUMNS = ("SELECT id, subscription_id, kind, message_id, recipient, subject, papers, state,"
            " attempts, next_attempt_at, last_error, created_at, sent_at FROM outbox")


class OutboxRepo:
    """Reads and writes ``outbox``; every state change names the attempt it belongs to."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, subscription_id: int, kind: str, message_id: str, recipient: str,
            subject: str, message: bytes, papers: int, now: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO outbox (subscription_id, kind, message_id, recipient, subject, message,"
            " papers, next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (subscription_id, kind, message_id, recipient, subject, message, papers, now, now))
        return int(cur.lastrowid or 0)

    def add_for_signup(self, signup_id: int, message_id: str, recipient: str, subject: str,
                       message: bytes, now: str) -> int:
        """Queue a sign-up's confirmation message (it belongs to the sign-up, not to a
        subscription: it is cancelled unsent once the sign-up is gone)."""
        cur = self.conn.execute(
            "INSERT INTO outbox (signup_id, kind, message_id, recipient, subject, message,"
            " next_attempt_at, created_at) VALUES (?,'confirm',?,?,?,?,?,?)",
            (signup_id, message_id, recipient, subject, message, now, now))
        return int(cur.lastrowid or 0)

    def due(self, now: str) -> list[int]:
        """Pending messages whose next attempt is due, and messages left ``sending`` (by a
        run that stopped: the caller holds the send lock), oldest first."""
        rows = self.conn.execute(
            "SELECT id FROM outbox WHERE (state = 'pending' AND next_attempt_at <= ?)"
            " OR state = 'sending' ORDER BY id", (now,))
        return [r[0] for r in rows]

    def claim(self, outbox_id: int, attempt_id: str, now: str) -> tuple[str, bytes] | None:
        """Mark a message ``sending`` under a new attempt; ``(recipient, message)``, or
        None when it is no longer due or what it belongs to (its subscription, or its
        sign-up) is gone (then it is cancelled)."""
        row = self.conn.execute(
            "SELECT o.recipient, o.message,"
            " o.subscription_id IS NOT NULL OR o.signup_id IS NOT NULL FROM outbox o"
            " WHERE o.id = ? AND o.state IN ('pending', 'sending')", (outbox_id,)).fetchone()
        if row is None:
            return None
        if not row[2]:
            self.conn.execute("UPDATE outbox SET state = 'cancelled', attempt_id = NULL"
                              " WHERE id = ?", (outbox_id,))
            return None
        self.conn.execute(
            "UPDATE outbox SET state = 'sending', attempt_id = ?, attempts = attempts + 1,"
            " next_attempt_at = ? WHERE id = ?", (attempt_id, now, outbox_id))
        return str(row[0]), bytes(row[1])

    def mark_sent(self, outbox_id: int, attempt_id: str, now: str) -> bool:
        return self.conn.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?, last_error = NULL WHERE id = ?"
            " AND attempt_id = ? AND state = 'sending'", (now, outbox_id, attempt_id)
        ).rowcount > 0

    def mark_failed_attempt(self, outbox_id: int, attempt_id: str, error: str,
                            max_attempts: int, retry_at: str) -> str:
        """Record a failed attempt: ``pending`` again at ``retry_at``, or ``failed`` once
        it has had ``max_attempts``; returns the new state."""
        self.conn.execute(
            "UPDATE outbox SET last_error = ?, next_attempt_at = ?, state = CASE WHEN"
            " attempts >= ? THEN 'failed' ELSE 'pending' END WHERE id = ? AND attempt_id = ?",
            (error[:1000], retry_at, max_attempts, outbox_id, attempt_id))
        row = self.conn.execute("SELECT state FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
        return str(row[0])

    def attempts(self, outbox_id: int) -> int:
        row = self.conn.execute("SELECT attempts FROM outbox WHERE id = ?",
                                (outbox_id,)).fetchone()
        return int(row[0]) if row else 0

    def last_created(self, subscription_id: int, kind: str) -> str | None:
        """When the subscription's latest message of this kind was queued (None: never)."""
        row = self.conn.execute("SELECT max(created_at) FROM outbox WHERE subscription_id = ?"
                                " AND kind = ?", (subscription_id, kind)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def cancel_for(self, subscription_id: int) -> int:
        """Cancel a subscription's messages that were not sent yet."""
        return self.conn.execute(
            "UPDATE outbox SET state = 'cancelled' WHERE subscription_id = ?"
            " AND state IN ('pending', 'sending')", (subscription_id,)).rowcount

    def list(self, state: str | None, limit: int) -> list[OutboxMessage]:
        where = "WHERE state = ?" if state else ""
        params: tuple[object, ...] = (state, limit) if state else (limit,)
        rows = self.conn.execute(f"{_COLUMNS} {where} ORDER BY id DESC LIMIT ?", params)
        return [OutboxMessage(*r) for r in rows]

    def message(self, message_id: str) -> bytes | None:
        row = self.conn.execute("SELECT message FROM outbox WHERE message_id = ?",
                                (message_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.conn.execute(
            "SELECT state, count(*) FROM outbox GROUP BY state")}
