"""Searches of a running server while `ingest --index` adds 5,000 papers beside it.

Usage (2 cores; run it with the code to measure importable as ``paperatlas``):

    .venv/bin/python bench/index_beside_server.py [--scale 30000] [--clients 20]
        [--seconds 30] [--timeout 10] [--quiet-below 1.0] [--out beside.json]

    # the same bench against another checkout's code, e.g. the one before issue 15:
    git worktree add /tmp/pa-old c8f4fc2
    PYTHONPATH=/tmp/pa-old/src .venv/bin/python bench/index_beside_server.py ...

The library: SciFact's 5,183 papers repeated to ``--scale`` with numbered title suffixes,
each copy carrying its original's vectors nudged by a little noise
(bench/search_latency.py's method), cached in /tmp under a name that carries the schema
version of the code that built it (a newer version migrates a library on open, which an
older one can then no longer read), so each code version gets its own. The originals'
vectors are embedded once and kept beside the caches (an ``.npz``), so a second code
version's library needs no embedding either. The new records: CSFCube's CS papers
(distinct titles; 4,192) and, to make up ``--new``, SciFact abstracts under a new title
("... (new)"): real texts. Dedup merges most of the latter into the library's SciFact
papers (same abstract, near-same title), so 5,000 records add 4,206 papers and merge 794
(an ingest with some duplicates); ``ingest --index`` indexes and embeds the new ones.

The server is ``paperatlas --db LIB serve --workers 1`` in a subprocess on a free loopback
port (stderr says which ``paperatlas`` it imported). The load: ``--clients`` closed-loop
clients (asyncio + httpx in this process, no think time, client timeout ``--timeout``)
cycle through SciFact train queries as the lexical search page
(``/search?q=...&mode=lexical``), the lexical API (``/api/search?q=...&mode=lexical``) and,
every ``--default-every``-th request, the API in its default mode (hybrid once papers have
vectors), as a browser or script that names no mode asks. Phases:

- idle: the load for ``--seconds``;
- beside: the same load from the start of ``paperatlas --db LIB ingest --index NEW`` in a
  subprocess until ``--seconds`` have passed and the ingest has exited (at most
  ``--max-seconds``); recorded with it: the ingest's exit code, wall time, whether its
  stderr holds a traceback or ``LockBusy``;
- after: one default-mode (hybrid) ``/api/search`` for a new paper's title (timeout ``--catch-up``
  seconds): whether a new paper is found, the ``pending`` count the answer gives (absent
  in code before issue 15), and the seconds from the ingest's start until that answer.

Before the server starts the bench waits (up to ``--quiet-wait`` seconds, polling every
30 s) until the 1-minute load average is below ``--quiet-below``; it records the load
averages at each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np

import paperatlas
from paperatlas import Library
from paperatlas.store.migrations import MIGRATIONS
from search_latency import SHARED, copy_vectors, write_corpus

CSFCUBE = SHARED.parent / "csfcube" / "corpus.jsonl"
#: Starts the CLI of the ``paperatlas`` this bench imported and says which one it is.
LAUNCH = ("import sys, paperatlas; print('paperatlas from', paperatlas.__file__, "
          "file=sys.stderr, flush=True); from paperatlas.cli import main; "
          "sys.argv[0] = 'paperatlas'; main()")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cli_env(src: Path | None = None) -> dict[str, str]:
    """The environment that makes a subprocess import the same code as this bench (or the
    ``paperatlas`` under ``src``, another checkout's ``src`` folder)."""
    path = str(src or Path(paperatlas.__file__).resolve().parent.parent)
    return {**os.environ, "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": os.pathsep.join([path, *filter(None, [os.environ.get("PYTHONPATH")])])}


def cli(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCH, "--db", str(db), *args]


# -- the library and the new papers -----------------------------------------------------
def _originals(lib: Library, docs: list[dict[str, str]], saved: Path) -> None:
    """Give the originals (keys ``ID-0``) vectors: those saved in ``saved``, else embed
    them (``lib.index()``) and save them there for the next build."""
    store = lib.store
    by_key = {p.key: p for p in lib.papers()}
    ids = [by_key[f"{d['_id']}-0"].id for d in docs]
    if saved.exists():
        from paperatlas.embed.base import paper_text
        from paperatlas.search.semantic import text_hash
        from paperatlas.vectors import VectorRecord

        with np.load(saved) as data:  # each data[...] reads the whole array again
            model, vectors, titles = str(data["model"]), data["paper"], data["title"]
        rows = []
        for i, (pid, d) in enumerate(zip(ids, docs, strict=True)):
            paper = by_key[f"{d['_id']}-0"]
            rows.append(VectorRecord(pid, vectors[i], titles[i],
                                     text_hash(paper_text(paper.title, paper.abstract))))
        with store.transaction():
            lib.vectors.upsert(model, rows)
        return
    lib.index()
    vectors = lib.vectors.get(ids)
    blobs = dict(store.conn.execute("SELECT paper_id, title_vector FROM embeddings").fetchall())
    np.savez(saved, model=lib.vectors.models()[0],
             paper=np.stack([vectors[pid] for pid in ids]).astype(np.float32),
             title=np.stack([np.frombuffer(blobs[pid], dtype=np.float16) for pid in ids]))


def prepare(cache: Path, scale: int, saved: Path) -> int:
    """The cached library's paper count (building it first when missing or another size);
    every paper indexed and embedded."""
    docs = [json.loads(x) for x in (SHARED / "corpus.jsonl").open(encoding="utf-8")]
    copies = max(1, round(scale / len(docs)))
    done = cache.with_name(cache.name + ".built")  # written last: a killed build is redone
    if done.exists() and int(done.read_text()) == copies * len(docs):
        return copies * len(docs)
    for path in cache.parent.glob(cache.name + "*"):
        subprocess.run(["rm", "-rf", str(path)], check=True)
    t0 = time.perf_counter()
    with Library(cache) as lib:
        work = cache.with_name(cache.name + ".corpus")
        work.mkdir(exist_ok=True)
        first, every = work / "first.jsonl", work / "all.jsonl"
        write_corpus(first, docs, 1)
        lib.ingest([first])
        _originals(lib, docs, saved)
        write_corpus(every, docs, copies)
        lib.ingest([every])
        copy_vectors(lib, docs)
        report = lib.index()
        embedded = report.embedding.embedded if report.embedding else 0
        papers = int(lib.stats().papers)
    done.write_text(str(papers))
    log(f"built {papers} papers in {time.perf_counter() - t0:.0f} s at {cache} (embedded "
        f"{embedded} in the last index)")
    return papers


def copy_library(cache: Path, db: Path) -> Path:
    """A fresh copy of the cached library (file, index folder) at ``db``, to change."""
    for path in db.parent.glob(db.name + "*"):
        subprocess.run(["rm", "-rf", str(path)], check=True)
    for path in cache.parent.glob(cache.name + "*"):
        if not path.name.endswith((".corpus", ".built")):
            subprocess.run(["cp", "-a", str(path), str(db) + path.name[len(cache.name):]],
                           check=True)
    return db


def write_new(path: Path, count: int) -> list[dict[str, str]]:
    """``count`` records the library does not hold: CSFCube's papers of distinct titles,
    then SciFact abstracts under new titles."""
    records, titles = [], set()
    for line in CSFCUBE.open(encoding="utf-8"):
        d = json.loads(line)
        if d["title"].strip() and d["title"].lower() not in titles:
            titles.add(d["title"].lower())
            records.append({"_id": f"new-cs-{d['_id']}", "title": d["title"], "text": d["text"]})
    for line in (SHARED / "corpus.jsonl").open(encoding="utf-8"):
        d = json.loads(line)
        records.append({"_id": f"new-sf-{d['_id']}", "title": f"{d['title']} (new)",
                        "text": d["text"]})
    records = records[:count]
    with path.open("w", encoding="utf-8") as out:
        for r in records:
            out.write(json.dumps(r) + "\n")
    return records


# -- the machine ------------------------------------------------------------------------
def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def wait_quiet(below: float, bound: float) -> dict[str, Any]:
    """Wait (polling every 30 s, at most ``bound`` seconds) for a 1-minute load average
    below ``below``; the load averages seen."""
    t0 = time.monotonic()
    while (load := loadavg())[0] >= below and time.monotonic() - t0 < bound:
        log(f"load average {load}: waiting for < {below}")
        time.sleep(30)
    return {"load": load, "waited_s": round(time.monotonic() - t0), "quiet": load[0] < below}


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "cpu": model,
            "cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "python": platform.python_version(), "paperatlas": paperatlas.__file__,
            "schema": len(MIGRATIONS)}


