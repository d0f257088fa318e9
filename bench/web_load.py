"""Web latency under load: the search page and the paper page of a running server.

Usage (the CI machine has 2 cores):

    .venv/bin/python bench/web_load.py [--scale 100000] [--clients 20] [--requests 1000]
        [--seconds 120] [--modes hybrid,lexical] [--workers 2] [--out web_load.json]

The library: SciFact's 5,183 papers repeated to ``--scale`` with numbered title suffixes,
each copy carrying its original's vectors nudged by a little noise of its own
(bench/search_latency.py's method: embedding
100k texts would take most of an hour on 2 cores and says nothing about serving), cached at
``--cache`` (default /tmp/paperatlas-bench-100k.db) and reused when its size matches.

The server is ``paperatlas --db CACHE serve --workers N`` in a subprocess on a free
loopback port (the command a user runs). The load generator keeps ``--clients`` requests in
flight (closed loop, no think time) until ``--requests`` are done or ``--seconds`` pass:
``--generator wrk`` (the default when Debian's ``wrk`` is installed: C, one thread, keep-alive
connections, a Lua script that gives each request the next path, so it costs the server's
cores little) or ``httpx`` (asyncio in this process, which takes a good share of two cores
itself); one-client phases always use httpx. The phases: the search page
(``/search?q=...&mode=M``, HTML, for each of ``--modes``; hybrid is the page's default)
with SciFact's train queries, each once, in order (no query is repeated: the server caches
query vectors); then the paper page (``/papers/KEY``) of random papers, first one client at
a time, then ``--clients`` at once.
Both processes share the machine's cores, as they would on a 2-core host.

``--sweep 1,2,4,8`` runs only the search page of each mode at those client counts, each
count on a fresh server (to see how many clients a mode serves within the goal).

Goals (issue 5): at 100k papers, search page p50 <= 50 ms and p99 <= 200 ms at 20 clients
with no errors; paper page p50 <= 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paperatlas import Library
from search_latency import SHARED, copy_vectors, write_corpus

REPO = Path(__file__).resolve().parent.parent


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prepare(cache: Path, scale: int) -> int:
    """The cached library's paper count (building it first when missing or smaller)."""
    docs = [json.loads(x) for x in (SHARED / "corpus.jsonl").open(encoding="utf-8")]
    copies = max(1, round(scale / len(docs)))
    if cache.exists():
        with Library(cache, embedding_model=None) as lib:
            papers = lib.stats().papers
        if papers == copies * len(docs):
            return papers
        log(f"{cache} holds {papers} papers, not {copies * len(docs)}: rebuilding")
        for path in cache.parent.glob(cache.name + "*"):
            subprocess.run(["rm", "-rf", str(path)], check=True)
    t0 = time.perf_counter()
    with Library(cache) as lib:
        work = cache.with_name(cache.name + ".corpus")
        work.mkdir(exist_ok=True)
        first, every = work / "first.jsonl", work / "all.jsonl"
        write_corpus(first, docs, 1)
        lib.ingest([first])
        lib.index()  # embeds the originals once
        write_corpus(every, docs, copies)
        lib.ingest([every])
        copy_vectors(lib, docs)
        lib.index()
        papers = lib.stats().papers
    log(f"built {papers} papers in {time.perf_counter() - t0:.0f} s at {cache}")
    return papers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(cache: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    import httpx

    cmd = [str(REPO / ".venv" / "bin" / "paperatlas"), "--db", str(cache), "serve",
           "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stderr.read().decode()[-2000:]}"
                             if proc.stderr else "the server exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not answer within 120 s")


#: wrk's script: each request takes the next path of the list in $WRK_PATHS, the run stops
#: once every path was asked for once, and ``done`` prints the figures as one JSON line.
WRK_SCRIPT = r"""
local paths, sent, answered = {}, 0, 0
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
request = function()
  sent = sent + 1
  return wrk.format("GET", paths[((sent - 1) % #paths) + 1])
end
response = function(status, headers, body)
  answered = answered + 1
  -- stop while the requests in flight still have paths of their own (none repeats)
  -- (wrk's main thread sleeps for -d; the bench interrupts it when it reads DONE)
  if answered == #paths - tonumber(os.getenv("WRK_CLIENTS")) then
    wrk.thread:stop()
    io.write("DONE\n")
    io.flush()
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "p50_ms": %f, "p90_ms": %f, "p99_ms": %f, '
    .. '"max_ms": %f, "error_count": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(90) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def load_wrk(base: str, paths: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """:func:`load` with wrk (C, one thread, ``clients`` keep-alive connections), which
    leaves the server nearly both cores; each path is asked for once (the run stops when
    every path was answered, or after ``seconds``)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        script, listing = Path(tmp) / "paths.lua", Path(tmp) / "paths.txt"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
        proc = subprocess.Popen(
            ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
             "-s", str(script), base], stdout=subprocess.PIPE, text=True,
            env={**os.environ, "WRK_PATHS": str(listing), "WRK_CLIENTS": str(clients)})
        assert proc.stdout is not None
        lines = []
        for text in proc.stdout:  # wrk stops early (and reports) on SIGINT
            lines.append(text)
            if text.strip() == "DONE":
                proc.send_signal(signal.SIGINT)
        proc.wait()
    line = next(x for x in lines if x.startswith("{"))
    result: dict[str, Any] = json.loads(line)
    result["requests"] = min(result["requests"], len(paths))
    result.update(clients=clients, generator="wrk",
                  per_second=result["requests"] / result["seconds"] if result["seconds"]
                  else 0.0)
    return result


