"""What each kind of job does, over a library, and running one claimed job.

The worker (:mod:`paperatlas.worker`) and the CLI's foreground runs (``index``,
``ingest --index``, ``tree update``) call the same functions: a job's work, its result on
the job row, its progress written as it runs, and the jobs its end queues (an ingest that
added or merged papers queues an index; an index that changed anything queues a tree update
when trees exist and a map placement when a map exists). Every step is idempotent, so a
job taken again after its process died is simply run again.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import InvalidOptionError, PaperatlasError
from .importer import Importer, IngestOptions
from .jobs import Claim, record_ingest
from .mapview import MapService
from .records.jobs import Job
from .records.papers import IngestReport
from .records.serialize import to_json
from .search import IndexReport

if TYPE_CHECKING:
    from .library import Library

log = logging.getLogger(__name__)

T = TypeVar("T")
#: A job's progress: done of total (papers, bytes or trees, as the kind counts).
Progress = Callable[[int, int], None]
#: Follow-up jobs: kind and parameters.
FollowUps = list[tuple[str, dict[str, Any]]]
#: Seconds between a job's progress writes, and between heartbeats of a running job.
PROGRESS_EVERY = 1.0
HEARTBEAT_EVERY = 10.0


@dataclass
class Outcome:
    """How a job's work ended: the value for the caller, and the follow-up jobs."""

    value: Any = None
    follow: FollowUps = field(default_factory=list)


# -- the work of each kind --------------------------------------------------------------------
def index_now(lib: Library, *, embed: bool = True, switch_model: bool = False,
              progress: Progress | None = None, wait: float | None = None) -> IndexReport:
    """Bring the search index, the token cache that tree builds read and (with an embedding
    model) the vectors and the ANN index up to date (resumable, batch by batch)."""
    service = lib.search_service
    report = service.sync(progress, wait=wait)
    lib.tree_service.sync_tokens()
    if embed and service.semantic_enabled:
        vectors = service.embed(switch_model=switch_model, progress=progress)
        report = dataclasses.replace(report, embedding=vectors,
                                     ann=service.update_ann(rebuild=switch_model))
    return report


def after_ingest(report: IngestReport) -> FollowUps:
    """An index of the collections that got papers, if any did."""
    touched = sorted({f.collection for f in report.files if f.collection and
                      (f.added or f.merged)})
    return [("index", {"collections": touched})] if report.added or report.merged else []


def after_index(lib: Library, job: Job, report: IndexReport) -> FollowUps:
    """A tree update (when trees exist) and a map placement (when a map exists), after an
    index that changed something (or that was taken again: its first run may have)."""
    embedded = report.embedding.embedded if report.embedding else 0
    if not (report.updated or report.removed or embedded or job.attempts > 1):
        return []
    follow: FollowUps = []
    collections = job.params.get("collections")
    if _trees_of(lib, collections):
        follow.append(("tree_update", {"collections": collections}))
    if lib.store.maps.state() is not None:
        follow.append(("map_place", {}))
    return follow