# -- the server and the load ------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db: Path, port: int, log_path: Path, workers: int = 1,
                 src: Path | None = None) -> subprocess.Popen[bytes]:
    """``serve --workers N`` (which starts its job worker) once it answers; the code under
    ``src`` if given (:func:`cli_env`)."""
    import httpx

    with log_path.open("wb") as err:
        proc = subprocess.Popen(cli(db, "serve", "--port", str(port), "--workers", str(workers)),
                                stdout=subprocess.DEVNULL, stderr=err, env=cli_env(src))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not answer within 180 s")


def paths(queries: list[str], default_every: int) -> list[str]:
    """The requests' paths in order: lexical page, lexical API, ..., and every
    ``default_every``-th the API without a mode (its default)."""
    out = []
    for i, q in enumerate(queries):
        if default_every and i % default_every == default_every - 1:
            out.append("/api/search?" + urlencode({"q": q}))
        elif i % 2:
            out.append("/api/search?" + urlencode({"q": q, "mode": "lexical"}))
        else:
            out.append("/search?" + urlencode({"q": q, "mode": "lexical"}))
    return out


async def load(base: str, asked: list[str], clients: int, timeout: float,
               until: Any, owners: Any = None) -> dict[str, Any]:
    """``clients`` closed-loop clients GET the paths in turn (cycling) until ``until()``
    is true; latencies of answered requests, status counts, timeouts, other errors and the
    answers per second of the run. With ``owners`` (a function that gives the server
    process holding each client port's connection, called at the end while the
    connections are still open): the requests each server process answered."""
    import httpx

    times: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    timeouts = 0
    per_second: dict[int, int] = {}
    by_port: dict[int, int] = {}
    sent = 0
    t0 = time.perf_counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal sent, timeouts
        while not until():
            path = asked[sent % len(asked)]
            sent += 1
            start = time.perf_counter()
            try:
                response = await client.get(path)
            except httpx.TimeoutException:
                timeouts += 1
                continue
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            end = time.perf_counter()
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            times.append((end - start) * 1000)
            second = int(end - t0)
            per_second[second] = per_second.get(second, 0) + 1
            stream = response.extensions.get("network_stream")
            addr = stream.get_extra_info("client_addr") if stream is not None else None
            if addr:
                by_port[addr[1]] = by_port.get(addr[1], 0) + 1

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        wall = time.perf_counter() - t0
        held = owners() if owners is not None else None
    per_process: dict[str, Any] | None = None
    if held is not None:
        per_process = {"requests": {}, "connections": {}, "unattributed": 0}
        for port, count in by_port.items():
            pid = held.get(port)
            if pid is None:
                per_process["unattributed"] += count
                continue
            per_process["requests"][pid] = per_process["requests"].get(pid, 0) + count
            per_process["connections"][pid] = per_process["connections"].get(pid, 0) + 1
    times.sort()
    failed = sum(v for k, v in statuses.items() if k >= 400)
    return {"clients": clients, "seconds": round(wall, 1), "answered": len(times),
            "per_second": len(times) / wall if wall else 0.0,
            "p50_ms": statistics.median(times) if times else None,
            "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] if times else None,
            "max_ms": times[-1] if times else None, "timeouts": timeouts,
            "errors": len(errors) + failed, "statuses": statuses, "error_samples": errors[:5],
            "answers_each_second": [per_second.get(s, 0) for s in range(int(wall) + 1)],
            **({"per_process": per_process} if per_process is not None else {})}


