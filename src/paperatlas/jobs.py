"""Jobs: background work recorded in SQLite with progress, result and errors, and the queue
a worker (``paperatlas worker``, see :mod:`paperatlas.worker`) takes them from.

A job is made ``queued``, goes ``running`` when a process claims it (atomically, one running
job per kind) and ends ``done`` or ``failed`` exactly once: only the claim that runs it can
finish it. A running job whose process is gone (a dead process on this host, else a
heartbeat older than ``stale_after``) is queued again and taken again (its work is
idempotent); after ``max_attempts`` it fails. An index, tree update or map placement
already queued is not queued twice: the new request merges into it (:func:`merge_params`).

An ingest job is ``done`` even when some records were rejected: each rejection is one
entry of ``errors`` (line, entry, reason); a file that cannot be read at all fails the job.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bounds import MAX_LIST, check_id, check_limit
from .errors import InvalidOptionError, NotFoundError, PaperatlasError, StoreError
from .liveness import is_alive, this_process
from .records.jobs import Job
from .records.papers import IngestReport
from .records.serialize import to_json
from .store import Store, utcnow

log = logging.getLogger(__name__)

#: The kinds of job a worker runs, in the order new papers go through them (a ``sync``
#: fetches a remote source's new pages, ``paperatlas sync NAME`` as a job).
KINDS: tuple[str, ...] = ("sync", "ingest", "index", "tree_update", "map_place")
#: Kinds queued at most once: a second request merges into the queued job.
COALESCED = frozenset({"sync", "index", "tree_update", "map_place"})
#: Seconds without a heartbeat after which a job of a process on another host is taken again.
STALE_AFTER = 300.0
#: Times a job is taken before it fails for good.
MAX_ATTEMPTS = 3
#: Seconds between a foreground job's looks at whether its kind is free.
FOREGROUND_POLL = 0.2
#: What a job says when the process running it stopped before it finished.
INTERRUPTED = "interrupted: the server stopped before the job finished; upload the file again"


@dataclass(frozen=True)
class Claim:
    """A job this process took: only its ``token`` can finish it."""

    job: Job
    token: str


def merge_params(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A queued job's parameters with another request's merged in: lists joined, flags
    or-ed, and a ``None`` on either side (meaning "everything") kept."""
    out = {**old, **new}
    for key in set(old) & set(new):
        a, b = old[key], new[key]
        if a is None or b is None:
            out[key] = None
        elif isinstance(a, list) and isinstance(b, list):
            out[key] = sorted({*a, *b}, key=str)
        elif isinstance(a, bool) and isinstance(b, bool):
            out[key] = a or b
    return out


