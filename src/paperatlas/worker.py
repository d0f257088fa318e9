"""The job worker: takes queued jobs from a library and runs them, one at a time.

``paperatlas worker`` runs one until Ctrl-C or SIGTERM (``serve`` starts one beside the
web processes), ``paperatlas worker --once`` runs what is queued and returns (for cron).
Any number of workers may share a library: each job is claimed by exactly one, a kind runs
one job at a time, and a worker that died leaves its job to be taken again. With
``update_every`` (``serve --update-every 6h``) it also runs ``paperatlas update``'s steps on
that schedule: sync the due sources, then the jobs that queued, then the due digests.

>>> Worker(lambda: Library("papers.db")).run_once()   # doctest: +SKIP
3
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .jobs import KINDS
from .records.jobs import Job
from .records.sources import SyncReport
from .work import HEARTBEAT_EVERY

if TYPE_CHECKING:
    from .follow.settings import DigestSettings, MailSettings
    from .library import Library
    from .sources import SourceSettings
    from .update import UpdateReport

log = logging.getLogger(__name__)

#: Seconds an idle worker waits before it looks at the queue again.
POLL = 2.0


class Worker:
    """Runs a library's queued jobs: ``library`` is a :class:`Library` or a function that
    opens one (called on first use)."""

    def __init__(self, library: Library | Callable[[], Library], *, poll: float = POLL,
                 kinds: tuple[str, ...] = KINDS, heartbeat: float = HEARTBEAT_EVERY,
                 on_job: Callable[[Job], None] | None = None,
                 sources: SourceSettings | None = None, update_every: float | None = None,
                 mail: tuple[DigestSettings, MailSettings] | None = None,
                 on_update: Callable[[UpdateReport], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._library = library
        self._lib: Library | None = None
        self.poll = poll
        self.kinds = kinds
        self.heartbeat = heartbeat
        self.on_job = on_job  # sees each job as it ends (the CLI prints a line)
        self.sources = sources  # settings of the syncs it runs (sync jobs, updates)
        self.update_every = update_every  # seconds between updates in run_forever
        self.mail = mail  # digests are sent by the updates only with mail settings
        self.on_update = on_update
        self.clock = clock
        self.next_update: float | None = None  # when run_forever next updates (clock)

    @property
    def library(self) -> Library:
        if self._lib is None:
            from .library import Library  # here: importing this module loads no engine

            lib = self._library
            self._lib = lib if isinstance(lib, Library) else lib()
            self._lib.indexer.sync = self._sync_runner(self._lib)
        return self._lib

    def _sync_runner(self, lib: Library) -> Callable[[list[str]], list[SyncReport]]:
        """What a ``sync`` job runs here: the named sources, with this worker's settings."""
        def run(names: list[str]) -> list[SyncReport]:
            from .sources import SyncOptions

            return lib.sources.sync(SyncOptions(names=tuple(names)), self.sources)

        return run

    def update(self) -> UpdateReport | None:
        """Run ``paperatlas update``'s steps once (a failure is logged, never raised)."""
        from .update import update

        try:
            report = update(self.library, self.sources, mail=self.mail)
        except Exception:  # the library was busy, another sync runs: the next time then
            log.exception("worker: the scheduled update failed")
            return None
        for job in report.jobs:
            if self.on_job is not None:
                self.on_job(job)
        if self.on_update is not None:
            self.on_update(report)
        return report

    def run_next(self) -> Job | None:
        """Claim and run the oldest runnable queued job; None when there is none. A job's
        failure is recorded on it, never raised."""
        lib = self.library
        claim = lib.jobs.claim(self.kinds)
        if claim is None:
            return None
        with contextlib.suppress(Exception):  # recorded on the job (and logged there)
            lib.indexer.run_claimed(claim, heartbeat=self.heartbeat)
        job = lib.jobs.get(claim.job.id)
        if self.on_job is not None:
            self.on_job(job)
        return job

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Run every queued job (and the jobs they queue), then return how many ran."""
        n = 0
        while (stop is None or not stop.is_set()) and self.run_next() is not None:
            n += 1
        return n

    def run_forever(self, stop: threading.Event) -> None:
        """Run jobs as they are queued until ``stop`` is set (the job running then
        finishes first); with ``update_every``, an update first and then on that schedule."""
        every = self.update_every
        self.next_update = self.clock() if every else None
        while not stop.is_set():
            if every and self.next_update is not None and self.clock() >= self.next_update:
                self.next_update = self.clock() + every
                self.update()
                continue
            try:
                ran = self.run_once(stop)
            except Exception:  # the library was busy or went away: try again later
                log.exception("worker: could not take a job")
                ran = 0
            if not ran:
                wait = self.poll
                if self.next_update is not None:
                    wait = max(0.0, min(wait, self.next_update - self.clock()))
                stop.wait(wait)
