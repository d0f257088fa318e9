"""The web side of live sources: the Sources page and ``/api/sources`` (sign-in / token,
add, pause, resume, remove, run now as a ``sync`` job the worker runs against the stand-in
arXiv API), and the source badges, upvotes and external signals of the feed and a paper."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("argon2")

from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.web import WebSettings, create_app
from paperatlas.web.present import signal_items, source_badges, upvotes
from paperatlas.web.sources import every_text
from paperatlas.worker import Worker
from standin import StandIn, standin
from test_sources_arxiv_api import FAST, NOW
from test_web_accounts import PASSWORD, csrf_of

HF = "formats/hf-daily-papers-api/daily_papers_limit30_2026-06-12_sotawhat.json"


@pytest.fixture
def slib(tmp_path: Path) -> Iterator[Library]:
    lib = Library(tmp_path / "w.db", embedding_model=None)
    lib.sources.clock = lambda: NOW
    lib.people.add("alice", PASSWORD)
    yield lib
    lib.close()


@pytest.fixture
def client(slib: Library) -> TestClient:
    return TestClient(create_app(slib, WebSettings(secret_key="test-key")))


@pytest.fixture
def token(slib: Library) -> dict[str, str]:
    return {"Authorization": f"Bearer {slib.people.token_create('alice', 't').token}"}


def signed_in(client: TestClient) -> str:
    """Sign alice in; the CSRF token of the Sources page."""
    csrf = csrf_of(client.get("/signin").text)
    r = client.post("/signin", data={"name": "alice", "password": PASSWORD, "csrf": csrf,
                                     "next": "/sources"}, follow_redirects=False)
    assert r.status_code == 303
    return csrf_of(client.get("/sources").text)


def test_the_page_and_the_api_are_for_keepers_only(client: TestClient) -> None:
    r = client.get("/sources", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=/sources")
    assert client.get("/api/sources").status_code == 401
    assert client.post("/api/sources", json={"name": "x", "kind": "arxiv",
                                             "query": "q"}).status_code == 401
    assert client.post("/api/sources/x/run").status_code == 401
    assert client.delete("/api/sources/x").status_code == 401
    signed_in(client)
    assert client.post("/sources", data={"name": "x", "kind": "arxiv", "query": "q",
                                         "csrf": "forged"}).status_code == 403


def test_add_pause_resume_and_run_now_from_the_page(
        client: TestClient, slib: Library, arxiv_server: StandIn) -> None:
    csrf = signed_in(client)
    assert "No sources yet" in client.get("/sources").text
    r = client.post("/sources", data={
        "name": "testing", "kind": "arxiv", "query": "testing", "since": "2026-11-01",
        "every": "6h", "collection": "", "category": "", "base_url": arxiv_server.base_url,
        "csrf": csrf}, follow_redirects=True)
    assert r.status_code == 200 and "Source &#39;testing&#39; added" in r.text
    assert "every 6h" in r.text and "last run never" in r.text
    assert slib.sources["testing"].spec.every_seconds == 21_600
    r = client.post("/sources", data={"name": "bad", "kind": "nope", "csrf": csrf})
    assert r.status_code == 400 and "arxiv-oai" in r.text  # the valid kinds are listed
    client.post("/sources/testing/pause", data={"csrf": csrf})
    assert slib.sources["testing"].paused
    assert "paused" in client.get("/sources").text
    client.post("/sources/testing/resume", data={"csrf": csrf})
    assert not slib.sources["testing"].paused

    r = client.post("/sources/testing/run", data={"csrf": csrf}, follow_redirects=True)
    assert "Sync of &#39;testing&#39; queued" in r.text and "sync queued" in r.text
    assert arxiv_server.log == []  # the request fetched nothing: the worker does
    [job] = [j for j in slib.jobs.unfinished() if j.kind == "sync"]
    assert job.params == {"sources": ["testing"]} and job.created_by == "alice"
    again = client.post("/sources/testing/run", data={"csrf": csrf})
    assert again.status_code == 200  # (followed) one queued sync takes the name in
    assert [j.id for j in slib.jobs.unfinished() if j.kind == "sync"] == [job.id]

    ran = []
    Worker(slib, sources=FAST, on_job=ran.append).run_once()
    assert [j.kind for j in ran][:2] == ["sync", "index"] and ran[0].status == "done"
    assert ran[0].result["sources"][0]["added"] == 100
    assert slib.papers.count() == 100 and len(arxiv_server.seen("/api/query")) == 2
    page = client.get("/sources").text
    assert "100 papers added of 100 records in 1 run" in page
    assert "last run 2026-12-04 06:00:00Z" in page and "next due 2026-12-04 12:00:00Z" in page
    job_page = client.get(f"/jobs/{job.id}").text
    assert "100 added of 100 in 2 pages" in job_page

    client.post("/sources/testing/remove", data={"csrf": csrf})
    assert slib.sources.all() == [] and slib.papers.count() == 100  # the papers stay
    assert client.post("/sources/testing/run", data={"csrf": csrf}).status_code == 404
    assert client.post("/sources/x/explode", data={"csrf": csrf}).status_code == 400


def test_a_failed_sync_job_shows_its_error(client: TestClient, slib: Library,
                                           token: dict[str, str]) -> None:
    with standin() as down:  # every answer a 404
        r = client.post("/api/sources", headers=token, json={
            "name": "down", "kind": "arxiv", "query": "q", "base_url": down.base_url})
        assert r.status_code == 201
        job = client.post("/api/sources/down/run", headers=token).json()["job"]
        Worker(slib, sources=FAST).run_once()
    done = client.get(f"/api/jobs/{job['id']}").json()
    assert done["status"] == "failed" and "down:" in done["message"]
    assert done["errors"][0]["source"] == "down"
    [state] = client.get("/api/sources", headers=token).json()
    assert state["last_error"] and state["queued_job"] is None
    signed_in(client)
    assert "Last error:" in client.get("/sources").text


def test_the_json_api(client: TestClient, slib: Library, token: dict[str, str]) -> None:
    r = client.post("/api/sources", headers=token, json={
        "name": "cl", "kind": "arxiv", "category": "cs.CL", "every": "1d",
        "collection": "nlp"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["spec"]["category"] == "cs.CL" and made["spec"]["collection"] == "nlp"
    assert made["paused"] is False and made["queued_job"] is None
    bad = client.post("/api/sources", headers=token, json={"name": "x", "kind": "nope"})
    assert bad.status_code == 400 and "semantic-scholar" in bad.json()["error"]["message"]
    assert client.post("/api/sources", headers=token, json={
        "name": "x", "kind": "arxiv"}).status_code == 400  # needs a query or a category
    assert client.post("/api/sources", headers=token, json={
        "name": "x", "kind": "arxiv", "query": "q", "every": "5s"}).status_code == 400
    assert client.post("/api/sources", headers=token, json={
        "name": "cl", "kind": "arxiv", "query": "q"}).status_code == 409
    assert client.post("/api/sources/cl/pause", headers=token).json()["paused"] is True
    assert client.post("/api/sources/cl/resume", headers=token).json()["paused"] is False
    assert client.post("/api/sources/cl/explode", headers=token).status_code == 400
    run = client.post("/api/sources/cl/run", headers=token)
    assert run.status_code == 202 and run.json()["job"]["kind"] == "sync"
    assert run.json()["url"] == f"/api/jobs/{run.json()['job']['id']}"
    [listed] = client.get("/api/sources", headers=token).json()
    assert listed["queued_job"] == run.json()["job"]["id"]
    assert client.post("/api/sources/nope/run", headers=token).status_code == 404
    assert client.delete("/api/sources/cl", headers=token).json() == {"removed": "cl"}
    assert client.delete("/api/sources/cl", headers=token).status_code == 404
    assert client.get("/api/sources", headers=token).json() == []


def test_reading_the_page_writes_nothing(client: TestClient, slib: Library,
                                         token: dict[str, str]) -> None:
    client.post("/api/sources", headers=token, json={"name": "cl", "kind": "arxiv",
                                                     "query": "q"})
    signed_in(client)
    before = slib.store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    assert client.get("/sources").status_code == 200
    assert client.get("/api/sources", headers=token).status_code == 200
    assert slib.store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == before
    assert slib.sources["cl"].runs == 0


def test_feed_badges_upvotes_and_a_papers_signals(client: TestClient, slib: Library,
                                                  shared: Path) -> None:
    slib.ingest([shared / "data" / HF], collection="hf")
    papers = list(slib.papers(collection="hf", order="recent"))
    signals = slib.papers.signals(papers)
    top = max(papers, key=lambda p: upvotes(signals.get(p.key)) or -1)
    votes = upvotes(signals[top.key])
    assert votes and votes > 0
    home = client.get("/").text
    assert home.count('class="badge badge-source">HF Daily<') == min(len(papers), 20)
    cards = re.findall(r'<li class="card paper-card">.*?</li>', home, flags=re.S)
    shown = next(c for c in cards if f'href="/papers/{top.key}"' in c)
    assert f"▲ {votes} HF" in shown
    page = client.get(f"/papers/{top.key}").text
    assert "Elsewhere" in page and "Upvotes" in page and f"<dd>{votes}</dd>" in page
    sig = signals[top.key]["hf-daily"]
    if sig.get("githubRepo"):
        assert f'href="{sig["githubRepo"]}"' in page
    for word in sig.get("ai_keywords", [])[:3]:
        assert f'<span class="chip">{word}</span>' in page


def test_present_helpers_for_sources() -> None:
    assert [every_text(s) for s in (60, 5400, 21_600, 86_400, 604_800, 90)] == [
        "1m", "90m", "6h", "1d", "1w", "90s"]
    assert upvotes(None) is None and upvotes({"hf-daily": {"upvotes": 7}}) == 7
    assert upvotes({"other": {"upvotes": True}}) is None
    rows = signal_items({"hf-daily": {
        "ai_keywords": ["a", "b"], "upvotes": 3, "githubRepo": "https://github.com/o/r",
        "projectPage": "javascript:alert(1)", "version": 2}})
    assert [r["name"] for r in rows] == ["upvotes", "githubRepo", "projectPage",
                                         "ai_keywords"]
    assert rows[1]["url"] == "https://github.com/o/r" and rows[1]["text"] == "o/r"
    assert rows[2]["url"] == "" and rows[2]["text"] == "javascript:alert(1)"  # never a link
    assert rows[3]["words"] == ["a", "b"] and rows[0]["source"] == "HF Daily"
    assert source_badges.__doc__
