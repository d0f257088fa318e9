"""SQL for live sources (``live_sources``) and the signals they keep per paper
(``paper_signals``)."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from typing import Any

from ..records.sources import SourceSpec, SourceState

_COLUMNS = ("SELECT id, name, kind, settings, collection, every_seconds, paused, cursor,"
            " created_at, last_run_at, last_ok_at, next_due_at, runs, records, added,"
            " last_error FROM live_sources")


def _state(row: sqlite3.Row) -> SourceState:
    settings = json.loads(row[3])
    spec = SourceSpec(name=row[1], kind=row[2], query=settings.get("query"),
                      category=settings.get("category"), since=settings.get("since"),
                      collection=row[4], every_seconds=row[5],
                      base_url=settings.get("base_url"))
    return SourceState(id=row[0], spec=spec, paused=bool(row[6]), cursor=json.loads(row[7]),
                       created_at=row[8], last_run_at=row[9], last_ok_at=row[10],
                       next_due_at=row[11], runs=row[12], records=row[13], added=row[14],
                       last_error=row[15])


class SourceRepo:
    """Reads and writes ``live_sources``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, spec: SourceSpec, now: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO live_sources (name, kind, settings, collection, every_seconds,"
            " created_at) VALUES (?,?,?,?,?,?)",
            (spec.name, spec.kind, json.dumps(spec.settings()), spec.collection,
             spec.every_seconds, now))
        return int(cur.lastrowid or 0)

    def get(self, name: str) -> SourceState | None:
        row = self.conn.execute(f"{_COLUMNS} WHERE name = ?", (name,)).fetchone()
        return None if row is None else _state(row)

    def all(self) -> list[SourceState]:
        return [_state(r) for r in self.conn.execute(f"{_COLUMNS} ORDER BY name")]

    def remove(self, name: str) -> bool:
        return self.conn.execute("DELETE FROM live_sources WHERE name = ?",
                                 (name,)).rowcount > 0

    def set_paused(self, name: str, paused: bool) -> bool:
        return self.conn.execute("UPDATE live_sources SET paused = ? WHERE name = ?",
                                 (int(paused), name)).rowcount > 0

    def set_cursor(self, name: str, cursor: dict[str, Any], records: int, added: int) -> None:
        """Move the cursor past a page whose ``records`` (``added`` of them new) are stored:
        called in the page's transaction."""
        self.conn.execute(
            "UPDATE live_sources SET cursor = ?, records = records + ?, added = added + ?"
            " WHERE name = ?", (json.dumps(cursor, sort_keys=True), records, added, name))

    def finish_run(self, name: str, *, now: str, ok: bool, error: str | None,
                   next_due_at: str | None) -> None:
        self.conn.execute(
            "UPDATE live_sources SET runs = runs + 1, last_run_at = ?,"
            " last_ok_at = CASE WHEN ? THEN ? ELSE last_ok_at END, last_error = ?,"
            " next_due_at = COALESCE(?, next_due_at) WHERE name = ?",
            (now, int(ok), now, error, next_due_at, name))


def signal_rows(paper_id: int, source: str, signals: dict[str, Any],
                now: str) -> list[tuple[Any, ...]]:
    """A paper's signals from one source as rows for :meth:`SignalRepo.put_rows`."""
    return [(paper_id, source, k, json.dumps(v), now) for k, v in sorted(signals.items())
            if v is not None]


class SignalRepo:
    """Reads and writes ``paper_signals``: per paper, what a source says of it (JSON)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def put(self, paper_id: int, source: str, signals: dict[str, Any], now: str) -> None:
        self.put_rows(signal_rows(paper_id, source, signals, now))

    def put_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows made by :func:`signal_rows`, in one statement."""
        self.conn.executemany(
            "INSERT INTO paper_signals (paper_id, source, name, value, updated_at)"
            " VALUES (?,?,?,?,?) ON CONFLICT (paper_id, source, name) DO UPDATE SET"
            " value = excluded.value, updated_at = excluded.updated_at", rows)

    def of(self, paper_ids: list[int]) -> dict[int, dict[str, dict[str, Any]]]:
        """``paper id -> source -> name -> value`` for those that have any."""
        out: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
        for start in range(0, len(paper_ids), 20_000):
            chunk = paper_ids[start:start + 20_000]
            for pid, source, name, value in self.conn.execute(
                    "SELECT paper_id, source, name, value FROM paper_signals WHERE paper_id"
                    f" IN ({','.join('?' * len(chunk))})", chunk):
                out[pid].setdefault(source, {})[name] = json.loads(value)
        return dict(out)
