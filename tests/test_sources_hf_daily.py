"""The Hugging Face Daily Papers source and parser, replayed from a stand-in server with
the two recorded answers: day by day up to today (asked again next run), empty days,
paging within a day, faults, pacing, and a saved answer ingesting like a fetched one."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paperatlas import Library
from paperatlas.ingest import InputFile, detect
from paperatlas.records.sources import SourceSpec
from paperatlas.sources import Politeness, SourceSettings, hf_daily
from standin import (
    Faults,
    Reply,
    Seen,
    StandIn,
    paced,
    source_library,
    standin,
    stored_papers,
    uninterrupted,
)

OLD = "formats/hf-daily-papers-api/daily_papers_2024-10-25_deep-diver.json"
NEW = "formats/hf-daily-papers-api/daily_papers_limit30_2026-06-12_sotawhat.json"
NOW = datetime(2026, 6, 13, 6, 0, tzinfo=UTC)
FAST = SourceSettings(politeness=Politeness(pace=0.02, backoff=1.0, retries=3))
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def days(shared: Path) -> dict[str, list[dict[str, Any]]]:
    """What each day lists: nothing on the 11th, the 2026 answer on the 12th, and today
    (the 13th) so far the first 10 papers of the 2024 answer."""
    new = json.loads((shared / "data" / NEW).read_text(encoding="utf-8"))
    old = json.loads((shared / "data" / OLD).read_text(encoding="utf-8"))
    return {"2026-06-11": [], "2026-06-12": new, "2026-06-13": old[:10], "later": old}


def serve(server: StandIn, days: dict[str, list[dict[str, Any]]],
          faults: dict[str, list[Reply]] | None = None) -> None:
    """Answer /api/daily_papers from ``days`` (pages by ``p`` and ``limit``); the replies
    in ``faults[date]`` come first."""
    pending = Faults(faults)

    def answer(seen: Seen) -> Reply:
        day = seen.arg("date") or ""
        if (fault := pending.take(day)) is not None:
            return fault
        limit, p = int(seen.arg("limit") or 50), int(seen.arg("p") or 0)
        items = days.get(day, [])[p * limit:(p + 1) * limit]
        return Reply(json.dumps(items, separators=(",", ":")).encode(), headers=JSON)

    server.route("/api/daily_papers", answer)


def open_lib(path: Path, server: StandIn, now: datetime = NOW) -> Library:
    spec = SourceSpec(name="hf", kind="hf-daily", since="2026-06-11", base_url=server.base_url)
    return source_library(path, spec, now)


def signals(lib: Library, arxiv: str) -> dict[str, Any]:
    row = lib.store.conn.execute(
        "SELECT paper_id FROM paper_ids WHERE scheme = 'arxiv' AND value = ?",
        (arxiv,)).fetchone()
    return lib.store.signals.of([row[0]])[row[0]]["hf-daily"]


def test_day_by_day_up_to_today_with_authors_abstracts_ids_and_signals(
        tmp_path: Path, server: StandIn, days: dict[str, list[dict[str, Any]]]) -> None:
    serve(server, days)
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.done and report.pages == 3 and report.added == 40
        asked = server.seen("/api/daily_papers")
        assert [s.arg("date") for s in asked] == ["2026-06-11", "2026-06-12", "2026-06-13"]
        assert {s.arg("limit") for s in asked} == {"100"}
        assert lib.sources["hf"].cursor == {"day": "2026-06-13"}  # today: asked again
        _, title, abstract, authors = next(
            p for p in stored_papers(lib) if p[0] == "2606.00467")
        assert title.startswith("On the Limits of LLM Adaptability")
        assert abstract.startswith("Large Language Models (LLMs) are increasingly used")
        assert json.loads(authors)[:2] == ["Etienne Casanova", "Rafal Kocielnik"]
        assert all(p[2] and json.loads(p[3]) for p in stored_papers(lib))  # none empty
        got = signals(lib, "2606.00467")
        assert got["upvotes"] == 0 and got["numComments"] == 2
        assert got["organization"] == "caltech" and "LLM-as-a-judge" in got["ai_keywords"]
        assert got["ai_summary"].startswith("Large language models exhibit")
        repo = signals(lib, "2606.12730")
        assert repo["githubRepo"].startswith("https://github.com/") and repo["upvotes"] == 5
        assert signals(lib, "2410.17243") == {"upvotes": 64, "numComments": 3}
        assert any("projectPage" in signals(lib, i["paper"]["id"]) for i in days["2026-06-12"])
        url = lib.store.conn.execute("SELECT path FROM files ORDER BY id LIMIT 1").fetchone()[0]
        assert url == server.base_url + "/api/daily_papers?date=2026-06-11&limit=100"


def test_today_is_asked_again_and_merges_what_it_lists_now(
        tmp_path: Path, server: StandIn, days: dict[str, list[dict[str, Any]]]) -> None:
    serve(server, days)
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=FAST)
    grown = [dict(item, paper=dict(item["paper"], upvotes=item["paper"]["upvotes"] + 100))
             for item in days["later"]]  # the day's list grew and got upvoted
    serve(server, {**days, "2026-06-13": grown})
    with open_lib(tmp_path / "a.db", server) as lib:
        [again] = lib.sources.sync(settings=FAST)
        assert again.ok and again.pages == 1 and again.added == 19 and again.merged == 10
        assert server.seen("/api/daily_papers")[-1].arg("date") == "2026-06-13"
        assert len(stored_papers(lib)) == 59
        assert signals(lib, "2410.17243")["upvotes"] == 164
    with open_lib(tmp_path / "a.db", server, datetime(2026, 6, 15, 6, 0, tzinfo=UTC)) as lib:
        [later] = lib.sources.sync(settings=FAST)  # two days on: the 13th, 14th and 15th
        assert later.ok and later.pages == 3 and later.added == 0
        assert lib.sources["hf"].cursor == {"day": "2026-06-15"}


def test_pages_within_a_day_lose_and_repeat_nothing(
        tmp_path: Path, server: StandIn, days: dict[str, list[dict[str, Any]]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hf_daily, "LIMIT", 7)
    serve(server, days)
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.added == 40 and report.records == 40
    asked = [(s.arg("date"), s.arg("p")) for s in server.seen("/api/daily_papers")]
    assert asked == [("2026-06-11", None), ("2026-06-12", None), ("2026-06-12", "1"),
                     ("2026-06-12", "2"), ("2026-06-12", "3"), ("2026-06-12", "4"),
                     ("2026-06-13", None), ("2026-06-13", "1")]


def test_faults_then_a_rerun_equal_an_uninterrupted_run(
        tmp_path: Path, server: StandIn, days: dict[str, list[dict[str, Any]]]) -> None:
    body = json.dumps(days["2026-06-12"]).encode()
    serve(server, days, {
        "2026-06-12": [Reply(b"slow down", 429, {"Retry-After": "3"}), Reply(b"busy", 503),
                       Reply(body, truncate=500)],
        "2026-06-13": [Reply(b'[{"paper": {"id": "2606.0', headers=JSON)]})  # garbled
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "not a Daily Papers answer" in (first.error or "")
        assert first.added == 30 and lib.sources["hf"].cursor == {"day": "2026-06-13"}
        tries = [s for s in server.seen() if s.arg("date") == "2026-06-12"]
        assert len(tries) == 4 and tries[1].at - tries[0].at >= 3 * 0.02
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and second.added == 10
        resumed = stored_papers(lib)
    assert uninterrupted(lambda clean: serve(clean, days), open_lib,
                         tmp_path / "b.db", FAST, stored_papers) == resumed


def test_a_body_the_parser_rejects_keeps_the_cursor(
        tmp_path: Path, server: StandIn, days: dict[str, list[dict[str, Any]]]) -> None:
    serve(server, days, {"2026-06-12": [Reply(b'[{"paper": 3}, 7]', headers=JSON)]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "item 2 of the answer is a JSON int" in (first.error or "")
        assert lib.sources["hf"].cursor == {"day": "2026-06-12"}
        assert stored_papers(lib) == []


def test_requests_keep_a_gentle_pace(tmp_path: Path, server: StandIn,
                                     days: dict[str, list[dict[str, Any]]]) -> None:
    serve(server, days)
    gentle = SourceSettings(politeness=Politeness(pace=0.05))
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=gentle)
    times = [s.at for s in server.seen("/api/daily_papers")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # measured where the requests arrive: the first one also waited for its connection
    assert len(gaps) == 2 and paced(times, 1.0 * 0.05)


@pytest.mark.parametrize("recorded", [OLD, NEW])
def test_a_saved_answer_ingests_like_a_fetched_one(
        tmp_path: Path, shared: Path, recorded: str) -> None:
    path = shared / "data" / recorded
    assert detect(InputFile.inspect(path)).name == "hf-daily"  # not the generic JSON
    items = json.loads(path.read_text(encoding="utf-8"))
    with standin() as server:
        serve(server, {"2026-06-11": items})
        with open_lib(tmp_path / "a.db", server, datetime(2026, 6, 11, tzinfo=UTC)) as lib:
            [report] = lib.sources.sync(settings=FAST)
            fetched, fetched_signals = stored_papers(lib), _all_signals(lib)
    with Library(tmp_path / "b.db", embedding_model=None) as lib:
        [done] = lib.ingest([path]).files
        assert done.format == "hf-daily" and done.added == len(items) == report.added
        assert stored_papers(lib) == fetched and _all_signals(lib) == fetched_signals
        assert all(abstract and json.loads(authors) for _, _, abstract, authors in fetched)


def _all_signals(lib: Library) -> list[tuple[str, str, str]]:
    return sorted(tuple(r) for r in lib.store.conn.execute(
        "SELECT p.key, s.name, s.value FROM paper_signals s JOIN papers p ON p.id = "
        "s.paper_id"))
