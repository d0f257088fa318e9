"""SQL for papers' sentences and their vectors (``paper_sentences``; written by the
index job, read by evidence retrieval)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .db import chunks


@dataclass(frozen=True)
class SentenceRow:
    """A paper's sentences (in order) and their float16 vectors, row-aligned."""

    paper_id: int
    sentences: list[str]
    vectors: np.ndarray


#: What is written per paper: id, text hash, model, sentences, float16 vectors.
NewRow = tuple[int, str, str, list[str], np.ndarray]


class SentenceRepo:
    """Reads and writes ``paper_sentences``: one row per paper with an abstract."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def hashes(self, paper_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """``paper_id -> (text hash, model)`` of the rows there are."""
        out: dict[int, tuple[str, str]] = {}
        for part in chunks(paper_ids):
            marks = ",".join("?" * len(part))
            for pid, digest, model in self.conn.execute(
                    "SELECT paper_id, text_hash, model FROM paper_sentences"
                    f" WHERE paper_id IN ({marks})", list(part)):
                out[pid] = (digest, model)
        return out

    def upsert(self, rows: Sequence[NewRow]) -> None:
        self.conn.executemany(
            "INSERT INTO paper_sentences (paper_id, text_hash, model, dim, sentences, vectors)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(paper_id) DO UPDATE SET"
            " text_hash = excluded.text_hash, model = excluded.model, dim = excluded.dim,"
            " sentences = excluded.sentences, vectors = excluded.vectors",
            [(pid, digest, model, int(vectors.shape[1]),
              json.dumps(sentences, ensure_ascii=False),
              np.ascontiguousarray(vectors, dtype=np.float16).tobytes())
             for pid, digest, model, sentences, vectors in rows])

    def delete(self, paper_ids: Sequence[int]) -> int:
        gone = 0
        for part in chunks(paper_ids):
            marks = ",".join("?" * len(part))
            gone += self.conn.execute(
                f"DELETE FROM paper_sentences WHERE paper_id IN ({marks})", list(part)).rowcount
        return gone

    def get_many(self, paper_ids: Sequence[int], model: str) -> list[SentenceRow]:
        """The rows of ``paper_ids`` embedded by ``model`` (others are left out)."""
        out: list[SentenceRow] = []
        for part in chunks(paper_ids):
            marks = ",".join("?" * len(part))
            out += [_row(r) for r in self.conn.execute(
                "SELECT paper_id, dim, sentences, vectors FROM paper_sentences"
                f" WHERE model = ? AND paper_id IN ({marks})", [model, *part])]
        return out

    def iterate(self, model: str, batch: int = 2000) -> Iterator[list[SentenceRow]]:
        """Every row of ``model``, in paper order, ``batch`` rows at a time."""
        after = -1
        while rows := [_row(r) for r in self.conn.execute(
                "SELECT paper_id, dim, sentences, vectors FROM paper_sentences"
                " WHERE model = ? AND paper_id > ? ORDER BY paper_id LIMIT ?",
                (model, after, batch))]:
            yield rows
            after = rows[-1].paper_id

    def totals(self) -> tuple[int, int, int]:
        """Papers, sentences and bytes (sentences' text and vectors) stored."""
        row = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(json_array_length(sentences)), 0),"
            " COALESCE(SUM(length(sentences) + length(vectors)), 0) FROM paper_sentences"
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])


def _row(r: sqlite3.Row | tuple[int, int, str, bytes]) -> SentenceRow:
    pid, dim, sentences, blob = r[0], r[1], r[2], r[3]
    vectors = np.frombuffer(blob, dtype=np.float16).reshape(-1, int(dim))
    return SentenceRow(int(pid), json.loads(sentences), vectors)
