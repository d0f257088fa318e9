"""Serving the bench library at scale (issue 18, item 3): query latency, semantic recall
against exact, filters, and the memory of ``paperatlas serve --workers 2``.

Usage, on a library made by ``bench/scale_library.py`` and indexed (``paperatlas index``:
the lexical index, the serving file and the HNSW index):

    .venv/bin/python bench/scale_serving.py --work /data/scale25 [--queries 200]

Queries are real: the first half of ``--queries`` from SciFact's train claims, the rest
from NFCorpus's dev queries. In one process (``Library``, warm, top 10 with snippets as
the CLI and web show them, the query embedding included): p50 and p95 of each mode. The
semantic part: ``VectorStore.search`` (top 10, with the ANN as served) against exact
top 10 computed here with numpy over the same float16 serving file (every row scored),
recall@10; the same with a year filter (the most common year), an author filter (papers
of one author: narrow), random allow-lists of 10% and 50% of the papers (below and above
the share that is applied to the ANN's candidates instead of inside its search) and the
most common category (matched in the lexical index; semantic and hybrid latency too).
Then ``paperatlas serve --workers 2`` on the library answers every query once over HTTP in
each mode (so both workers have loaded what they serve), and the RSS and PSS of its
processes (the parent and its workers) are summed: RSS counts the shared file pages once
per process, PSS shares them out; ``rss_all_index_pages_mb`` is the RSS were every page of
the index files each process maps resident (a long-running server's worst case).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PAPERATLAS_SHARED", REPO.parent / "shared")) / "data"
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from paperatlas import Library  # noqa: E402
from paperatlas.search.lexical import Filters  # noqa: E402
from paperatlas.vectors import VectorFilter  # noqa: E402

MODES = ("lexical", "semantic", "hybrid")
#: Shares of the library let through by the random allow-lists whose recall is measured.
SHARES = (0.1, 0.5)


def load_queries(n: int) -> list[str]:
    def first(path: Path, count: int) -> list[str]:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        return [r["text"] for r in rows[:count]]

    return (first(SHARED / "scifact/queries-train.jsonl", n // 2)
            + first(SHARED / "nfcorpus/queries-dev.jsonl", n - n // 2))


def pct(times: list[float], p: float) -> float:
    ordered = sorted(times)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 2)


def latency(lib: Library, queries: list[str], mode: str, **filters: Any) -> dict[str, float]:
    for q in ("warm up one", "warm up two"):
        lib.search(q, mode=mode, **filters)
    lib.search.service._query_vector.cache_clear()
    times = []
    for q in queries:
        start = time.perf_counter()
        lib.search(q, mode=mode, limit=10, **filters)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": pct(times, 0.95)}


def exact_top(text: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int,
              allowed: np.ndarray | None = None) -> list[set[int]]:
    """Exact top ``k`` paper ids per query over float16 rows, a block at a time."""
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    mask = None if allowed is None else np.isin(ids, allowed)
    for start in range(0, len(ids), 65_536):
        block = np.asarray(text[start:start + 65_536], dtype=np.float32)
        scores = queries @ block.T
        if mask is not None:
            scores[:, ~mask[start:start + 65_536]] = -np.inf
        both_s = np.hstack([best_s, scores])
        both_i = np.hstack([best_i, np.broadcast_to(ids[start:start + len(block)],
                                                     scores.shape)])
        top = np.argpartition(-both_s, k - 1, axis=1)[:, :k]
        best_s = np.take_along_axis(both_s, top, axis=1)
        best_i = np.take_along_axis(both_i, top, axis=1)
    return [set(row[np.isfinite(s)].tolist()) for row, s in zip(best_i, best_s, strict=True)]


def recall(lib: Library, vectors: np.ndarray, filters: VectorFilter | None,
           allowed: np.ndarray | None) -> dict[str, float]:
    store = lib.vectors
    base = store._current().base
    assert base is not None, "no serving file: run `paperatlas index` first"
    exact = exact_top(base.text, np.asarray(base.ids), vectors, 10, allowed)
    got, times = [], []
    for v in vectors:
        start = time.perf_counter()
        hits = store.search(v, 10, filters)
        times.append((time.perf_counter() - start) * 1000)
        got.append({h.paper_id for h in hits})
    values = [len(g & e) / len(e) for g, e in zip(got, exact, strict=True) if e]
    return {"recall_at_10": round(float(np.mean(values)), 4),
            "p50_ms": round(statistics.median(times), 2), "p95_ms": pct(times, 0.95)}


def in_process(db: Path, queries: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with Library(db) as lib:
        for mode in MODES:
            out[mode] = latency(lib, queries, mode)
        embedder = lib.search.service.embedder
        assert embedder is not None
        vectors = np.asarray(embedder.encode(queries, kind="query"), dtype=np.float32)
        out["semantic_part"] = recall(lib, vectors, None, None)
        con = sqlite3.connect(db)
        year, share = con.execute(
            "SELECT year, COUNT(*) * 1.0 / (SELECT COUNT(*) FROM papers) FROM papers "
            "GROUP BY year ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
        ids = np.array([r[0] for r in con.execute("SELECT id FROM papers WHERE year = ?",
                                                   (year,))], dtype=np.int64)
        out["year_filter"] = {"year": year, "share": round(share, 4),
                              **recall(lib, vectors, VectorFilter(year_from=year,
                                                                  year_to=year), ids)}
        name = json.loads(con.execute("SELECT authors FROM papers LIMIT 1").fetchone()[0])[0]
        ids = np.array([r[0] for r in con.execute(
            "SELECT id FROM papers WHERE authors LIKE ?", (f'%"{name}"%',))], dtype=np.int64)
        share = len(ids) / con.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
        out["author_filter"] = {"author": name, "share": round(share, 4),
                                **recall(lib, vectors, VectorFilter(papers=set(ids.tolist())),
                                         ids)}
        out["hybrid_year_filter"] = latency(lib, queries, "hybrid", year_from=year,
                                            year_to=year)
        out["hybrid_author_filter"] = latency(lib, queries, "hybrid", author=name)
        all_ids = np.asarray(lib.vectors.ids(), dtype=np.int64)
        rng = np.random.default_rng(18)
        for share in SHARES:  # below and above the share applied after the ANN
            ids = np.sort(rng.choice(all_ids, int(len(all_ids) * share), replace=False))
            out[f"random_{share:g}_filter"] = recall(
                lib, vectors, VectorFilter(papers=set(ids.tolist())), ids)
        out["category_filter"] = category_filter(lib, con, queries, vectors)
    return out


def category_filter(lib: Library, con: sqlite3.Connection, queries: list[str],
                    vectors: np.ndarray) -> dict[str, Any]:
    """The most common category of the first 20,000 papers (a broad filter, matched in the
    lexical index): recall@10 of the semantic part against exact, and the latency of
    the semantic and hybrid modes with it."""
    counts: dict[str, int] = {}
    for (cats,) in con.execute("SELECT categories FROM papers LIMIT 20000"):
        for c in json.loads(cats):
            counts[c] = counts.get(c, 0) + 1
    category = max(counts, key=lambda c: (counts[c], c))
    service = lib.search.service
    filters = Filters(category=category)
    allowed = service._reader().matching_ids(filters)
    base = lib.vectors._current().base
    assert base is not None
    exact = exact_top(base.text, np.asarray(base.ids), vectors, 10, allowed)
    got, times = [], []
    for v in vectors:
        start = time.perf_counter()
        hits, _ = service._semantic(v, 10, filters, titles=False)
        times.append((time.perf_counter() - start) * 1000)
        got.append({pid for pid, _ in hits})
    values = [len(g & e) / len(e) for g, e in zip(got, exact, strict=True) if e]
    return {"category": category, "share": round(len(allowed) / len(base.ids), 4),
            "recall_at_10": round(float(np.mean(values)), 4),
            "p50_ms": round(statistics.median(times), 2), "p95_ms": pct(times, 0.95),
            "semantic": latency(lib, queries, "semantic", category=category),
            "hybrid": latency(lib, queries, "hybrid", category=category)}


def tree_of(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def memory(pid: int, folder: Path | None = None) -> dict[str, int]:
    """RSS and PSS of the process tree; with ``folder``, also its RSS were every page of
    the files mapped from ``folder`` (the index files) touched, as a server running long
    enough touches them: the measured RSS plus the untouched rest of those mappings."""
    rss = pss = untouched = 0
    for p in tree_of(pid):
        for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
        if folder is not None:
            untouched += _untouched_kb(Path(f"/proc/{p}/smaps"), str(folder))
    out = {"rss_mb": rss // 1024, "pss_mb": pss // 1024}
    if folder is not None:
        out["rss_all_index_pages_mb"] = (rss + untouched) // 1024
    return out


def _untouched_kb(smaps: Path, prefix: str) -> int:
    """kB of the mappings of files under ``prefix`` that are not resident."""
    total, mine, size = 0, False, 0
    for line in smaps.read_text().splitlines():
        head = line.split()
        if not head:
            continue
        if "-" in head[0] and not head[0].endswith(":"):  # a mapping's first line
            mine = len(head) >= 6 and head[5].startswith(prefix)
        elif mine and head[0] == "Size:":
            size = int(head[1])
        elif mine and head[0] == "Rss:":
            total += size - int(head[1])
    return total


def server(db: Path, queries: list[str], workers: int) -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(REPO / ".venv/bin/paperatlas"), "--db", str(db), "serve",
                             "--port", str(port), "--workers", str(workers)],
                            env={**os.environ, "HF_HUB_OFFLINE": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=5).connect()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.5)
        times: dict[str, list[float]] = {m: [] for m in MODES}
        for mode in MODES:
            for q in queries:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                start = time.perf_counter()
                conn.request("GET", "/api/search?" + urlencode({"q": q, "mode": mode}))
                response = conn.getresponse()
                response.read()
                times[mode].append((time.perf_counter() - start) * 1000)
                assert response.status == 200, response.status
                conn.close()
        return {"workers": workers, **memory(proc.pid, db.parent / f"{db.name}.index"),
                **{f"http_{m}_p50_ms": round(statistics.median(t), 2) for m, t in times.items()}}
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    db = args.work / "library.db"
    queries = load_queries(args.queries)
    result: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="minutes"),
                              "machine": platform.processor() or platform.machine(),
                              "cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    result["in_process"] = in_process(db, queries)
    if not args.no_server:
        result["server"] = server(db, queries, args.workers)
    result["load_after"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))
    (args.work / "serving.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
