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

    .venv/bin/python bench/snapshot_ingest.py [--lines N] [--work DIR] [--no-kill]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time
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


def ingest(db: Path, path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PAPERATLAS, "--db", str(db), "--model", "none", "ingest",
                             "--json", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)


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
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for old in args.work.glob("*.db*"):
        old.unlink()
    data = args.work / "arxiv-metadata-oai-snapshot.json"
    t0 = time.perf_counter()
    dups = generate(data, args.lines)
    print(f"generated {args.lines:,} lines ({data.stat().st_size / 1e6:.0f} MB, "
          f"{dups:,} journal-version duplicates) in {time.perf_counter() - t0:.0f} s")

    whole = args.work / "whole.db"
    t0 = time.perf_counter()
    proc = ingest(whole, data)
    out, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    report = json.loads(out)
    print(f"ingest: {report['records']:,} records, {report['added']:,} added, "
          f"{report['merged']:,} merged, {report['rejected']:,} rejected in {seconds:.0f} s = "
          f"{report['records'] / seconds:,.0f} records/s ({cpu:.0f} CPU-s: "
          f"{report['records'] / cpu:,.0f} records per CPU-second; the machine's load "
          f"{os.getloadavg()[0]:.1f}); peak RSS {peak_mb:.0f} MB; exit {proc.returncode}")
    count, expected = keys(whole)
    if args.no_kill:
        sys.exit(proc.returncode)

    resumed = args.work / "resumed.db"
    proc = ingest(resumed, data)
    time.sleep(seconds / 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored, _ = keys(resumed)
    t0 = time.perf_counter()
    proc = ingest(resumed, data)
    out, _ = proc.communicate()
    again = time.perf_counter() - t0
    count2, got = keys(resumed)
    same = count2 == count and got == expected
    print(f"kill -9 after {seconds / 2:.0f} s with {stored:,} papers stored; the re-run took "
          f"{again:.0f} s; {count2:,} papers, same keys as the uninterrupted run: {same}")
    sys.exit(0 if same and proc.returncode == 0 else 1)


if __name__ == "__main__":
    main()
