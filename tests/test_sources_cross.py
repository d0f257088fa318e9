"""A paper met in two sources is one paper with both provenances: OpenAlex and Semantic
Scholar, replayed from one stand-in server with their recorded answers for the same DOIs
(and one arXiv preprint, met by its arXiv DOI in both), synced in either order."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paperatlas import Library
from paperatlas.records.sources import SourceSpec
from paperatlas.sources import Politeness, SourceSettings, SyncOptions
from standin import Reply, Seen, StandIn, standin

RECORDED = "formats/api-responses-openalex-crossref"
NOW = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
FAST = SourceSettings(politeness=Politeness(pace=0.02, backoff=1.0, retries=3))
JSON = {"Content-Type": "application/json"}
S2_PATH = "/graph/v1/paper/search/bulk"


def _bodies(folder: Path, pattern: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8"))["response"]
            for p in sorted(folder.glob(pattern))]


@pytest.fixture
def server(shared: Path) -> Iterator[StandIn]:
    """OpenAlex's recorded works (9) on /works, S2's recorded papers for the same DOIs (8)
    on the bulk search, each in one page."""
    folder = shared / "data" / RECORDED
    works = [w for body in _bodies(folder / "openalex", "*.json")
             for w in body.get("results", [body] if "id" in body else [])]
    s2 = _bodies(folder / "semantic-scholar", "doi_*.json")
    assert (len(works), len(s2)) == (9, 8)

    def openalex(seen: Seen) -> Reply:
        first = seen.arg("cursor") == "*"
        meta = {"count": len(works), "next_cursor": "next" if first else None}
        return Reply(json.dumps({"meta": meta, "results": works if first else []}).encode(),
                     headers=JSON)

    with standin() as s:
        s.route("/works", openalex)
        s.route(S2_PATH, Reply(json.dumps({"total": 8, "data": s2}).encode(), headers=JSON))
        yield s


def synced(path: Path, server: StandIn, order: tuple[str, ...]) -> Library:
    lib = Library(path, embedding_model=None)
    lib.sources.clock = lambda: NOW
    lib.sources.add(SourceSpec(name="oa", kind="openalex", query="concepts.id:C1",
                               since="2026-01-01", base_url=server.base_url))
    lib.sources.add(SourceSpec(name="s2", kind="semantic-scholar", query="x",
                               since="2026-01-01", base_url=server.base_url))
    reports = lib.sources.sync(SyncOptions(names=order), settings=FAST)
    assert all(r.ok for r in reports)
    return lib


def provenance(lib: Library) -> dict[int, set[str]]:
    """paper id -> the URLs its records came from."""
    out: dict[int, set[str]] = defaultdict(set)
    for paper_id, url in lib.store.conn.execute(
            "SELECT s.paper_id, f.path FROM sources s JOIN files f ON f.id = s.file_id"):
        out[paper_id].add(url)
    return out


@pytest.mark.parametrize("order", [("oa", "s2"), ("s2", "oa")])
def test_a_paper_met_in_two_sources_is_one_paper_with_both_provenances(
        tmp_path: Path, server: StandIn, order: tuple[str, ...]) -> None:
    with synced(tmp_path / "a.db", server, order) as lib:
        count = lib.store.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
        assert count == 9  # OpenAlex's 9 works; S2's 8 papers are all among them
        by_paper = provenance(lib)
        both = {pid for pid, urls in by_paper.items() if len(urls) == 2}
        assert len(both) == 8
        for pid in both:
            urls = sorted(by_paper[pid])
            assert urls[0].startswith(server.base_url + S2_PATH + "?")
            assert urls[1].startswith(server.base_url + "/works?")
        rows = lib.store.conn.execute(
            "SELECT COUNT(*) FROM sources WHERE paper_id IN (SELECT paper_id FROM paper_ids "
            "WHERE scheme = 'doi' AND value = '10.1073/pnas.1414271111')").fetchone()[0]
        assert rows == 2
        pid = lib.store.conn.execute("SELECT paper_id FROM paper_ids WHERE scheme = 'arxiv' "
                                     "AND value = '2312.07559'").fetchone()[0]
        assert pid in both  # PaperQA: an arXiv DOI in both, read as its arXiv id
        schemes = {r[0] for r in lib.store.conn.execute(
            "SELECT scheme FROM paper_ids WHERE paper_id = ?", (pid,))}
        assert {"arxiv", "openalex", "s2"} <= schemes
        signals = lib.store.signals.of([pid])[pid]
        assert set(signals) == {"openalex", "semantic-scholar"}
        assert signals["openalex"]["cited_by_count"] == 27
        assert signals["semantic-scholar"]["citationCount"] == 111
