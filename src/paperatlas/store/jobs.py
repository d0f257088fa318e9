"""SQL for ``jobs``: background work with its progress, result and per-record errors, and
the queue a worker claims it from (one running job per kind, one queued per coalescing key).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, NamedTuple

from ..records.jobs import Job

_COLUMNS = ("SELECT id, kind, status, params, created_at, created_by, done, total, result,"
            " errors, message, started_at, finished_at, attempts, parent_id FROM jobs")


def _job(row: sqlite3.Row) -> Job:
    return Job(id=row[0], kind=row[1], status=row[2], params=json.loads(row[3]),
               created_at=row[4], created_by=row[5], done=row[6], total=row[7],
               result=json.loads(row[8]), errors=json.loads(row[9]), message=row[10],
               started_at=row[11], finished_at=row[12], attempts=row[13], parent=row[14])


class Running(NamedTuple):
    """A running job as the queue sees it: who runs it, and when it last said so."""

    id: int
    kind: str
    owner: dict[str, Any] | None
    claim: str | None
    heartbeat_at: float | None
    attempts: int


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class JobRepo:
    """Reads and writes ``jobs``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, kind: str, params: dict[str, Any], created_by: str | None, now: str, *,
            payload: dict[str, Any] | None = None, coalesce_key: str | None = None,
            parent: int | None = None) -> Job:
        cur = self.conn.execute(
            "INSERT INTO jobs (kind, params, created_by, created_at, payload, coalesce_key,"
            " parent_id) VALUES (?,?,?,?,?,?,?)",
            (kind, _json(params), created_by, now, _json(payload or {}), coalesce_key, parent))
        job = self.get(int(cur.lastrowid or 0))
        assert job is not None
        return job

    def get(self, job_id: int) -> Job | None:
        row = self.conn.execute(f"{_COLUMNS} WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def recent(self, limit: int) -> list[Job]:
        return [_job(r) for r in self.conn.execute(f"{_COLUMNS} ORDER BY id DESC LIMIT ?",
                                                    (limit,))]

    def unfinished(self) -> list[Job]:
        """The queued and running jobs, oldest first."""
        return [_job(r) for r in self.conn.execute(
            f"{_COLUMNS} WHERE status IN ('queued', 'running') ORDER BY id")]

    def payload(self, job_id: int) -> dict[str, Any]:
        row = self.conn.execute("SELECT payload FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def queued_with_key(self, key: str) -> Job | None:
        row = self.conn.execute(f"{_COLUMNS} WHERE status = 'queued' AND coalesce_key = ?",
                                (key,)).fetchone()
        return _job(row) if row else None

    def set_params(self, job_id: int, params: dict[str, Any]) -> None:
        self.conn.execute("UPDATE jobs SET params = ? WHERE id = ?", (_json(params), job_id))

    def next_claimable(self, kinds: tuple[str, ...]) -> int | None:
        """The oldest queued job of ``kinds`` whose kind has no running job."""
        marks = ",".join("?" * len(kinds))
        row = self.conn.execute(
            f"SELECT id FROM jobs AS j WHERE status = 'queued' AND kind IN ({marks})"
            " AND NOT EXISTS (SELECT 1 FROM jobs AS r WHERE r.kind = j.kind"
            " AND r.status = 'running') ORDER BY id LIMIT 1", kinds).fetchone()
        return int(row[0]) if row else None

    def kind_running(self, kind: str) -> bool:
        return self.conn.execute("SELECT 1 FROM jobs WHERE kind = ? AND status = 'running'",
                                 (kind,)).fetchone() is not None

    def claim(self, job_id: int, owner: dict[str, Any], claim: str, now: str,
              beat: float) -> bool:
        """Mark a queued job running for ``owner`` under the token ``claim``."""
        return self.conn.execute(
            "UPDATE jobs SET status = 'running', owner = ?, claim = ?, heartbeat_at = ?,"
            " attempts = attempts + 1, started_at = coalesce(started_at, ?), done = 0,"
            " total = 0 WHERE id = ? AND status = 'queued'",
            (_json(owner), claim, beat, now, job_id)).rowcount == 1

    def running(self) -> list[Running]:
        """Each running job: id, kind, owner, claim, last heartbeat and attempts."""
        return [Running(r[0], r[1], json.loads(r[2]) if r[2] else None, r[3], r[4], r[5])
                for r in self.conn.execute(
                    "SELECT id, kind, owner, claim, heartbeat_at, attempts FROM jobs"
                    " WHERE status = 'running' ORDER BY id")]

    def requeue(self, job_id: int, claim: str | None, key: str | None) -> bool:
        """Put a running job whose process is gone back in the queue (as ``claim`` left
        it), under the coalescing ``key`` unless a queued job holds that key already."""
        return self.conn.execute(
            "UPDATE jobs SET status = 'queued', owner = NULL, claim = NULL, coalesce_key ="
            " CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND"
            " coalesce_key = ?) THEN NULL ELSE ? END"
            " WHERE id = ? AND status = 'running' AND claim IS ?",
            (key, key, job_id, claim)).rowcount == 1

    def fail_running(self, job_id: int, claim: str | None, message: str, now: str) -> bool:
        return self.conn.execute(
            "UPDATE jobs SET status = 'failed', message = ?, finished_at = ?, owner = NULL,"
            " claim = NULL WHERE id = ? AND status = 'running' AND claim IS ?",
            (message, now, job_id, claim)).rowcount == 1

    def beat(self, job_id: int, claim: str, beat: float, done: int | None = None,
             total: int | None = None) -> bool:
        """Record that the claim's process is alive (and its progress); False when the job
        is no longer this claim's."""
        return self.conn.execute(
            "UPDATE jobs SET heartbeat_at = ?, done = coalesce(?, done),"
            " total = coalesce(?, total) WHERE id = ? AND claim = ? AND status = 'running'",
            (beat, done, total, job_id, claim)).rowcount == 1

    def finish(self, job: Job, now: str, claim: str | None = None) -> bool:
        """Store a finished job's status, progress, result, errors and message; with
        ``claim``, only while the job is still running under it (False if not)."""
        guard = "" if claim is None else " AND claim = ? AND status = 'running'"
        return self.conn.execute(
            "UPDATE jobs SET status = ?, done = ?, total = ?, result = ?, errors = ?,"
            " message = ?, finished_at = ?, owner = NULL, claim = NULL"
            f" WHERE id = ?{guard}",
            (job.status, job.done, job.total, _json(job.result), _json(job.errors),
             job.message, now, job.id, *(() if claim is None else (claim,)))).rowcount == 1

    def fail_unfinished(self, message: str, now: str) -> int:
        """Mark every queued or running job failed (their process is gone)."""
        return self.conn.execute(
            "UPDATE jobs SET status = 'failed', message = ?, finished_at = ?, owner = NULL,"
            " claim = NULL WHERE status IN ('queued', 'running')", (message, now)).rowcount
