"""The PubMed source (E-utilities esearch + efetch) and the ``pubmed-xml`` parser,
replayed from a stand-in server with the recorded efetch articles: a search per Entrez
day, batches from the history server, an expired WebEnv, faults, pacing with and without
an API key, and a saved answer ingesting like a fetched one."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperatlas import Library
from paperatlas.errors import InvalidOptionError
from paperatlas.ingest import InputFile, detect
from paperatlas.records.sources import SourceSpec
from paperatlas.sources import Http, Politeness, SourceContext, SourceSettings, pubmed
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

FOLDER = "formats/pubmed-eutils"
EFETCH = ("sotawhat_efetch_5articles_2026-06.xml", "ncbiutils_efetch_pubmed_5articles.xml",
          "biopython_pubmed1.xml", "biopython_pubmed2.xml", "biopython_pubmed4.xml",
          "biopython_pubmed5.xml")
NOW = datetime(2026, 6, 13, 6, 0, tzinfo=UTC)  # the 12th has ended in Bethesda
FAST = SourceSettings(politeness=Politeness(pace=0.02, backoff=1.0, retries=3,
                                            contact="lab@example.org"))
XML = {"Content-Type": "text/xml; charset=UTF-8"}
HEAD = ('<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD '
        'PubMedArticle, 1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/'
        'pubmed_250101.dtd">\n<PubmedArticleSet>\n')
ESEARCH = "/entrez/eutils/esearch.fcgi"
EFETCH_PATH = "/entrez/eutils/efetch.fcgi"


@pytest.fixture
def articles(shared: Path) -> list[str]:
    """The 16 recorded articles, each as efetch writes it."""
    found: list[str] = []
    for name in EFETCH:
        text = (shared / "data" / FOLDER / name).read_text(encoding="utf-8")
        found += re.findall(r"<PubmedArticle>.*?</PubmedArticle>", text, flags=re.S)
    assert len(found) == 16
    return found


@pytest.fixture
def days(articles: list[str]) -> dict[str, list[str]]:
    return {"2026/06/10": articles[:7], "2026/06/11": [], "2026/06/12": articles[7:]}


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(pubmed, "BATCH", 3)
    return 3


def article_set(items: list[str]) -> bytes:
    return (HEAD + "\n".join(items) + "\n</PubmedArticleSet>\n").encode()


def expired(webenv: str) -> Reply:
    return Reply((f'<?xml version="1.0" encoding="UTF-8" ?>\n<eFetchResult>\n\t<ERROR>Unable '
                  f'to obtain query #1 (WebEnv {webenv})</ERROR>\n</eFetchResult>\n').encode(),
                 headers=XML)


def serve(server: StandIn, days: dict[str, list[str]],
          faults: dict[tuple[str, str, int], list[Reply]] | None = None,
          lives: dict[int, int] | None = None) -> dict[str, str]:
    """Answer esearch (a new WebEnv each time, the day's count) and efetch (the day's
    articles from ``retstart``). ``faults[(tool, day, retstart)]`` come first; WebEnv
    ``MCID_n`` serves ``lives[n]`` efetches, then is gone. Returns WebEnv -> day."""
    pending = Faults(faults)
    history: dict[str, str] = {}
    used: dict[str, int] = {}

    def search(seen: Seen) -> Reply:
        day = seen.arg("mindate") or ""
        assert seen.arg("maxdate") == day and seen.arg("datetype") == "edat"
        if (fault := pending.take(("esearch", day, 0))) is not None:
            return fault
        webenv = f"MCID_{len(history) + 1}"
        history[webenv] = day
        body = (f'<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC '
                f'"-//NLM//DTD esearch 20060628//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/'
                f'dtd/20060628/esearch.dtd">\n<eSearchResult><Count>{len(days.get(day, []))}'
                f'</Count><RetMax>0</RetMax><RetStart>0</RetStart><QueryKey>1</QueryKey>'
                f'<WebEnv>{webenv}</WebEnv><IdList/><TranslationSet/><QueryTranslation>'
                f'{seen.arg("term")}</QueryTranslation></eSearchResult>\n')
        return Reply(body.encode(), headers=XML)

    def fetch(seen: Seen) -> Reply:
        webenv, start = seen.arg("WebEnv") or "", int(seen.arg("retstart") or 0)
        day = history.get(webenv)
        life = (lives or {}).get(int(webenv.split("_")[1]) if day else 0)
        if day is None or (life is not None and used.get(webenv, 0) >= life):
            return expired(webenv)
        used[webenv] = used.get(webenv, 0) + 1
        if (fault := pending.take(("efetch", day, start))) is not None:
            return fault
        size = int(seen.arg("retmax") or 20)
        return Reply(article_set(days[day][start:start + size]), headers=XML)

    server.route(ESEARCH, search)
    server.route(EFETCH_PATH, fetch)
    return history


def open_lib(path: Path, server: StandIn, now: datetime = NOW, **spec: str) -> Library:
    source = SourceSpec(name="pm", kind="pubmed", query=spec.get("query", "large language models"),
                        category=spec.get("category"), since=spec.get("since", "2026-06-10"),
                        base_url=server.base_url)
    return source_library(path, source, now)


def papers(lib: Library) -> list[tuple[str, ...]]:
    return stored_papers(lib, "key, title, abstract, authors, date, venue, categories, links")


def asked(server: StandIn) -> list[tuple[str, str | None]]:
    return [("esearch", s.arg("mindate")) if s.path == ESEARCH else ("efetch", s.arg("retstart"))
            for s in server.seen()]


def test_searches_each_day_then_fetches_its_batches(
        tmp_path: Path, server: StandIn, days: dict[str, list[str]], batches: int) -> None:
    serve(server, days)
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.done and report.pages == 7
        assert report.records == report.added == 16
        assert asked(server) == [
            ("esearch", "2026/06/10"), ("efetch", "0"), ("efetch", "3"), ("efetch", "6"),
            ("esearch", "2026/06/11"),
            ("esearch", "2026/06/12"), ("efetch", "0"), ("efetch", "3"), ("efetch", "6")]
        search, fetch = server.seen(ESEARCH)[0], server.seen(EFETCH_PATH)[0]
        assert {k: search.arg(k) for k in ("db", "term", "usehistory", "retmax", "sort",
                                           "tool", "email", "api_key")} == {
            "db": "pubmed", "term": "large language models", "usehistory": "y",
            "retmax": "0", "sort": "pub_date", "tool": "paperatlas",
            "email": "lab@example.org", "api_key": None}
        assert {k: fetch.arg(k) for k in ("db", "WebEnv", "query_key", "retmax", "retmode",
                                          "tool", "email")} == {
            "db": "pubmed", "WebEnv": "MCID_1", "query_key": "1", "retmax": "3",
            "retmode": "xml", "tool": "paperatlas", "email": "lab@example.org"}
        assert lib.sources["pm"].cursor == {"day": "2026-06-13", "retstart": 0}
        paper = lib.papers.get("10.1136/bmj.k3225")
        assert paper.ids["pmid"] == "30158200" and paper.ids["pmcid"] == "PMC6113773"
        assert paper.abstract.startswith("OBJECTIVES: To identify the genetic determinants")
        assert "\n\nDESIGN: " in paper.abstract and paper.venue == "BMJ (Clinical research ed.)"
        assert paper.date == "2018-08-29" and "Adolescent" in paper.categories
        assert paper.authors[:2] == ["Katerina Trajanoska", "John A Morris"]
        assert paper.links == ["https://pubmed.ncbi.nlm.nih.gov/30158200/"]
        sup = lib.papers.get("10.1186/s13550-026-01466-0")  # inline <sup> kept as text
        assert sup.title.startswith("Early timepoint 99mTc-DPD whole body scintigraphy")
        assert sup.ids["pmid"] == "42286391"
        [again] = lib.sources.sync(settings=FAST)  # the 13th has not ended yet
        assert again.ok and again.pages == 0 and len(server.seen()) == 9
    with open_lib(tmp_path / "a.db", server, datetime(2026, 6, 14, 6, tzinfo=UTC)) as lib:
        [later] = lib.sources.sync(settings=FAST)
        assert later.ok and later.pages == 1 and later.added == 0
        assert asked(server)[-1] == ("esearch", "2026/06/13")
        assert lib.sources["pm"].cursor == {"day": "2026-06-14", "retstart": 0}


def test_faults_then_a_rerun_equal_an_uninterrupted_run(
        tmp_path: Path, server: StandIn, days: dict[str, list[str]], batches: int) -> None:
    cut = article_set(days["2026/06/12"][3:6])[:-200]  # ends inside an article
    serve(server, days, {
        ("esearch", "2026/06/12", 0): [Reply(b"slow down", 429, {"Retry-After": "3"})],
        ("efetch", "2026/06/10", 3): [Reply(b"busy", 503)],
        ("efetch", "2026/06/10", 6): [Reply(article_set(days["2026/06/10"][6:]),
                                            headers=XML, truncate=300)],
        ("efetch", "2026/06/12", 3): [Reply(cut, headers=XML)]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "malformed XML" in (first.error or "")
        assert first.added == 10
        assert lib.sources["pm"].cursor == {"day": "2026-06-12", "retstart": 3}
        tries = [s for s in server.seen(ESEARCH) if s.arg("mindate") == "2026/06/12"]
        assert len(tries) == 2 and tries[1].at - tries[0].at >= 3 * 0.02
        [second] = lib.sources.sync(settings=FAST)  # searched again: the WebEnv is not kept
        assert second.ok and second.added == 6 and second.pages == 2
        assert asked(server)[-3:] == [("esearch", "2026/06/12"), ("efetch", "3"),
                                      ("efetch", "6")]
        resumed = papers(lib)
    assert uninterrupted(lambda clean: serve(clean, days), open_lib,
                         tmp_path / "b.db", FAST, papers) == resumed and len(resumed) == 16


def test_an_expired_webenv_is_searched_again(
        tmp_path: Path, server: StandIn, days: dict[str, list[str]], batches: int) -> None:
    serve(server, days, lives={1: 1})
    with open_lib(tmp_path / "a.db", server) as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.added == 16 and report.pages == 7
        assert asked(server)[:5] == [("esearch", "2026/06/10"), ("efetch", "0"),
                                     ("efetch", "3"), ("esearch", "2026/06/10"),
                                     ("efetch", "3")]
        assert [s.arg("WebEnv") for s in server.seen(EFETCH_PATH)][:4] == [
            "MCID_1", "MCID_1", "MCID_2", "MCID_2"]


def test_a_history_that_stays_gone_stops_the_run_before_the_batch(
        tmp_path: Path, server: StandIn, days: dict[str, list[str]], batches: int) -> None:
    serve(server, days, lives={1: 1, 2: 0})
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "Unable to obtain query" in (first.error or "")
        assert first.added == 3
        assert lib.sources["pm"].cursor == {"day": "2026-06-10", "retstart": 3}
        [second] = lib.sources.sync(settings=FAST)  # fresh searches (MCID_3 on)
        assert second.ok and second.added == 13


def test_an_empty_batch_inside_the_count_is_asked_again(
        tmp_path: Path, server: StandIn, days: dict[str, list[str]], batches: int) -> None:
    serve(server, days, {("efetch", "2026/06/10", 3): [Reply(article_set([]), headers=XML)]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "no article at 3 of 7" in (first.error or "")
        assert lib.sources["pm"].cursor == {"day": "2026-06-10", "retstart": 3}
        [second] = lib.sources.sync(settings=FAST)
        assert second.ok and first.added + second.added == 16


def test_an_esearch_error_stops_the_run(tmp_path: Path, server: StandIn,
                                        days: dict[str, list[str]]) -> None:
    error = (b'<?xml version="1.0" encoding="UTF-8" ?>\n<eSearchResult><ERROR>Invalid query'
             b' syntax</ERROR></eSearchResult>\n')
    serve(server, days, {("esearch", "2026/06/10", 0): [Reply(error, headers=XML)]})
    with open_lib(tmp_path / "a.db", server) as lib:
        [first] = lib.sources.sync(settings=FAST)
        assert not first.ok and "esearch failed: Invalid query syntax" in (first.error or "")
        assert lib.sources["pm"].cursor == {} and papers(lib) == []


def test_three_requests_a_second_without_a_key_ten_with_one(
        tmp_path: Path, server: StandIn, days: dict[str, list[str]], batches: int) -> None:
    serve(server, days)
    pace = 0.3
    with open_lib(tmp_path / "a.db", server, category="Neoplasms") as lib:
        lib.sources.sync(settings=SourceSettings(politeness=Politeness(pace=pace)))
    gaps = [b.at - a.at for a, b in itertools.pairwise(server.seen())]
    assert len(gaps) == 8 and paced((s.at for s in server.seen()), pace / 3)
    assert server.seen()[0].arg("term") == '(large language models) AND "Neoplasms"[MeSH Terms]'
    keyed = SourceSettings(politeness=Politeness(pace=pace), api_keys={"pubmed": "k3y"})
    with standin() as other:
        serve(other, days)
        with open_lib(tmp_path / "b.db", other) as lib:
            [report] = lib.sources.sync(settings=keyed)
            assert report.ok and report.added == 16
        assert {s.arg("api_key") for s in other.seen()} == {"k3y"}
        assert paced((s.at for s in other.seen()), pace / 10)
    spec = SourceSpec(name="pm", kind="pubmed", query="x")
    with Http() as http:
        plain = pubmed.PubMedSource(spec, http, SourceContext(now=NOW))
        fast = pubmed.PubMedSource(spec, http, SourceContext(now=NOW, api_keys={"pubmed": "k"}))
        assert (plain.pace, fast.pace) == (1 / 3, 0.1)


def test_a_pubmed_source_needs_a_query(tmp_path: Path) -> None:
    with Library(tmp_path / "a.db", embedding_model=None) as lib, \
            pytest.raises(InvalidOptionError, match="query"):
        lib.sources.add(SourceSpec(name="pm", kind="pubmed"))


@pytest.mark.parametrize("name", EFETCH)
def test_a_saved_answer_ingests_like_a_fetched_one(
        tmp_path: Path, shared: Path, server: StandIn, name: str) -> None:
    path = shared / "data" / FOLDER / name
    assert detect(InputFile.inspect(path)).name == "pubmed-xml"
    body = path.read_bytes()
    count = body.count(b"<PubmedArticle>")
    serve(server, {"2026/06/12": ["x"] * count},
          {("efetch", "2026/06/12", 0): [Reply(body, headers=XML)]})
    with open_lib(tmp_path / "a.db", server, since="2026-06-12") as lib:
        [report] = lib.sources.sync(settings=FAST)
        assert report.ok and report.added == count
        fetched = papers(lib)
    with Library(tmp_path / "b.db", embedding_model=None) as lib:
        [done] = lib.ingest([path]).files
        assert done.format == "pubmed-xml" and done.added == count
        assert papers(lib) == fetched
        assert all(p[1] and p[3] != "[]" for p in fetched)  # titles and authors


def test_a_saved_search_answer_holds_no_records(tmp_path: Path, shared: Path) -> None:
    path = shared / "data" / FOLDER / "biopython_esearch8.xml"  # Count 0, PhraseNotFound
    with Library(tmp_path / "a.db", embedding_model=None) as lib:
        [done] = lib.ingest([path], format="pubmed-xml").files
        assert done.error is None and done.records == 0
