"""Server memory and semantic query latency of the vector store, before and after the
memory-mapped serving file, at 100k and 200k papers.

Usage: .venv/bin/python bench/serve_vectors_bench.py --before COMMIT [--sizes 100000 200000]

Vectors are random unit vectors (dimension 384, float16 as stored), a title vector for
every other paper: memory and latency depend on the count and the dimension, not on what
the vectors mean, but recall does: random unit vectors in 384 dimensions have no
neighbourhoods (every cosine is near 0), the worst case for HNSW, so the recall figures
here are a floor and the same for both versions, not what real vectors get. One SQLite
library per size is built here with the current code (papers, vectors, the serving
file, the HNSW); the code at ``--before`` runs
on a copy of it (``git worktree add``, imported through PYTHONPATH) with the same HNSW
file. Each figure comes from fresh processes: two server processes load the store (one
ANN query each) and run the queries; the memory of one, and of both together (the sum of
Pss from /proc/PID/smaps_rollup, so shared pages count once, and of USS), is read after
that. Latencies: p50 of one ``VectorStore.search`` (top 10, title vectors counted, as
hybrid does) exact (no ANN) and with the ANN, recall@10 of the ANN against exact, and
filtered by a broad (half the papers) and a narrow (1%) allow-list, as the lexical index
hands them over.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

DIM = 384
MODEL = "random-384"
QUERIES = 40

WORKER = r"""
import json, statistics, sys, time
from pathlib import Path
import numpy as np
from paperatlas.store import Store
from paperatlas.vectors import SqliteVectorStore, VectorFilter
db, folder, mode = sys.argv[1], sys.argv[2], sys.argv[3]
store = Store(Path(db))
vs = SqliteVectorStore(store, Path(folder) if folder != "-" else None)
rng = np.random.default_rng(99)
qs = rng.standard_normal((%(q)d, %(dim)d)).astype(np.float32)
qs /= np.linalg.norm(qs, axis=1, keepdims=True)
ids = np.asarray(vs.ids())
broad = set(rng.choice(ids, len(ids) // 2, replace=False).tolist())
narrow = set(rng.choice(ids, len(ids) // 100, replace=False).tolist())
t = time.perf_counter(); vs.search(qs[0], 10); load = time.perf_counter() - t
out = {"load_s": load}
def p50(f):
    times = []
    for q in qs:
        t = time.perf_counter(); f(q); times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000
if mode == "exact":
    out["exact_ms"] = p50(lambda q: vs.search(q, 10))
    out["top"] = [[h.paper_id for h in vs.search(q, 10)] for q in qs]
    out["broad_top"] = [[h.paper_id for h in vs.search(q, 10, VectorFilter(papers=broad))]
                        for q in qs]
else:
    out["ann_ms"] = p50(lambda q: vs.search(q, 10))
    out["top"] = [[h.paper_id for h in vs.search(q, 10)] for q in qs]
    out["broad_ms"] = p50(lambda q: vs.search(q, 10, VectorFilter(papers=broad)))
    out["broad_top"] = [[h.paper_id for h in vs.search(q, 10, VectorFilter(papers=broad))]
                        for q in qs]
    out["narrow_ms"] = p50(lambda q: vs.search(q, 10, VectorFilter(papers=narrow)))
print(json.dumps(out), flush=True)
sys.stdin.readline()  # held until the parent has read its memory
"""


def build(db: Path, n: int, src: Path) -> None:
    """Papers and random vectors, then ``optimize`` (serving file + HNSW), current code."""
    code = f"""
import numpy as np
from pathlib import Path
from paperatlas.store import Store, utcnow
from paperatlas.vectors import STATE, SqliteVectorStore, VectorRecord
store = Store(Path({str(db)!r})); now = utcnow(); rng = np.random.default_rng(0)
with store.transaction():
    for i in range({n}):
        store.papers.insert(key=f"p{{i}}", title=f"Paper {{i}}", norm_title=f"paper {{i}}",
            abstract="a", authors=[], date=f"{{2000 + i % 20}}-01-01", venue=None,
            categories=[], links=[], now=now)
vs = SqliteVectorStore(store, Path({str(db)!r} + ".index"))
ids = vs.store.vectors.conn.execute("SELECT id FROM papers ORDER BY id").fetchall()
for start in range(0, len(ids), 20000):
    part = [r[0] for r in ids[start:start + 20000]]
    m = rng.standard_normal((2 * len(part), {DIM})).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    with store.transaction():
        vs.upsert({MODEL!r}, [VectorRecord(p, m[2 * j], m[2 * j + 1] if p % 2 else None, "h")
                              for j, p in enumerate(part)])
        store.search.set_state(STATE, store.search.last_seq(), {{"model": {MODEL!r}}}, now)
vs.optimize()
"""
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(src))


def _env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1"}


def memory(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) // 1024
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "uss": fields["Private_Clean"] + fields["Private_Dirty"]}


def run(src: Path, db: Path, folder: str, mode: str, procs: int) -> tuple[dict, list]:
    """Start ``procs`` workers, wait for their answers, read their memory, stop them."""
    code = WORKER % {"q": QUERIES, "dim": DIM}
    workers = [subprocess.Popen([sys.executable, "-c", code, str(db), folder, mode],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env=_env(src)) for _ in range(procs)]
    answers = [json.loads(w.stdout.readline()) for w in workers]  # type: ignore[union-attr]
    mems = [memory(w.pid) for w in workers]
    for w in workers:
        w.communicate("\n")
    return answers[0], mems


def recall(got: list[list[int]], exact: list[list[int]]) -> float:
    return sum(len(set(a) & set(b)) for a, b in zip(got, exact, strict=True)) / (
        10 * len(exact))


def measure(src: Path, db: Path, after: bool) -> dict[str, float]:
    index = str(db) + ".index"
    exact_folder = str(db) + ".exact"
    if not Path(exact_folder).exists():  # the serving file alone (no HNSW): exact
        shutil.copytree(index, exact_folder, ignore=shutil.ignore_patterns("ann*"))
    exact, _ = run(src, db, exact_folder if after else "-", "exact", 1)
    ann, mems = run(src, db, index, "ann", 2)
    return {"rss1": mems[0]["rss"], "pss2": mems[0]["pss"] + mems[1]["pss"],
            "uss2": mems[0]["uss"] + mems[1]["uss"], "load_s": ann["load_s"],
            "exact_ms": exact["exact_ms"], "ann_ms": ann["ann_ms"],
            "recall": recall(ann["top"], exact["top"]), "broad_ms": ann["broad_ms"],
            "broad_recall": recall(ann["broad_top"], exact["broad_top"]),
            "narrow_ms": ann["narrow_ms"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="the commit to compare with")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 200_000])
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    before = work / "before"
    subprocess.run(["git", "-C", str(here), "worktree", "add", "--detach", str(before),
                    args.before], check=True, capture_output=True)
    rows = []
    try:
        for n in args.sizes:
            db = work / f"lib{n}.db"
            t = time.perf_counter()
            build(db, n, here / "src")
            built = time.perf_counter() - t
            old_db = work / f"old{n}.db"
            shutil.copy(db, old_db)
            shutil.copytree(str(db) + ".index", str(old_db) + ".index")
            old = measure(before / "src", old_db, after=False)
            new = measure(here / "src", db, after=True)
            files = sum(p.stat().st_size for p in Path(str(db) + ".index").glob("serve-*"))
            rows.append((n, old, new, built, files))
    finally:
        subprocess.run(["git", "-C", str(here), "worktree", "remove", "--force",
                        str(before)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores, random unit vectors "
          f"(dim {DIM}, titles for half), {QUERIES} queries, before = {args.before}\n")
    names = [("rss1", "RSS, 1 process (MB)"), ("pss2", "PSS, 2 processes (MB)"),
             ("uss2", "USS, 2 processes (MB)"), ("load_s", "first query, load (s)"),
             ("exact_ms", "exact p50 (ms)"), ("ann_ms", "ANN p50 (ms)"),
             ("recall", "ANN recall@10"), ("broad_ms", "broad filter p50 (ms)"),
             ("broad_recall", "broad filter recall@10"),
             ("narrow_ms", "narrow filter p50 (ms)")]
    print("| N | measure | before | after | after/before |\n|---|---|---|---|---|")
    for n, old, new, built, files in rows:
        for key, label in names:
            ratio = new[key] / old[key] if old[key] else float("nan")
            print(f"| {n:,} | {label} | {old[key]:.3g} | {new[key]:.3g} | {ratio:.2f} |")
        print(f"| {n:,} | serving files (MB), build+optimize (s) | | "
              f"{files / 2**20:.0f}, {built:.0f} | |")


if __name__ == "__main__":
    main()