def timed(seconds: float) -> Any:
    end = time.monotonic() + seconds
    return lambda: time.monotonic() >= end


async def beside(args: argparse.Namespace, base: str, asked: list[str], new: Path,
                 err_path: Path) -> tuple[dict[str, Any], dict[str, Any], float]:
    """The load while ``ingest --index NEW`` runs; the load's figures, the ingest's, and
    when it started (``time.monotonic``)."""
    started = time.monotonic()
    out_path = err_path.with_suffix(".out")
    with err_path.open("wb") as err, out_path.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *cli(args.db, "ingest", "--index", str(new)), stdout=out, stderr=err,
            env=cli_env())
    waiter = asyncio.ensure_future(proc.wait())
    finished: list[float] = []
    waiter.add_done_callback(lambda _: finished.append(time.monotonic()))

    def until() -> bool:
        now = time.monotonic()
        return now - started >= args.max_seconds or (
            now - started >= args.seconds and bool(finished))

    result = await load(base, asked, args.clients, args.timeout, until)
    code = await waiter
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    ingest = {"exit_code": code, "wall_s": round(finished[0] - started, 1),
              "traceback": "Traceback (most recent call last)" in stderr,
              "lock_busy": "LockBusy" in stderr,
              "stderr_tail": stderr.strip().splitlines()[-3:],
              "stdout_tail": out_path.read_text(errors="replace").strip().splitlines()[-3:]}
    return result, ingest, started


