"""SQL for paper vectors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import numpy as np

from .memo import Memo


class VectorRepo:
    """Reads and writes ``embeddings``: float16 vectors of each paper and of its title.

    ``count`` and ``models`` scan the whole table, and every search asks for them, so their
    answers are kept until the database changes (:class:`Memo`).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._memo = Memo(conn)

    def models(self) -> list[str]:
        models: list[str] = self._memo.get("models", lambda: [
            r[0] for r in self.conn.execute("SELECT DISTINCT model FROM embeddings")])
        return list(models)

    def hashes(self, paper_ids: list[int]) -> dict[int, tuple[str, str]]:
        """``paper_id -> (model, text_hash)`` for those that have a vector."""
        if not paper_ids:
            return {}
        marks = ",".join("?" * len(paper_ids))
        rows = self.conn.execute(
            f"SELECT paper_id, model, text_hash FROM embeddings WHERE paper_id IN ({marks})",
            paper_ids)
        return {r[0]: (r[1], r[2]) for r in rows}

    def put(self, items: list[tuple[int, str, str, np.ndarray, np.ndarray | None]]) -> None:
        """Store ``(paper_id, model, text_hash, vector, title vector or None)`` as float16."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO embeddings (paper_id, model, text_hash, vector, title_vector)"
            " VALUES (?,?,?,?,?)",
            [(pid, model, h, _blob(v), None if t is None else _blob(t))
             for pid, model, h, v, t in items])

    def delete_all(self) -> None:
        self.conn.execute("DELETE FROM embeddings")

    def count(self) -> int:
        return int(self._memo.get("count", lambda: self.conn.execute(
            "SELECT COUNT(*) FROM embeddings").fetchone()[0]))

    def load(self, batch: int = 50_000, *,
             titles: bool = True) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """All vectors in batches of ``(paper_ids, paper matrix, title matrix)`` (float32);
        a paper without a title vector has its paper vector in the title matrix. With
        ``titles=False`` the title vectors are not read (the paper matrix stands in)."""
        column = "coalesce(title_vector, vector)" if titles else "NULL"
        cur = self.conn.execute(
            f"SELECT paper_id, vector, {column} FROM embeddings ORDER BY paper_id")
        while rows := cur.fetchmany(batch):
            ids = [r[0] for r in rows]
            mat = np.frombuffer(b"".join(r[1] for r in rows),
                                dtype=np.float16).reshape(len(ids), -1).astype(np.float32)
            if not titles:
                yield ids, mat, mat
                continue
            heads = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float16)
            yield ids, mat, heads.reshape(len(ids), -1).astype(np.float32)

    def get(self, paper_ids: list[int]) -> dict[int, np.ndarray]:
        if not paper_ids:
            return {}
        marks = ",".join("?" * len(paper_ids))
        rows = self.conn.execute(
            f"SELECT paper_id, vector FROM embeddings WHERE paper_id IN ({marks})", paper_ids)
        return {r[0]: np.frombuffer(r[1], dtype=np.float16).astype(np.float32) for r in rows}


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()
