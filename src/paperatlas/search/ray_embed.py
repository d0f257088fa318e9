"""Bulk embedding on a Ray cluster: Ray Data ``map_batches`` on a pool of actors.

This process (the driver) reads the papers whose vectors are missing or were made from
another text, a wave at a time, and hands them to Ray as a Dataset of (paper id, text
hash, text, title); each actor loads the library's encoder once and encodes blocks with
:func:`~.semantic.encode_pending`, exactly what the in-process path runs. The driver writes
the vectors back as they come, one transaction per batch, so a run that is killed loses
only the batches in flight: the next run embeds just what is still missing. The change-log
position then moves with :func:`~.semantic.embed_changes`, which finds those papers up to
date and encodes only what changed meanwhile. Ray is imported only here, on use.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bounds import check_range
from ..embed import Embedder
from ..embed.sbert import SentenceTransformerEmbedder
from ..errors import OutOfRangeError, PreconditionError
from ..store import Store
from ..vectors import STATE, VectorRecord, VectorStore
from .semantic import (
    EmbedReport,
    Pending,
    embed_changes,
    encode_pending,
    pending_papers,
    reset_model,
)

#: What to install for ``--ray``.
INSTALL = "pip install 'paperatlas[ray]' (Ray Data: 'ray[data]>=2.9')"


@dataclass(frozen=True)
class RayOptions:
    """Where and how to embed on Ray: ``address`` of a running cluster (``"local"``: start
    one here, for this run), ``actors`` (None: as many as the cluster's CPUs allow),
    ``cpus`` per actor, ``batch`` papers per block and per write, ``wave`` papers read and
    handed to Ray at a time (bounds this process's memory)."""

    address: str = "local"
    actors: int | None = None
    cpus: int = 1
    batch: int = 256
    wave: int = 50_000

    def __post_init__(self) -> None:
        if self.actors is not None:
            check_range("ray actors", self.actors, 1, 4096)
        check_range("cpus per actor", self.cpus, 1, 1024)
        check_range("ray batch", self.batch, 1, 100_000)
        if self.wave < self.batch:
            raise OutOfRangeError("ray wave", self.wave, self.batch, 10**9)


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`PreconditionError` saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise PreconditionError(f"embedding on Ray needs Ray: {INSTALL}") from exc


def embed_on_ray(store: Store, vectors: VectorStore, embedder: Embedder, options: RayOptions,
                 *, switch_model: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> EmbedReport:
    """Embed every new or changed paper on Ray (see the module), then move the embedding
    job's change-log position; ``embedded`` counts the papers encoded by this run."""
    ray = import_ray()
    if switch_model:
        reset_model(store, vectors, embedder.name)
    vectors.check_model(embedder.name)
    seq, _ = store.search.state(STATE)
    total = store.search.pending(seq)
    started = not ray.is_initialized()
    if started:
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
    written = done = 0
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        while batch := store.search.changed_since(seq, options.wave):
            todo, same = pending_papers(store, vectors, embedder.name,
                                        [pid for _, pid in batch])
            seq, done = batch[-1][0], done + same
            for records in _encoded(ray, embedder, todo, options):
                with store.transaction():
                    vectors.upsert(embedder.name, records)
                written, done = written + len(records), done + len(records)
                if progress is not None:
                    progress(done, total)
            done += len(batch) - same - len(todo)  # deleted papers
    finally:
        if started:
            ray.shutdown()
    final = embed_changes(store, vectors, embedder)
    return EmbedReport(written + final.embedded, max(final.unchanged - written, 0),
                       embedder.name, final.vectors)


def _encoded(ray: Any, embedder: Embedder, todo: Sequence[Pending],
             options: RayOptions) -> Iterator[list[VectorRecord]]:
    """The vectors of ``todo``, encoded on the cluster, in batches as they are done."""
    if not todo:
        return
    items = [{"id": t.paper_id, "digest": t.digest, "text": t.text, "title": t.title or ""}
             for t in todo]
    actors = options.actors or max(1, int(ray.cluster_resources().get("CPU", 1))
                                   // options.cpus)
    encoded = ray.data.from_items(items).map_batches(
        Encoder, fn_constructor_args=(embedder, options.cpus), batch_size=options.batch,
        batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=options.cpus)
    for batch in encoded.iter_batches(batch_size=options.batch, batch_format="numpy"):
        yield _records(batch)


class Encoder:
    """A Ray actor: the library's encoder, loaded once, turning blocks of papers into
    their vectors (a title vector of zeros stands for none)."""

    def __init__(self, embedder: Embedder, cpus: int) -> None:
        if isinstance(embedder, SentenceTransformerEmbedder) and embedder.threads is None:
            embedder.threads = cpus  # OpenVINO would take every core of the machine
        self.embedder = embedder

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        todo = [Pending(int(p), str(d), str(t), str(title) or None) for p, d, t, title in
                zip(batch["id"], batch["digest"], batch["text"], batch["title"], strict=True)]
        records = encode_pending(self.embedder, todo)
        matrix = np.vstack([r.vector for r in records]).astype(np.float32)
        titles = np.vstack([np.zeros_like(matrix[i]) if r.title_vector is None
                            else r.title_vector for i, r in enumerate(records)])
        return {"id": np.array([r.paper_id for r in records], dtype=np.int64),
                "digest": np.array([r.text_hash for r in records]),
                "vector": matrix, "title_vector": titles.astype(np.float32)}


def _records(batch: dict[str, np.ndarray]) -> list[VectorRecord]:
    """What :class:`Encoder` returned, as records to upsert."""
    return [VectorRecord(int(pid), vector, title if title.any() else None, str(digest))
            for pid, digest, vector, title in zip(
                batch["id"], batch["digest"], batch["vector"], batch["title_vector"],
                strict=True)]
