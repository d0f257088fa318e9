"""SQL for files, sources (where each record came from) and the ingest log."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from typing import Any

from ..records.papers import FileReport, SourceInfo

#: ``json.dumps(value, ensure_ascii=False, default=str)``, without building an encoder
#: per call.
_extra_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


def source_row(*, paper_id: int, file_id: int, run_id: int | None, entry: int, line: int,
               source_key: str | None, title: str, match_rule: str, extra: dict[str, Any],
               now: str) -> tuple[Any, ...]:
    """One record's source row (where a paper came from), for :meth:`ProvenanceRepo.add_sources`."""
    return (paper_id, file_id, run_id, entry, line, source_key, title, match_rule,
            _extra_json(extra) if extra else None, now)


class ProvenanceRepo:
    """Reads and writes ``files``, ``sources``, ``ingest_runs``, ``ingest_files`` and
    ``ingest_progress``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def file_id(self, *, sha256: str, path: str, size: int, fmt: str, encoding: str,
                now: str) -> int:
        """The id of a file by content, recording it on first sight."""
        row = self.conn.execute("SELECT id FROM files WHERE sha256 = ?", (sha256,)).fetchone()
        if row:
            return int(row[0])
        cur = self.conn.execute(
            "INSERT INTO files (sha256, path, size, format, encoding, first_ingested_at)"
            " VALUES (?,?,?,?,?,?)", (sha256, path, size, fmt, encoding, now))
        return int(cur.lastrowid or 0)

    def source_paper(self, file_id: int, entry: int) -> int | None:
        """The paper an entry of a file already went into, if it was ingested before."""
        row = self.conn.execute(
            "SELECT paper_id FROM sources WHERE file_id = ? AND entry = ?",
            (file_id, entry)).fetchone()
        return int(row[0]) if row else None

    def last_entry(self, file_id: int) -> int:
        """The file's last entry that went into a paper (0: none yet)."""
        row = self.conn.execute("SELECT MAX(entry) FROM sources WHERE file_id = ?",
                                (file_id,)).fetchone()
        return int(row[0] or 0)

    def other_key_in_file(self, paper_id: int, file_id: int, source_key: str) -> bool:
        """Whether the paper has a source in this file under a different key."""
        row = self.conn.execute(
            "SELECT 1 FROM sources WHERE paper_id = ? AND file_id = ? AND source_key IS NOT NULL"
            " AND source_key != ? LIMIT 1", (paper_id, file_id, source_key)).fetchone()
        return row is not None

    def add_source(self, *, paper_id: int, file_id: int, run_id: int | None, entry: int,
                   line: int, source_key: str | None, title: str, match_rule: str,
                   extra: dict[str, Any], now: str) -> None:
        self.add_sources([source_row(
            paper_id=paper_id, file_id=file_id, run_id=run_id, entry=entry, line=line,
            source_key=source_key, title=title, match_rule=match_rule, extra=extra, now=now)])

    def add_sources(self, rows: list[tuple[Any, ...]]) -> None:
        """Source rows made by :func:`source_row`, in one statement."""
        self.conn.executemany(
            "INSERT INTO sources (paper_id, file_id, run_id, entry, line, source_key, title,"
            " match_rule, extra, ingested_at) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def sources_for(self, paper_ids: list[int]) -> dict[int, list[SourceInfo]]:
        if not paper_ids:
            return {}
        marks = ",".join("?" * len(paper_ids))
        out: dict[int, list[SourceInfo]] = defaultdict(list)
        for r in self.conn.execute(
                "SELECT s.paper_id, f.path, f.format, f.sha256, s.line, s.entry, s.source_key,"
                f" s.ingested_at, s.extra FROM sources s JOIN files f ON f.id = s.file_id"
                f" WHERE s.paper_id IN ({marks}) ORDER BY s.paper_id, s.id", paper_ids):
            out[r[0]].append(SourceInfo(path=r[1], format=r[2], sha256=r[3], line=r[4],
                                        entry=r[5], source_key=r[6], ingested_at=r[7],
                                        extra=json.loads(r[8]) if r[8] else {}))
        return out

    # -- files ingested in batches -------------------------------------------------
    def progress(self, file_id: int) -> tuple[int, int, dict[str, Any]] | None:
        """``(entry, line, state)`` of a file whose ingest stopped after a committed batch."""
        row = self.conn.execute("SELECT entry, line, state FROM ingest_progress"
                                " WHERE file_id = ?", (file_id,)).fetchone()
        if row is None:
            return None
        state = json.loads(row[2] or "{}")
        return int(row[0]), int(row[1]), state if isinstance(state, dict) else {}

    def save_progress(self, file_id: int, entry: int, line: int, state: dict[str, Any],
                      now: str) -> None:
        self.conn.execute(
            "INSERT INTO ingest_progress (file_id, entry, line, state, updated_at)"
            " VALUES (?,?,?,?,?) ON CONFLICT (file_id) DO UPDATE SET entry = excluded.entry,"
            " line = excluded.line, state = excluded.state, updated_at = excluded.updated_at",
            (file_id, entry, line, json.dumps(state), now))

    def clear_progress(self, file_id: int) -> None:
        self.conn.execute("DELETE FROM ingest_progress WHERE file_id = ?", (file_id,))

    # -- the ingest log ------------------------------------------------------------
    def start_run(self, options: dict[str, Any], now: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO ingest_runs (started_at, status, options) VALUES (?, 'running', ?)",
            (now, json.dumps(options, default=str)))
        return int(cur.lastrowid or 0)

    def log_file(self, run_id: int, report: FileReport, sha256: str | None, now: str) -> None:
        rejections = [{"line": r.line, "entry": r.entry, "reason": r.reason}
                      for r in report.rejections]
        self.conn.execute(
            "INSERT INTO ingest_files (run_id, path, sha256, format, collection, status, records,"
            " added, merged, skipped, rejected, rejections, error, error_line, finished_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (run_id, report.path, sha256, report.format, report.collection,
             "ok" if report.ok else "error", report.records, report.added, report.merged,
             report.skipped, report.rejected, json.dumps(rejections), report.error,
             report.error_line, now))

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any], now: str) -> None:
        self.conn.execute(
            "UPDATE ingest_runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
            (now, status, json.dumps(summary), run_id))

    def running_runs(self) -> list[tuple[int, dict[str, Any]]]:
        """``(id, options)`` of the runs still marked ``running``."""
        out = []
        for run_id, options in self.conn.execute(
                "SELECT id, options FROM ingest_runs WHERE status = 'running' ORDER BY id"):
            try:
                parsed = json.loads(options or "{}")
            except ValueError:
                parsed = {}
            out.append((int(run_id), parsed if isinstance(parsed, dict) else {}))
        return out

    def run_totals(self, run_id: int) -> dict[str, Any]:
        """What a run's logged files added up to (for a run that never wrote its summary)."""
        row = self.conn.execute(
            "SELECT COALESCE(SUM(records), 0), COALESCE(SUM(added), 0), COALESCE(SUM(merged), 0),"
            " COALESCE(SUM(skipped), 0), COALESCE(SUM(rejected), 0),"
            " COALESCE(SUM(status = 'error'), 0), COUNT(*)"
            " FROM ingest_files WHERE run_id = ?", (run_id,)).fetchone()
        return {"records": row[0], "added": row[1], "merged": row[2], "skipped": row[3],
                "rejected": row[4], "failed_files": row[5], "logged_files": row[6],
                "note": "the process ended before the run finished (killed?)"}

    def counts(self) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT (SELECT COUNT(*) FROM sources), (SELECT COUNT(*) FROM files),"
            " (SELECT COUNT(*) FROM ingest_runs),"
            " (SELECT MAX(finished_at) FROM ingest_runs WHERE status != 'running')").fetchone()
        return {"sources": row[0], "files": row[1], "ingest_runs": row[2], "last_ingest": row[3]}

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, started_at, finished_at, status, summary FROM ingest_runs"
            " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{"id": r[0], "started_at": r[1], "finished_at": r[2], "status": r[3],
                 "summary": json.loads(r[4]) if r[4] else None} for r in rows]
