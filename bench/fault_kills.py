"""Kills survived per command (issue 21): every command of tests/test_faults_kills.py on
bigger inputs with more kill points (SQL statements spread over an uninterrupted run, plus
timed kills), each re-run in a child process and compared with the uninterrupted run's
library; and the work a kill loses in a big ingest (Kaggle snapshot lines, generated as
bench/snapshot_ingest.py does): lost = killed run + resumed run - uninterrupted run.

    flock /work/scratch/heavy.lock .venv/bin/python bench/fault_kills.py \\
        [--points 6] [--timed 2] [--lines 200000] [--ingest-kills 5] [--work DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]

from faults import Outcome, Scenario, copy_library, integrity, kill_and_rerun, run  # noqa: E402
from paperatlas import Library  # noqa: E402
from paperatlas.records.sources import SourceSpec  # noqa: E402
from paperatlas.worker import Worker  # noqa: E402
from snapshot_ingest import generate  # noqa: E402
from standin import ARXIV_RECORDED, Reply, arxiv_page, split_feed, standin  # noqa: E402
from test_semantic import HashingEmbedder  # noqa: E402
from test_tree import papers_of, write_csv  # noqa: E402

SHARED = REPO.parent / "shared"
HASH = "hash-64"


def library(path: Path, seeds: list[Path], *, embed: bool = False, tree: bool = False,
            more: list[Path] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with Library(path, embedding_model=HashingEmbedder(HASH, 64) if embed else None) as lib:
        if seeds:
            lib.ingest(seeds)
            if embed:
                lib.index()
        if tree:
            lib.trees.build("t")
            lib.map.build()
            Worker(lib).run_once()
        if more:
            lib.ingest(more)
            lib.index()
    return path


def report(outcomes: list[Outcome]) -> None:
    print("| command | statements | kills landed | survived | re-run equal | kinds hit |")
    print("|---|---:|---:|---:|---:|---|")
    for o in outcomes:
        landed = [k for k in o.kills if k.killed]
        kinds = sorted({k.job for k in landed if k.job})
        print(f"| {o.scenario} | {o.reference.statements} | {len(landed)} | "
              f"{sum(k.integrity == 'ok' for k in landed)} | {o.survived} | "
              f"{', '.join(kinds) or '-'} |")
        for k in o.kills:
            if k.killed and (k.integrity != "ok" or k.differences):
                print(f"  FAILED {o.scenario} at {k.at}: {k.integrity} {k.differences}")


def commands(work: Path, points: int, timed: int) -> list[Outcome]:
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    out: list[Outcome] = []

    def go(s: Scenario, **options: object) -> None:
        started = time.monotonic()
        folder = work / s.name.replace(" ", "_")
        o = kill_and_rerun(s, folder, points=points, timed=timed, in_process=False,
                           **options)  # type: ignore[arg-type]
        print(f"{s.name}: {o.survived}/{sum(k.killed for k in o.kills)} in "
              f"{time.monotonic() - started:.0f} s", flush=True)
        out.append(o)
        shutil.rmtree(folder, ignore_errors=True)

    empty = work / "empty" / "l.db"
    empty.parent.mkdir(parents=True)
    go(Scenario("ingest", empty, ["ingest", *map(str, seeds)]))
    go(Scenario("index", library(work / "ingested" / "l.db", seeds), ["index"]))
    few = library(work / "few" / "l.db", seeds[:1])  # the default model: few papers
    go(Scenario("index (all-MiniLM-L6-v2)", few, ["index"], model="all-MiniLM-L6-v2"))
    embedded = library(work / "embedded" / "l.db", seeds, embed=True)
    go(Scenario("tree build", embedded, ["tree", "build", "--name", "t"], model=HASH))
    grown = library(work / "grown" / "l.db", seeds[:3], embed=True, tree=True, more=seeds[3:])
    go(Scenario("tree update", grown, ["tree", "update", "--name", "t"], model=HASH))
    go(Scenario("map build", grown, ["map", "build", "--rebuild"], model=HASH))
    upload = write_csv(work / "up" / "new.csv", papers_of("protein", 40) + papers_of("galaxy", 40))
    queued = copy_library(grown, work / "queued" / "l.db")
    with Library(queued, embedding_model=None) as lib:
        lib.jobs.enqueue("ingest", {"file": upload.name, "collection": "up", "format": None},
                         payload={"path": str(upload)})
    go(Scenario("worker --once", queued, ["worker", "--once"], model=HASH), per_job=True)
    head, entries = split_feed(SHARED / "data" / ARXIV_RECORDED)
    with standin() as server:
        server.route("/api/query", lambda seen: Reply(
            arxiv_page(head, entries, int(seen.arg("start") or 0), 10),
            headers={"Content-Type": "application/atom+xml"}))
        conf = work / "settings.toml"
        conf.write_text("[sources]\npace = 0.01\nretries = 0\n", encoding="utf-8")
        src = library(work / "source" / "l.db", [])
        with Library(src, embedding_model=None) as lib:
            lib.sources.add(SourceSpec(name="testing", kind="arxiv", query="testing",
                                       since="2026-11-01", base_url=server.base_url))
        go(Scenario("sync", src, ["sync", "testing"], settings=conf))
        go(Scenario("update", src, ["update"], settings=conf))
    return out


def ingest_loss(work: Path, lines: int, kills: int) -> None:
    """Work lost per kill of a big ingest, and its batches."""
    data = work / "snapshot.jsonl"
    generate(data, lines)
    (work / "full").mkdir()
    full = run(work / "full" / "l.db", ["ingest", str(data)], timeout=7200)
    assert full.returncode == 0, full.err
    print(f"ingest of {lines} lines: {full.seconds:.1f} s uninterrupted", flush=True)
    losses = []
    for i in range(kills):
        db = work / f"k{i}" / "l.db"
        db.parent.mkdir()
        at = full.seconds * (i + 0.5) / kills
        killed = run(db, ["ingest", str(data)], kill_after=at, timeout=7200)
        sound = integrity(db)
        again = run(db, ["ingest", str(data)], timeout=7200)
        lost = killed.seconds + again.seconds - full.seconds
        losses.append(lost)
        print(f"  killed at {at:.1f} s ({'killed' if killed.killed else 'ended'}): "
              f"integrity {sound}, resumed in {again.seconds:.1f} s, lost {lost:.1f} s",
              flush=True)
        shutil.rmtree(db.parent)
    print(f"work lost per kill: mean {sum(losses) / len(losses):.1f} s, "
          f"max {max(losses):.1f} s (uninterrupted {full.seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=6)
    parser.add_argument("--timed", type=int, default=2)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--ingest-kills", type=int, default=5)
    parser.add_argument("--skip-commands", action="store_true")
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="fault-kills-"))
    try:
        if not args.skip_commands:
            report(commands(work / "commands", args.points, args.timed))
        if args.ingest_kills:
            (work / "loss").mkdir(parents=True, exist_ok=True)
            ingest_loss(work / "loss", args.lines, args.ingest_kills)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
