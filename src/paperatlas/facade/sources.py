"""``lib.sources``: the remote sources a library follows (the work is in ``sources/``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from ..errors import ConflictError, InvalidOptionError, NotFoundError
from ..jobs import JobService
from ..records.sources import SourceSpec, SourceState, SyncReport
from ..sources import (
    Http,
    SourceContext,
    SourceSettings,
    Syncer,
    SyncOptions,
    source_class,
)
from ..store import Store, utcnow

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EVERY = re.compile(r"^(\d+)\s*([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_every(text: str) -> int:
    """Seconds from ``90``, ``30m``, ``6h``, ``1d``, ``1w`` (at least a minute)."""
    m = _EVERY.match(text.strip().lower())
    if not m or int(m.group(1)) * _UNITS[m.group(2)] < 60:
        raise InvalidOptionError("every", text, ["a duration of a minute or more: 90m, 6h, "
                                                 "1d, 1w"])
    return int(m.group(1)) * _UNITS[m.group(2)]


class Sources:
    """Add, list, pause and sync sources: ``lib.sources.add(SourceSpec(...))``,
    ``lib.sources.sync()``, ``lib.sources["arxiv-cl"]``."""

    def __init__(self, store: Store, jobs: JobService, lock: Path | None) -> None:
        self.store = store
        self.jobs = jobs
        self.lock = lock
        #: Replaces the wall clock (tests, replays): the time a sync sees as now.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def add(self, spec: SourceSpec) -> SourceState:
        """Configure a source (its kind checks what it needs: a query, a category)."""
        if not _NAME.match(spec.name):
            raise InvalidOptionError("source name", spec.name, [
                "letters, digits, '.', '_' and '-', starting with a letter or digit, at "
                "most 64"])
        source_class(spec.kind).check(spec)
        if spec.since is not None:
            try:
                date.fromisoformat(spec.since)
            except ValueError:
                raise InvalidOptionError("since", spec.since, ["a date, YYYY-MM-DD"]) from None
        if spec.every_seconds < 60:
            raise InvalidOptionError("every", spec.every_seconds, ["60 seconds or more"])
        if spec.base_url is not None and not re.match(r"^https?://[^/\s]+", spec.base_url):
            raise InvalidOptionError("base URL", spec.base_url, ["http(s)://HOST[:PORT]"])
        with self.store.transaction():
            if self.store.sources.get(spec.name) is not None:
                raise ConflictError(f"a source named {spec.name!r} exists; remove it first "
                                    "or choose another name")
            self.store.sources.add(spec, utcnow())
        return self[spec.name]

    def __getitem__(self, name: str) -> SourceState:
        state = self.store.sources.get(name)
        if state is None:
            raise NotFoundError(f"no source named {name!r}; `paperatlas sources list` shows "
                                "them")
        return state

    def all(self) -> list[SourceState]:
        return self.store.sources.all()

    def remove(self, name: str) -> None:
        """Forget a source (its papers stay, with their provenance)."""
        with self.store.transaction():
            if not self.store.sources.remove(name):
                raise NotFoundError(f"no source named {name!r}")

    def pause(self, name: str, paused: bool = True) -> SourceState:
        with self.store.transaction():
            if not self.store.sources.set_paused(name, paused):
                raise NotFoundError(f"no source named {name!r}")
        return self[name]

    def sync(self, options: SyncOptions | None = None,
             settings: SourceSettings | None = None,
             progress: Callable[[SyncReport], None] | None = None) -> list[SyncReport]:
        """Fetch and store each chosen source's new pages (see ``sources/sync.py``); an
        ``index`` job is queued for the collections that got papers."""
        options = options or SyncOptions()
        settings = settings or SourceSettings()
        context = SourceContext(now=self.clock(), contact=settings.politeness.contact,
                                api_keys=settings.api_keys, first_days=settings.first_days)
        with Http(settings.politeness) as http:
            syncer = Syncer(self.store, http, context, lock=self.lock,
                            now=lambda: self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"))
            reports = syncer.run(options, progress)
        if not options.dry_run:
            touched = sorted({self[r.source].spec.collection or r.source for r in reports
                              if r.added or r.merged})
            if touched:
                self.jobs.enqueue("index", {"collections": touched})
        return reports
