"""Ingest of a big arXiv metadata snapshot (Kaggle lines): throughput, peak memory, and
a kill-and-resume check.

Generates N lines (default 1,000,000) from the real sample lines in
``../shared/data/formats/arxiv-kaggle-metadata-sample`` (their authors, categories,
comments and dates; titles and abstracts recombined from their words and sentences;
new ids; about 2% are the journal version of an earlier line: the same id with a new
version, a DOI and a journal-ref), ingests them with ``paperatlas ingest`` in a
subprocess, and reports records/s and the peak RSS. Then it ingests the same file into
a second library, SIGKILLs it about halfway, runs it again, and checks that the paper
count and keys equal those of the uninterrupted run.

With ``--code DIR`` (repeatable), the same file is also ingested by other checkouts (a
``git worktree`` of an older commit: its ``src`` goes first on ``PYTHONPATH``), in turns
with this one for ``--rounds`` rounds, each into a new library; a table gives each
code's median records/s and this checkout's ratio to it.

    .venv/bin/python bench/snapshot_ingest.py [--lines N] [--work DIR] [--no-kill]
        [--code DIR ...] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PAPERATLAS_SHARED", REPO.parent / "shared"))
SAMPLE = (SHARED / "data/formats/arxiv-kaggle-metadata-sample"
          / "arxiv-metadata-oai-snapshot_sample49.jsonl")
PAPERATLAS = str(REPO / ".venv/bin/paperatlas")


def generate(path: Path, n: int, seed: int = 17) -> int:
    """Write ``n`` snapshot lines; the number of journal-version duplicates among them."""
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    words = sorted({w for r in rows for w in r["title"].split() if w.isalpha()}
                   | {w for r in rows for w in r["abstract"].split() if w.isalpha()})
    sentences = [s.strip() + "." for r in rows for s in r["abstract"].split(". ") if s.strip()]
    rng = random.Random(seed)
    made: list[tuple[str, str, str]] = []  # (id, title, abstract) for duplicates
    dups = 0
    with path.open("w") as fh:
        for i in range(n):
            base = rows[i % len(rows)]
            row: dict[str, Any] = dict(base)
            if made and rng.random() < 0.02:
                journal_version(row, *made[rng.randrange(len(made))])
                dups += 1
            else:
                block = i // 99_999  # ids of months from 1501 on, 99,999 a month
                ident = f"{15 + block // 12:02d}{block % 12 + 1:02d}.{i % 99_999 + 1:05d}"
                title = " ".join(rng.choice(words) for _ in range(rng.randint(6, 14)))
                abstract = " ".join(rng.sample(sentences, 4))
                row.update(id=ident, title=title, abstract=abstract,
                           doi=f"10.5555/arxiv.{ident}")
                if len(made) < 50_000:
                    made.append((ident, title, abstract))
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")
    return dups


def journal_version(row: dict[str, Any], ident: str, title: str, abstract: str) -> None:
    """Make ``row`` the journal version of an earlier line: the same id, title, abstract
    and DOI, a ``journal-ref`` and a v9 version."""
    row.update(id=ident, title=title, abstract=abstract, doi=f"10.5555/arxiv.{ident}",
               **{"journal-ref": "Bench J. 1 (2024)"})
    row["versions"] = [*row["versions"][:1],
                       {"version": "v9", "created": "Mon, 1 Jan 2024 00:00:00 GMT"}]


def ingest(db: Path, path: Path, code: Path | None = None) -> subprocess.Popen[bytes]:
    """``paperatlas ingest`` of ``path`` into ``db``, by this checkout or by ``code``."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(code / "src"), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.Popen([PAPERATLAS, "--db", str(db), "--model", "none", "ingest",
                             "--json", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)


@dataclass
class Run:
    """One timed ingest (CPU and peak RSS of the ingest and its helper process)."""

    report: dict[str, Any]
    seconds: float
    cpu: float
    peak_mb: float
    load: float
    returncode: int

    @property
    def rate(self) -> float:
        return float(self.report["records"]) / self.seconds