def catch_up(base: str, title: str, keys: set[str], started: float,
             bound: float) -> dict[str, Any]:
    """One default-mode API search for a new paper's title, once the load is over."""
    import httpx

    t0 = time.perf_counter()
    try:
        answer = httpx.get(f"{base}/api/search", params={"q": title}, timeout=bound).json()
    except httpx.HTTPError as exc:
        return {"found": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"found": any(r["key"] in keys for r in answer["results"]),
            "pending": answer.get("pending"), "mode": answer.get("mode"),
            "request_s": round(time.perf_counter() - t0, 1),
            "since_ingest_start_s": round(time.monotonic() - started, 1)}


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=30_000)
    parser.add_argument("--new", type=int, default=5_000, help="papers the ingest adds")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="the idle phase; the least for the beside phase")
    parser.add_argument("--max-seconds", type=float, default=360.0,
                        help="bound of the beside phase (it lasts until the ingest exits)")
    parser.add_argument("--timeout", type=float, default=10.0, help="client timeout, s")
    parser.add_argument("--default-every", type=int, default=10,
                        help="every N-th request is /api/search without a mode (0: never)")
    parser.add_argument("--catch-up", type=float, default=300.0,
                        help="timeout of the search for a new paper after the load, s")
    parser.add_argument("--quiet-below", type=float, default=1.0)
    parser.add_argument("--quiet-wait", type=float, default=600.0)
    parser.add_argument("--cache", type=Path, default=Path("/tmp"),
                        help="folder of the cached libraries")
    parser.add_argument("--build-only", action="store_true",
                        help="build the cached library for this code version, then stop")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    meta = machine()
    log(f"paperatlas from {meta['paperatlas']} (schema {meta['schema']})")
    base_lib = args.cache / f"paperatlas-bench-beside-{args.scale}-v{meta['schema']}.db"
    papers = prepare(base_lib, args.scale, args.cache / "paperatlas-bench-beside-originals.npz")
    if args.build_only:
        return
    # The measured copy: the ingest changes it, the cache stays as built.
    args.db = copy_library(base_lib, args.cache / "paperatlas-bench-beside-run.db")
    new_file = args.cache / "paperatlas-bench-beside-new.jsonl"
    new_records = write_new(new_file, args.new)
    new_keys = {r["_id"] for r in new_records}
    queries = [json.loads(x)["text"] for x in (SHARED / "queries-train.jsonl").open()]
    half = len(queries) // 2  # each phase its own queries (the server caches query vectors)
    results: dict[str, Any] = {"meta": meta, "papers": papers, "new": len(new_records),
                               "clients": args.clients, "timeout_s": args.timeout,
                               "default_every": args.default_every}
    results["quiet"] = wait_quiet(args.quiet_below, args.quiet_wait)
    log(f"machine: {results['quiet']}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = args.cache / "paperatlas-bench-beside-server.log"
    server = start_server(args.db, port, server_log)
    try:
        imported = server_log.read_text().splitlines()[:1]
        results["server_imports"] = imported[0] if imported else None
        log(f"server: {results['server_imports']}")
        asyncio.run(load(base, paths(queries[-20:], 0), 1, 30, timed(5)))  # warm-up
        results["load_before_idle"] = loadavg()
        results["idle"] = asyncio.run(load(base, paths(queries[:half], args.default_every),
                                           args.clients, args.timeout, timed(args.seconds)))
        log(f"idle: {results['idle']['per_second']:.0f}/s")
        time.sleep(2)
        results["load_before_beside"] = loadavg()
        load_result, ingest, started = asyncio.run(beside(
            args, base, paths(queries[half:-20], args.default_every), new_file,
            args.cache / "paperatlas-bench-beside-ingest.log"))
        results["beside"], results["ingest"] = load_result, ingest
        log(f"beside: {load_result['per_second']:.0f}/s; ingest {ingest}")
        probe = next(r for r in new_records if r["_id"].startswith("new-cs-"))
        results["after"] = catch_up(base, probe["title"], new_keys, started, args.catch_up)
        log(f"after: {results['after']}")
    finally:
        server.terminate()
        server.wait(timeout=60)
    with Library(args.db, embedding_model=None) as lib:
        results["after"]["papers"] = lib.stats().papers
    print(f"\n{meta['date']}, {meta['cpu']}, {meta['cores']} cores; {papers:,} papers + "
          f"{len(new_records):,} new; {args.clients} clients; paperatlas from "
          f"{meta['paperatlas']} (schema {meta['schema']})\n")
    print("| phase | seconds | answered | req/s | p50 ms | p99 ms | max ms | timeouts "
          "| errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("idle", "beside"):
        r = results[name]
        print(f"| {name} | {r['seconds']:.0f} | {r['answered']} | {r['per_second']:.1f} | "
              f"{fmt(r['p50_ms'])} | {fmt(r['p99_ms'])} | {fmt(r['max_ms'])} | "
              f"{r['timeouts']} | {r['errors']} |")
    ing, after = results["ingest"], results["after"]
    print(f"\ningest --index: exit {ing['exit_code']}, {ing['wall_s']} s, traceback "
          f"{ing['traceback']}, LockBusy {ing['lock_busy']}; after: new paper found "
          f"{after['found']}, pending {after.get('pending')}, answered "
          f"{after.get('since_ingest_start_s')} s after the ingest started "
          f"(that request {after.get('request_s')} s); load averages {results['quiet']}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
