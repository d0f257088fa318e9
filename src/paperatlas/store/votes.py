"""SQL for upvotes (``votes``) and for the papers in a scope: a collection, a topic subtree."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import chunks

#: A paper's age reference as a Julian day: its date (``YYYY``, ``YYYY-MM`` or
#: ``YYYY-MM-DD``, at midnight UTC), else the time it was added to the library.
_PAPER_DAY = ("COALESCE(julianday(CASE length(p.date) WHEN 4 THEN p.date || '-01-01'"
              " WHEN 7 THEN p.date || '-01' ELSE p.date END), julianday(p.created_at))")


@dataclass(frozen=True)
class PaperScope:
    """Which papers a list may show: all, a collection's, those under a tree node, or both
    (ids as stored; the tree node includes its whole subtree)."""

    collection_id: int | None = None
    tree_id: int | None = None
    node_id: int | None = None

    def where(self, column: str = "p.id") -> tuple[str, list[Any]]:
        """An ``AND ...`` SQL condition on ``column`` (a paper id) and its parameters."""
        sql, params = "", []
        if self.collection_id is not None:
            sql += (f" AND {column} IN (SELECT paper_id FROM collection_papers"
                    " WHERE collection_id = ?)")
            params.append(self.collection_id)
        if self.tree_id is not None:
            sql += (f" AND {column} IN (WITH RECURSIVE sub(node_id) AS (SELECT ? UNION"
                    " SELECT n.node_id FROM tree_nodes n JOIN sub ON n.parent = sub.node_id"
                    " WHERE n.tree_id = ?) SELECT l.paper_id FROM tree_links l"
                    " WHERE l.tree_id = ? AND l.node_id IN (SELECT node_id FROM sub))")
            params += [self.node_id or 0, self.tree_id, self.tree_id]
        return sql, params


@dataclass(frozen=True)
class WindowVotes:
    """Per paper in scope with votes cast in a window: parallel columns for numpy."""

    paper_ids: list[int]
    votes: list[int]  # cast in the window
    total: list[int]  # ever (still standing)
    day: list[float]  # the paper's age reference as a Julian day
    last_vote: list[str]  # the latest vote in the window


class VoteRepo:
    """Reads and writes ``votes``; lists the papers of a :class:`PaperScope`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def user_id(self, name: str) -> int | None:
        row = self.conn.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else None

    def add(self, user_id: int, paper_id: int, now: str) -> bool:
        """Cast a vote; False when the user had already voted for the paper."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO votes (user_id, paper_id, created_at) VALUES (?,?,?)",
            (user_id, paper_id, now))
        return cur.rowcount > 0

    def remove(self, user_id: int, paper_id: int) -> bool:
        """Take a vote back; False when there was none."""
        cur = self.conn.execute("DELETE FROM votes WHERE user_id = ? AND paper_id = ?",
                                (user_id, paper_id))
        return cur.rowcount > 0

    def counts(self, paper_ids: list[int], user_id: int | None) -> dict[int, tuple[int, bool]]:
        """``paper id -> (votes, whether user_id voted for it)`` for papers with votes."""
        out: dict[int, tuple[int, bool]] = {}
        for chunk in chunks(paper_ids):
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT paper_id, COUNT(*), MAX(user_id = ?) FROM votes"
                f" WHERE paper_id IN ({marks}) GROUP BY paper_id", [user_id or 0, *chunk])
            out.update({r[0]: (int(r[1]), bool(r[2])) for r in rows})
        return out

    def in_window(self, since: str, until: str, scope: PaperScope) -> WindowVotes:
        """The papers of ``scope`` with votes cast in ``[since, until]``, in one query."""
        where, params = scope.where()
        rows = self.conn.execute(
            "WITH w AS (SELECT paper_id, COUNT(*) AS n, MAX(created_at) AS last FROM votes"
            " WHERE created_at >= ? AND created_at <= ? GROUP BY paper_id),"
            " t AS (SELECT paper_id, COUNT(*) AS n FROM votes"
            " WHERE paper_id IN (SELECT paper_id FROM w) GROUP BY paper_id)"
            f" SELECT p.id, w.n, t.n, {_PAPER_DAY}, w.last FROM w"
            " JOIN papers p ON p.id = w.paper_id JOIN t ON t.paper_id = w.paper_id"
            f" WHERE 1{where} ORDER BY p.id", [since, until, *params]).fetchall()
        return WindowVotes([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                           [float(r[3]) for r in rows], [r[4] for r in rows])

    def recent_ids(self, scope: PaperScope, limit: int) -> list[int]:
        """The newest papers of ``scope`` (by date, then newest added), as the home page."""
        where, params = scope.where()
        rows = self.conn.execute(
            f"SELECT p.id FROM papers p WHERE 1{where}"
            " ORDER BY COALESCE(p.date, '') DESC, p.id DESC LIMIT ?", [*params, limit])
        return [r[0] for r in rows]
