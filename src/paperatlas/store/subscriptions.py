"""SQL for subscriptions: what each follows, what it was sent, and the link-signing secret."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict

from ..records.follow import Item, NewPaper, Subscription
from .db import chunks
from .votes import PaperScope

_COLUMNS = ("SELECT s.id, s.email, u.name, s.frequency, s.created_at, s.confirmed_at,"
            " s.last_digest_at, s.last_paper_id FROM subscriptions s"
            " LEFT JOIN users u ON u.id = s.user_id")


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SubscriptionRepo:
    """Reads and writes ``subscriptions``, ``subscription_items``, ``sent_papers`` and
    ``follow_secrets``, and reads what ranking needs of papers, trees and votes."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- subscriptions -----------------------------------------------------------------
    def add(self, email: str | None, user: str | None, frequency: str, items: list[Item],
            now: str, confirmed_at: str | None) -> int:
        cur = self.conn.execute(
            "INSERT INTO subscriptions (email, user_id, frequency, confirmed_at, created_at)"
            " VALUES (?, (SELECT id FROM users WHERE name = ?), ?, ?, ?)",
            (email, user, frequency, confirmed_at, now))
        sub_id = int(cur.lastrowid or 0)
        self.conn.executemany(
            "INSERT OR IGNORE INTO subscription_items (subscription_id, kind, value, mode)"
            " VALUES (?,?,?,?)", [(sub_id, i.kind, i.value, i.mode) for i in items])
        return sub_id

    def get(self, sub_id: int) -> Subscription | None:
        found = self._select("WHERE s.id = ?", (sub_id,))
        return found[0] if found else None

    def find(self, *, email: str | None = None, user: str | None = None) -> list[Subscription]:
        """Subscriptions of an email address and/or a user (every one when neither)."""
        where, params = [], []
        if email is not None:
            where.append("s.email = ?")
            params.append(email)
        if user is not None:
            where.append("u.name = ?")
            params.append(user)
        return self._select(("WHERE " + " AND ".join(where)) if where else "", tuple(params))

    def due(self, frequencies: list[str], cutoffs: dict[str, str]) -> list[Subscription]:
        """Confirmed email subscriptions of these frequencies whose last digest is older
        than their frequency's cutoff (or that never had one)."""
        clauses = " OR ".join("(s.frequency = ? AND (s.last_digest_at IS NULL"
                              " OR s.last_digest_at <= ?))" for _ in frequencies)
        params: list[str] = []
        for f in frequencies:
            params += [f, cutoffs[f]]
        return self._select("WHERE s.email IS NOT NULL AND s.confirmed_at IS NOT NULL"
                            f" AND ({clauses})", tuple(params))

    def _select(self, where: str, params: tuple[object, ...]) -> list[Subscription]:
        rows = self.conn.execute(f"{_COLUMNS} {where} ORDER BY s.id", params).fetchall()
        subs = [Subscription(id=r[0], email=r[1], user=r[2], frequency=r[3], created_at=r[4],
                             confirmed_at=r[5], last_digest_at=r[6], last_paper_id=r[7])
                for r in rows]
        items: dict[int, list[Item]] = defaultdict(list)
        for chunk in chunks([s.id for s in subs]):
            for sid, kind, value, mode in self.conn.execute(
                    "SELECT subscription_id, kind, value, mode FROM subscription_items"
                    f" WHERE subscription_id IN ({_marks(len(chunk))})"
                    " ORDER BY subscription_id, kind, value", chunk):
                items[sid].append(Item(kind, value, mode))
        for s in subs:
            s.items = items[s.id]
        return subs

    def remove(self, sub_id: int) -> bool:
        return self.conn.execute("DELETE FROM subscriptions WHERE id = ?",
                                 (sub_id,)).rowcount > 0

    def confirm(self, sub_id: int, now: str) -> None:
        self.conn.execute("UPDATE subscriptions SET confirmed_at = coalesce(confirmed_at, ?)"
                          " WHERE id = ?", (now, sub_id))

    def mark_digested(self, sub_id: int, expected: str | None, now: str,
                      last_paper_id: int) -> bool:
        """Move a subscription's window on, unless another run did since it was read."""
        return self.conn.execute(
            "UPDATE subscriptions SET last_digest_at = ?, last_paper_id = ? WHERE id = ?"
            " AND last_digest_at IS ?", (now, last_paper_id, sub_id, expected)).rowcount > 0

    # -- sent papers ------------------------------------------------------------------
    def add_sent(self, sub_id: int, paper_ids: list[int], outbox_id: int | None) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO sent_papers (subscription_id, paper_id, outbox_id)"
            " VALUES (?,?,?)", [(sub_id, pid, outbox_id) for pid in paper_ids])

    def sent_among(self, paper_ids: list[int]) -> list[tuple[int, int]]:
        """``(subscription id, paper id)`` of these papers already sent to someone."""
        out: list[tuple[int, int]] = []
        for chunk in chunks(paper_ids):
            out += [(r[0], r[1]) for r in self.conn.execute(
                "SELECT subscription_id, paper_id FROM sent_papers"
                f" WHERE paper_id IN ({_marks(len(chunk))})", chunk)]
        return out

    # -- the signing secret -----------------------------------------------------------
    def secret(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM follow_secrets WHERE name = ?",
                                (name,)).fetchone()
        return None if row is None else str(row[0])

    def put_secret(self, name: str, value: str, now: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO follow_secrets (name, value, created_at)"
                          " VALUES (?,?,?)", (name, value, now))

    # -- what ranking reads -----------------------------------------------------------
    def new_papers(self, after_id: int | None, since: str | None) -> list[NewPaper]:
        """Papers with an id above ``after_id`` or made at or after ``since`` (either may
        be None), by id."""
        rows = self.conn.execute(
            "SELECT id, key, created_at, title, abstract, authors FROM papers"
            " WHERE id > ? OR created_at >= ? ORDER BY id",
            (after_id if after_id is not None else 2**62, since or "~"))
        return [NewPaper(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def max_paper_id(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM papers").fetchone()[0])

    def collection_members(self, name: str) -> set[int]:
        row = self.conn.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()
        return set() if row is None else self._members(PaperScope(collection_id=row[0]))

    def node_members(self, tree: str, node_id: int) -> set[int]:
        """Papers linked to a topic or to any topic under it."""
        row = self.conn.execute("SELECT id FROM trees WHERE name = ?", (tree,)).fetchone()
        return set() if row is None else self._members(PaperScope(tree_id=row[0],
                                                                   node_id=node_id))

    def _members(self, scope: PaperScope) -> set[int]:
        where, params = scope.where()
        return {r[0] for r in self.conn.execute(f"SELECT p.id FROM papers p WHERE 1{where}",
                                                params)}

    def node_label(self, tree: str, node_id: int) -> str | None:
        row = self.conn.execute(
            "SELECT n.label FROM tree_nodes n JOIN trees t ON t.id = n.tree_id"
            " WHERE t.name = ? AND n.node_id = ?", (tree, node_id)).fetchone()
        return None if row is None else str(row[0])

    def upvoted(self, users: list[str]) -> dict[str, list[int]]:
        """The papers each user upvoted."""
        if not users:
            return {}
        out: dict[str, list[int]] = defaultdict(list)
        for chunk in chunks(users):
            for name, pid in self.conn.execute(
                    "SELECT u.name, v.paper_id FROM votes v JOIN users u ON u.id = v.user_id"
                    f" WHERE u.name IN ({_marks(len(chunk))}) ORDER BY v.paper_id", chunk):
                out[name].append(pid)
        return dict(out)
