"""Backup and restore of a ~100k-paper library, and searches of a server during a backup.

Usage (2 cores; wrap it in ``flock /work/scratch/heavy.lock``):

    .venv/bin/python bench/backup_bench.py [--scale 100000] [--clients 8] [--seconds 20]
        [--cache /tmp] [--out backup.json]

The library is bench/index_beside_server.py's (SciFact's papers repeated to ``--scale``,
with vectors, indexed: lexical index, serving file and ANN index), cached in ``--cache``
and copied before each run. Phases, each timed from outside (the CLI in a subprocess):

- ``backup``: ``paperatlas backup DEST`` of the idle library: wall time, the report's
  time, size and files, and how long the lexical index's writer was held;
- ``restore``: ``paperatlas --db NEW restore DEST``, then ``paperatlas --db NEW index``
  (what a restored library catches up on: nothing here) and a check that the restored
  library answers 20 searches exactly as the original;
- ``serving``: ``paperatlas serve --workers 1`` on the library; ``--clients`` closed-loop
  clients (lexical search pages and API, every 10th request the API in its default, hybrid
  mode) for ``--seconds`` (idle), then the same load while ``paperatlas backup`` runs
  (the window is the backup's run): p50/p99 of both, errors, and the backup's time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from index_beside_server import (
    SHARED,
    cli,
    cli_env,
    copy_library,
    free_port,
    load,
    loadavg,
    log,
    machine,
    paths,
    prepare,
    start_server,
    timed,
)
from paperatlas import Library


def run(*args: str) -> tuple[float, dict[str, Any]]:
    """A CLI command's wall time and its ``--json`` answer."""
    t0 = time.perf_counter()
    done = subprocess.run([*args, "--json"], capture_output=True, text=True, env=cli_env())
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{args[-2:]} failed: {done.stderr[-2000:]}")
    return round(wall, 2), json.loads(done.stdout)


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def same_answers(a: Path, b: Path, queries: list[str]) -> bool:
    with Library(a, embedding_model=None) as one, Library(b, embedding_model=None) as two:
        return all([h.key for h in one.search(q, mode="lexical").hits] ==
                   [h.key for h in two.search(q, mode="lexical").hits] for q in queries)


async def during_backup(base: str, asked: list[str], clients: int, timeout: float,
                        db: Path, dest: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The load for as long as ``paperatlas backup`` runs; its figures and the backup's."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *cli(db, "backup", str(dest), "--json"), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=cli_env())
    done: list[float] = []
    waiter = asyncio.ensure_future(proc.communicate())
    waiter.add_done_callback(lambda _: done.append(time.perf_counter()))
    result = await load(base, asked, clients, timeout, lambda: bool(done))
    out, err = await waiter
    if proc.returncode:
        raise SystemExit(f"backup beside the server failed: {err.decode()[-2000:]}")
    report = json.loads(out)
    report["wall_s"] = round(done[0] - started, 2)
    return result, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="the idle phase")
    parser.add_argument("--timeout", type=float, default=10.0, help="client timeout, s")
    parser.add_argument("--cache", type=Path, default=Path("/tmp"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    meta = machine()
    base_lib = args.cache / f"paperatlas-bench-beside-{args.scale}-v{meta['schema']}.db"
    papers = prepare(base_lib, args.scale, args.cache / "paperatlas-bench-beside-originals.npz")
    db = copy_library(base_lib, args.cache / "paperatlas-bench-backup-run.db")
    work = args.cache / "paperatlas-bench-backup"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    results: dict[str, Any] = {"meta": meta, "papers": papers, "load_start": loadavg(),
                               "library_bytes": size_of(db),
                               "index_bytes": size_of(db.with_name(db.name + ".index"))}

    wall, report = run(*cli(db, "backup", str(work / "b1")))
    results["backup"] = {"wall_s": wall, **report}
    log(f"backup: {wall} s, {report['bytes'] / 1e6:.0f} MB, index held "
        f"{report['index_held_seconds']} s")
    restored = work / "restored.db"
    wall, report = run(*cli(restored, "restore", str(work / "b1")))
    results["restore"] = {"wall_s": wall, **report}
    t0 = time.perf_counter()
    subprocess.run(cli(restored, "index"), check=True, env=cli_env(), capture_output=True)
    results["restore"]["index_after_s"] = round(time.perf_counter() - t0, 2)
    queries = [json.loads(x)["text"] for x in (SHARED / "queries-train.jsonl").open()]
    results["restore"]["same_answers_20"] = same_answers(db, restored, queries[:20])
    log(f"restore: {results['restore']}")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(db, port, work / "server.log")
    try:
        asyncio.run(load(base, paths(queries[-20:], 0), 1, 30, timed(5)))  # warm-up
        half = len(queries) // 2
        results["idle"] = asyncio.run(load(base, paths(queries[:half], 10), args.clients,
                                           args.timeout, timed(args.seconds)))
        log(f"idle: p50 {results['idle']['p50_ms']:.1f} ms")
        results["during"], results["backup_beside"] = asyncio.run(during_backup(
            base, paths(queries[half:], 10), args.clients, args.timeout, db, work / "b2"))
        log(f"during backup: p50 {results['during']['p50_ms']:.1f} ms, backup "
            f"{results['backup_beside']['wall_s']} s")
    finally:
        server.terminate()
        server.wait(30)
    for phase in ("idle", "during"):
        results[phase].pop("answers_each_second", None)
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
