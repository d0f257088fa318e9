"""Load beside the job worker and a 10-minute soak of a served ~100k-paper library (issue 21,
item 4).

Usage (2 cores; wrap it in ``flock /work/scratch/heavy.lock``):

    .venv/bin/python bench/load_soak.py [--scale 100000] [--clients 20] [--seconds 60]
        [--soak-seconds 600] [--soak-clients 8] [--phases idle,worker,soak,beside]
        [--out load_soak.json]

The library: bench/index_beside_server.py's cached one (SciFact repeated to ``--scale``
with copied, noised vectors; built once, ~4 min, reused); each server runs on a fresh copy.
The server is ``paperatlas serve --workers 2`` (two server processes and the job worker it
starts). The load is index_beside_server.py's closed-loop httpx clients (client timeout
``--timeout``) over a mix of ten requests: the search page (lexical) x3, ``/api/search``
lexical x3, a paper page x2, the search page and ``/api/search`` in their default mode
(hybrid) x1 each. Each phase has its own SciFact train queries (the server caches query
vectors); the soak's queries get a second query's first words appended, so each is new.

Phases, on one server (the first copy):

- idle: ``--seconds`` of the load (after a warm-up of 8 clients for 15 s);
- worker: an upload of ``--new`` records to ``/api/uploads`` (the job worker ingests, then
  indexes and embeds); the load for ``--seconds`` from the upload, then ("worker rest") 2
  clients until the jobs are done (errors during the end of the index job count too);
- soak: ``--soak-clients`` for ``--soak-seconds``; the resident memory (VmRSS, /proc) of
  the server process, its two web processes and the job worker sampled every 10 s.

Then on a second server (a fresh copy): "beside idle" (``--seconds`` / 3), and "beside":
``paperatlas ingest --index NEW`` run beside it (the issue's old case), the load for
``--seconds`` from its start, then 2 clients until it exits.

Each phase also records the CPU seconds of each web process: the processes share one
listening socket, and the kernel may hand every keep-alive connection of a phase to one of
them (then that phase measures one process, about half the throughput).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import index_beside_server as ibs
from paperatlas import Library
from worker_load import jobs_left

#: One round of the mix: (kind, mode); kind "page" is /search, "api" /api/search, "paper"
#: a paper page; mode None is the default (hybrid).
MIX = [("page", "lexical"), ("api", "lexical"), ("paper", None), ("page", "lexical"),
       ("api", "lexical"), ("paper", None), ("page", "lexical"), ("api", "lexical"),
       ("page", None), ("api", None)]


def mixed(queries: list[str], keys: list[str]) -> list[str]:
    """The requests' paths: the mix in turn, the i-th request with the i-th query (len(MIX)
    and the query count coprime, so every kind meets every query in one cycle)."""
    n = len(queries) if len(queries) % 2 and len(queries) % 5 else len(queries) - 1
    out = []
    for i in range(len(MIX) * n):
        kind, mode = MIX[i % len(MIX)]
        q = {"q": queries[i % n], **({"mode": mode} if mode else {})}
        out.append(f"/papers/{keys[(i * 7919) % len(keys)]}" if kind == "paper"
                   else ("/search?" if kind == "page" else "/api/search?") + urlencode(q))
    return out


# -- resident memory of the server's processes -----------------------------------------
def children(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc/*/stat)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(stat.parent.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += [c for c, pp in parent.items() if pp == p]
    return found


def rss_mb(pid: int) -> dict[str, float]:
    """``pid``'s resident memory in MB: all (VmRSS), anonymous (its heap: what a leak grows)
    and file-backed (mapped index and vector files, shared with the page cache)."""
    out = {"rss": 0.0, "anon": 0.0, "file": 0.0}
    names = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file"}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name = names.get(line.split(":", 1)[0] + ":")
            if name:
                out[name] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def cpu_s(pid: int) -> float:
    """CPU seconds ``pid`` has used (user + system, /proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[-80:]
    except OSError:
        return ""


class Sampler(threading.Thread):
    """Every ``every`` seconds: the RSS (MB) of each process under ``pid``, tagged with the
    phase running then."""

    def __init__(self, pid: int, every: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.phase = pid, every, "start"
        self.samples: list[dict[str, Any]] = []
        self.names: dict[int, str] = {}
        self.stop = threading.Event()

    def sample(self) -> None:
        procs = {p: rss_mb(p) for p in children(self.pid)}
        for p in procs:
            self.names.setdefault(p, cmdline(p))
        self.samples.append({
            "t": round(time.monotonic(), 1), "phase": self.phase,
            "total_mb": round(sum(v["rss"] for v in procs.values()), 1),
            "anon_mb": round(sum(v["anon"] for v in procs.values()), 1),
            "file_mb": round(sum(v["file"] for v in procs.values()), 1),
            "mb": {str(p): round(v["rss"], 1) for p, v in procs.items()},
            "anon": {str(p): round(v["anon"], 1) for p, v in procs.items()}})

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.every)


def growth(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Start / end / max of the total RSS and of each process over ``samples``."""
    if not samples:
        return {}
    first, last = samples[0], samples[-1]
    out: dict[str, Any] = {"samples": len(samples)}
    for kind in ("total", "anon", "file"):
        start, end = first[f"{kind}_mb"], last[f"{kind}_mb"]
        out[kind] = {"start_mb": start, "end_mb": end,
                     "max_mb": max(s[f"{kind}_mb"] for s in samples),
                     "growth_pct": round(100 * (end / start - 1), 1) if start else None}
    out["each"] = {p: {"start_mb": v, "end_mb": last["mb"].get(p),
                       "max_mb": max(s["mb"].get(p, 0.0) for s in samples),
                       "anon_start_mb": first["anon"].get(p),
                       "anon_end_mb": last["anon"].get(p)}
                   for p, v in first["mb"].items()}
    return out


# -- phases ------------------------------------------------------------------------------
def phase(args: argparse.Namespace, sampler: Sampler | None, name: str, base: str,
          asked: list[str], clients: int, until: Callable[[], bool]) -> dict[str, Any]:
    if sampler is not None:
        sampler.phase = name
    before = ibs.loadavg()
    # CPU of each web process: whether both answered (the kernel may hand every
    # keep-alive connection to one of the processes sharing the listening socket)
    web = [p for p in children(args.server_pid) if "multiprocessing-fork" in cmdline(p)]
    cpu = {p: cpu_s(p) for p in web}
    result = asyncio.run(ibs.load(base, asked, clients, args.timeout, until))
    result["load_before"] = before
    result["web_cpu_s"] = [round(cpu_s(p) - cpu[p], 1) for p in web]
    ibs.log(f"{name}: {result['per_second']:.1f}/s, p50 {ibs.fmt(result['p50_ms'])} ms, p99 "
            f"{ibs.fmt(result['p99_ms'])} ms, errors {result['errors']}, timeouts "
            f"{result['timeouts']}; load average before {before}; CPU s of each web process "
            f"{result['web_cpu_s']}")
    return result


def worker_phases(args: argparse.Namespace, results: dict[str, Any], sampler: Sampler,
                  base: str, asked: list[str], token: str) -> None:
    """The upload, the load while its jobs run, then 2 clients until they are done."""
    import httpx

    started = time.monotonic()
    with args.new_file.open("rb") as fh:
        answer = httpx.post(f"{base}/api/uploads", files={"file": (args.new_file.name, fh)},
                            headers={"Authorization": f"Bearer {token}"}, timeout=60)
    answer.raise_for_status()
    first_job = answer.json()["job"]["id"]
    results["worker"] = phase(args, sampler, "worker", base, asked, args.clients,
                              ibs.timed(args.seconds))
    state = {"checked": 0.0, "left": 1}

    def done() -> bool:
        now = time.monotonic()
        if now - state["checked"] >= 2:
            state["checked"], state["left"] = now, jobs_left(args.db)
        return state["left"] == 0 or now - started >= args.max_seconds

    results["worker_rest"] = phase(args, sampler, "worker rest", base, asked[::-1], 2, done)
    with Library(args.db, embedding_model=None) as lib:
        results["jobs"] = [{"kind": j.kind, "status": j.status, "started": j.started_at,
                            "finished": j.finished_at, "message": j.message}
                           for j in lib.jobs.recent(10) if j.id >= first_job]
    results["jobs_s"] = round(time.monotonic() - started, 1)


async def _beside(args: argparse.Namespace, base: str, asked: list[str],
                  results: dict[str, Any]) -> None:
    err_path = args.cache / "paperatlas-bench-soak-ingest.log"
    started = time.monotonic()
    with err_path.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            *ibs.cli(args.db, "ingest", "--index", str(args.new_file)),
            stdout=asyncio.subprocess.DEVNULL, stderr=err, env=ibs.cli_env())
    waiter = asyncio.ensure_future(proc.wait())
    before = ibs.loadavg()
    web = [p for p in children(args.server_pid) if "multiprocessing-fork" in cmdline(p)]
    cpu = {p: cpu_s(p) for p in web}
    results["beside"] = await ibs.load(base, asked, args.clients, args.timeout,
                                       ibs.timed(args.seconds))
    results["beside"]["load_before"] = before
    results["beside"]["web_cpu_s"] = [round(cpu_s(p) - cpu[p], 1) for p in web]
    before = ibs.loadavg()
    results["beside_rest"] = await ibs.load(
        base, asked[::-1], 2, args.timeout,
        lambda: waiter.done() or time.monotonic() - started >= args.max_seconds)
    results["beside_rest"]["load_before"] = before
    code = await waiter
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    results["ingest"] = {"exit_code": code, "wall_s": round(time.monotonic() - started, 1),
                         "traceback": "Traceback (most recent call last)" in stderr,
                         "stderr_tail": stderr.strip().splitlines()[-3:]}
    for name in ("beside", "beside_rest"):
        r = results[name]
        ibs.log(f"{name}: {r['per_second']:.1f}/s, p50 {ibs.fmt(r['p50_ms'])}, p99 "
                f"{ibs.fmt(r['p99_ms'])}, errors {r['errors']}, timeouts {r['timeouts']}")


def serve(args: argparse.Namespace, run_name: str) -> tuple[Any, str]:
    args.db = ibs.copy_library(args.base_lib, args.cache / f"paperatlas-bench-soak-{run_name}.db")
    port = ibs.free_port()
    server = ibs.start_server(args.db, port, args.cache / f"paperatlas-bench-soak-{run_name}.log",
                              args.workers)
    args.server_pid = server.pid
    base = f"http://127.0.0.1:{port}"
    warm = mixed(args.queries[-20:], args.keys)
    asyncio.run(ibs.load(base, warm, 8, 60, ibs.timed(15)))  # every process loads its vectors
    return server, base


def stop(server: Any) -> None:
    server.terminate()
    server.wait(timeout=60)


ROWS = [("idle", "idle"), ("worker", "while the worker ingests + indexes (first N s)"),
        ("worker_rest", "worker, the rest of its jobs (2 clients)"), ("soak", "soak"),
        ("beside_idle", "idle (2nd server)"), ("beside", "`ingest --index` beside (first N s)"),
        ("beside_rest", "`ingest --index`, its rest (2 clients)")]


def report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    meta = results["meta"]
    print(f"\n{meta['date']}, {meta['cpu']}, {meta['cores']} cores; {results['papers']:,} "
          f"papers; serve --workers {args.workers} + job worker; paperatlas from "
          f"{meta['paperatlas']}\n")
    print("| phase | clients | seconds | answered | req/s | p50 ms | p99 ms | max ms | errors "
          "| timeouts | req/s ÷ idle | p50 ÷ idle | p99 ÷ idle | load avg before "
          "| CPU s per web process |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    idle = results.get("idle") or results.get("beside_idle")
    for key, label in ROWS:
        r = results.get(key)
        if not r:
            continue
        ratio = [(r[k] / idle[k] if idle and idle.get(k) and r.get(k) is not None else None)
                 for k in ("per_second", "p50_ms", "p99_ms")]
        print(f"| {label.replace('N s', f'{args.seconds:.0f} s')} | {r['clients']} | "
              f"{r['seconds']:.0f} | {r['answered']} | {r['per_second']:.1f} | "
              f"{ibs.fmt(r['p50_ms'])} | {ibs.fmt(r['p99_ms'])} | {ibs.fmt(r['max_ms'])} | "
              f"{r['errors']} | {r['timeouts']} | {ibs.fmt(ratio[0], 2)} | "
              f"{ibs.fmt(ratio[1], 2)} | {ibs.fmt(ratio[2], 2)} | {r['load_before'][0]:.2f} | "
              f"{' / '.join(str(c) for c in r.get('web_cpu_s', []))} |")
    if "jobs" in results:
        print(f"\njobs ({results['jobs_s']} s from the upload): " + "; ".join(
            f"{j['kind']} {j['status']}" for j in results["jobs"]))
    if "ingest" in results:
        print(f"ingest --index: {results['ingest']}")
    if "rss" in results:
        g = results["rss"]
        print(f"\nsoak, all processes ({g['samples']} samples), MB:")
        for kind in ("total", "anon", "file"):
            k = g[kind]
            print(f"  {kind}: start {k['start_mb']:.0f}, end {k['end_mb']:.0f}, max "
                  f"{k['max_mb']:.0f}, growth {k['growth_pct']:+.1f}%")
        for pid, v in g["each"].items():
            print(f"  {pid} {results['names'].get(pid, '')}: {v['start_mb']:.0f} -> "
                  f"{v['end_mb']:.0f} (max {v['max_mb']:.0f}; anonymous "
                  f"{v['anon_start_mb']:.0f} -> {v['anon_end_mb']:.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--soak-seconds", type=float, default=600.0)
    parser.add_argument("--soak-clients", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=900.0,
                        help="bound of a phase that waits for a job or an ingest")
    parser.add_argument("--timeout", type=float, default=10.0, help="client timeout, s")
    parser.add_argument("--phases", default="idle,worker,soak,beside")
    parser.add_argument("--cache", type=Path, default=Path("/tmp"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    meta = ibs.machine()
    args.base_lib = args.cache / f"paperatlas-bench-beside-{args.scale}-v{meta['schema']}.db"
    papers = ibs.prepare(args.base_lib, args.scale,
                         args.cache / "paperatlas-bench-beside-originals.npz")
    with Library(args.base_lib, embedding_model=None) as lib:
        args.keys = [p.key for p in itertools.islice(lib.papers(), 50_000)]
    args.new_file = args.cache / "paperatlas-bench-soak-new.jsonl"
    ibs.write_new(args.new_file, args.new)
    queries = [json.loads(x)["text"] for x in (ibs.SHARED / "queries-train.jsonl").open()]
    args.queries = queries
    q = len(queries) // 4  # each phase its own queries; the last 20 warm up
    results: dict[str, Any] = {"meta": meta, "papers": papers, "args": {
        k: str(v) for k, v in vars(args).items() if k not in ("keys", "queries")}}
    if phases & {"idle", "worker", "soak"}:
        server, base = serve(args, "a")
        sampler = Sampler(server.pid)
        sampler.start()
        try:
            if "idle" in phases:
                results["idle"] = phase(args, sampler, "idle", base,
                                        mixed(queries[:q], args.keys), args.clients,
                                        ibs.timed(args.seconds))
            if "worker" in phases:
                with Library(args.db, embedding_model=None) as lib:
                    lib.people.add("bench", "bench-password-1234")
                    token = lib.people.token_create("bench", "load_soak").token
                worker_phases(args, results, sampler, base, mixed(queries[q:2 * q], args.keys),
                              token)
            if "soak" in phases:
                soak_q = [f"{a} {' '.join(b.split()[:3])}"
                          for a, b in zip(queries[2 * q:3 * q], queries[:q][::-1], strict=False)]
                soak_q = [f"{a} {' '.join(b.split()[:2])}" for a in soak_q for b in queries[:40]]
                start = len(sampler.samples)
                sampler.phase = "soak"
                sampler.sample()
                results["soak"] = phase(args, sampler, "soak", base,
                                        mixed(soak_q, args.keys), args.soak_clients,
                                        ibs.timed(args.soak_seconds))
                sampler.sample()
                results["rss"] = growth(sampler.samples[start:])
        finally:
            sampler.stop.set()
            stop(server)
        results["rss_samples"] = sampler.samples
        results["names"] = {str(p): n for p, n in sampler.names.items()}
    if "beside" in phases:
        server, base = serve(args, "b")
        try:
            results["beside_idle"] = phase(args, None, "beside idle", base,
                                           mixed(queries[:q], args.keys), args.clients,
                                           ibs.timed(args.seconds / 3))
            asyncio.run(_beside(args, base, mixed(queries[3 * q:-20], args.keys), results))
        finally:
            stop(server)
    report(args, results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
