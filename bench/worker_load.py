"""Hybrid searches of a running server, idle and while its job worker ingests and indexes an
upload of 5,000 records (issue 16).

Usage (2 cores; the library is cached in /tmp and reused):

    .venv/bin/python bench/worker_load.py [--scale 100000] [--clients 20] [--workers 2]
        [--seconds 30] [--out worker_load.json]

The library: SciFact's 5,183 papers repeated to ``--scale`` with copied, noised vectors
(bench/index_beside_server.py's ``prepare``, the same cache). The server is
``paperatlas serve --workers N`` in a subprocess on loopback, which starts its one job
worker (the command a user runs). The load: ``--clients`` closed-loop asyncio + httpx
clients ask ``/api/search?q=...`` with no mode (hybrid, the default with vectors), each
phase with its own SciFact train queries.

Phases: idle for ``--seconds``; then "upload": the new records (CSFCube papers and SciFact
abstracts under new titles, ``write_new``) are POSTed to ``/api/uploads`` with an API
token, and the same load runs until the jobs it queued (ingest, then index with embedding;
a tree update and a map placement when the library has them) are all finished (at least
``--seconds``, at most ``--max-seconds``). Goal: p99 while the worker works <= 2x idle, no
errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import index_beside_server as ibs
from paperatlas import Library


def hybrid_paths(queries: list[str]) -> list[str]:
    from urllib.parse import urlencode

    return ["/api/search?" + urlencode({"q": q}) for q in queries]


def jobs_left(db: Path) -> int:
    """Jobs queued or running (read straight from the library, as the worker leaves them)."""
    with Library(db, embedding_model=None) as lib:
        return len(lib.jobs.unfinished())


async def during_upload(args: argparse.Namespace, base: str, asked: list[str], new: Path,
                        token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The load from the upload until its jobs are done; the load's figures and the jobs'."""
    import httpx

    started = time.monotonic()
    with new.open("rb") as fh:
        answer = httpx.post(f"{base}/api/uploads", files={"file": (new.name, fh)},
                            headers={"Authorization": f"Bearer {token}"}, timeout=60)
    answer.raise_for_status()
    upload = {"status": answer.status_code, "answer_s": round(time.monotonic() - started, 2),
              "job": answer.json()["job"]["id"]}
    state = {"left": 1, "checked": 0.0}

    def done() -> bool:
        now = time.monotonic()
        if now - state["checked"] >= 2:
            state["checked"] = now
            state["left"] = jobs_left(args.db)
            if state["left"] == 0 and "jobs_s" not in upload:
                upload["jobs_s"] = round(now - started, 1)
        waited = now - started
        return waited >= args.max_seconds or (waited >= args.seconds and state["left"] == 0)

    result = await ibs.load(base, asked, args.clients, args.timeout, done)
    with Library(args.db, embedding_model=None) as lib:
        upload["jobs"] = [{"kind": j.kind, "status": j.status, "started": j.started_at,
                           "finished": j.finished_at, "message": j.message}
                          for j in lib.jobs.recent(10) if j.id >= upload["job"]]
    return result, upload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--cache", type=Path, default=Path("/tmp"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    meta = ibs.machine()
    base_lib = args.cache / f"paperatlas-bench-beside-{args.scale}-v{meta['schema']}.db"
    papers = ibs.prepare(base_lib, args.scale,
                         args.cache / "paperatlas-bench-beside-originals.npz")
    args.db = ibs.copy_library(base_lib, args.cache / "paperatlas-bench-worker-run.db")
    with Library(args.db, embedding_model=None) as lib:
        lib.people.add("bench", "bench-password-1234")
        token = lib.people.token_create("bench", "worker_load").token
    new_file = args.cache / "paperatlas-bench-worker-new.jsonl"
    ibs.write_new(new_file, args.new)
    queries = [json.loads(x)["text"] for x in (ibs.SHARED / "queries-train.jsonl").open()]
    half = len(queries) // 2
    results: dict[str, Any] = {"meta": meta, "papers": papers, "new": args.new,
                               "clients": args.clients, "workers": args.workers}
    port = ibs.free_port()
    base = f"http://127.0.0.1:{port}"
    server = ibs.start_server(args.db, port, args.cache / "paperatlas-bench-worker.log",
                              args.workers)
    try:
        # warm-up: enough clients that every server process loads its vectors first
        asyncio.run(ibs.load(base, hybrid_paths(queries[-20:]), 4 * args.workers, 60,
                             ibs.timed(15)))
        results["idle"] = asyncio.run(ibs.load(base, hybrid_paths(queries[:half]), args.clients,
                                               args.timeout, ibs.timed(args.seconds)))
        ibs.log(f"idle: {results['idle']['p50_ms']:.0f}/{results['idle']['p99_ms']:.0f} ms")
        results["upload"], results["jobs"] = asyncio.run(during_upload(
            args, base, hybrid_paths(queries[half:-20]), new_file, token))
        ibs.log(f"upload: {results['upload']['p50_ms']:.0f}/"
                f"{results['upload']['p99_ms']:.0f} ms; {results['jobs']}")
    finally:
        server.terminate()
        server.wait(timeout=60)
    idle, up = results["idle"], results["upload"]
    results["p99_ratio"] = up["p99_ms"] / idle["p99_ms"] if idle["p99_ms"] else None
    print(f"{meta['date']}, {meta['cpu']}, {meta['cores']} cores; {papers:,} papers, "
          f"{args.workers} server workers + 1 job worker, {args.clients} clients, hybrid")
    print("| phase | seconds | answered | req/s | p50 ms | p99 ms | errors | timeouts |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in (("idle", idle), ("upload of 5,000 records", up)):
        print(f"| {name} | {r['seconds']} | {r['answered']} | {r['per_second']:.1f} | "
              f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['errors']} | {r['timeouts']} |")
    print(f"p99 ratio (upload / idle): {results['p99_ratio']:.2f}; jobs: {results['jobs']}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
