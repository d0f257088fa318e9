"""SQL for papers' sentences (``paper_sentences``: each abstract's split, written by the
index job, read by evidence retrieval)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .db import chunks


@dataclass(frozen=True)
class SentenceRow:
    """A paper's sentences, in order, and the hash of the text they were split from."""

    paper_id: int
    text_hash: str
    sentences: list[str]


class SentenceRepo:
    """Reads and writes ``paper_sentences``: one row per paper with an abstract."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def hashes(self, paper_ids: Sequence[int]) -> dict[int, str]:
        """``paper_id -> text hash`` of the rows there are."""
        out: dict[int, str] = {}
        for part in chunks(paper_ids):
            marks = ",".join("?" * len(part))
            out.update(self.conn.execute(
                f"SELECT paper_id, text_hash FROM paper_sentences WHERE paper_id IN ({marks})",
                list(part)).fetchall())
        return out

    def upsert(self, rows: Sequence[SentenceRow]) -> None:
        self.conn.executemany(
            "INSERT INTO paper_sentences (paper_id, text_hash, sentences) VALUES (?,?,?)"
            " ON CONFLICT(paper_id) DO UPDATE SET text_hash = excluded.text_hash,"
            " sentences = excluded.sentences",
            [(row.paper_id, row.text_hash, json.dumps(row.sentences, ensure_ascii=False))
             for row in rows])

    def delete(self, paper_ids: Sequence[int]) -> int:
        gone = 0
        for part in chunks(paper_ids):
            marks = ",".join("?" * len(part))
            gone += self.conn.execute(
                f"DELETE FROM paper_sentences WHERE paper_id IN ({marks})", list(part)).rowcount
        return gone

    def get_many(self, paper_ids: Sequence[int]) -> list[SentenceRow]:
        """The rows of ``paper_ids`` there are, in the order of ``paper_ids``."""
        found: dict[int, SentenceRow] = {}
        for part in chunks(paper_ids):
            marks = ",".join("?" * len(part))
            found.update((r[0], _row(r)) for r in self.conn.execute(
                "SELECT paper_id, text_hash, sentences FROM paper_sentences"
                f" WHERE paper_id IN ({marks})", list(part)))
        return [found[pid] for pid in paper_ids if pid in found]

    def iterate(self, batch: int = 2000) -> Iterator[list[SentenceRow]]:
        """Every row, in paper order, ``batch`` rows at a time."""
        after = -1
        while rows := [_row(r) for r in self.conn.execute(
                "SELECT paper_id, text_hash, sentences FROM paper_sentences"
                " WHERE paper_id > ? ORDER BY paper_id LIMIT ?", (after, batch))]:
            yield rows
            after = rows[-1].paper_id

    def totals(self) -> tuple[int, int, int]:
        """Papers, sentences and bytes (the sentences' text) stored."""
        row = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(json_array_length(sentences)), 0),"
            " COALESCE(SUM(length(sentences)), 0) FROM paper_sentences").fetchone()
        return int(row[0]), int(row[1]), int(row[2])


def _row(r: sqlite3.Row | tuple[int, str, str]) -> SentenceRow:
    return SentenceRow(int(r[0]), str(r[1]), json.loads(r[2]))
