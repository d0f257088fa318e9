"""SQL for the 2-D map: each paper's point and the fitted projection that placed it."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import numpy as np


class MapRepo:
    """Reads and writes ``map_points`` and ``map_state`` (one map per library)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- the fitted projection ------------------------------------------------------------
    def state(self) -> dict[str, Any] | None:
        """The map's state row: method, model, version, fitted, params, settings, times."""
        row = self.conn.execute(
            "SELECT method, model, version, fitted, params, settings, built_at, updated_at"
            " FROM map_state WHERE id = 1").fetchone()
        if row is None:
            return None
        return {"method": row[0], "model": row[1], "version": row[2], "fitted": row[3],
                "params": row[4], "settings": json.loads(row[5]), "built_at": row[6],
                "updated_at": row[7]}

    def set_state(self, *, method: str, model: str, version: int, fitted: int,
                  params: bytes | None, settings: dict[str, Any], now: str) -> None:
        """Record a new fit (replacing the old one)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO map_state (id, method, model, version, fitted, params,"
            " settings, built_at, updated_at) VALUES (1,?,?,?,?,?,?,?,?)",
            (method, model, version, fitted, params, json.dumps(settings), now, now))

    def touch(self, now: str) -> None:
        self.conn.execute("UPDATE map_state SET updated_at = ? WHERE id = 1", (now,))

    # -- points ---------------------------------------------------------------------------
    def clear(self) -> None:
        self.conn.execute("DELETE FROM map_points")

    def put(self, ids: list[int], hashes: list[str], xy: np.ndarray, method: str,
            model: str) -> None:
        """Store points (replacing older ones); papers deleted meanwhile are skipped."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO map_points (paper_id, x, y, method, model, text_hash)"
            " SELECT ?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM papers WHERE id = ?)",
            [(pid, float(x), float(y), method, model, h, pid)
             for pid, h, (x, y) in zip(ids, hashes, xy.tolist(), strict=True)])

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM map_points").fetchone()[0])

    def unplaced(self) -> int:
        """Papers with a vector but no point made from it."""
        return int(self.conn.execute(
            "SELECT COUNT(*) FROM embeddings e LEFT JOIN map_points m ON m.paper_id = e.paper_id"
            " WHERE m.paper_id IS NULL OR m.text_hash != e.text_hash").fetchone()[0])

    def scope_size(self, collection_id: int | None) -> int:
        """Papers of the library (or of a collection), on the map or not."""
        if collection_id is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0])
        return int(self.conn.execute(
            "SELECT COUNT(*) FROM collection_papers WHERE collection_id = ?",
            (collection_id,)).fetchone()[0])

    def points(self, collection_id: int | None) -> list[tuple[int, str, str, float, float]]:
        """``(paper id, key, title, x, y)`` of every point (of a collection), by paper id."""
        cur = self.conn.cursor()
        cur.row_factory = None  # plain tuples: this reads every point of the map
        if collection_id is None:
            cur.execute("SELECT m.paper_id, p.key, p.title, m.x, m.y FROM map_points m"
                        " JOIN papers p ON p.id = m.paper_id ORDER BY m.paper_id")
        else:
            cur.execute("SELECT m.paper_id, p.key, p.title, m.x, m.y FROM collection_papers c"
                        " JOIN map_points m ON m.paper_id = c.paper_id"
                        " JOIN papers p ON p.id = c.paper_id"
                        " WHERE c.collection_id = ? ORDER BY c.paper_id", (collection_id,))
        return cur.fetchall()

    def placed(self) -> dict[int, tuple[str, float, float]]:
        """``paper id -> (text hash, x, y)`` of every point (the hash of the text whose
        vector placed it)."""
        cur = self.conn.cursor()
        cur.row_factory = None  # plain tuples: this reads every point of the map
        cur.execute("SELECT paper_id, text_hash, x, y FROM map_points")
        return {r[0]: (r[1], r[2], r[3]) for r in cur.fetchall()}

    # -- what colours the map ---------------------------------------------------------------
    def tree_links(self, tree_id: int) -> list[tuple[int, int, float]]:
        """``(paper id, node id, score)`` of every link of a tree."""
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute("SELECT paper_id, node_id, score FROM tree_links WHERE tree_id = ?",
                    (tree_id,))
        return cur.fetchall()

