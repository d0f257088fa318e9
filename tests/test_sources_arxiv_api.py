"""The arXiv API source, replayed from a stand-in server: paging by ``start`` inside a
window of submission dates, faults (429/503 with Retry-After, a cut body, malformed XML, an
empty page) and the pacing arXiv asks for."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperatlas import Library
from paperatlas.records.sources import SourceSpec
from paperatlas.sources import Politeness, SourceSettings, SyncOptions, arxiv_api
from standin import (
    ARXIV_RECORDED,
    Reply,
    StandIn,
    arxiv_page,
    paced,
    serve_feed,
    source_library,
    split_feed,
    stored_keys,
    uninterrupted,
)

NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
#: Waits scaled down 50x (the pacing logic runs; the test does not take minutes).
FAST = SourceSettings(politeness=Politeness(pace=0.02, backoff=1.0, retries=3))


@pytest.fixture
def feed(shared: Path) -> tuple[str, list[str]]:
    return split_feed(shared / "data" / ARXIV_RECORDED)


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(arxiv_api, "PAGE", 25)
    return 25


def open_lib(path: Path, server: StandIn) -> Library:
    spec = SourceSpec(name="testing", kind="arxiv", query="testing", since="2026-11-01",
                      base_url=server.base_url)
    return source_library(path, spec, NOW)


def test_pages_by_start_within_a_window(tmp_path: Path, server: StandIn, feed: tuple[
        str, list[str]], small_pages: int) -> None:
    serve_feed(server, feed)
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.pages == 4 and report.records == 100
        assert report.added == 100 and report.done
        asked = server.seen("/api/query")
        assert [s.arg("start") for s in asked] == ["0", "25", "50", "75"]
        assert {s.arg("sortBy") for s in asked} == {"submittedDate"}
        assert asked[0].arg("search_query") == (
            "all:testing AND submittedDate:[202611010000 TO 202612040600]")
        state = lib.sources["testing"]
        assert state.cursor == {"from": "202612010600", "start": 0}  # 3 days of overlap
        assert state.added == 100 and state.last_error is None and state.runs == 1
        assert state.next_due_at == "2026-12-05T06:00:00Z"
        assert "paperatlas/" in asked[0].headers["user-agent"]
        # a paper's provenance names the URL it came from
        url = lib.store.conn.execute("SELECT path FROM files LIMIT 1").fetchone()[0]
        assert url.startswith(server.base_url + "/api/query?search_query=")


def test_retry_after_and_503_are_waited_out(tmp_path: Path, server: StandIn, feed: tuple[
        str, list[str]], small_pages: int) -> None:
    serve_feed(server, feed, {25: [Reply(b"slow down", 429, {"Retry-After": "5"}),
                                   Reply(b"busy", 503)]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.added == 100 and report.requests == 6
    tries = [s for s in server.seen("/api/query") if s.arg("start") == "25"]
    assert len(tries) == 3
    assert tries[1].at - tries[0].at >= 5 * 0.02  # Retry-After (scaled like every wait)


def test_a_broken_page_stops_the_run_and_the_next_run_resumes_there(
        tmp_path: Path, server: StandIn, feed: tuple[str, list[str]],
        small_pages: int) -> None:
    head, entries = feed
    cut = arxiv_page(head, entries, 50, 25)[:-300]  # malformed: ends inside an entry
    serve_feed(server, feed, {50: [Reply(cut)]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "50" in str(lib.sources["testing"].cursor["start"])
        assert first.added == 50 and first.error
        assert lib.sources["testing"].last_error == first.error
        assert lib.store.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 50
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and second.added == 50 and second.pages == 2
        assert lib.store.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 100
        resumed = stored_keys(lib)
    assert uninterrupted(lambda clean: serve_feed(clean, feed), open_lib,
                         tmp_path / "b.db", FAST, stored_keys) == resumed


def test_an_empty_page_inside_the_results_is_asked_again_next_run(
        tmp_path: Path, server: StandIn, feed: tuple[str, list[str]],
        small_pages: int) -> None:
    head, entries = feed
    empty = arxiv_page(head, entries, 1000, 25)  # no entries, though totalResults says 100
    serve_feed(server, feed, {25: [Reply(empty)]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "empty page" in (first.error or "")
        assert lib.sources["testing"].cursor["start"] == 25
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and first.added + second.added == 100


def test_requests_keep_arxivs_pace(tmp_path: Path, server: StandIn, feed: tuple[
        str, list[str]], small_pages: int) -> None:
    serve_feed(server, feed)
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=FAST)
    times = [s.at for s in server.seen("/api/query")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3 and paced(times, 3.0 * 0.02)


def test_dry_run_stores_nothing_and_keeps_the_cursor(
        tmp_path: Path, server: StandIn, feed: tuple[str, list[str]],
        small_pages: int) -> None:
    serve_feed(server, feed)
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(SyncOptions(dry_run=True), settings=FAST)
        assert report.added == 100 and report.dry_run
        assert lib.store.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 0
        assert lib.sources["testing"].cursor == {} and lib.sources["testing"].runs == 0