async def load(base: str, paths: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """GET each path once, ``clients`` at a time; latencies in ms and status counts."""
    import httpx

    times: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    queue = iter(paths)
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def worker(client: httpx.AsyncClient) -> None:
        for path in queue:
            if time.monotonic() > deadline:
                return
            t0 = time.perf_counter()
            try:
                response = await client.get(path)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            times.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    wall = time.perf_counter() - t0
    times.sort()
    return {"requests": len(times), "clients": clients, "seconds": wall,
            "per_second": len(times) / wall if wall else 0.0,
            "p50_ms": statistics.median(times) if times else None,
            "p90_ms": times[int(len(times) * 0.9)] if times else None,
            "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] if times else None,
            "max_ms": times[-1] if times else None,
            "statuses": statuses, "errors": errors[:5], "error_count": len(errors)
            + sum(v for k, v in statuses.items() if k >= 400)}


def sweep(args: argparse.Namespace, papers: int, queries: list[str]) -> None:
    """How many clients each search mode serves within the goal: closed-loop wrk phases
    at each client count, each on a fresh server (so no query vector is cached), warmed
    with 20 queries the phase does not ask."""
    from urllib.parse import urlencode

    counts = [int(c) for c in args.sweep.split(",") if c]
    rows: dict[str, Any] = {}
    for mode in [m for m in args.modes.split(",") if m]:
        for clients in counts:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            server = start_server(args.cache, port, args.workers)
            try:
                paths = ["/search?" + urlencode({"q": q, "mode": mode}) for q in queries]
                asyncio.run(load(base, paths[-20:], 1, args.seconds))
                asked = paths[:-20][: max(60, 40 * clients)]
                r = (load_wrk(base, asked, clients, args.seconds)
                     if args.generator == "wrk" and clients > 1
                     else asyncio.run(load(base, asked, clients, args.seconds)))
            finally:
                server.terminate()
                server.wait(timeout=30)
            rows[f"{mode}, {clients} clients"] = r
            log(f"{mode}, {clients} clients: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} "
                f"ms, {r['per_second']:.0f}/s, errors {r['error_count']}")
    print(f"| search page ({papers:,} papers, {args.workers} workers) | requests | p50 ms "
          "| p99 ms | req/s | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['requests']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['per_second']:.0f} | {r['error_count']} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=729,
                        help="search requests per mode (each a distinct SciFact query)")
    parser.add_argument("--paper-requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=120.0, help="bound per phase")
    parser.add_argument("--modes", default="hybrid,lexical",
                        help="search modes to load, comma-separated (hybrid: the page's default)")
    parser.add_argument("--workers", type=int, default=2, help="serve --workers")
    parser.add_argument("--generator", choices=("wrk", "httpx"),
                        default="wrk" if shutil.which("wrk") else "httpx",
                        help="load generator for the many-client phases (wrk: Debian's "
                        "package, C; httpx: asyncio in this process)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/paperatlas-bench-100k.db"))
    parser.add_argument("--sweep", default="",
                        help="instead of the phases: the search page of each mode at these "
                        "client counts (comma-separated), each on a fresh server")
    parser.add_argument("--library", type=Path,
                        help="an indexed library to serve as it is (e.g. the 1M bench library "
                        "of bench/scale_library.py) instead of --cache/--scale")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from urllib.parse import urlencode

    if args.library is not None:
        args.cache = args.library
        with Library(args.library, embedding_model=None) as lib:
            papers = lib.stats().papers
    else:
        papers = prepare(args.cache, args.scale)
    queries = [json.loads(x)["text"] for x in (SHARED / "queries-train.jsonl").open()]
    if args.sweep:
        sweep(args, papers, queries)
        return
    with Library(args.cache, embedding_model=None) as lib:
        keys = [p.key for p in itertools.islice(lib.papers(), 50_000)]
    rng = random.Random(0)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(args.cache, port, args.workers)
    results: dict[str, Any] = {"papers": papers, "meta": {
        "date": f"{datetime.now(UTC):%Y-%m-%d}", "machine": platform.machine(),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "workers": args.workers, "generator": args.generator}}
    modes = [m for m in args.modes.split(",") if m]
    try:
        def search(q: str, mode: str) -> str:
            return "/search?" + urlencode({"q": q, "mode": mode})

        # Warm-up queries are not reused: the server caches query vectors, and a repeated
        # query would not pay for its embedding.
        warm = [search(q, m) for q in queries[-20:] for m in modes]
        warm += [f"/papers/{k}" for k in keys[:20]]
        results["warm_up"] = asyncio.run(load(base, warm, 1, args.seconds))
        alone, distinct = queries[:60], queries[60:-20][: args.requests]
        phases = [(f"search page, {m}, 1 client", [search(q, m) for q in alone], 1)
                  for m in modes]
        phases += [(f"search page, {m}, {args.clients} clients",
                    [search(q, m) for q in distinct], args.clients) for m in modes]
        phases += [("paper page, 1 client", [f"/papers/{rng.choice(keys)}"
                                            for _ in range(args.paper_requests)], 1),
                  (f"paper page, {args.clients} clients",
                   [f"/papers/{rng.choice(keys)}" for _ in range(args.paper_requests)],
                   args.clients)]
        for name, paths, clients in phases:
            results[name] = (load_wrk(base, paths, clients, args.seconds)
                             if args.generator == "wrk" and clients > 1
                             else asyncio.run(load(base, paths, clients, args.seconds)))
            r = results[name]
            log(f"{name}: {r['requests']} requests, p50 {r['p50_ms']:.1f} ms, p99 "
                f"{r['p99_ms']:.1f} ms, {r['per_second']:.0f}/s, errors {r['error_count']}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"| what ({papers:,} papers, {os.cpu_count()} cores, {args.workers} workers) | clients "
          "| requests | p50 ms "
          "| p99 ms | req/s | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in [n for n, _, _ in phases]:
        r = results[name]
        print(f"| {name} | {r['clients']} | {r['requests']} | {r['p50_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['per_second']:.0f} | {r['error_count']} |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
