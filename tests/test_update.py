"""``paperatlas update`` end to end on the stand-in arXiv API: due sources are synced, then
the index, the tree update and the map placement run; sources not due and paused ones are
skipped; a failing source makes it exit 1. And the same steps on a schedule in the worker
(``worker --update-every``, which ``serve --update-every`` starts)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.cli.state import State
from paperatlas.cli.web import job_worker
from paperatlas.records.sources import SourceSpec
from paperatlas.update import update
from paperatlas.worker import Worker
from standin import StandIn, standin
from test_semantic import HashingEmbedder
from test_sources_arxiv_api import FAST, NOW
from test_tree import papers_of, write_csv


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., Result]:
    settings = tmp_path / "settings.toml"
    settings.write_text('[sources]\npace = 0.01\ncontact = "me@example.org"\n')
    base = ["--db", str(tmp_path / "u.db"), "--model", "none", "--settings", str(settings)]

    def _run(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(main, [*base, *args])
        assert result.exit_code == code, result.output
        return result

    return _run


def asked(server: StandIn) -> list[str]:
    """The query of each request, by the words it asked for."""
    return [(s.arg("search_query") or "").split(" AND ")[0] for s in server.seen()]


def test_update_syncs_due_sources_only_then_indexes(run: Callable[..., Result],
                                                    arxiv_server: StandIn) -> None:
    for name, extra in (("due", []), ("later", []), ("held", [])):
        run("sources", "add", name, "--kind", "arxiv", "--query", name, "--since",
            "2026-11-01", "--base-url", arxiv_server.base_url, *extra)
    run("sync", "later")  # synced now: due again in a day
    run("sources", "pause", "held")
    arxiv_server.log.clear()
    report = json.loads(run("update", "--no-digests", "--json").output)
    assert [s["source"] for s in report["syncs"]] == ["due"]
    assert set(asked(arxiv_server)) == {"all:due"}
    synced = report["syncs"][0]
    assert synced["records"] == 100 and synced["added"] == 0  # met again: never twice
    assert [(j["kind"], j["status"]) for j in report["jobs"]] == [("index", "done")]
    assert report["jobs"][0]["result"]["updated"] == 100  # the first sync's papers
    out = run("stats").output
    assert "100" in out
    # nothing is due now: an update fetches nothing and runs nothing
    arxiv_server.log.clear()
    out = run("update", "--no-digests").output
    assert "update: 0 sources synced, 0 papers added, 0 jobs run" in out and arxiv_server.log == []
    # a source that fails: exit 1, its error kept, the others untouched
    with standin() as down:  # every answer a 404
        run("sources", "add", "broken", "--kind", "arxiv", "--query", "q", "--base-url",
            down.base_url)
        out = run("update", "--no-digests", code=1).output
        assert "broken: 0 pages" in out and "stopped:" in out
    state = {s["spec"]["name"]: s for s in json.loads(run("sources", "list",
                                                          "--json").output)}
    assert state["broken"]["last_error"] and state["due"]["runs"] == 1
    assert state["held"]["runs"] == 0 and state["held"]["paused"]


@pytest.fixture
def mapped(tmp_path: Path, arxiv_server: StandIn) -> Iterator[Library]:
    """40 papers with a tree of the whole library and a map, and a due arXiv source."""
    lib = Library(tmp_path / "m.db", embedding_model=HashingEmbedder("hash-64", 64))
    rows = papers_of("protein", 20) + papers_of("galaxy", 20)
    lib.ingest([write_csv(tmp_path / "in" / "main.csv", rows)], collection="main")
    lib.trees.build("t", min_size=4)
    lib.map.build()
    Worker(lib).run_once()  # what building queued
    lib.sources.clock = lambda: NOW
    lib.sources.add(SourceSpec(name="testing", kind="arxiv", query="testing",
                               since="2026-11-01", base_url=arxiv_server.base_url))
    yield lib
    lib.close()


def test_update_reaches_the_tree_and_the_map(mapped: Library) -> None:
    report = update(mapped, FAST)
    assert report.ok and [(s.source, s.added) for s in report.syncs] == [("testing", 100)]
    assert [(j.kind, j.status) for j in report.jobs] == [
        ("index", "done"), ("tree_update", "done"), ("map_place", "done")]
    assert report.jobs[1].result["trees"]["t"]["added"] + report.jobs[1].result[
        "trees"]["t"]["unsorted"] >= 100
    info = mapped.map.info()
    assert info is not None and info.points == 140 and info.unplaced == 0
    assert mapped.search("testing", mode="lexical").pending == 0
    again = update(mapped, FAST)  # not due again before a day
    assert again.syncs == [] and again.jobs == []


def test_the_worker_updates_on_its_schedule(mapped: Library, arxiv_server: StandIn) -> None:
    now = [1000.0]
    updates: list[int] = []
    worker = Worker(mapped, sources=FAST, update_every=3600, poll=0.02,
                    clock=lambda: now[0], on_update=lambda r: updates.append(len(r.syncs)))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    try:
        _until(lambda: updates == [1], "the first update, at start")
        time.sleep(0.1)
        assert updates == [1] and worker.next_update == 4600.0  # not before its time
        now[0] = 4600.0
        _until(lambda: updates == [1, 0], "the next update (nothing due)")
    finally:
        stop.set()
        thread.join(10)
    assert mapped.sources["testing"].runs == 1 and mapped.papers.count() == 140


def _until(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.02)


def test_serve_hands_update_every_to_its_worker(tmp_path: Path, arxiv_server: StandIn,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text("[sources]\npace = 0.01\n")
    db = tmp_path / "s.db"
    with Library(db, embedding_model=None) as lib:
        lib.sources.add(SourceSpec(name="testing", kind="arxiv", query="testing",
                                   base_url=arxiv_server.base_url))
    state = State(str(db), None, settings_path=str(settings))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with job_worker(state, update_every="6h", base_url="http://papers.test") as proc:
        assert isinstance(proc, subprocess.Popen)
        assert proc.args[-5:] == ["worker", "--update-every", "6h", "--base-url",  # type: ignore[index]
                                  "http://papers.test"]

        def synced() -> bool:
            with Library(db, embedding_model=None) as lib:
                return lib.sources["testing"].runs == 1

        _until(synced, "the worker's first update")
    with Library(db, embedding_model=None) as lib:
        assert lib.papers.count() == 100 and lib.sources["testing"].last_error is None


def test_bad_update_every_is_named(run: Callable[..., Result]) -> None:
    out = run("worker", "--update-every", "5s", code=1).output
    assert "every" in out and "6h" in out
    out = run("serve", "--update-every", "6h", "--no-worker", code=2).output
    assert "--no-worker" in out
