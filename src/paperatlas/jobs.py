"""Jobs: background work (a web upload's ingest) recorded with progress, result and errors.

A job is made ``queued``, goes ``running`` when its work starts and ends ``done`` or
``failed`` (with the error's message). An ingest job is ``done`` even when some records
were rejected: each rejection is one entry of ``errors`` (line, entry, reason); a file
that cannot be read at all fails the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import NotFoundError, PaperatlasError
from .importer import ProgressFn
from .models import IngestReport, Job
from .store import Store, utcnow

log = logging.getLogger(__name__)

#: What a job says when the process running it stopped before it finished.
INTERRUPTED = "interrupted: the server stopped before the job finished; upload the file again"


class JobService:
    """The jobs of one library."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, kind: str, params: dict[str, Any], created_by: str | None = None) -> Job:
        with self.store.transaction():
            return self.store.jobs.add(kind, params, created_by, utcnow())

    def get(self, job_id: int) -> Job:
        job = self.store.jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        return job

    def recent(self, limit: int = 20) -> list[Job]:
        return self.store.jobs.recent(limit)

    def abandon(self) -> int:
        """Fail the jobs left queued or running by a process that is gone."""
        with self.store.transaction():
            return self.store.jobs.fail_unfinished(INTERRUPTED, utcnow())

    def run_ingest(self, job_id: int, ingest: Callable[[ProgressFn], IngestReport],
                   progress: Callable[[Job], None] | None = None) -> Job:
        """Run a queued job's ``ingest`` (given a progress function) and record how it went;
        ``progress`` sees the job as bytes are read."""
        job = self.get(job_id)
        if job.status != "queued":
            raise PaperatlasError(f"job {job_id} is {job.status}, not queued")
        with self.store.transaction():
            self.store.jobs.start(job_id, utcnow())
        job.status, job.started_at = "running", utcnow()
        if progress is not None:
            progress(job)

        def on_bytes(path: str, done: int, total: int) -> None:
            job.done, job.total = done, total
            if progress is not None:
                progress(job)

        try:
            _record(job, ingest(on_bytes))
        except PaperatlasError as exc:
            job.status, job.message = "failed", str(exc)
        except Exception as exc:  # recorded on the job; the log keeps the traceback
            log.exception("job %s failed", job_id)
            job.status, job.message = "failed", f"unexpected error: {type(exc).__name__}"
        with self.store.transaction():
            self.store.jobs.finish(job, utcnow())
        return self.get(job_id)


def _record(job: Job, report: IngestReport) -> None:
    """A finished ingest's counts, rejections and file errors, onto its job."""
    job.result = {k: v for k, v in report.to_dict().items() if k != "files"}
    job.result["files"] = [{"name": Path(f.path).name, "format": f.format,
                            "collection": f.collection, "records": f.records, "added": f.added,
                            "merged": f.merged, "skipped": f.skipped, "rejected": f.rejected,
                            "error": f.error} for f in report.files]
    messages = []
    for f in report.files:
        name = Path(f.path).name
        job.errors += [{"file": name, "line": r.line, "entry": r.entry, "reason": r.reason}
                       for r in f.rejections]
        if f.error:  # named by the file's name, not where the server keeps it
            messages.append(f.error.replace(f.path, name))
            job.errors.append({"file": name, "line": f.error_line, "entry": None,
                               "reason": messages[-1]})
    if job.total:
        job.done = job.total
    job.status = "failed" if messages and len(messages) == len(report.files) else "done"
    job.message = "; ".join(messages) or None
