"""``paperatlas update`` end to end on a day of new papers, against the same steps run by
hand (issue 17).

Usage:  .venv/bin/python bench/update_bench.py [--new 300] [--repeat 2] [--out update.json]

The library: the seed pages (``../shared/seeds``) ingested and indexed (with the default
embedding model), a topic tree and a map built: ``make demo``'s library, made once per
run. "A day of new papers": ``--new`` real papers (CSFCube/SciFact texts, new arXiv ids)
served by a stand-in arXiv API on loopback (bench/sync_bench.py's replay), with the
politeness waits off (``[sources] pace = 0``). Each repeat copies the library twice and
times, as subprocesses (cold CLI starts included):

* ``update``: ``paperatlas update`` (sync, index, tree update, map placement, digests);
* by hand: ``sync``, ``index``, ``tree update``, ``map build``, ``digest run``.

Both must end with the same papers, every new paper in the tree and on the map.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import sync_bench  # noqa: E402
from standin import standin  # noqa: E402

CLI = str(HERE.parent / ".venv" / "bin" / "paperatlas")
SEEDS = HERE.parent.parent / "shared" / "seeds"


def cli(db: Path, settings: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([CLI, "--db", str(db), "--settings", str(settings), *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def copy(src: Path, dst: Path) -> Path:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    index = src.with_name(src.name + ".index")
    if index.exists():
        shutil.copytree(index, dst.with_name(dst.name + ".index"))
    return dst


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        one = lambda sql: int(c.execute(sql).fetchone()[0])  # noqa: E731
        return {"papers": one("SELECT COUNT(*) FROM papers"),
                "in_tree": one("SELECT COUNT(DISTINCT paper_id) FROM tree_links"),
                "on_map": one("SELECT COUNT(*) FROM map_points"),
                "vectors": one("SELECT COUNT(*) FROM embeddings")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, standin() as server:
        work = Path(tmp)
        spec = sync_bench.arxiv(server, sync_bench.corpus(args.new))
        settings = work / "settings.toml"
        settings.write_text("[sources]\npace = 0.0\n")
        base = work / "base.db"
        t0 = time.perf_counter()
        cli(base, settings, "ingest", "--index", str(SEEDS))
        cli(base, settings, "tree", "build", "--name", "seeds")
        cli(base, settings, "map", "build")
        cli(base, settings, "sources", "add", "day", "--kind", "arxiv", "--query", "bench",
            "--since", "2026-11-01", "--base-url", str(spec.base_url))
        print(f"base library: {counts(base)} in {time.perf_counter() - t0:.1f} s", flush=True)
        for i in range(args.repeat):
            one = copy(base, work / f"update{i}.db")
            row: dict[str, Any] = {"update_s": round(cli(one, settings, "update"), 2),
                                   "update_counts": counts(one)}
            hand = copy(base, work / f"hand{i}.db")
            steps = {}
            for name, argv in (("sync", ["sync", "day"]), ("index", ["index"]),
                               ("tree update", ["tree", "update", "--name", "seeds"]),
                               ("map build", ["map", "build"]),
                               ("digest run", ["digest", "run"])):
                steps[name] = round(cli(hand, settings, *argv), 2)
            row.update(by_hand_s=round(sum(steps.values()), 2), steps=steps,
                       by_hand_counts=counts(hand))
            row["ratio"] = round(row["update_s"] / row["by_hand_s"], 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{stamp}; seed library + {args.new} new papers from a stand-in arXiv API")
    print("| run | update (s) | by hand (s) | update / by hand | papers | in tree | on map |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for i, r in enumerate(rows):
        c = r["update_counts"]
        print(f"| {i + 1} | {r['update_s']} | {r['by_hand_s']} | {r['ratio']} | "
              f"{c['papers']} | {c['in_tree']} | {c['on_map']} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
