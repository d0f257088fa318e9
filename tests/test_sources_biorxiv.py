"""The bioRxiv and medRxiv sources and their parser, replayed from a stand-in server with
the recorded ``details`` answer: paging by offset in a window, versions revising one
paper, empty windows, faults, pacing, and a saved answer ingesting like a fetched one."""

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
from paperatlas.sources import Politeness, SourceSettings
from standin import (
    Faults,
    Reply,
    Seen,
    StandIn,
    paced,
    source_library,
    stored_papers,
    uninterrupted,
)

RECORDED = ("formats/biorxiv-api/"
            "details_biorxiv_2026-09-07_2026-09-09_cursor0_cancer_biology.json")
NOW = datetime(2026, 9, 9, 6, 0, tzinfo=UTC)
FAST = SourceSettings(politeness=Politeness(pace=0.02, backoff=1.0, retries=3))
JSON = {"Content-Type": "application/json"}
DOI = "10.64898/2026.04.19.716936"  # version 2 in the recorded answer


@pytest.fixture
def items(shared: Path) -> list[dict[str, Any]]:
    doc = json.loads((shared / "data" / RECORDED).read_text(encoding="utf-8"))
    collection: list[dict[str, Any]] = doc["collection"]
    return collection


class _ByPrefix(dict[str, Any]):
    """Routes matched by path prefix (``/details/`` answers every window)."""

    def get(self, key: str, default: Any = None) -> Any:
        return next((v for k, v in self.items() if key.startswith(k)), default)


def answer_body(items: list[dict[str, Any]], offset: int, per: int,
                category: str | None) -> bytes:
    """A details answer as the API writes it (total as a string, slashes escaped)."""
    if not items:
        return b'{"messages":[{"status":"no posts found"}],"collection":[]}'
    page = items[offset:offset + per]
    messages = {"status": "ok", "category": category or "all", "cursor": offset,
                "count": len(page), "total": str(len(items))}
    text = json.dumps({"messages": [messages], "collection": page})
    return text.replace("/", "\\/").encode() + b"\r\n\r\n"


def serve(server: StandIn, items: list[dict[str, Any]], per: int = 100,
          faults: dict[int, list[Reply]] | None = None) -> None:
    """Answer ``/details/{server}/{from}/{to}/{offset}`` from ``items`` posted in the
    window (and of ``?category=``), ``per`` a page; ``faults[offset]`` come first."""
    pending = Faults(faults)

    def answer(seen: Seen) -> Reply:
        _, _, name, first, last, offset = seen.path.split("/")
        if (fault := pending.take(int(offset))) is not None:
            return fault
        category = seen.arg("category")
        chosen = [i for i in items if first <= i["date"] <= last
                  and i["server"].lower() == name
                  and (category is None or i["category"] == category.replace("_", " "))]
        return Reply(answer_body(chosen, int(offset), per, category), headers=JSON)

    server.routes = _ByPrefix()
    server.route("/details/", answer)


def open_lib(path: Path, server: StandIn, now: datetime = NOW, kind: str = "biorxiv",
             since: str = "2026-09-07") -> Library:
    spec = SourceSpec(name="bio", kind=kind, category="cancer biology", since=since,
                      base_url=server.base_url)
    return source_library(path, spec, now)


def all_signals(lib: Library) -> list[tuple[str, str, str]]:
    return sorted(tuple(r) for r in lib.store.conn.execute(
        "SELECT p.key, s.name, s.value FROM paper_signals s JOIN papers p ON p.id = "
        "s.paper_id"))


def test_pages_a_window_by_offset_with_ids_versions_and_signals(
        tmp_path: Path, server: StandIn, items: list[dict[str, Any]]) -> None:
    serve(server, items, per=5)
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.done and report.pages == 4
        assert report.records == report.added == 18
        asked = server.seen()
        assert [s.path for s in asked] == [f"/details/biorxiv/2026-09-07/2026-09-09/{n}"
                                           for n in (0, 5, 10, 15)]
        assert {s.arg("category") for s in asked} == {"cancer_biology"}
        assert lib.sources["bio"].cursor == {"from": "2026-09-09"}
        paper = lib.papers.get(DOI)
        assert paper.title.startswith("Simultaneous Inhibition of ACLY and OGDH")
        assert paper.authors == ["M. Dehghan Manshadi", "P. Setoodeh", "H. Zare"]
        assert paper.venue == "bioRxiv" and paper.date == "2026-09-07"
        assert paper.categories == ["cancer biology"]
        got = lib.store.signals.of([paper.id])[paper.id]["biorxiv"]
        assert got == {"version": 2, "server": "bioRxiv", "category": "cancer biology",
                       "license": "cc_by_nc_nd", "type": "new results"}
        old_prefix = lib.papers.get("10.1101/2025.03.25.645286")
        assert old_prefix.links == ["https://www.biorxiv.org/content/10.1101/2025.03.25.645286"]


