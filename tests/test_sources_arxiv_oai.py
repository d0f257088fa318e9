"""The arXiv OAI-PMH source, replayed from a stand-in server: ListRecords pages chained
by resumption tokens (the recorded 2,000 quant-ph records, each id twice), an expired
token, noRecordsMatch, faults and arXiv's pace."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperatlas import Library
from paperatlas.errors import InvalidOptionError
from paperatlas.records.sources import SourceSpec
from paperatlas.sources import Politeness, SourceSettings
from paperatlas.sources.arxiv_oai import oai_set
from standin import (
    Faults,
    Reply,
    Seen,
    StandIn,
    paced,
    source_library,
    stored_keys,
    uninterrupted,
)

RECORDED = "data/formats/arxiv-oai-pmh/arxiv_oai_dc_quant-ph_2000records.xml"
NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
FAST = SourceSettings(politeness=Politeness(pace=0.02, backoff=1.0, retries=3))
PAGE = 500
ERROR = ('<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org'
         '/OAI/2.0/"><responseDate>2026-12-04T06:00:00Z</responseDate><request verb='
         '"ListRecords">https://oaipmh.arxiv.org/oai</request><error code="{code}">{text}'
         "</error></OAI-PMH>")


def envelope(records: list[str], start: int, token: str | None) -> bytes:
    resumption = (f'<resumptionToken cursor="{start}" completeListSize="2000">{token}'
                  "</resumptionToken>" if token else
                  f'<resumptionToken cursor="{start}" completeListSize="2000"/>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives'
            '.org/OAI/2.0/"><responseDate>2026-12-04T06:00:00Z</responseDate><request verb='
            '"ListRecords">https://oaipmh.arxiv.org/oai</request><ListRecords>\n'
            + "\n".join(records[start:start + PAGE]) + f"\n{resumption}</ListRecords>"
            "</OAI-PMH>\n").encode()


@pytest.fixture
def records(shared: Path) -> list[str]:
    text = (shared / RECORDED).read_text(encoding="utf-8")
    found = re.findall(r"<record>.*?</record>", text, flags=re.S)
    assert len(found) == 2000
    return found


def serve(server: StandIn, records: list[str],
          faults: dict[int, list[Reply]] | None = None) -> None:
    """Tokens ``t500``, ``t1000``, ... name where the next page starts."""
    pending = Faults(faults)

    def answer(seen: Seen) -> Reply:
        token = seen.arg("resumptionToken")
        start = int(token[1:]) if token else 0
        if (fault := pending.take(start)) is not None:
            return fault
        nxt = start + PAGE
        return Reply(envelope(records, start, f"t{nxt}" if nxt < len(records) else None),
                     headers={"Content-Type": "text/xml"})

    server.route("/oai", answer)


def open_lib(path: Path, server: StandIn) -> Library:
    spec = SourceSpec(name="qp", kind="arxiv-oai", category="physics:quant-ph",
                      since="2026-11-01", base_url=server.base_url)
    return source_library(path, spec, NOW)


def test_a_harvest_follows_the_tokens(tmp_path: Path, server: StandIn,
                                      records: list[str]) -> None:
    serve(server, records)
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.pages == 4 and report.records == 2000
        assert report.added == 1000 and lib.papers.count() == 1000  # each id twice: merged
        assert lib.sources["qp"].cursor == {"from": "2026-12-04"}
        paper = lib.papers["0704.0042"]
        assert paper.title == "General System theory, Like-Quantum Semantics and Fuzzy Sets"
    first, *rest = server.seen("/oai")
    assert first.query == {"verb": ["ListRecords"], "metadataPrefix": ["arXiv"],
                           "from": ["2026-11-01"], "until": ["2026-12-04"],
                           "set": ["physics:quant-ph"]}
    assert [s.query for s in rest] == [{"verb": ["ListRecords"], "resumptionToken": [t]}
                                       for t in ("t500", "t1000", "t1500")]


def test_an_expired_token_restarts_the_window(tmp_path: Path, server: StandIn,
                                              records: list[str]) -> None:
    expired = Reply(ERROR.format(code="badResumptionToken", text="expired").encode())
    serve(server, records, {1000: [expired]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and lib.papers.count() == 1000 and report.added == 1000
        assert report.pages == 6  # 2 pages, then the window again from its start
    assert [s.arg("resumptionToken") for s in server.seen("/oai")] == [
        None, "t500", "t1000", None, "t500", "t1000", "t1500"]


def test_faults_then_a_rerun_equal_an_uninterrupted_run(tmp_path: Path, server: StandIn,
                                                        records: list[str]) -> None:
    cut = envelope(records, 1000, "t1500")[:-2000]
    serve(server, records, {500: [Reply(b"busy", 503, {"Retry-After": "2"})],
                            1000: [Reply(cut)]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "malformed XML" in (first.error or "")
        assert lib.sources["qp"].cursor["token"] == "t1000"
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and second.pages == 2
        resumed = stored_keys(lib)
    assert uninterrupted(lambda clean: serve(clean, records), open_lib,
                         tmp_path / "b.db", FAST, stored_keys) == resumed and len(resumed) == 1000
    tries = [s.at for s in server.seen("/oai") if s.arg("resumptionToken") == "t500"]
    assert tries[1] - tries[0] >= 2 * 0.02  # Retry-After


def test_no_records_match_is_an_empty_harvest(tmp_path: Path, server: StandIn) -> None:
    server.route("/oai", Reply(ERROR.format(code="noRecordsMatch", text="none").encode()))
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.added == 0 and report.done
        assert lib.sources["qp"].cursor == {"from": "2026-12-04"}


def test_other_oai_errors_stop_the_run(tmp_path: Path, server: StandIn) -> None:
    server.route("/oai", Reply(ERROR.format(code="noSetHierarchy", text="no sets").encode()))
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert not report.ok and "noSetHierarchy" in (report.error or "")
        assert lib.sources["qp"].cursor == {}


def test_requests_keep_arxivs_pace(tmp_path: Path, server: StandIn,
                                   records: list[str]) -> None:
    serve(server, records)
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=FAST)
    times = [s.at for s in server.seen("/oai")]
    assert paced(times, 3.0 * 0.02)


def test_a_saved_harvest_ingests_like_a_fetched_one(tmp_path: Path, server: StandIn,
                                                    shared: Path, records: list[str]) -> None:
    serve(server, records)
    with open_lib(tmp_path / "a.db", server) as lib:
        lib.sources.sync(settings=FAST)
        fetched = sorted((p.key, p.title) for p in lib.papers())
    with Library(tmp_path / "b.db", embedding_model=None) as lib:
        report = lib.ingest([shared / RECORDED])
        assert report.files[0].format == "arxiv-oai"
        assert sorted((p.key, p.title) for p in lib.papers()) == fetched


@pytest.mark.parametrize(("category", "expected"), [
    ("cs", "cs"), ("math", "math"), ("quant-ph", "physics:quant-ph"),
    ("hep-th", "physics:hep-th"), ("cs.CL", "cs:cs:CL"), ("stat.ML", "stat:stat:ML"),
    ("q-bio.GN", "q-bio:q-bio:GN"), ("astro-ph.CO", "physics:astro-ph:CO"),
    ("physics.optics", "physics:physics:optics"), ("physics:hep-th", "physics:hep-th"),
    ("cs:cs:AI", "cs:cs:AI")])
def test_categories_name_arxivs_sets(category: str, expected: str) -> None:
    assert oai_set(category) == expected


def test_one_set_a_source(tmp_path: Path) -> None:
    with Library(tmp_path / "a.db", embedding_model=None) as lib, pytest.raises(
            InvalidOptionError, match="one arXiv set"):
        lib.sources.add(SourceSpec(name="x", kind="arxiv-oai", category="cs.CL cs.LG"))


def test_real_arxiv_format_answers_in_two_pages(tmp_path: Path, server: StandIn,
                                                shared: Path) -> None:
    """The recorded ListRecords answers in arXiv's format (metadataPrefix=arXiv, the
    real envelope), the first given a resumption token."""
    folder = shared / "data/formats/arxiv-oai-pmh/hepcrawl"
    first = (folder / "arxiv-physics-hep-th.xml").read_bytes().replace(
        b"</ListRecords>", b'<resumptionToken cursor="0">6543|1001</resumptionToken>'
        b"</ListRecords>")
    last = (folder / "arxiv-physics-hep-ex.xml").read_bytes()
    server.route("/oai", lambda seen: Reply(last if seen.arg("resumptionToken") else first))
    with Library(tmp_path / "a.db", embedding_model=None) as lib:
        lib.sources.clock = lambda: NOW
        lib.sources.add(SourceSpec(name="hep", kind="arxiv-oai", category="hep-th",
                                   since="2026-12-01", base_url=server.base_url))
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.pages == 2 and report.added == 6
        paper = lib.papers["1412.8323"]
        assert paper.authors == ["Philipp A Hoehn"]
        assert paper.categories[:2] == ["quant-ph", "gr-qc"]
        assert lib.sources["hep"].cursor == {"from": "2026-12-04"}
    first_ask, second_ask = server.seen("/oai")
    assert first_ask.arg("set") == "physics:hep-th"
    assert second_ask.query == {"verb": ["ListRecords"], "resumptionToken": ["6543|1001"]}
