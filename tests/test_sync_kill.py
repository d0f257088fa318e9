"""A kill at any moment of ``paperatlas sync``, then another run, gives exactly the library
an uninterrupted run gives (issue 17, item 3).

Real processes (``python -m paperatlas sync``) against the stand-in arXiv API (four pages
of 25 of the recorded answer), killed with SIGKILL before the first commit, inside a
page's transaction and between pages; after each kill the database passes
``PRAGMA integrity_check`` and holds exactly the pages committed before it, and the last
run ends with the papers, their provenance and the cursor of an uninterrupted run. Two
syncs at once: the second exits non-zero, saying another sync is running.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from paperatlas import Library
from paperatlas.records.sources import SourceSpec
from paperatlas.sources.arxiv_api import OVERLAP
from standin import ARXIV_RECORDED, Reply, Seen, StandIn, arxiv_page, split_feed, standin
from test_sources_arxiv_api import FAST, NOW

CLI = [sys.executable, "-m", "paperatlas"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
SIZE = 25  # entries per answer, whatever max_results asks: four pages of the 100
_STAMP = "%Y%m%d%H%M"


class Feed:
    """Answers ``/api/query`` with pages of :data:`SIZE` and tells who asks what; the
    next answer for a ``start`` can be held back (``hold``) while the test acts."""

    def __init__(self, head: str, entries: list[str]) -> None:
        self.head, self.entries = head, entries
        self.asked: list[int] = []
        self.windows: list[str] = []  # the ``to`` of each request's window
        self.held: dict[int, float] = {}
        self.cond = threading.Condition()

    def __call__(self, seen: Seen) -> Reply:
        start = int(seen.arg("start") or 0)
        with self.cond:
            self.asked.append(start)
            self.windows.append((seen.arg("search_query") or "").rsplit(" TO ", 1)[-1][:-1])
            self.cond.notify_all()
            delay = self.held.pop(start, 0.0)
        return Reply(arxiv_page(self.head, self.entries, start, SIZE), delay=delay,
                     headers={"Content-Type": "application/atom+xml"})

    def hold(self, start: int, seconds: float = 2.0) -> None:
        with self.cond:
            self.held[start] = seconds

    def wait_for(self, start: int, seconds: float = 20.0) -> None:
        """Until a request for ``start`` comes (after those seen so far)."""
        with self.cond:
            seen = len(self.asked)
            assert self.cond.wait_for(lambda: start in self.asked[seen:], seconds), (
                f"no request for start={start} in {seconds} s (asked {self.asked})")


@pytest.fixture
def feed(shared: Path) -> Iterator[tuple[StandIn, Feed]]:
    with standin() as server:
        answers = Feed(*split_feed(shared / "data" / ARXIV_RECORDED))
        server.route("/api/query", answers)
        yield server, answers


@pytest.fixture
def db(tmp_path: Path, feed: tuple[StandIn, Feed]) -> Path:
    path = tmp_path / "k.db"
    with Library(path, embedding_model=None) as lib:
        lib.sources.add(SourceSpec(name="testing", kind="arxiv", query="testing",
                                   since="2026-11-01", base_url=feed[0].base_url))
    return path


def sync(db: Path, tmp_path: Path) -> subprocess.Popen[str]:
    settings = tmp_path / "settings.toml"
    settings.write_text("[sources]\npace = 0.01\n")
    return subprocess.Popen([*CLI, "--db", str(db), "--model", "none", "--settings",
                             str(settings), "sync", "testing"], env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def state(db: Path) -> dict[str, Any]:
    """What a kill must never break: the database's integrity, and what it holds."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    with Library(db, embedding_model=None) as lib:
        conn = lib.store.conn
        return {"keys": sorted(r[0] for r in conn.execute("SELECT key FROM papers")),
                "sources": conn.execute("SELECT count(*) FROM sources").fetchone()[0],
                "cursor": lib.sources["testing"].cursor,
                "runs": [r[0] for r in conn.execute(
                    "SELECT status FROM ingest_runs ORDER BY id")]}


@contextmanager
def probe(db: Path) -> Iterator[Callable[[], bool]]:
    """Whether another process holds the library's write transaction now."""
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)

    def writing() -> bool:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        conn.execute("ROLLBACK")
        return False

    try:
        yield writing
    finally:
        conn.close()