def test_a_new_version_revises_the_paper_and_never_duplicates_it(
        tmp_path: Path, server: StandIn, items: list[dict[str, Any]]) -> None:
    v2 = next(i for i in items if i["doi"] == DOI)
    v1 = dict(v2, version="1", date="2026-09-05", title="ACLY and OGDH in liver cancer cells",
              abstract="A first version of the study.", authors="Dehghan Manshadi, M.")
    serve(server, [v1, *items])
    early = datetime(2026, 9, 6, 6, 0, tzinfo=UTC)
    with open_lib(tmp_path / "a.db", server, early, since="2026-09-05") as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert first.ok and first.added == 1
        assert lib.papers.get(DOI).title == v1["title"]
        assert lib.sources["bio"].cursor == {"from": "2026-09-06"}
    with open_lib(tmp_path / "a.db", server) as lib:
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and second.added == 17 and second.merged == 1
        assert server.seen()[-1].path == "/details/biorxiv/2026-09-06/2026-09-09/0"
        assert len(stored_papers(lib)) == 18
        paper = lib.papers.get(DOI)
        assert paper.title == v2["title"] and paper.abstract == v2["abstract"]
        assert len(paper.authors) == 3
        assert lib.store.signals.of([paper.id])[paper.id]["biorxiv"]["version"] == 2
        [again] = lib.sources.sync(settings=FAST)  # the last day asked again: merged
        assert again.ok and again.added == 0 and len(stored_papers(lib)) == 18


def test_faults_then_a_rerun_equal_an_uninterrupted_run(
        tmp_path: Path, server: StandIn, items: list[dict[str, Any]]) -> None:
    body5 = answer_body(items, 5, 5, "cancer_biology")
    serve(server, items, per=5, faults={
        5: [Reply(b"slow down", 429, {"Retry-After": "3"}), Reply(b"busy", 503),
            Reply(body5, truncate=400)],
        10: [Reply(b'{"messages":[{"status":"ok","total":"18"}],"collection":[{"ti',
                   headers=JSON)]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "not a bioRxiv answer" in (first.error or "")
        assert first.added == 10
        assert lib.sources["bio"].cursor == {"from": "2026-09-07", "to": "2026-09-09",
                                             "offset": 10}
        tries = [s for s in server.seen() if s.path.endswith("/5")]
        assert len(tries) == 4 and tries[1].at - tries[0].at >= 3 * 0.02
    later = datetime(2026, 9, 10, 6, 0, tzinfo=UTC)  # resumes its window, not today's
    with open_lib(tmp_path / "a.db", server, later) as lib:
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and second.added == 8
        assert server.seen()[-1].path == "/details/biorxiv/2026-09-07/2026-09-09/15"
        resumed = stored_papers(lib)
    assert uninterrupted(lambda clean: serve(clean, items, per=5), open_lib,
                         tmp_path / "b.db", FAST, stored_papers) == resumed


def test_an_empty_window_moves_on_and_an_empty_page_is_asked_again(
        tmp_path: Path, server: StandIn, items: list[dict[str, Any]]) -> None:
    serve(server, items, per=5, faults={5: [Reply(answer_body(items, 50, 5, None))]})
    quiet = datetime(2026, 9, 3, 6, 0, tzinfo=UTC)
    with open_lib(tmp_path / "a.db", server, quiet, since="2026-09-01") as lib:
        [empty] = lib.sources.sync(settings=FAST)
        assert empty.ok and empty.done and empty.pages == 1 and empty.added == 0
        assert lib.sources["bio"].cursor == {"from": "2026-09-03"}
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "empty page at 5 of 18" in (first.error or "")
        assert lib.sources["bio"].cursor["offset"] == 5
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and first.added + second.added == 18


def test_a_body_the_parser_rejects_keeps_the_cursor(
        tmp_path: Path, server: StandIn, items: list[dict[str, Any]]) -> None:
    serve(server, items, faults={0: [Reply(
        b'{"messages":[{"status":"ok","total":"2"}],"collection":[{"title":"x"},7]}')]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "item 2 of the answer is a JSON int" in (first.error or "")
        assert lib.sources["bio"].cursor == {} and stored_papers(lib) == []


def test_an_error_status_stops_the_run(tmp_path: Path, server: StandIn,
                                       items: list[dict[str, Any]]) -> None:
    serve(server, items, faults={0: [Reply(
        b'{"messages":[{"status":"interval not valid"}],"collection":[]}')]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "interval not valid" in (first.error or "")


def test_requests_keep_one_a_second(tmp_path: Path, server: StandIn,
                                    items: list[dict[str, Any]]) -> None:
    serve(server, items, per=5)
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=SourceSettings(politeness=Politeness(pace=0.05)))
    gaps = [b.at - a.at for a, b in itertools.pairwise(server.seen())]
    assert len(gaps) == 3 and paced((s.at for s in server.seen()), 1.0 * 0.05)


def test_medrxiv_asks_its_own_server(tmp_path: Path, server: StandIn,
                                     items: list[dict[str, Any]]) -> None:
    med = [dict(i, server="medRxiv") for i in items[:4]]
    serve(server, [*items, *med])
    with open_lib(tmp_path / "a.db", server, kind="medrxiv") as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.added == 4
        assert server.seen()[0].path.startswith("/details/medrxiv/2026-09-07/2026-09-09/0")
        paper = lib.papers.get(med[0]["doi"])
        assert paper.venue == "medRxiv" and paper.links[0].startswith("https://www.medrxiv.org/")


def test_a_saved_answer_ingests_like_a_fetched_one(
        tmp_path: Path, shared: Path, server: StandIn, items: list[dict[str, Any]]) -> None:
    path = shared / "data" / RECORDED
    assert detect(InputFile.inspect(path)).name == "biorxiv"  # not the generic JSON
    serve(server, items)
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        fetched, fetched_signals = stored_papers(lib), all_signals(lib)
    with Library(tmp_path / "b.db", embedding_model=None) as lib:
        [done] = lib.ingest([path]).files
        assert done.format == "biorxiv" and done.added == 18 == report.added
        assert stored_papers(lib) == fetched and all_signals(lib) == fetched_signals
