"""The job worker: takes queued jobs from a library and runs them, one at a time.

``paperatlas worker`` runs one until Ctrl-C or SIGTERM (``serve`` starts one beside the
web processes), ``paperatlas worker --once`` runs what is queued and returns (for cron).
Any number of workers may share a library: each job is claimed by exactly one, a kind runs
one job at a time, and a worker that died leaves its job to be taken again.

>>> Worker(lambda: Library("papers.db")).run_once()   # doctest: +SKIP
3
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from .jobs import KINDS
from .records.jobs import Job
from .work import HEARTBEAT_EVERY

if TYPE_CHECKING:
    from .library import Library

log = logging.getLogger(__name__)

#: Seconds an idle worker waits before it looks at the queue again.
POLL = 2.0


class Worker:
    """Runs a library's queued jobs: ``library`` is a :class:`Library` or a function that
    opens one (called on first use)."""

    def __init__(self, library: Library | Callable[[], Library], *, poll: float = POLL,
                 kinds: tuple[str, ...] = KINDS, heartbeat: float = HEARTBEAT_EVERY,
                 on_job: Callable[[Job], None] | None = None) -> None:
        self._library = library
        self._lib: Library | None = None
        self.poll = poll
        self.kinds = kinds
        self.heartbeat = heartbeat
        self.on_job = on_job  # sees each job as it ends (the CLI prints a line)

    @property
    def library(self) -> Library:
        if self._lib is None:
            from .library import Library  # here: importing this module loads no engine

            lib = self._library
            self._lib = lib if isinstance(lib, Library) else lib()
        return self._lib

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
        finishes first)."""
        while not stop.is_set():
            try:
                ran = self.run_once(stop)
            except Exception:  # the library was busy or went away: try again later
                log.exception("worker: could not take a job")
                ran = 0
            if not ran:
                stop.wait(self.poll)
