"""Ingest throughput: paperatlas against plain baselines, in the same run.

Usage: .venv/bin/python bench/ingest_bench.py [--shared ../shared] [--repeat 5] [--scale 200000]

Measures records/s for
- paperatlas ingest (parse + dedup + provenance + collections, one transaction per file)
  on the five seed pages and on the SciFact corpus (5,183 records), first run and re-run;
- the peers: ``json.loads`` of every line (the parse floor) and sqlite-utils
  ``insert_all`` of the same rows (a plain bulk insert with no dedup), when installed;
- optionally ``--scale N``: N synthetic records (titles and abstracts resampled from
  SciFact's words, so they are distinct) into one library, to see how dedup lookups
  hold up as the library grows.
Prints a Markdown table to paste into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from paperatlas import Library


def timed(fn: Callable[[], object], repeat: int,
          setup: Callable[[], None] | None = None) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs (``setup`` runs untimed before each)."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class FreshIngest:
    """Ingest into a new, empty library each time; creating the library is not timed."""

    def __init__(self, paths: list[Path], tmp: Path) -> None:
        self.paths, self.tmp, self.n = paths, tmp, 0
        self.lib: Library | None = None

    def setup(self) -> None:
        if self.lib is not None:
            self.lib.close()
        self.n += 1
        self.lib = Library(self.tmp / f"fresh{self.n}.db")

    def __call__(self) -> object:
        assert self.lib is not None
        report = self.lib.ingest(self.paths)
        assert not report.failed
        return report

    def measure(self, repeat: int) -> float:
        secs = timed(self, repeat, self.setup)
        if self.lib is not None:
            self.lib.close()
        return secs


def ingest_again(paths: list[Path], tmp: Path) -> Callable[[], object]:
    lib = Library(tmp / "again.db")
    lib.ingest(paths)
    return lambda: lib.ingest(paths)


def json_floor(path: Path) -> Callable[[], object]:
    def run() -> object:
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]
    return run


def sqlite_utils_insert(path: Path) -> Callable[[], object] | None:
    try:
        import sqlite_utils
    except ImportError:
        return None

    def run() -> object:
        with tempfile.TemporaryDirectory() as tmp, path.open(encoding="utf-8") as fh:
            db = sqlite_utils.Database(Path(tmp) / "s.db")
            db.execute("PRAGMA journal_mode=WAL")
            rows = (json.loads(line) for line in fh)
            db["docs"].insert_all(rows, pk="_id", batch_size=1000)
            db.close()
            return None
    return run


def synthetic(scifact: Path, n: int, out: Path) -> Path:
    """N distinct records built from SciFact's vocabulary (labelled synthetic in results)."""
    words: list[str] = []
    with scifact.open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            words += obj["title"].split() + obj["text"].split()[:40]
    rng = random.Random(13)
    with out.open("w", encoding="utf-8") as fh:
        for i in range(n):
            title = " ".join(rng.choices(words, k=rng.randint(6, 14)))
            text = " ".join(rng.choices(words, k=120))
            fh.write(json.dumps({"_id": f"s{i}", "title": title, "text": text}) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scale", type=int, default=0, help="also ingest N synthetic records")
    args = ap.parse_args()
    seeds = sorted((args.shared / "seeds").glob("*.txt"))
    scifact = args.shared / "data" / "scifact" / "corpus.jsonl"
    n_seeds, n_scifact = 386, 5183
    rows: list[tuple[str, int, float]] = []

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        rows.append(("paperatlas ingest, seed pages (new library)", n_seeds,
                     FreshIngest(seeds, tmp).measure(args.repeat)))
        rows.append(("paperatlas ingest, seed pages (re-run, all skipped)", n_seeds,
                     timed(ingest_again(seeds, tmp), args.repeat)))
        rows.append(("paperatlas ingest, SciFact corpus (new library)", n_scifact,
                     FreshIngest([scifact], tmp).measure(args.repeat)))
        rows.append(("paperatlas ingest, SciFact corpus (re-run, all skipped)", n_scifact,
                     timed(ingest_again([scifact], tmp), args.repeat)))
        peer = sqlite_utils_insert(scifact)
        if peer is not None:
            rows.append(("peer: sqlite-utils insert_all, SciFact (no dedup)", n_scifact,
                         timed(peer, args.repeat)))
        rows.append(("peer: json.loads only, SciFact (parse floor)", n_scifact,
                     timed(json_floor(scifact), args.repeat)))
        if args.scale:
            big = synthetic(scifact, args.scale, tmp / "synthetic.jsonl")
            rows.append((f"paperatlas ingest, {args.scale:,} synthetic records", args.scale,
                         FreshIngest([big], tmp).measure(1)))

    ours = next(r for r in rows if r[0].startswith("paperatlas ingest, SciFact corpus (new"))
    ours_rate = ours[1] / ours[2]
    print(f"Machine: {platform.machine()} {platform.processor() or ''}, "
          f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}; "
          f"median of {args.repeat} runs\n")
    print("| measurement | records | seconds | records/s | paperatlas SciFact rate ÷ this |")
    print("|---|---:|---:|---:|---:|")
    for name, n, secs in rows:
        rate = n / secs
        print(f"| {name} | {n:,} | {secs:.3f} | {rate:,.0f} | {ours_rate / rate:.2f} |")


if __name__ == "__main__":
    main()
