"""Sync: fetch each source's new pages and store them, page by page, under one lock.

Each page's records, its provenance and the source's cursor commit in one transaction
(:meth:`~paperatlas.importer.Importer.ingest_page`), so a page that fails (an error
answer, a body that cannot be parsed) or a kill at any moment leaves the cursor before
that page: the next run asks it again and ends with exactly the library an uninterrupted
run gives. One sync runs at a time per library (a lock file beside it), so two cron runs
never fetch the same pages.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import ConflictError, NotFoundError
from ..importer import Importer, IngestOptions
from ..ingest import InputFile
from ..liveness import is_alive, this_process
from ..records.papers import FileReport
from ..records.serialize import to_json
from ..records.sources import SourceState, SyncReport
from ..store import Store, utcnow
from .base import SourceContext, source_class
from .http import Http, SourceError

#: Rejections a sync report lists in full (all are counted).
_MAX_LISTED = 100
#: After a failed run, a source is due again within this many seconds (or its interval).
_RETRY_FAILED_AFTER = 3600


@dataclass(frozen=True)
class SyncOptions:
    """What one ``sync`` (or ``update``) asks."""

    names: tuple[str, ...] = ()  # none: every source (that is due, with ``due``)
    since: str | None = None  # YYYY-MM-DD: start again from this day
    dry_run: bool = False
    due: bool = False  # only sources whose next run is due, not paused
    max_pages: int | None = None  # stop each source after this many pages


@contextmanager
def run_lock(path: Path | None) -> Iterator[None]:
    """Hold the library's sync lock (a lock file; the OS frees it if the process dies)."""
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "?"
            raise ConflictError(f"another sync of this library is running (process "
                                f"{holder}); try again when it is done") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def due_after(now: str, seconds: int) -> str:
    """The UTC time ``seconds`` after ``now`` (both ISO 8601 with ``Z``)."""
    at = datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (at + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Syncer:
    """Runs sources against one library."""

    def __init__(self, store: Store, http: Http, context: SourceContext, *,
                 lock: Path | None, now: Callable[[], str] = utcnow) -> None:
        self.store = store
        self.http = http
        self.context = context
        self.lock = lock
        self.now = now

    def chosen(self, options: SyncOptions) -> list[SourceState]:
        """The sources a run covers, by name or all (due ones with ``options.due``)."""
        known = {s.name: s for s in self.store.sources.all()}
        for name in options.names:
            if name not in known:
                raise NotFoundError(f"no source named {name!r}; `paperatlas sources list` "
                                    f"shows them ({', '.join(sorted(known)) or 'none yet'})")
        states = [known[n] for n in options.names] if options.names else list(known.values())
        if options.due:
            now = self.now()
            states = [s for s in states if s.due(now)]
        return states

    def run(self, options: SyncOptions,
            progress: Callable[[SyncReport], None] | None = None) -> list[SyncReport]:
        with run_lock(self.lock):
            if not options.dry_run:
                self._close_dead_runs()
            return [self.one(state, options, progress) for state in self.chosen(options)]

    def _close_dead_runs(self) -> None:
        """Mark ``interrupted`` the runs a killed process left ``running`` (this one holds
        the lock, so no other sync is running)."""
        prov = self.store.provenance
        with self.store.transaction():
            for run_id, run in prov.running_runs():
                if run.get("source") and is_alive(run.get("process")) is False:
                    prov.finish_run(run_id, "interrupted", prov.run_totals(run_id), self.now())

    def one(self, state: SourceState, options: SyncOptions,
            progress: Callable[[SyncReport], None] | None = None) -> SyncReport:
        """Sync one source: its pages from its cursor (or ``options.since``) on."""
        spec = state.spec if options.since is None else replace(state.spec, since=options.since)
        source = source_class(spec.kind)(spec, self.http, self.context)
        cursor = dict(state.cursor) if options.since is None else {}
        report = SyncReport(source=spec.name, kind=spec.kind, dry_run=options.dry_run,
                            cursor=cursor)
        importer = Importer(self.store)
        run_id = None
        if not options.dry_run:
            with self.store.transaction():
                run_id = self.store.provenance.start_run(
                    {"source": spec.name, "kind": spec.kind, "process": this_process()},
                    self.now())
        started, asked = time.monotonic(), len(self.http.log)
        try:
            for page in source.pages(cursor):
                file = InputFile.from_bytes(page.body, page.name, page.url)
                ingest = IngestOptions(collection=spec.collection or spec.name,
                                       format=page.format, dry_run=options.dry_run)

                def move(done: FileReport, page_cursor: dict[str, Any] = page.cursor) -> None:
                    if not options.dry_run:
                        self.store.sources.set_cursor(spec.name, page_cursor, done.records,
                                                      done.added)

                done = importer.ingest_page(file, ingest, run_id, then=move)
                if done.error:
                    raise SourceError(done.error)
                _add(report, done, page.url)
                report.cursor, report.done = page.cursor, page.done
                if progress is not None:
                    progress(report)
                if options.max_pages is not None and report.pages >= options.max_pages:
                    break
        except SourceError as exc:
            report.error = str(exc)
        finally:
            report.requests = len(self.http.log) - asked
            report.seconds = round(time.monotonic() - started, 3)
            if not options.dry_run:
                self._finish(state, report, run_id)
        return report

    def _finish(self, state: SourceState, report: SyncReport, run_id: int | None) -> None:
        now = self.now()
        every = state.spec.every_seconds
        wait = every if report.ok else min(every, _RETRY_FAILED_AFTER)
        summary = to_json(report)
        summary.pop("rejections", None)
        with self.store.transaction():
            self.store.sources.finish_run(state.name, now=now, ok=report.ok,
                                          error=report.error, next_due_at=due_after(now, wait))
            if run_id is not None:
                status = "ok" if report.ok else "errors"
                self.store.provenance.finish_run(run_id, status, summary, now)


def _add(report: SyncReport, done: FileReport, url: str) -> None:
    report.pages += 1
    report.records += done.records
    report.added += done.added
    report.merged += done.merged
    report.skipped += done.skipped
    report.rejected += done.rejected
    for r in done.rejections:
        if len(report.rejections) < _MAX_LISTED:
            report.rejections.append({"url": url, "line": r.line, "entry": r.entry,
                                      "reason": r.reason})
