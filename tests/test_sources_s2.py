"""The Semantic Scholar source and parser, replayed from a stand-in server with the recorded
bulk search answer (and the recorded full papers): continuation tokens, the API key header
and its rate, faults, an expired token, and a saved answer ingesting like a fetched one."""

from __future__ import annotations

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
    standin,
    stored_papers,
    uninterrupted,
)

BULK = "formats/semantic-scholar-api/paper_search_bulk_titles.json"
FULL = "formats/api-responses-openalex-crossref/semantic-scholar"
NOW = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
FAST = SourceSettings(politeness=Politeness(pace=0.02, backoff=1.0, retries=3))
JSON = {"Content-Type": "application/json"}
PATH = "/graph/v1/paper/search/bulk"
SIZE = 50


@pytest.fixture
def found(shared: Path) -> list[dict[str, Any]]:
    """The 8 recorded full papers (DOI lookups), then the first titles of the bulk answer."""
    full = [json.loads(p.read_text(encoding="utf-8"))["response"]
            for p in sorted((shared / "data" / FULL).glob("doi_*.json"))]
    bulk = json.loads((shared / "data" / BULK).read_text(encoding="utf-8"))["response"]
    return full + bulk["data"][:200 - len(full)]


def bulk_page(papers: list[dict[str, Any]], at: int) -> bytes:
    chunk = papers[at:at + SIZE]
    answer: dict[str, Any] = {"total": len(papers), "data": chunk}
    if at + SIZE < len(papers):
        answer["token"] = f"t{at + SIZE}"
    return json.dumps(answer).encode()


def serve(server: StandIn, papers: list[dict[str, Any]],
          faults: dict[str, list[Reply]] | None = None) -> None:
    pending = Faults(faults)

    def answer(seen: Seen) -> Reply:
        token = seen.arg("token") or ""
        if (fault := pending.take(token)) is not None:
            return fault
        if token and not token.startswith("t"):
            return Reply(b'{"error": "Invalid token"}', 400, JSON)
        return Reply(bulk_page(papers, int(token[1:] or 0)), headers=JSON)

    server.route(PATH, answer)


def open_lib(path: Path, server: StandIn, now: datetime = NOW) -> Library:
    spec = SourceSpec(name="s2", kind="semantic-scholar", query="kubernetes",
                      since="2026-01-01", base_url=server.base_url)
    return source_library(path, spec, now)


def test_pages_by_continuation_token(tmp_path: Path, server: StandIn,
                                     found: list[dict[str, Any]]) -> None:
    serve(server, found)
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.done and report.pages == 4 and report.records == 200
        assert report.added + report.merged == 200 and report.skipped == 0
        asked = server.seen(PATH)
        assert [s.arg("token") for s in asked] == [None, "t50", "t100", "t150"]
        assert {s.arg("query") for s in asked} == {"kubernetes"}
        assert {s.arg("publicationDateOrYear") for s in asked} == {"2026-01-01:"}
        assert asked[0].arg("fields") == ("title,abstract,authors,year,publicationDate,"
                                          "externalIds,venue,url")
        assert "x-api-key" not in asked[0].headers
        assert lib.sources["s2"].cursor == {"day": "2026-03-03"}  # the run's day less 7
        ids = {tuple(r) for r in lib.store.conn.execute("SELECT scheme, value FROM paper_ids")}
        assert {("s2", "b6c4e9f285bd1b0b69b98daa47fea3d29d50c658"),
                ("doi", "10.1016/j.addr.2015.01.008"), ("pmid", "25666165"),
                ("pmcid", "PMC12008803"), ("arxiv", "2312.07559"),
                ("arxiv", "2304.05376")} <= ids
        assert ("s2", found[-1]["paperId"]) in ids


def test_an_api_key_goes_in_its_header_at_the_keyed_rate(
        tmp_path: Path, server: StandIn, found: list[dict[str, Any]]) -> None:
    serve(server, found)
    keyed = SourceSettings(politeness=FAST.politeness, api_keys={"semantic-scholar": "K1"})
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=keyed)
    asked = server.seen(PATH)
    assert {s.headers.get("x-api-key") for s in asked} == {"K1"}
    assert "K1" not in "\n".join(str(s.query) for s in asked)
    assert len(asked) == 4 and paced((s.at for s in asked), 1.0 * 0.02)


def test_without_a_key_requests_keep_the_shared_pools_pace(
        tmp_path: Path, server: StandIn, found: list[dict[str, Any]]) -> None:
    serve(server, found)
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=FAST)
    assert len(server.seen(PATH)) == 4 and paced((s.at for s in server.seen(PATH)), 3.0 * 0.02)


def test_faults_then_a_rerun_equal_an_uninterrupted_run(
        tmp_path: Path, server: StandIn, found: list[dict[str, Any]]) -> None:
    serve(server, found, {
        "t50": [Reply(b"Too Many Requests", 429, {"Retry-After": "2"}), Reply(b"busy", 503),
                Reply(bulk_page(found, 50), truncate=300)],
        "t100": [Reply(bulk_page(found, 100)[:-25], headers=JSON)]})  # cut JSON
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "not a Semantic Scholar answer" in (first.error or "")
        assert first.records == 100
        assert lib.sources["s2"].cursor == {"day": "2026-01-01", "token": "t100"}
        tries = [s for s in server.seen(PATH) if s.arg("token") == "t50"]
        assert len(tries) == 4 and tries[1].at - tries[0].at >= 2 * 0.02
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and second.records == 100
        resumed = stored_papers(lib)
    assert uninterrupted(lambda clean: serve(clean, found), open_lib,
                         tmp_path / "b.db", FAST, stored_papers) == resumed


def test_an_expired_token_starts_the_window_again(
        tmp_path: Path, server: StandIn, found: list[dict[str, Any]]) -> None:
    serve(server, found)
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=FAST)
        before = stored_papers(lib)
        with lib.store.transaction():
            lib.store.sources.set_cursor("s2", {"day": "2026-01-01", "token": "gone"}, 0, 0)
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.added == 0 and report.skipped == 200
        assert [s.arg("token") for s in server.seen(PATH)][4:6] == ["gone", None]
        assert stored_papers(lib) == before


def test_a_saved_answer_ingests_like_a_fetched_one(tmp_path: Path, shared: Path) -> None:
    path = shared / "data" / BULK
    assert detect(InputFile.inspect(path)).name == "semantic-scholar"
    answer = json.loads(path.read_text(encoding="utf-8"))["response"]
    with standin() as server:
        server.route(PATH, lambda seen: Reply(json.dumps(answer).encode(), headers=JSON)
                     if not seen.arg("token") else Reply(b'{"total": 1000, "data": []}'))
        with open_lib(tmp_path / "a.db", server) as lib:
            [synced] = lib.sources.sync(settings=FAST)
            assert synced.ok and synced.pages == 2 and synced.records == 1000
            fetched = stored_papers(lib)
    with Library(tmp_path / "b.db", embedding_model=None) as lib:
        [done] = lib.ingest([path]).files
        assert done.format == "semantic-scholar" and done.records == 1000
        assert stored_papers(lib) == fetched