def timed_ingest(db: Path, path: Path, code: Path | None = None) -> Run:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = ingest(db, path, code)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # its usage includes its reaped helper's
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(json.loads(out), seconds, usage.ru_utime + usage.ru_stime,
               usage.ru_maxrss / 1024, load, proc.returncode)


def describe(run: Run) -> str:
    r = run.report
    return (f"{r['records']:,} records, {r['added']:,} added, {r['merged']:,} merged, "
            f"{r['rejected']:,} rejected in {run.seconds:.1f} s = {run.rate:,.0f} records/s "
            f"({run.cpu:.0f} CPU-s: {r['records'] / run.cpu:,.0f} records per CPU-second; "
            f"the machine's load {run.load:.1f} before); peak RSS {run.peak_mb:.0f} MB; "
            f"exit {run.returncode}")


def compare(data: Path, work: Path, codes: list[Path], rounds: int) -> int:
    """Each code (None: this checkout) ingests ``data`` into a new library, in turns."""
    names = ["this checkout", *(str(c) for c in codes)]
    runs: dict[str, list[Run]] = {n: [] for n in names}
    for i in range(rounds):
        for name, code in zip(names, [None, *codes], strict=True):
            db = work / f"compare{len(runs[name])}-{names.index(name)}.db"
            run = timed_ingest(db, data, code)
            runs[name].append(run)
            print(f"round {i + 1}, {name}: {describe(run)}", flush=True)
            for old in work.glob(f"{db.name}*"):
                old.unlink()
    base = statistics.median(r.rate for r in runs[names[0]])
    print("\n| code | records/s (each round) | median | this checkout ÷ it | records per "
          "CPU-s (median) | peak RSS |\n|---|---|---:|---:|---:|---:|")
    for name in names:
        rates = [r.rate for r in runs[name]]
        per_cpu = statistics.median(r.report["records"] / r.cpu for r in runs[name])
        print(f"| {name} | {' / '.join(f'{x:,.0f}' for x in rates)} | "
              f"{statistics.median(rates):,.0f} | {base / statistics.median(rates):.2f} | "
              f"{per_cpu:,.0f} | {max(r.peak_mb for r in runs[name]):.0f} MB |")
    return max(r.returncode for rs in runs.values() for r in rs)


def keys(db: Path) -> tuple[int, set[str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        got = {r[0] for r in conn.execute("SELECT key FROM papers")}
    finally:
        conn.close()
    return len(got), got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/pa-snapshot-bench"))
    ap.add_argument("--no-kill", action="store_true",
                    help="measure the ingest only (no kill -9 and resume check)")
    ap.add_argument("--code", type=Path, action="append", default=[],
                    help="also time this checkout (a git worktree), in turns with this one")
    ap.add_argument("--rounds", type=int, default=1, help="turns of each code (with --code)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for old in args.work.glob("*.db*"):
        old.unlink()
    data = args.work / "arxiv-metadata-oai-snapshot.json"
    t0 = time.perf_counter()
    dups = generate(data, args.lines)
    print(f"generated {args.lines:,} lines ({data.stat().st_size / 1e6:.0f} MB, "
          f"{dups:,} journal-version duplicates) in {time.perf_counter() - t0:.0f} s")

    if args.code:
        sys.exit(compare(data, args.work, args.code, args.rounds))
    whole = args.work / "whole.db"
    run = timed_ingest(whole, data)
    seconds = run.seconds
    print(f"ingest: {describe(run)}")
    count, expected = keys(whole)
    if args.no_kill:
        sys.exit(run.returncode)

    resumed = args.work / "resumed.db"
    proc = ingest(resumed, data)
    time.sleep(seconds / 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored, _ = keys(resumed)
    t0 = time.perf_counter()
    proc = ingest(resumed, data)
    proc.communicate()
    again = time.perf_counter() - t0
    count2, got = keys(resumed)
    same = count2 == count and got == expected
    print(f"kill -9 after {seconds / 2:.0f} s with {stored:,} papers stored; the re-run took "
          f"{again:.0f} s; {count2:,} papers, same keys as the uninterrupted run: {same}")
    sys.exit(0 if same and proc.returncode == 0 else 1)


if __name__ == "__main__":
    main()