def finished_window(to: str) -> dict[str, Any]:
    """The cursor after a finished window ending at ``to`` (see sources/arxiv_api.py)."""
    return {"from": (datetime.strptime(to, _STAMP) - OVERLAP).strftime(_STAMP), "start": 0}


def kill_inside_a_page(db: Path, tmp_path: Path, answers: Feed) -> bool:
    """Run a sync and kill it inside the transaction of the first page it fetches; False
    when that page committed before the kill could land (a busy machine): the run is then
    killed waiting for its next answer instead."""
    before = state(db)
    at = int(before["cursor"].get("start", 0))
    answers.hold(at + SIZE)  # where a missed kill is caught
    proc = sync(db, tmp_path)
    answers.wait_for(at)
    with probe(db) as writing:
        deadline = time.monotonic() + 10
        while not (landed := writing()) and answers.asked[-1] == at:
            assert proc.poll() is None and time.monotonic() < deadline, "no transaction"
        kill(proc)
    after = state(db)
    assert after["cursor"].get("start", 0) == at if landed else at + SIZE
    assert len(after["keys"]) == len(before["keys"]) + (0 if landed else SIZE)
    return landed


def test_a_kill_at_any_moment_then_a_rerun_equals_an_uninterrupted_run(
        db: Path, tmp_path: Path, feed: tuple[StandIn, Feed]) -> None:
    server, answers = feed
    # 1. killed before its first commit: waiting for the first answer
    answers.hold(0)
    proc = sync(db, tmp_path)
    answers.wait_for(0)
    kill(proc)
    first = state(db)
    assert first["keys"] == [] and first["cursor"] == {} and first["sources"] == 0

    # 2. killed inside the transaction of a page: its records and cursor are not there
    assert kill_inside_a_page(db, tmp_path, answers) or kill_inside_a_page(
        db, tmp_path, answers), "the kill never landed inside a page's transaction"

    # 3. killed between pages: two pages committed, the next one not yet answered
    at = int(state(db)["cursor"].get("start", 0))
    answers.hold(at + 2 * SIZE)
    proc = sync(db, tmp_path)
    answers.wait_for(at + 2 * SIZE)
    kill(proc)
    third = state(db)
    assert len(third["keys"]) == at + 2 * SIZE and third["sources"] == at + 2 * SIZE
    window = third["cursor"]["to"]  # when the window's first run started
    assert third["cursor"] == {"from": "202611010000", "to": window, "start": at + 2 * SIZE}

    # 4. the run that finishes asks only the pages not stored yet, in the same window
    asked = len(answers.asked)
    proc = sync(db, tmp_path)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert answers.asked[asked:] == list(range(at + 2 * SIZE, 100, SIZE))
    assert set(answers.windows[asked:]) == {window}
    assert f"added {100 - at - 2 * SIZE}, merged 0" in out
    last = state(db)
    assert last["cursor"] == finished_window(window)
    assert last["runs"][-1] == "ok" and set(last["runs"][:-1]) == {"interrupted"}

    # an uninterrupted run, in this process, on another library
    with Library(tmp_path / "ref.db", embedding_model=None) as ref:
        ref.sources.clock = lambda: NOW
        ref.sources.add(SourceSpec(name="testing", kind="arxiv", query="testing",
                                   since="2026-11-01", base_url=server.base_url))
        [report] = ref.sources.sync(settings=FAST)
        assert report.ok and report.pages == 4
    whole = state(tmp_path / "ref.db")
    assert whole["cursor"] == finished_window(NOW.strftime(_STAMP))
    assert last["keys"] == whole["keys"] and len(whole["keys"]) == 100
    assert last["sources"] == whole["sources"] == 100  # no page stored twice


def test_two_syncs_at_once_the_second_is_refused(
        db: Path, tmp_path: Path, feed: tuple[StandIn, Feed]) -> None:
    _, answers = feed
    answers.hold(0, 5.0)
    holder = sync(db, tmp_path)
    try:
        answers.wait_for(0)
        second = sync(db, tmp_path)
        _, err = second.communicate(timeout=30)
        assert second.returncode != 0
        assert "another sync of this library is running" in err
        assert f"process {holder.pid}" in err
        assert answers.asked == [0]  # the second asked nothing
    finally:
        kill(holder)
    assert state(db)["keys"] == []
