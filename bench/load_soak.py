"""Load beside the job worker and a 10-minute soak of a served ~100k-paper library (issue 21,
item 4).

Usage (2 cores; wrap it in ``flock /work/scratch/heavy.lock``):

    .venv/bin/python bench/load_soak.py [--scale 100000] [--clients 20] [--seconds 60]
        [--soak-seconds 600] [--soak-clients 8] [--phases idle,worker,soak,beside]
        [--out load_soak.json]

    # and first, the idle load on the code before a change and on this code, in turn:
    git worktree add --detach /tmp/pa-old e86c826
    .venv/bin/python bench/load_soak.py --phases compare,idle,... --baseline-src /tmp/pa-old/src

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

Phase "compare" (first, with ``--baseline-src``): a server of the code under that ``src``
folder, then one of this code, each on a fresh copy: ``--seconds`` of the idle load, then
``--balance-rounds`` rounds of ``--balance-seconds`` with a new pool of connections each;
this code's req/s over the baseline's.

Each phase also records the CPU seconds, the requests answered and the connections held of
each web process (its connections' client ports, from /proc at the end of the phase, while
the connections are open). Before ``serve --workers N`` gave each web process a socket of
its own (``SO_REUSEPORT``), the processes shared one listening socket and one of them could
take every keep-alive connection of a phase (then the phase measured one process).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import index_beside_server as ibs
from paperatlas import Library
from serverprocs import Sampler, connection_owners, cpu_s, growth, spread, web_processes
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


# -- phases ------------------------------------------------------------------------------
def phase(args: argparse.Namespace, sampler: Sampler | None, name: str, base: str,
          asked: list[str], clients: int, until: Callable[[], bool]) -> dict[str, Any]:
    if sampler is not None:
        sampler.phase = name
    before = ibs.loadavg()
    # CPU, requests and connections of each web process: whether both answered (with one
    # shared listening socket, one process may get every keep-alive connection)
    web = web_processes(args.server_pid)
    cpu = {p: cpu_s(p) for p in web}
    result = asyncio.run(ibs.load(base, asked, clients, args.timeout, until,
                                  owners=lambda: connection_owners(web, args.port)))
    result["load_before"] = before
    result["web_cpu_s"] = [round(cpu_s(p) - cpu[p], 1) for p in web]
    result["web_requests"] = spread(result, web)
    ibs.log(f"{name}: {result['per_second']:.1f}/s, p50 {ibs.fmt(result['p50_ms'])} ms, p99 "
            f"{ibs.fmt(result['p99_ms'])} ms, errors {result['errors']}, timeouts "
            f"{result['timeouts']}; load average before {before}; CPU s of each web process "
            f"{result['web_cpu_s']}; requests of each {result['web_requests']}")
    return result


def balance(args: argparse.Namespace, name: str, base: str, asked: list[str]) -> dict[str, Any]:
    """``--balance-rounds`` rounds of ``--clients`` for ``--balance-seconds``, each with a
    new pool of connections (where one shared socket puts them is decided per round)."""
    rounds = [phase(args, None, f"{name} round {i + 1}", base, asked[i::args.balance_rounds],
                    args.clients, ibs.timed(args.balance_seconds))
              for i in range(args.balance_rounds)]
    answered = sum(r["answered"] for r in rounds)
    wall = sum(r["seconds"] for r in rounds)
    return {"rounds": rounds, "per_second": answered / wall if wall else 0.0,
            "per_second_each": [round(r["per_second"], 1) for r in rounds],
            "split_each": [r["web_requests"] for r in rounds],
            "errors": sum(r["errors"] for r in rounds),
            "timeouts": sum(r["timeouts"] for r in rounds)}


def compare(args: argparse.Namespace, results: dict[str, Any], queries: list[str]) -> None:
    """The idle load and the balance rounds on a server of the code under
    ``--baseline-src`` and on one of this code, one after the other (same library)."""
    for tag, src in (("baseline", args.baseline_src), ("current", None)):
        server, base = serve(args, f"c-{tag}", src)
        try:
            results[f"idle_{tag}"] = phase(args, None, f"idle ({tag})", base, queries,
                                           args.clients, ibs.timed(args.seconds))
            results[f"balance_{tag}"] = balance(args, f"balance ({tag})", base, queries)
        finally:
            stop(server)
    ratio = {k: results[f"{k}_current"]["per_second"] / results[f"{k}_baseline"]["per_second"]
             for k in ("idle", "balance")}
    results["current_vs_baseline"] = {k: round(v, 2) for k, v in ratio.items()}
    ibs.log(f"current / baseline req/s: {results['current_vs_baseline']}")


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
    web = web_processes(args.server_pid)
    cpu = {p: cpu_s(p) for p in web}
    results["beside"] = await ibs.load(base, asked, args.clients, args.timeout,
                                       ibs.timed(args.seconds),
                                       owners=lambda: connection_owners(web, args.port))
    results["beside"]["load_before"] = before
    results["beside"]["web_cpu_s"] = [round(cpu_s(p) - cpu[p], 1) for p in web]
    results["beside"]["web_requests"] = spread(results["beside"], web)
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


def serve(args: argparse.Namespace, run_name: str, src: Path | None = None) -> tuple[Any, str]:
    args.db = ibs.copy_library(args.base_lib, args.cache / f"paperatlas-bench-soak-{run_name}.db")
    port = args.port = ibs.free_port()
    server = ibs.start_server(args.db, port, args.cache / f"paperatlas-bench-soak-{run_name}.log",
                              args.workers, src)
    args.server_pid = server.pid
    base = f"http://127.0.0.1:{port}"
    warm = mixed(args.queries[-20:], args.keys)
    asyncio.run(ibs.load(base, warm, 8, 60, ibs.timed(15)))  # every process loads its vectors
    return server, base


def stop(server: Any) -> None:
    server.terminate()
    server.wait(timeout=60)


ROWS = [("idle_baseline", "idle, the code of --baseline-src"),
        ("idle_current", "idle, this code (same run)"), ("idle", "idle"),
        ("worker", "while the worker ingests + indexes (first N s)"),
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
          "| CPU s per web process | requests (connections) per web process |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|")
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
              f"{' / '.join(str(c) for c in r.get('web_cpu_s', []))} | "
              f"{r.get('web_requests', '')} |")
    for tag in ("baseline", "current"):
        b = results.get(f"balance_{tag}")
        if b:
            print(f"\nbalance rounds, {tag} ({args.balance_rounds} x {args.balance_seconds:.0f} s,"
                  f" {args.clients} clients, a new pool each): {b['per_second']:.1f} req/s; "
                  f"each {b['per_second_each']}; requests per web process: "
                  + "; ".join(b["split_each"]))
    if "current_vs_baseline" in results:
        print(f"this code ÷ --baseline-src, req/s: {results['current_vs_baseline']}")
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
    parser.add_argument("--phases", default="idle,worker,soak,beside",
                        help="of idle, worker, soak, beside, compare (needs --baseline-src)")
    parser.add_argument("--baseline-src", type=Path, metavar="SRC",
                        help="phase compare: another checkout's src folder (e.g. a git "
                             "worktree of the code before) to serve the idle load beside this")
    parser.add_argument("--balance-rounds", type=int, default=6)
    parser.add_argument("--balance-seconds", type=float, default=10.0)
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
    if "compare" in phases:
        if not args.baseline_src:
            parser.error("phase compare needs --baseline-src")
        compare(args, results, mixed(queries[:q], args.keys))
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
