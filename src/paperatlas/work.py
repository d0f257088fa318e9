"""The indexer: what each kind of job does, over the library's services, and running one
claimed job.

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
from typing import Any

from .errors import InvalidOptionError, PaperatlasError
from .importer import Importer, IngestOptions
from .jobs import Claim, JobService, record_ingest
from .mapview import MapService
from .organize.service import TreeService
from .records.jobs import Job
from .records.papers import IngestReport
from .records.serialize import to_json
from .records.sources import SyncReport
from .search import IndexReport, SearchService
from .search.ray_embed import RayOptions
from .store import Store
from .vectors import VectorStore

log = logging.getLogger(__name__)

#: A job's progress: done of total (papers, bytes or trees, as the kind counts).
Progress = Callable[[int, int], None]
#: Follow-up jobs: kind and parameters.
FollowUps = list[tuple[str, dict[str, Any]]]
#: Syncs the named sources (all with none), as ``lib.sources.sync`` does with the runner's
#: settings: what a ``sync`` job calls (given by the runner above the facade, the worker).
SyncRun = Callable[[list[str]], list[SyncReport]]
#: Seconds between a job's progress writes, and between heartbeats of a running job.
PROGRESS_EVERY = 1.0
HEARTBEAT_EVERY = 10.0


@dataclass
class Outcome:
    """How a job's work ended: the value for the caller, and the follow-up jobs."""

    value: Any = None
    follow: FollowUps = field(default_factory=list)


# -- the work of each kind --------------------------------------------------------------------
def map_follows(store: Store) -> FollowUps:
    """A map placement when there is a map, after the trees changed: it places new papers
    and colours the map by the trees as they are now, so no server has to (seconds at
    millions of papers)."""
    return [("map_place", {})] if store.maps.state() is not None else []


def after_ingest(report: IngestReport) -> FollowUps:
    """An index of the collections that got papers, if any did."""
    touched = sorted({f.collection for f in report.files if f.collection and
                      (f.added or f.merged)})
    return [("index", {"collections": touched})] if report.added or report.merged else []