class JobService:
    """The jobs of one library, and its queue."""

    def __init__(self, store: Store, *, stale_after: float = STALE_AFTER,
                 max_attempts: int = MAX_ATTEMPTS,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.stale_after = stale_after
        self.max_attempts = max_attempts
        self.clock = clock

    # -- reading ---------------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        check_id("job", job_id)
        job = self.store.jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        return job

    def recent(self, limit: int = 20) -> list[Job]:
        check_limit(limit, MAX_LIST)
        return self.store.jobs.recent(limit)

    def unfinished(self) -> list[Job]:
        """The queued and running jobs, oldest first (what the library is still doing)."""
        return self.store.jobs.unfinished()

    def payload(self, job_id: int) -> dict[str, Any]:
        """A job's private arguments (where its file is kept), never shown."""
        return self.store.jobs.payload(job_id)

    # -- queueing --------------------------------------------------------------------------
    def create(self, kind: str, params: dict[str, Any], created_by: str | None = None) -> Job:
        """A queued job, never merged into another (see :meth:`enqueue`)."""
        with self.store.transaction():
            return self.store.jobs.add(kind, params, created_by, utcnow())

    def enqueue(self, kind: str, params: dict[str, Any], *, created_by: str | None = None,
                payload: dict[str, Any] | None = None, parent: int | None = None) -> Job:
        """Queue a job of ``kind`` (one of :data:`KINDS`) for a worker; one of a coalesced
        kind already queued takes ``params`` in instead, and is returned."""
        if kind not in KINDS:
            raise InvalidOptionError("job kind", kind, KINDS)
        with self.store.transaction():
            return self._enqueue(kind, params, created_by, payload, parent)

    def _enqueue(self, kind: str, params: dict[str, Any], created_by: str | None,
                 payload: dict[str, Any] | None, parent: int | None) -> Job:
        jobs = self.store.jobs
        key = kind if kind in COALESCED else None
        queued = jobs.queued_with_key(key) if key else None
        if queued is None:
            return jobs.add(kind, params, created_by, utcnow(), payload=payload,
                            coalesce_key=key, parent=parent)
        merged = merge_params(queued.params, params)
        if merged != queued.params:
            jobs.set_params(queued.id, merged)
        return self.get(queued.id)

    def abandon(self) -> int:
        """Fail the jobs left queued or running (their process is gone)."""
        with self.store.transaction():
            return self.store.jobs.fail_unfinished(INTERRUPTED, utcnow())

    # -- claiming --------------------------------------------------------------------------
    def claim(self, kinds: tuple[str, ...] = KINDS) -> Claim | None:
        """Take the oldest queued job of ``kinds`` whose kind runs nowhere (after queueing
        again the jobs of processes that are gone); None when there is none."""
        self.reclaim()
        with self.store.transaction():
            job_id = self.store.jobs.next_claimable(kinds)
            return None if job_id is None else self._take(job_id)

    def claim_job(self, job_id: int) -> Claim:
        """Take one queued job (its kind must run nowhere)."""
        self.get(job_id)
        with self.store.transaction():
            job = self.get(job_id)  # as the write connection sees it
            if job.status != "queued":
                raise PaperatlasError(f"job {job_id} is {job.status}, not queued")
            if self.store.jobs.kind_running(job.kind):
                raise StoreError(f"another {job.kind} job is running; try job {job_id} again "
                                 "when it is done")
            return self._take(job_id)

    def start_foreground(self, kind: str, params: dict[str, Any], *,
                         created_by: str | None = None, wait: float | None = None,
                         take_queued: bool = True) -> Claim:
        """A job this process runs itself (the CLI's ``index``, ``tree update``): with
        ``take_queued``, the queued job of a coalesced kind if there is one (``params``
        merged in), else a new one. Waits while another process runs a job of that kind,
        at most ``wait`` seconds (no bound with None; :class:`StoreError` after)."""
        key = kind if kind in COALESCED and take_queued else None
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            self.reclaim()
            with self.store.transaction():
                jobs = self.store.jobs
                if not jobs.kind_running(kind):
                    queued = jobs.queued_with_key(key) if key else None
                    if queued is None:
                        queued = jobs.add(kind, params, created_by, utcnow())
                    else:
                        jobs.set_params(queued.id, merge_params(queued.params, params))
                    return self._take(queued.id)
            if deadline is not None and time.monotonic() >= deadline:
                raise StoreError(f"the library is busy: another process is running a job of "
                                 f"kind {kind!r}; try again when it is done")
            time.sleep(FOREGROUND_POLL)

    def _take(self, job_id: int) -> Claim:
        """Claim a queued job (inside the caller's transaction)."""
        token = secrets.token_hex(12)
        if not self.store.jobs.claim(job_id, this_process(), token, utcnow(), self.clock()):
            raise StoreError(f"job {job_id} was taken by another process")
        return Claim(self.get(job_id), token)

    def reclaim(self) -> int:
        """Queue again (or, past ``max_attempts``, fail) the running jobs whose process is
        gone; returns how many."""
        now = self.clock()
        gone = []
        for run in self.store.jobs.running():
            alive = is_alive(run.owner)
            if alive is False or (alive is None and (run.heartbeat_at is None or
                                                     now - run.heartbeat_at > self.stale_after)):
                gone.append(run)
        if not gone:
            return 0
        n = 0
        with self.store.transaction():
            for run in gone:
                if run.attempts >= self.max_attempts:
                    n += self.store.jobs.fail_running(
                        run.id, run.claim, f"stopped {run.attempts} times before it finished "
                        "(its process died each time)", utcnow())
                else:
                    key = run.kind if run.kind in COALESCED else None
                    n += self.store.jobs.requeue(run.id, run.claim, key)
                log.warning("job %s: its process is gone; queued again", run.id)
        return n

    def release(self, claim: Claim) -> bool:
        """Put a job this process stopped (Ctrl-C) back in the queue, to be run again by the
        next ``index`` or worker (its work is idempotent); False if it is no longer this
        claim's."""
        key = claim.job.kind if claim.job.kind in COALESCED else None
        with self.store.transaction():
            return self.store.jobs.requeue(claim.job.id, claim.token, key)

    # -- running ---------------------------------------------------------------------------
    def beat(self, claim: Claim, done: int | None = None, total: int | None = None) -> bool:
        """Say the claim's process is alive (with its progress); never raises: False when
        it could not be written now (inside another transaction, or the library busy)."""
        try:
            with self.store.transaction():
                return self.store.jobs.beat(claim.job.id, claim.token, self.clock(), done,
                                            total)
        except StoreError:
            return False

    def finish(self, claim: Claim, job: Job,
               follow: Sequence[tuple[str, dict[str, Any]]] = ()) -> Job | None:
        """Record a claimed job's end (``job``'s status, progress, result, errors, message)
        and queue its ``follow``-up jobs, in one transaction; None (and nothing written)
        when the job is no longer this claim's (taken again after its process was
        thought dead). A job not marked ``failed`` ends ``done``."""
        if job.status != "failed":
            job = dataclasses.replace(job, status="done")
        with self.store.transaction():
            if not self.store.jobs.finish(job, utcnow(), claim.token):
                log.warning("job %s was taken again by another process; this run's end is "
                            "not recorded", job.id)
                return None
            for kind, params in follow:
                self._enqueue(kind, params, None, None, job.id)
        return self.get(job.id)


def record_ingest(job: Job, report: IngestReport) -> None:
    """A finished ingest's counts, rejections and file errors, onto its job."""
    job.result = {k: v for k, v in to_json(report).items() if k != "files"}
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
