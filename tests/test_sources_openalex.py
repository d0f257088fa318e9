"""The OpenAlex source and parser, replayed from a stand-in server whose list pages are
assembled from the real recorded work objects: cursor paging, filter or search, mailto and
API key, faults, an expired page cursor, re-runs, pacing, and saved answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paperatlas import Library
from paperatlas.ingest import InputFile, detect
from paperatlas.records.sources import SourceSpec
from paperatlas.sources import Politeness, SourceSettings, openalex
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

from conftest import dump

RECORDED = "formats/api-responses-openalex-crossref/openalex"
NOW = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
FAST = SourceSettings(politeness=Politeness(pace=0.02, backoff=1.0, retries=3,
                                            contact="me@example.org"))
JSON = {"Content-Type": "application/json"}


def load_works(folder: Path) -> list[dict[str, Any]]:
    """The recorded full work objects: single works and those of title searches."""
    works: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))["response"]
        works += body.get("results", [body] if "id" in body else [])
    return works


@pytest.fixture
def works(shared: Path) -> list[dict[str, Any]]:
    found = load_works(shared / "data" / RECORDED)
    assert len(found) == len({w["id"] for w in found}) == 9
    return found


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(openalex, "PER_PAGE", 2)
    return 2


def list_page(works: list[dict[str, Any]], at: int, size: int) -> bytes:
    """A /works answer as OpenAlex writes one: the last page is empty with a null cursor."""
    chunk = works[at:at + size]
    meta = {"count": len(works), "db_response_time_ms": 12, "page": None, "per_page": size,
            "next_cursor": f"c{at + size}" if chunk else None, "groups_count": None}
    return json.dumps({"meta": meta, "results": chunk, "group_by": []}).encode()


def serve(server: StandIn, works: list[dict[str, Any]],
          faults: dict[str, list[Reply]] | None = None) -> None:
    pending = Faults(faults)

    def answer(seen: Seen) -> Reply:
        token = seen.arg("cursor") or ""
        if (fault := pending.take(token)) is not None:
            return fault
        if token != "*" and not token.startswith("c"):
            return Reply(b'{"error": "Invalid cursor"}', 400, JSON)
        at = 0 if token == "*" else int(token[1:])
        return Reply(list_page(works, at, int(seen.arg("per-page") or 25)), headers=JSON)

    server.route("/works", answer)


def open_lib(path: Path, server: StandIn, query: str = "concepts.id:C41008148",
             now: datetime = NOW) -> Library:
    spec = SourceSpec(name="oa", kind="openalex", query=query, since="2026-01-01",
                      base_url=server.base_url)
    return source_library(path, spec, now)


def ids(lib: Library) -> set[tuple[str, str]]:
    return {tuple(r) for r in lib.store.conn.execute("SELECT scheme, value FROM paper_ids")}


def test_cursor_paging_with_a_filter_and_mailto(
        tmp_path: Path, server: StandIn, works: list[dict[str, Any]]) -> None:
    serve(server, works)
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        # 9 works, 8 papers: ChemCrow's arXiv preprint is its Nature MI article
        assert report.ok and report.done and report.pages == 6
        assert (report.records, report.added, report.merged) == (9, 8, 1)
        asked = server.seen("/works")
        assert [s.arg("cursor") for s in asked] == ["*", "c2", "c4", "c6", "c8", "c10"]
        assert {s.arg("filter") for s in asked} == {
            "concepts.id:C41008148,from_publication_date:2026-01-01"}
        assert {s.arg("mailto") for s in asked} == {"me@example.org"}
        assert {s.arg("per-page") for s in asked} == {"2"} and asked[0].arg("search") is None
        assert lib.sources["oa"].cursor == {"day": "2026-03-07"}  # the run's day less 3
        got = ids(lib)
        assert {("doi", "10.1073/pnas.1414271111"), ("openalex", "W2109415576"),
                ("pmid", "25349395"), ("pmcid", "PMC4234579"),
                ("arxiv", "2312.07559")} <= got  # PaperQA: its arXiv DOI
        title, abstract, authors = lib.store.conn.execute(
            "SELECT p.title, p.abstract, p.authors FROM papers p JOIN paper_ids i ON "
            "i.paper_id = p.id WHERE i.value = 'W2109415576'").fetchone()
        assert title.startswith("Developing functional musculoskeletal tissues")
        assert abstract.startswith("Significance The inadequate mechanical properties of")
        assert json.loads(authors)[0] == "Eleftherios Makris"


def test_a_search_with_an_api_key_keeps_the_key_out_of_the_library(
        tmp_path: Path, server: StandIn, works: list[dict[str, Any]]) -> None:
    serve(server, works, {"c4": [Reply(b'{"error": "Forbidden"}', 403, JSON)]})
    keyed = SourceSettings(politeness=FAST.politeness, api_keys={"openalex": "SECRET123"})
    with open_lib(tmp_path / "a.db", server, query="language models") as lib:
        [report] = lib.sources.sync(settings=keyed)
        assert not report.ok and report.added == 4
        first = server.seen("/works")[0]
        assert first.arg("search") == "language models"
        assert first.arg("filter") == "from_created_date:2026-01-01"
        assert first.arg("api_key") == "SECRET123"
        everything = "\n".join(dump(lib))  # every row of every table
        assert "HTTP 403" in everything and "SECRET123" not in everything
        assert "(api key)" in (lib.sources["oa"].last_error or "")


def test_faults_then_a_rerun_equal_an_uninterrupted_run(
        tmp_path: Path, server: StandIn, works: list[dict[str, Any]]) -> None:
    body = list_page(works, 4, 2)
    serve(server, works, {
        "c2": [Reply(b"slow down", 429, {"Retry-After": "2"}), Reply(b"busy", 503),
               Reply(list_page(works, 2, 2), truncate=200)],
        "c4": [Reply(body[:-40], headers=JSON)]})  # malformed: cut JSON, length kept
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "not an OpenAlex answer" in (first.error or "")
        assert first.added == 4
        assert lib.sources["oa"].cursor == {"day": "2026-01-01", "cursor": "c4"}
        tries = [s for s in server.seen("/works") if s.arg("cursor") == "c2"]
        assert len(tries) == 4 and tries[1].at - tries[0].at >= 2 * 0.02
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and second.records == 5
        assert server.seen("/works")[-4].arg("cursor") == "c4"  # resumed there
        resumed = stored_papers(lib)
    assert uninterrupted(lambda clean: serve(clean, works), open_lib,
                         tmp_path / "b.db", FAST, stored_papers) == resumed


def test_an_expired_page_cursor_starts_the_window_again(
        tmp_path: Path, server: StandIn, works: list[dict[str, Any]]) -> None:
    serve(server, works)
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=FAST)
        with lib.store.transaction():  # a page cursor OpenAlex no longer knows
            lib.store.sources.set_cursor("oa", {"day": "2026-01-01", "cursor": "gone"}, 0, 0)
        before = stored_papers(lib)
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.added == 0 and report.merged + report.skipped == 9
        assert [s.arg("cursor") for s in server.seen("/works")][6:8] == ["gone", "*"]
        assert stored_papers(lib) == before


def test_the_next_run_starts_over_from_the_last_day_and_merges(
        tmp_path: Path, server: StandIn, works: list[dict[str, Any]]) -> None:
    serve(server, works)
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=FAST)
    with open_lib(tmp_path / "a.db", server, now=datetime(2026, 3, 12, tzinfo=UTC)) as lib:
        [again] = lib.sources.sync(settings=FAST)
        assert again.ok and again.added == 0 and again.skipped + again.merged == 9
        assert server.seen("/works")[6].arg("cursor") == "*"
        assert server.seen("/works")[6].arg("filter") == (
            "concepts.id:C41008148,from_publication_date:2026-03-07")
        assert lib.sources["oa"].cursor == {"day": "2026-03-09"}
        assert len(stored_papers(lib)) == 8


def test_requests_keep_openalex_pace(tmp_path: Path, server: StandIn,
                                     works: list[dict[str, Any]]) -> None:
    serve(server, works)
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=SourceSettings(politeness=Politeness(pace=0.5)))
    assert len(server.seen("/works")) == 6 and paced((s.at for s in server.seen("/works")), 0.1 * 0.5)


def test_saved_answers_ingest_like_fetched_ones(
        tmp_path: Path, shared: Path, works: list[dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = shared / "data" / RECORDED
    saved = [p for p in sorted(folder.glob("*.json")) if p.stat().st_size > 1000]
    assert all(detect(InputFile.inspect(p)).name == "openalex" for p in saved)
    with Library(tmp_path / "b.db", embedding_model=None) as lib:
        report = lib.ingest(saved)
        # ChemCrow's preprint and article are in one answer: two works there, two papers
        assert {f.format for f in report.files} == {"openalex"} and report.added == 9
        from_files = stored_papers(lib)
    monkeypatch.setattr(openalex, "PER_PAGE", 200)
    with standin() as server:
        serve(server, works)
        with open_lib(tmp_path / "a.db", server) as lib:
            [synced] = lib.sources.sync(settings=FAST)
            assert synced.added == 9 and stored_papers(lib) == from_files
