"""SQL for ``jobs``: background work with its progress, result and per-record errors."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..models import Job

_COLUMNS = ("SELECT id, kind, status, params, created_at, created_by, done, total, result,"
            " errors, message, started_at, finished_at FROM jobs")


def _job(row: sqlite3.Row) -> Job:
    return Job(id=row[0], kind=row[1], status=row[2], params=json.loads(row[3]),
               created_at=row[4], created_by=row[5], done=row[6], total=row[7],
               result=json.loads(row[8]), errors=json.loads(row[9]), message=row[10],
               started_at=row[11], finished_at=row[12])


class JobRepo:
    """Reads and writes ``jobs``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, kind: str, params: dict[str, Any], created_by: str | None, now: str) -> Job:
        cur = self.conn.execute(
            "INSERT INTO jobs (kind, params, created_by, created_at) VALUES (?,?,?,?)",
            (kind, json.dumps(params, ensure_ascii=False), created_by, now))
        job = self.get(int(cur.lastrowid or 0))
        assert job is not None
        return job

    def get(self, job_id: int) -> Job | None:
        row = self.conn.execute(f"{_COLUMNS} WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def recent(self, limit: int) -> list[Job]:
        return [_job(r) for r in self.conn.execute(f"{_COLUMNS} ORDER BY id DESC LIMIT ?",
                                                    (limit,))]

    def start(self, job_id: int, now: str) -> None:
        self.conn.execute("UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?",
                          (now, job_id))

    def finish(self, job: Job, now: str) -> None:
        """Store a finished job's status, progress, result, errors and message."""
        self.conn.execute(
            "UPDATE jobs SET status = ?, done = ?, total = ?, result = ?, errors = ?,"
            " message = ?, finished_at = ? WHERE id = ?",
            (job.status, job.done, job.total, json.dumps(job.result, ensure_ascii=False),
             json.dumps(job.errors, ensure_ascii=False), job.message, now, job.id))

    def fail_unfinished(self, message: str, now: str) -> int:
        """Mark every queued or running job failed (their process is gone)."""
        return self.conn.execute(
            "UPDATE jobs SET status = 'failed', message = ?, finished_at = ?"
            " WHERE status IN ('queued', 'running')", (message, now)).rowcount
