"""SQL for the 2-D map: each paper's point and the fitted projection that placed it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .db import chunks

#: Rows read per step where a read covers the whole map.
STEP = 50_000


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

    def begin_refit(self) -> None:
        """Mark the fit as being replaced (version 0, which no build accepts): a refit
        stopped before it wrote its state leaves a map that the next build or map
        placement fits again, never no map at all."""
        self.conn.execute("UPDATE map_state SET version = 0 WHERE id = 1")

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

    def unplaced_ids(self) -> list[int]:
        """Papers with a vector but no point made from it, ascending."""
        return [r[0] for r in self.conn.execute(
            "SELECT e.paper_id FROM embeddings e LEFT JOIN map_points m"
            " ON m.paper_id = e.paper_id WHERE m.paper_id IS NULL OR m.text_hash != e.text_hash"
            " ORDER BY e.paper_id")]

    def without_vectors(self) -> int:
        """Papers that have no vector yet (the index job embeds them)."""
        return int(self.conn.execute(
            "SELECT COUNT(*) FROM papers p WHERE NOT EXISTS"
            " (SELECT 1 FROM embeddings e WHERE e.paper_id = p.id)").fetchone()[0])

    def xy_of(self, paper_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
        """``paper id -> (x, y)`` of those of ``paper_ids`` on the map."""
        out: dict[int, tuple[float, float]] = {}
        for part in chunks(paper_ids):
            out.update((r[0], (r[1], r[2])) for r in self.conn.execute(
                f"SELECT paper_id, x, y FROM map_points WHERE paper_id IN"
                f" ({','.join('?' * len(part))})", list(part)))
        return out

    def point_arrays(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every point in steps, by paper id: ``(paper ids int64, x/y float64 n x 2)``."""
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute("SELECT paper_id, x, y FROM map_points ORDER BY paper_id")
        while rows := cur.fetchmany(STEP):
            block = np.array(rows, dtype=np.float64)
            yield np.array([r[0] for r in rows], dtype=np.int64), block[:, 1:]

    def collection_ids(self, collection_id: int) -> np.ndarray:
        """The paper ids of a collection, ascending (int64)."""
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute("SELECT paper_id FROM collection_papers WHERE collection_id = ?"
                    " ORDER BY paper_id", (collection_id,))
        parts = [np.array(rows, dtype=np.int64).reshape(-1) for rows in
                 iter(lambda: cur.fetchmany(STEP), [])]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def change_head(self) -> int:
        """The change log's position: it moves whenever a paper or a membership changes."""
        return int(self.conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM paper_changes").fetchone()[0])

    def brief(self, paper_id: int) -> tuple[str, str, int | None] | None:
        """``(key, title, year)`` of a paper, None when there is none."""
        row = self.conn.execute("SELECT key, title, year FROM papers WHERE id = ?",
                                (paper_id,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

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

    # -- what colours the map ---------------------------------------------------------------
    def tree_names(self) -> list[tuple[str, str | None]]:
        """``(name, collection)`` of every tree, by name (no counts: cheap at any size)."""
        return [(r[0], json.loads(r[1]).get("collection")) for r in self.conn.execute(
            "SELECT name, settings FROM trees ORDER BY name")]

    def tree_version(self, tree_id: int) -> str:
        """Changes whenever the tree is saved: its time (to the second) and its last log
        entry (every save through the tree service writes one)."""
        row = self.conn.execute(
            "SELECT updated_at, (SELECT MAX(id) FROM tree_log l WHERE l.tree_id = t.id)"
            " FROM trees t WHERE id = ?", (tree_id,)).fetchone()
        return "" if row is None else f"{row[0]}/{row[1]}"

    def link_fingerprint(self, tree_id: int) -> str:
        """A checksum of a tree's links (one scan: ~0.4 s at 2.5M): equal when an edit
        changed only labels."""
        row = self.conn.execute(
            "SELECT COUNT(*), SUM((paper_id * 1000003 + node_id) % 2147483647), TOTAL(score)"
            " FROM tree_links WHERE tree_id = ?", (tree_id,)).fetchone()
        return f"{row[0]}/{row[1]}/{row[2]!r}"

    def link_arrays(self, tree_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every link of a tree as arrays: paper ids, node ids (int64), scores (float64)."""
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute("SELECT paper_id, node_id, score FROM tree_links WHERE tree_id = ?",
                    (tree_id,))
        parts = [np.array(rows, dtype=np.float64) for rows in
                 iter(lambda: cur.fetchmany(STEP), [])]
        block = np.vstack(parts) if parts else np.zeros((0, 3))
        return block[:, 0].astype(np.int64), block[:, 1].astype(np.int64), block[:, 2]
