"""SQL for paper vectors (read through :mod:`paperatlas.vectors`, never directly)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from .memo import Memo

#: ``(paper ids, text matrix, title matrix, text hashes)``, float32, row-aligned.
Rows = tuple[list[int], np.ndarray, np.ndarray, list[str]]
#: Ids per ``IN (...)`` list (SQLite allows 32766 parameters).
_CHUNK = 20_000


class VectorRepo:
    """Reads and writes ``embeddings``: float16 vectors of each paper and of its title.

    ``count``, ``models`` and ``dimension`` scan the table, and every search asks for them,
    so their answers are kept until the database changes (:class:`Memo`).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._memo = Memo(conn)

    def models(self) -> list[str]:
        models: list[str] = self._memo.get("models", self._distinct_models)
        return list(models)

    def _distinct_models(self) -> list[str]:
        """The models, each found by one step along ``embeddings_model`` (``SELECT
        DISTINCT`` reads every entry of the index: each upsert of a million-vector library
        asked that again)."""
        found: list[str] = []
        while (row := self.conn.execute(
                "SELECT min(model) FROM embeddings WHERE model > ?",
                (found[-1] if found else "",)).fetchone())[0] is not None:
            found.append(row[0])
        return found

    def dimension(self) -> int | None:
        """The length of the stored vectors (float16: half the blob's bytes)."""
        row = self._memo.get("dimension", lambda: self.conn.execute(
            "SELECT length(vector) FROM embeddings LIMIT 1").fetchone())
        return None if row is None else int(row[0]) // 2

    def count(self) -> int:
        return int(self._memo.get("count", lambda: self.conn.execute(
            "SELECT COUNT(*) FROM embeddings").fetchone()[0]))

    def hashes(self, paper_ids: Sequence[int] | None = None) -> dict[int, tuple[str, str]]:
        """``paper_id -> (model, text_hash)`` for those that have a vector (None: all)."""
        sql = "SELECT paper_id, model, text_hash FROM embeddings"
        if paper_ids is None:
            return {r[0]: (r[1], r[2]) for r in self.conn.execute(sql)}
        out: dict[int, tuple[str, str]] = {}
        for chunk in _chunks(paper_ids):
            out.update({r[0]: (r[1], r[2]) for r in self.conn.execute(
                f"{sql} WHERE paper_id IN ({_marks(len(chunk))})", chunk)})
        return out

    def ids(self, *, collection_id: int | None = None, year_from: int | None = None,
            year_to: int | None = None) -> list[int]:
        """Papers with vectors (in a collection, within the years), ascending."""
        sql, args = "SELECT e.paper_id FROM embeddings e", []
        if collection_id is not None:
            sql += (" JOIN collection_papers c ON c.paper_id = e.paper_id"
                    " AND c.collection_id = ?")
            args.append(collection_id)
        if year_from is not None or year_to is not None:
            sql += " JOIN papers p ON p.id = e.paper_id AND p.year BETWEEN ? AND ?"
            args += [-(10**9) if year_from is None else year_from,
                     10**9 if year_to is None else year_to]
        return [r[0] for r in self.conn.execute(sql + " ORDER BY e.paper_id", args)]

    def put(self, model: str, items: Iterable[tuple[int, str, np.ndarray, np.ndarray | None]],
            ) -> None:
        """Store ``(paper_id, text_hash, vector, title vector or None)`` as float16."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO embeddings (paper_id, model, text_hash, vector, title_vector)"
            " VALUES (?,?,?,?,?)",
            [(pid, model, h, _blob(v), None if t is None else _blob(t))
             for pid, h, v, t in items])

    def delete(self, paper_ids: Sequence[int]) -> int:
        gone = 0
        for chunk in _chunks(paper_ids):
            gone += self.conn.execute(
                f"DELETE FROM embeddings WHERE paper_id IN ({_marks(len(chunk))})",
                chunk).rowcount
        return gone

    def delete_all(self) -> None:
        self.conn.execute("DELETE FROM embeddings")

    def load(self, batch: int = 50_000, *, titles: bool = True,
             paper_ids: Sequence[int] | None = None) -> Iterator[Rows]:
        """Vectors in batches by paper id: all, or those of ``paper_ids`` (ascending). A
        paper without a title vector has its paper vector in the title matrix; with
        ``titles=False`` title vectors are not read (the paper matrix stands in)."""
        column = "coalesce(title_vector, vector)" if titles else "NULL"
        sql = f"SELECT paper_id, vector, {column}, text_hash FROM embeddings"
        if paper_ids is None:
            yield from _batches(self.conn.execute(f"{sql} ORDER BY paper_id"), batch, titles)
            return
        for chunk in _chunks(sorted(paper_ids), min(batch, _CHUNK)):
            yield from _batches(self.conn.execute(
                f"{sql} WHERE paper_id IN ({_marks(len(chunk))}) ORDER BY paper_id", chunk),
                batch, titles)

    def get(self, paper_ids: Sequence[int], *, titles: bool = False) -> dict[int, np.ndarray]:
        column = "coalesce(title_vector, vector)" if titles else "vector"
        out: dict[int, np.ndarray] = {}
        for chunk in _chunks(paper_ids):
            out.update({r[0]: np.frombuffer(r[1], dtype=np.float16).astype(np.float32)
                        for r in self.conn.execute(
                            f"SELECT paper_id, {column} FROM embeddings"
                            f" WHERE paper_id IN ({_marks(len(chunk))})", chunk)})
        return out


def _batches(cur: sqlite3.Cursor, batch: int, titles: bool) -> Iterator[Rows]:
    while rows := cur.fetchmany(batch):
        ids = [r[0] for r in rows]
        hashes = [r[3] for r in rows]
        mat = _matrix([r[1] for r in rows])
        yield ids, mat, _matrix([r[2] for r in rows]) if titles else mat, hashes


def _matrix(blobs: list[bytes]) -> np.ndarray:
    flat = np.frombuffer(b"".join(blobs), dtype=np.float16)
    return flat.reshape(len(blobs), -1).astype(np.float32)


def _chunks(ids: Sequence[int], size: int = _CHUNK) -> Iterator[list[int]]:
    items = list(ids)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()
