"""SQL for collections: named sets of papers."""

from __future__ import annotations

import sqlite3
from collections import defaultdict

from ..errors import NotFoundError
from ..records.papers import CollectionInfo
from .memo import Memo


class CollectionRepo:
    """Reads and writes ``collections`` and ``collection_papers``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._memo = Memo(conn)

    def ensure(self, name: str, now: str) -> int:
        row = self.conn.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()
        if row:
            return int(row[0])
        cur = self.conn.execute(
            "INSERT INTO collections (name, created_at) VALUES (?, ?)", (name, now))
        return int(cur.lastrowid or 0)

    def id_for(self, name: str) -> int | None:
        row = self.conn.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else None

    def require(self, name: str | None) -> int | None:
        """The id of a collection named by a caller (None for none); an unknown name is a
        :class:`NotFoundError`."""
        if name is None:
            return None
        collection_id = self.id_for(name)
        if collection_id is None:
            raise NotFoundError(f"no collection named {name!r}")
        return collection_id

    def add_new_papers(self, rows: list[tuple[int, int, str]]) -> int:
        """``(collection_id, paper_id, now)`` links of papers inserted in this transaction
        (their change is logged already: the cheap ``OR IGNORE``); how many were new."""
        cur = self.conn.executemany(
            "INSERT OR IGNORE INTO collection_papers (collection_id, paper_id, added_at)"
            " VALUES (?,?,?)", rows)
        return cur.rowcount

    def add_paper(self, collection_id: int, paper_id: int, now: str, *,
                  logged: bool = False) -> bool:
        """Put a paper in a collection; False when it was in it already.

        A plain INSERT (not ``OR IGNORE``): an outer statement's conflict clause overrides
        the ``OR REPLACE`` of the trigger that logs the change, so the change log (and the
        search index's collection filter) would never see the paper's new collection.
        ``logged``: the paper's change is logged already in this transaction (it was just
        inserted), so the cheaper ``OR IGNORE`` loses nothing."""
        if logged:
            return self.add_new_papers([(collection_id, paper_id, now)]) > 0
        cur = self.conn.execute(
            "INSERT INTO collection_papers (collection_id, paper_id, added_at)"
            " SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM collection_papers"
            " WHERE collection_id = ? AND paper_id = ?)",
            (collection_id, paper_id, now, collection_id, paper_id))
        return cur.rowcount > 0

    def remove_paper(self, collection_id: int, paper_id: int) -> bool:
        cur = self.conn.execute(
            "DELETE FROM collection_papers WHERE collection_id = ? AND paper_id = ?",
            (collection_id, paper_id))
        return cur.rowcount > 0

    def get(self, name: str) -> CollectionInfo | None:
        return next((c for c in self.all() if c.name == name), None)

    def all(self) -> list[CollectionInfo]:
        """Every collection with its paper count (remembered until the database changes:
        every page lists them, and counting takes ~10 ms at 100k papers)."""
        def compute() -> list[CollectionInfo]:
            rows = self.conn.execute(
                "SELECT c.name, COUNT(cp.paper_id), c.created_at FROM collections c"
                " LEFT JOIN collection_papers cp ON cp.collection_id = c.id"
                " GROUP BY c.id ORDER BY c.name").fetchall()
            return [CollectionInfo(name=r[0], papers=r[1], created_at=r[2]) for r in rows]
        return list(self._memo.get("all", compute))

    def names_for(self, paper_ids: list[int]) -> dict[int, list[str]]:
        if not paper_ids:
            return {}
        marks = ",".join("?" * len(paper_ids))
        out: dict[int, list[str]] = defaultdict(list)
        for pid, name in self.conn.execute(
                "SELECT cp.paper_id, c.name FROM collection_papers cp JOIN collections c"
                f" ON c.id = cp.collection_id WHERE cp.paper_id IN ({marks})"
                " ORDER BY cp.paper_id, c.name", paper_ids):
            out[pid].append(name)
        return out

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM collections").fetchone()[0])