class Indexer:
    """Index sync, embedding, the ANN index, the token cache, tree updates and map
    placement, as jobs: run by the worker (:meth:`run_claimed`) or here, in the foreground
    (:meth:`foreground`, :meth:`index`). Built from the services it drives, never from the
    library."""

    def __init__(self, store: Store, jobs: JobService, search: SearchService,
                 trees: TreeService, vectors: VectorStore, *,
                 sync: SyncRun | None = None) -> None:
        self.store = store
        self.jobs = jobs
        self.search = search
        self.trees = trees
        self.vectors = vectors
        #: What a ``sync`` job runs; the worker sets it (with the settings it was given).
        self.sync = sync

    # -- the steps ----------------------------------------------------------------------
    def index_now(self, *, embed: bool = True, switch_model: bool = False,
                  progress: Progress | None = None, wait: float | None = None,
                  ray: RayOptions | None = None, sentences: bool = True) -> IndexReport:
        """Bring the search index, the token cache that tree builds read and (with an
        embedding model) the vectors, the ANN index and (with ``sentences``) the
        abstracts' sentences up to date (resumable); ``ray`` embeds on a Ray cluster."""
        service = self.search
        report = service.sync(progress, wait=wait)
        self.trees.sync_tokens()
        if embed and service.semantic_enabled:
            vectors = service.embed(switch_model=switch_model, progress=progress, ray=ray)
            report = dataclasses.replace(report, embedding=vectors,
                                         ann=service.update_ann(rebuild=switch_model))
            if sentences:
                report = dataclasses.replace(report,
                                             sentences=service.split_sentences(progress))
        return report

    def after_index(self, job: Job, report: IndexReport) -> FollowUps:
        """A tree update (when trees exist; it places the papers on the map after) or a map
        placement (when a map exists), after an index that changed something (or that was
        taken again: its first run may have)."""
        embedded = report.embedding.embedded if report.embedding else 0
        if not (report.updated or report.removed or embedded or job.attempts > 1):
            return []
        collections = job.params.get("collections")
        if self._trees_of(collections):
            return [("tree_update", {"collections": collections})]
        return map_follows(self.store)

    def update_trees(self, collections: list[str] | None,
                     progress: Progress | None = None) -> dict[str, Any]:
        """Place new papers in every tree of the given collections (every tree with None;
        a tree of the whole library always)."""
        names = self._trees_of(collections)
        done: dict[str, Any] = {}
        for i, name in enumerate(names):
            report = self.trees.update(name)
            done[name] = {"added": len(report.added), "removed": report.removed,
                          "unsorted": report.unsorted}
            if progress is not None:
                progress(i + 1, len(names))
        return {"trees": done}

    def _trees_of(self, collections: list[str] | None) -> list[str]:
        """The trees that papers of ``collections`` (None: any) may join."""
        return [t.name for t in self.store.trees.all() if collections is None or
                t.collection is None or t.collection in collections]

    def place_on_map(self) -> dict[str, Any]:
        """Place the papers new since the map was fitted (nothing before the first build)."""
        maps = MapService(self.store, self.vectors)
        if maps.info() is None:
            return {"placed": 0, "note": "no map yet (paperatlas map build)"}
        return to_json(maps.build())

    # -- each kind's work ------------------------------------------------------------------
    def work(self, job: Job, progress: Progress) -> Outcome:
        """Do a job of any kind: fill its result and say what follows."""
        kinds: dict[str, Callable[[Job, Progress], Outcome]] = {
            "sync": self._sync, "ingest": self._ingest, "index": self._index,
            "tree_update": self._tree_update, "map_place": self._map_place}
        if job.kind not in kinds:
            raise InvalidOptionError("job kind", job.kind, list(kinds))
        return kinds[job.kind](job, progress)

    def _sync(self, job: Job, progress: Progress) -> Outcome:
        """Fetch the named sources' new pages (their index job is queued by the sync);
        the job fails, naming each, when a source stopped on an error."""
        if self.sync is None:
            raise PaperatlasError("this process runs no sync jobs: `paperatlas worker` "
                                  "(or serve's worker) does")
        names = [str(n) for n in job.params.get("sources") or []]
        reports = self.sync(names)
        job.result = {"sources": [{k: v for k, v in to_json(r).items() if k != "rejections"}
                                  for r in reports]}
        job.errors = [{"source": r.source, "file": f"source {r.source}", "line": None,
                       "entry": None, "reason": r.error} for r in reports if r.error]
        if job.errors:
            job.status = "failed"
            job.message = "; ".join(f"{e['source']}: {e['reason']}" for e in job.errors)
        progress(len(reports), len(reports))
        return Outcome(reports)

    def _ingest(self, job: Job, progress: Progress) -> Outcome:
        payload = self.jobs.payload(job.id)
        path, upload = payload.get("path"), payload.get("upload")
        if isinstance(upload, str):  # kept beside the library: where it is now
            path = str(self.store.path.with_name(self.store.path.name + ".uploads") / upload)
        if not isinstance(path, str):
            raise PaperatlasError(f"job {job.id} has no file to ingest")
        p = job.params

        def on_bytes(_: str, done: int, total: int) -> None:
            progress(done, total)

        report = Importer(self.store).ingest(
            [path], IngestOptions(collection=p.get("collection"), format=p.get("format")),
            on_bytes)
        record_ingest(job, report)
        return Outcome(report, after_ingest(report))

    def _index(self, job: Job, progress: Progress) -> Outcome:
        report = self.index_now(embed=bool(job.params.get("embed", True)), progress=progress,
                                sentences=bool(job.params.get("sentences", True)))
        job.result = to_json(report)
        return Outcome(report, self.after_index(job, report))

    def _tree_update(self, job: Job, progress: Progress) -> Outcome:
        job.result = self.update_trees(job.params.get("collections"), progress)
        return Outcome(job.result, map_follows(self.store))

    def _map_place(self, job: Job, progress: Progress) -> Outcome:
        job.result = self.place_on_map()
        progress(1, 1)
        return Outcome(job.result)

    # -- running jobs ------------------------------------------------------------------------
    def run_claimed(self, claim: Claim, work: Callable[[Job, Progress], Outcome] | None = None,
                    *, progress: Progress | None = None,
                    heartbeat: float = HEARTBEAT_EVERY) -> Outcome:
        """Run a claimed job (its kind's work, or ``work``); see :func:`run_claimed`."""
        return run_claimed(self.jobs, claim, work or self.work, progress=progress,
                           heartbeat=heartbeat)

    def foreground(self, kind: str, params: dict[str, Any],
                   work: Callable[[Job, Progress], Outcome], *,
                   progress: Progress | None = None, wait: float | None = None,
                   take_queued: bool = True) -> Any:
        """Run a job of ``kind`` in this process (recorded like a worker's, so ``/api/jobs``
        shows it), taking over the queued one of a coalesced kind with ``take_queued``;
        returns its work's value."""
        claim = self.jobs.start_foreground(kind, params, wait=wait, take_queued=take_queued)
        return run_claimed(self.jobs, claim, work, progress=progress).value

    def index(self, *, embed: bool = True, switch_model: bool = False,
              progress: Progress | None = None, wait: float | None = None,
              ray: RayOptions | None = None, sentences: bool = True) -> IndexReport:
        """An ``index`` job run here (the queued one, if any); see :meth:`index_now`."""
        def run(job: Job, report_progress: Progress) -> Outcome:
            report = self.index_now(embed=embed, switch_model=switch_model,
                                    progress=report_progress, wait=wait, ray=ray,
                                    sentences=sentences)
            job.result = to_json(report)
            return Outcome(report, self.after_index(job, report))

        value: IndexReport = self.foreground(
            "index", {"embed": embed, "collections": None}, run, progress=progress, wait=wait)
        return value


# -- running one claimed job --------------------------------------------------------------
def run_claimed(service: JobService, claim: Claim, work: Callable[[Job, Progress], Outcome],
                *, progress: Progress | None = None,
                heartbeat: float = HEARTBEAT_EVERY) -> Outcome:
    """Run a claimed job's ``work``, writing its progress and a heartbeat as it runs, then
    record its end and queue what follows (only if the job is still this claim's). A
    failure is recorded on the job and raised again; an interrupt (``KeyboardInterrupt``)
    puts the job back in the queue (if that cannot be written, it is taken again once this
    process is gone)."""
    job = dataclasses.replace(claim.job, result={}, errors=[], message=None)
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
    except BaseException:  # interrupted (Ctrl-C): queued again, for the next run to finish
        stop.set()
        beats.join(5)
        try:
            service.release(claim)
        except Exception:  # the library is busy or gone: taken again once we are gone
            log.warning("job %s: interrupted; it is taken again once this process is gone",
                        job.id)
        raise
    finally:
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
