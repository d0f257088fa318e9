"""``paperatlas update``: the one command for cron or a systemd timer.

Sync every due source, then run what that queued, in order (index → tree update → map
placement: the job chain a worker runs), then queue and send the due digests. The
same steps run by hand are ``sync``, ``worker --once`` and ``digest run``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .follow.settings import DigestSettings, MailSettings
from .records.follow import DigestReport
from .records.jobs import Job
from .records.sources import SyncReport
from .sources import SourceSettings, SyncOptions

if TYPE_CHECKING:
    from .library import Library


@dataclass
class UpdateReport:
    """What one ``update`` did: each source's sync, each job run, the digests."""

    syncs: list[SyncReport] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    digests: DigestReport | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (all(s.ok for s in self.syncs) and all(j.status == "done" for j in self.jobs)
                and (self.digests is None or not (self.digests.failed or self.digests.error)))


def update(lib: Library, settings: SourceSettings | None = None, *,
           mail: tuple[DigestSettings, MailSettings] | None = None,
           sync: SyncOptions | None = None,
           on_step: Callable[[str, object], None] | None = None) -> UpdateReport:
    """Sync due sources, run the queued jobs, then the due digests (with ``mail``)."""
    from .worker import Worker

    started = time.monotonic()
    report = UpdateReport()
    step = on_step or (lambda what, value: None)
    report.syncs = lib.sources.sync(sync or SyncOptions(due=True), settings,
                                    progress=lambda r: step("page", r))
    for s in report.syncs:
        step("sync", s)

    def ran(job: Job) -> None:
        report.jobs.append(job)
        step("job", job)

    Worker(lib, on_job=ran, sources=settings).run_once()
    if mail is not None:
        report.digests = lib.follow.digest_run(*mail)
        step("digests", report.digests)
    report.seconds = round(time.monotonic() - started, 3)
    return report
