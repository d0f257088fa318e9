"""SIGKILL at points spread over ``ingest``, ``index``, ``tree build``, ``tree update``,
``sync``, ``update``, ``digest run`` and ``worker --once`` (every job kind), then a re-run:
the database passes ``PRAGMA integrity_check`` after each kill, and the re-run's library
(papers, export, searches, vectors, trees, map, outbox, sent mail) is exactly the one an
uninterrupted run leaves (issue 21). Kills land just before the K-th SQL statement of the
child (tests/faults.py), spread over the statements of an uninterrupted run; index and
indexing is also killed at moments spread over its time (its work outside SQL). Five
kills a command here (three of the slower tree build, tree update and update; one in each
kind of worker job); bench/fault_kills.py runs five or more of each on more papers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults import Outcome, Scenario, kill_and_rerun
from paperatlas import Library
from paperatlas.records.sources import SourceSpec
from paperatlas.worker import Worker
from standin import ARXIV_RECORDED, Reply, Seen, StandIn, arxiv_page, split_feed, standin
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

pytest.importorskip("aiosmtpd")

import test_subscriptions
from test_subscriptions import Sink

sink = test_subscriptions.sink  # the SMTP stand-in fixture
POINTS = 5
FEW = 3  # kill points of the slower commands (bench/fault_kills.py runs 5+ of each)
HASH = "hash-64"  # the child's hashing embedder (tests/faults_child.py)


def survived(outcome: Outcome, points: int = POINTS) -> None:
    """Every kill landed, left a sound database, and its re-run equals the reference."""
    for kill in outcome.kills:
        timed = kill.at.startswith("after")  # a run may end sooner than its reference did
        assert kill.killed or timed, f"{outcome.scenario}: the run ended before {kill.at}"
        assert kill.integrity == "ok", f"{outcome.scenario} killed at {kill.at}: {kill.integrity}"
        assert not kill.differences, (
            f"{outcome.scenario} killed at {kill.at}, then re-run: {kill.differences} differ")
    assert sum(k.killed for k in outcome.kills) >= points


def seed_files(seeds: Path, n: int) -> list[Path]:
    return sorted(seeds.glob("*.txt"))[:n]


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Closed libraries the scenarios start from: empty, ingested (two seed pages), and
    embedded with the hashing model with a tree and a map of one page and the second page
    not in them yet."""
    from conftest import shared_dir

    seeds = shared_dir() / "seeds"
    if not seeds.is_dir():
        pytest.skip(f"shared data not found at {seeds.parent} (set PAPERATLAS_SHARED)")
    root = tmp_path_factory.mktemp("bases")
    out = {"empty": root / "empty" / "l.db", "ingested": root / "ingested" / "l.db",
           "grown": root / "grown" / "l.db", "embedded": root / "embedded" / "l.db"}
    for path in out.values():
        path.parent.mkdir()
    first, second = seed_files(seeds, 2)
    with Library(out["ingested"], embedding_model=None) as lib:
        lib.ingest([first, second])
    with Library(out["embedded"], embedding_model=HashingEmbedder(HASH, 64)) as lib:
        lib.ingest([first, second])
        lib.index()
    with Library(out["grown"], embedding_model=HashingEmbedder(HASH, 64)) as lib:
        lib.ingest([first])
        lib.index()
        lib.trees.build("t")
        lib.map.build()
        Worker(lib).run_once()
        lib.ingest([second])
        lib.index()
    return out


def test_ingest(bases: dict[str, Path], seeds: Path, tmp_path: Path) -> None:
    files = [str(p) for p in seed_files(seeds, 3)]
    survived(kill_and_rerun(Scenario("ingest", bases["empty"], ["ingest", *files]),
                            tmp_path, points=POINTS, seed=1))


def test_index(bases: dict[str, Path], tmp_path: Path) -> None:
    survived(kill_and_rerun(Scenario("index", bases["ingested"], ["index"]), tmp_path,
                            points=POINTS, timed=2, seed=2))


def test_tree_build(bases: dict[str, Path], tmp_path: Path) -> None:
    scenario = Scenario("tree build", bases["embedded"], ["tree", "build", "--name", "t"],
                        model=HASH)
    survived(kill_and_rerun(scenario, tmp_path, points=FEW, seed=3), FEW)


def test_tree_update(bases: dict[str, Path], tmp_path: Path) -> None:
    scenario = Scenario("tree update", bases["grown"], ["tree", "update", "--name", "t"],
                        model=HASH)
    survived(kill_and_rerun(scenario, tmp_path, points=FEW, seed=4), FEW)


def test_map_build(bases: dict[str, Path], tmp_path: Path) -> None:
    """A refit killed after it cleared the old points leaves a map to fit again (it
    used to leave no map: its state was dropped first)."""
    scenario = Scenario("map build", bases["grown"], ["map", "build", "--rebuild"],
                        model=HASH)
    survived(kill_and_rerun(scenario, tmp_path, points=POINTS, seed=9))


