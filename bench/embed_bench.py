"""Bulk embedding: the in-process path with and without batches in flight, and Ray.

Usage: .venv/bin/python bench/embed_bench.py [--docs 1000] [--no-ray]

Every run embeds the same first ``--docs`` SciFact papers (title + abstract) with the
default model (all-MiniLM-L6-v2, OpenVINO where installed) into a fresh copy of one
library whose lexical index is built, and prints papers/s as a Markdown table:

- in-process, sequential: today's loop before the pipelining (read, encode, write one
  batch after another), rebuilt here from the same pieces;
- in-process, pipelined: ``Library.index()`` (a batch is written while the next encodes);
- Ray, 1 and 2 actors (one CPU each) on a local cluster started once with the machine's
  CPUs: ``Library.index(ray=...)``, actor start and model load included (as a user waits
  for them), and the ratio of each to the pipelined in-process rate. The model is loaded
  (and converted) before every in-process timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

from paperatlas import Library  # noqa: E402
from paperatlas.search.ray_embed import RayOptions  # noqa: E402
from paperatlas.search.semantic import encode_pending, pending_papers  # noqa: E402
from paperatlas.store import utcnow  # noqa: E402
from paperatlas.vectors import STATE  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def sequential(lib: Library) -> int:
    """The embedding loop as it was: each batch read, encoded, then written (in order)."""
    store, vectors, embedder = lib.store, lib.vectors, lib.search.service.embedder
    seq, _ = store.search.state(STATE)
    embedded = 0
    while batch := store.search.changed_since(seq, 256):
        todo, _ = pending_papers(store, vectors, embedder.name, [pid for _, pid in batch])
        records = encode_pending(embedder, todo)
        seq = batch[-1][0]
        with store.transaction():
            vectors.upsert(embedder.name, records)
            store.search.set_state(STATE, seq, {"model": embedder.name}, utcnow())
        embedded += len(todo)
    return embedded


def timed_run(template: Path, folder: Path, how: str, ray: RayOptions | None = None
              ) -> tuple[int, float]:
    """Papers embedded and seconds, on a fresh copy of the unembedded library."""
    db = folder / f"{how}.db"
    shutil.copy(template, db)
    with Library(db) as lib:
        if ray is None:
            lib.search.service.embedder.encode(["warm up"] * 64)  # load outside the timing
        t0 = time.perf_counter()
        if how == "sequential":
            embedded = sequential(lib)
        else:
            report = lib.index(ray=ray).embedding
            assert report is not None
            embedded = report.embedded
        return embedded, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    docs = [json.loads(x) for x in (SHARED / "corpus.jsonl").open(encoding="utf-8")]
    docs = docs[:args.docs]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "corpus.jsonl"
        source.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
        template = folder / "template.db"
        with Library(template, embedding_model=None) as lib:
            lib.ingest([source])
            lib.index(embed=False)
        rows: list[tuple[str, int, float]] = []
        for how in ("sequential", "pipelined"):
            n, s = timed_run(template, folder, how)
            rows.append((f"in-process, {how}", n, s))
        if not args.no_ray:
            import ray

            ray.init(include_dashboard=False, log_to_driver=False, logging_level="warning")
            try:
                for actors in (1, 2):
                    n, s = timed_run(template, folder, f"ray{actors}",
                                     RayOptions(actors=actors))
                    rows.append((f"Ray, {actors} actor{'s' * (actors > 1)}", n, s))
            finally:
                ray.shutdown()
    base = rows[1][1] / rows[1][2]
    print(f"Bulk embedding, {len(docs)} SciFact papers, {datetime.now(UTC):%Y-%m-%d}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs\n")
    print("| path | papers | seconds | papers/s | vs in-process pipelined |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, n, s in rows:
        print(f"| {name} | {n} | {s:.1f} | {n / s:.1f} | {n / s / base:.2f} |")


if __name__ == "__main__":
    main()
