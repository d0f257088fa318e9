"""SQL for the token cache: each paper's title and text as ids of one growing vocabulary."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

#: Token ids are stored as little-endian 32-bit integers.
DTYPE = np.dtype("<i4")


class TokenRepo:
    """Reads and writes ``paper_tokens`` (per paper: the token ids of its title and text)
    and ``token_names`` (the token of each id; ids are never reused or renumbered)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def ids_for(self, names: Iterable[str]) -> dict[str, int]:
        """The id of each token, adding those not seen before."""
        names = list(dict.fromkeys(names))
        self.conn.executemany("INSERT OR IGNORE INTO token_names (name) VALUES (?)",
                              ((n,) for n in names))
        rows = self.conn.execute(
            "SELECT name, id FROM token_names WHERE name IN (SELECT value FROM json_each(?))",
            (json.dumps(names),))
        return dict(rows.fetchall())

    def names(self, ids: np.ndarray) -> list[str]:
        """The token of each id, in the given order (every id must exist)."""
        wanted = [int(i) for i in ids]
        found = dict(self.conn.execute(
            "SELECT id, name FROM token_names WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(wanted),)))
        missing = [i for i in wanted if i not in found]
        if missing:
            raise LookupError(f"token ids {missing[:5]} have no name")
        return [found[i] for i in wanted]

    def put(self, rows: list[tuple[int, ArrayLike, ArrayLike]]) -> None:
        """Store ``(paper_id, title ids, text ids)``, replacing what a paper had."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO paper_tokens (paper_id, title, text) VALUES (?,?,?)",
            [(pid, np.asarray(t, DTYPE).tobytes(), np.asarray(x, DTYPE).tobytes())
             for pid, t, x in rows])

    def delete(self, paper_ids: list[int]) -> None:
        self.conn.executemany("DELETE FROM paper_tokens WHERE paper_id = ?",
                              ((p,) for p in paper_ids))

    def clear(self) -> None:
        """Forget every paper's tokens and the vocabulary."""
        self.conn.execute("DELETE FROM paper_tokens")
        self.conn.execute("DELETE FROM token_names")

    def load(self, paper_ids: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """``paper_id -> (title ids, text ids)`` of those papers that have tokens stored."""
        rows = self.conn.execute(
            "SELECT paper_id, title, text FROM paper_tokens"
            " WHERE paper_id IN (SELECT value FROM json_each(?))", (json.dumps(paper_ids),))
        return {pid: (np.frombuffer(t, DTYPE), np.frombuffer(x, DTYPE)) for pid, t, x in rows}