def test_worker_jobs(bases: dict[str, Path], tmp_path: Path) -> None:
    """An upload's ingest job and the index, tree update and map placement it queues, in
    one ``worker --once``: killed at points spread over each job's statements."""
    base = tmp_path / "base" / "l.db"
    base.parent.mkdir()
    from faults import copy_library

    copy_library(bases["grown"], base)
    upload = write_csv(tmp_path / "up" / "new.csv",
                       papers_of("protein", 12) + papers_of("galaxy", 12))
    with Library(base, embedding_model=None) as lib:
        lib.jobs.enqueue("ingest", {"file": upload.name, "collection": "up", "format": None},
                         payload={"path": str(upload)})
    outcome = kill_and_rerun(Scenario("worker", base, ["worker", "--once"], model=HASH),
                             tmp_path, points=1, per_job=True, seed=5)
    survived(outcome, 4)
    kinds = {k.job for k in outcome.kills}
    assert {"ingest", "index", "tree_update", "map_place"} <= kinds, kinds


# -- sources: the stand-in arXiv API ---------------------------------------------------------
PAGE = 20


@pytest.fixture
def arxiv(shared: Path) -> Iterator[StandIn]:
    """The recorded arXiv answer (100 entries) in pages of :data:`PAGE`."""
    head, entries = split_feed(shared / "data" / ARXIV_RECORDED)

    def answer(seen: Seen) -> Reply:
        start = int(seen.arg("start") or 0)
        return Reply(arxiv_page(head, entries, start, PAGE),
                     headers={"Content-Type": "application/atom+xml"})

    with standin() as server:
        server.route("/api/query", answer)
        yield server


def settings_file(folder: Path, mail: Sink | None = None, port: int = 0) -> Path:
    path = folder / "settings.toml"
    text = 'base_url = "http://testserver"\n[sources]\npace = 0.01\nretries = 0\n'
    if mail is not None:
        text += f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nfrom = "P <p@example.org>"\n'
    path.write_text(text, encoding="utf-8")
    return path


def source_base(folder: Path, url: str) -> Path:
    db = folder / "base" / "l.db"
    db.parent.mkdir(parents=True)
    with Library(db, embedding_model=None) as lib:
        lib.sources.add(SourceSpec(name="testing", kind="arxiv", query="testing",
                                   since="2026-11-01", base_url=url))
    return db


def test_sync(arxiv: StandIn, tmp_path: Path) -> None:
    scenario = Scenario("sync", source_base(tmp_path, arxiv.base_url), ["sync", "testing"],
                        settings=settings_file(tmp_path))
    survived(kill_and_rerun(scenario, tmp_path, points=POINTS, seed=6))


def test_digest_run(tmp_path: Path, sink: tuple[Sink, object]) -> None:
    server, mail = sink
    db = tmp_path / "base" / "l.db"
    db.parent.mkdir()
    with Library(db, embedding_model=None) as lib:
        lib.ingest([write_csv(tmp_path / "in" / "old.csv",
                              papers_of("protein", 8) + papers_of("galaxy", 8))],
                   collection="old")
        lib.index()
        for n in range(6):
            lib.follow.subscribe(f"k{n}@example.org", test_subscriptions.items_from(
                collections=["old"]), test_subscriptions.settings(), mail, confirmed=True)
    scenario = Scenario("digest run", db, ["digest", "run", "--since", "2000-01-01"],
                        settings=settings_file(tmp_path, server, mail.port),  # type: ignore[attr-defined]
                        mailbox=server)
    outcome = kill_and_rerun(scenario, tmp_path, points=POINTS, seed=7)
    survived(outcome)
    # delivered twice only in the window the outbox documents (accepted, not yet marked)
    assert sum(k.mail_twice for k in outcome.kills) <= 1


def test_update(arxiv: StandIn, bases: dict[str, Path], tmp_path: Path,
                sink: tuple[Sink, object]) -> None:
    """``update`` on a library with a tree, a map and subscribers: sync, the jobs it
    queues (index, tree update, map placement) and the digests."""
    server, mail = sink
    db = tmp_path / "base" / "l.db"
    from faults import copy_library

    copy_library(bases["grown"], db)
    with Library(db, embedding_model=None) as lib:
        Worker(lib).run_once()
        lib.sources.add(SourceSpec(name="testing", kind="arxiv", query="testing",
                                   since="2026-11-01", base_url=arxiv.base_url))
        for n in range(3):
            lib.follow.subscribe(f"u{n}@example.org", test_subscriptions.items_from(
                searches=["language models"]), test_subscriptions.settings(), mail,
                confirmed=True)
    time.sleep(1.05)  # the synced papers come after the subscriptions
    scenario = Scenario("update", db, ["update"], model=HASH,
                        settings=settings_file(tmp_path, server, mail.port),  # type: ignore[attr-defined]
                        mailbox=server)
    survived(kill_and_rerun(scenario, tmp_path, points=FEW, seed=8), FEW)
