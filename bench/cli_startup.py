"""CLI start-up: cold wall time of four commands, this code against another version.

Usage:

    git worktree add /tmp/pa-cli-old 64b976b      # the code to compare with
    .venv/bin/python bench/cli_startup.py --db /tmp/cli-demo/demo.db \
        --old /tmp/pa-cli-old/src [--runs 5] [--key KEY]
    git worktree remove /tmp/pa-cli-old

The library is the demo library (``make demo``: 334 papers with vectors, a tree, a map),
copied once per version into a temporary folder so that neither run changes it or sees the
other's files. Each timing is one fresh ``python`` process (``from paperatlas.cli import
main; main()``, what the ``paperatlas`` script runs) with ``PYTHONPATH`` naming the version's
``src``; the figure is the median of ``--runs``. The runs of the two versions alternate so
that load on the machine falls on both alike. Commands: ``--help``, ``search --mode lexical``,
``similar KEY`` (on stored vectors) and ``tree show``.

Goals (issue 16, item 7): --help <= 0.3 s, lexical search <= 0.8 s, similar <= 1.5 s,
tree show <= 0.6 s. Prints a Markdown table with the ratios, the machine and the date.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "src"
GOALS = {"--help": 0.3, "search --mode lexical": 0.8, "similar KEY": 1.5, "tree show": 0.6}
RUNNER = "from paperatlas.cli import main; main()"


def commands(key: str, tree: str) -> dict[str, list[str]]:
    """The four timed command lines (arguments after ``paperatlas --db DB``)."""
    return {
        "--help": ["--help"],
        "search --mode lexical": ["search", "--mode", "lexical", "LoRA"],
        "similar KEY": ["similar", key],
        "tree show": ["tree", "show", "--name", tree],
    }


def copy_library(db: Path, into: Path) -> Path:
    """Copy the library file with its companions (index folder, secret, ...) into a folder."""
    for item in db.parent.glob(db.name + "*"):
        target = into / item.name
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)
    return into / db.name


def once(src: Path, db: Path, args: list[str]) -> float:
    """Run one command in a fresh process; return its wall time in seconds."""
    env = dict(os.environ, PYTHONPATH=str(src), HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    env.pop("PAPERATLAS_DB", None)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RUNNER, "--db", str(db), *args], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{src}: paperatlas {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, required=True, help="The demo library.")
    ap.add_argument("--old", type=Path, required=True, help="The other version's src folder.")
    ap.add_argument("--new", type=Path, default=HERE, help="This version's src folder.")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--key", help="Paper key for `similar` (default: the library's first).")
    ap.add_argument("--tree", default="seeds", help="Tree name for `tree show`.")
    a = ap.parse_args()
    if a.key is None:
        with sqlite3.connect(f"file:{a.db}?mode=ro", uri=True) as con:
            a.key = con.execute("SELECT key FROM papers ORDER BY id LIMIT 1").fetchone()[0]
    cmds = commands(a.key, a.tree)
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        dbs = {}
        for version in ("old", "new"):
            (Path(tmp) / version).mkdir()
            dbs[version] = copy_library(a.db, Path(tmp) / version)
        srcs = {"old": a.old, "new": a.new}
        for name, args in cmds.items():
            for version in ("old", "new"):  # one warm-up each: the OS file cache, .pyc files
                once(srcs[version], dbs[version], args)
            for _ in range(a.runs):
                for version in ("old", "new"):
                    times.setdefault((name, version), []).append(
                        once(srcs[version], dbs[version], args))
    print(f"CLI start-up, median of {a.runs} cold processes; {platform.node()}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {datetime.date.today().isoformat()}\n")
    print("| command | before (s) | after (s) | after/before | goal (s) | met |")
    print("|---|---:|---:|---:|---:|---|")
    for name in cmds:
        old = statistics.median(times[(name, "old")])
        new = statistics.median(times[(name, "new")])
        print(f"| `{name}` | {old:.2f} | {new:.2f} | {new / old:.2f}x | {GOALS[name]} | "
              f"{'yes' if new <= GOALS[name] else 'no'} |")


if __name__ == "__main__":
    main()