def update_trees(lib: Library, collections: list[str] | None,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Place new papers in every tree of the given collections (every tree with None; a
    tree of the whole library always)."""
    names = _trees_of(lib, collections)
    done: dict[str, Any] = {}
    for i, name in enumerate(names):
        report = lib.tree_service.update(name)
        done[name] = {"added": len(report.added), "removed": report.removed,
                      "unsorted": report.unsorted}
        if progress is not None:
            progress(i + 1, len(names))
    return {"trees": done}


def _trees_of(lib: Library, collections: list[str] | None) -> list[str]:
    """The trees that papers of ``collections`` (None: any) may join."""
    return [t.name for t in lib.store.trees.all() if collections is None or
            t.collection is None or t.collection in collections]


def place_on_map(lib: Library) -> dict[str, Any]:
    """Place the papers new since the map was fitted (nothing before the first build)."""
    maps = MapService(lib.store, lib.vectors)
    if maps.info() is None:
        return {"placed": 0, "note": "no map yet (paperatlas map build)"}
    return to_json(maps.build())


def _ingest(lib: Library, job: Job, progress: Progress) -> Outcome:
    path = lib.job_service.payload(job.id).get("path")
    if not isinstance(path, str):
        raise PaperatlasError(f"job {job.id} has no file to ingest")
    p = job.params

    def on_bytes(_: str, done: int, total: int) -> None:
        progress(done, total)

    report = Importer(lib.store).ingest(
        [path], IngestOptions(collection=p.get("collection"), format=p.get("format")), on_bytes)
    record_ingest(job, report)
    return Outcome(report, after_ingest(report))


def _index(lib: Library, job: Job, progress: Progress) -> Outcome:
    report = index_now(lib, embed=bool(job.params.get("embed", True)), progress=progress)
    job.result = to_json(report)
    return Outcome(report, after_index(lib, job, report))


def _tree_update(lib: Library, job: Job, progress: Progress) -> Outcome:
    job.result = update_trees(lib, job.params.get("collections"), progress)
    return Outcome(job.result)


def _map_place(lib: Library, job: Job, progress: Progress) -> Outcome:
    job.result = place_on_map(lib)
    progress(1, 1)
    return Outcome(job.result)


#: The work of each job kind: it fills the job's result and says what follows.
WORK: dict[str, Callable[[Library, Job, Progress], Outcome]] = {
    "ingest": _ingest, "index": _index, "tree_update": _tree_update, "map_place": _map_place}


# -- running one claimed job --------------------------------------------------------------
def run_claimed(lib: Library, claim: Claim,
                work: Callable[[Job, Progress], Outcome] | None = None, *,
                progress: Progress | None = None, heartbeat: float = HEARTBEAT_EVERY) -> Outcome:
    """Run a claimed job (its kind's :data:`WORK`, or ``work``), writing its progress and
    a heartbeat as it runs, then record its end and queue what follows (only if the job is
    still this claim's). A failure is recorded on the job and raised again; an interrupt
    (``KeyboardInterrupt``) leaves the job running, to be taken again when this process is
    gone."""
    job = dataclasses.replace(claim.job, result={}, errors=[], message=None)
    if work is None:
        if job.kind not in WORK:
            raise InvalidOptionError("job kind", job.kind, list(WORK))
        kind_work = WORK[job.kind]
        work = lambda j, p: kind_work(lib, j, p)  # noqa: E731
    service = lib.job_service
    last = 0.0

    def on_progress(done: int, total: int) -> None:
        nonlocal last
        job.done, job.total = done, total
        if progress is not None:
            progress(done, total)
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY:
            last = now
            service.beat(claim, done, total)

    stop = threading.Event()
    beats = threading.Thread(target=_beat, args=(service, claim, stop, heartbeat),
                             name=f"job-{job.id}-heartbeat", daemon=True)
    beats.start()
    try:
        outcome = work(job, on_progress)
    except Exception as exc:
        job.status = "failed"
        job.message = (str(exc) if isinstance(exc, PaperatlasError)
                       else f"unexpected error: {type(exc).__name__}: {exc}")
        if not isinstance(exc, PaperatlasError):
            log.exception("job %s failed", job.id)
        stop.set()
        beats.join(5)
        service.finish(claim, job)
        raise
    finally:  # interrupted (Ctrl-C): the job stays running, taken again once we are gone
        stop.set()
    if job.status == "running":
        job.status = "done"
    if job.total and job.status == "done":
        job.done = job.total
    service.finish(claim, job, outcome.follow)
    return outcome


def _beat(service: Any, claim: Claim, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        service.beat(claim)


def run_foreground(lib: Library, kind: str, params: dict[str, Any],
                   work: Callable[[Job, Progress], Outcome], *,
                   progress: Progress | None = None, wait: float | None = None,
                   take_queued: bool = True) -> Any:
    """Run a job of ``kind`` in this process (recorded like a worker's, so ``/api/jobs``
    shows it), taking over the queued one of a coalesced kind with ``take_queued``;
    returns its work's value."""
    claim = lib.job_service.start_foreground(kind, params, wait=wait, take_queued=take_queued)
    return run_claimed(lib, claim, work, progress=progress).value
