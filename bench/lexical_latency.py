"""Lexical search latency of a library, this checkout against another, alternating
(issue 18: lexical p50 at 2.5M papers).

Usage::

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/lexical_latency.py --db LIB --before /tmp/before [--runs 3]

Each run is a fresh process per checkout (this one's ``src/`` and ``--before``'s), one
after the other, so both see the same machine load: the queries of
``bench/scale_serving.py`` (SciFact train claims and NFCorpus dev queries), searched once
to warm, then ``--rounds`` rounds of ``Library.search(mode="lexical", limit=10)`` with
snippets, as the CLI and web show them. Printed: each round's p50 (ms), the median of the
rounds per checkout, the ratio, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_ONE = """
import json, os, statistics, sys, time
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])
from paperatlas import Library
from scale_serving import load_queries
lib = Library(sys.argv[3]); queries = load_queries(int(sys.argv[4]))
for q in queries:
    lib.search(q, mode="lexical", limit=10)
rounds = []
for _ in range(int(sys.argv[5])):
    times = []
    for q in queries:
        start = time.perf_counter()
        lib.search(q, mode="lexical", limit=10)
        times.append((time.perf_counter() - start) * 1000)
    rounds.append(round(statistics.median(times), 3))
print(json.dumps(rounds))
"""


def run(src: Path, db: Path, queries: int, rounds: int) -> list[float]:
    """Rounds' p50 of a fresh process running ``src``'s paperatlas."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", _ONE, str(src), str(ROOT / "bench"), str(db),
                          str(queries), str(rounds)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return list(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    sides = {"this": ROOT / "src"}
    if args.before is not None:
        sides["before"] = args.before / "src"
    seen: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.runs):
        for name in reversed(sides):
            seen[name] += run(sides[name], args.db, args.queries, args.rounds)
    summary = {name: {"rounds_p50_ms": r, "median_ms": round(statistics.median(r), 2)}
               for name, r in seen.items()}
    if "before" in summary:
        summary["ratio_this_over_before"] = {"median": round(
            statistics.median(seen["this"]) / statistics.median(seen["before"]), 3)}
    summary["load_1min"] = {"at_end": round(os.getloadavg()[0], 2)}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
