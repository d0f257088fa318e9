"""Issue 19: a topic's Overview page, its downloads and ``POST /api/review`` on a real
library with a small tree (the hashing stand-in embedder; the chat stand-in for
paragraphs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from llm_standin import ChatStandIn
from paperatlas import Library
from paperatlas.records.trees import Node, Tree
from paperatlas.web import WebSettings, create_app
from test_ask import PAPERS, write_papers
from test_semantic import HashingEmbedder


@pytest.fixture
def client(tmp_path: Path, chat: ChatStandIn) -> Iterator[TestClient]:
    lib = Library(tmp_path / "r.db", embedding_model=HashingEmbedder("hash-64", 64))
    lib.ingest([write_papers(tmp_path / "corpus.jsonl", PAPERS)], collection="c", index=True)
    nodes = {0: Node(0, None, kind="root"),
             1: Node(1, 0, "Nature", keywords=["ocean", "bees"], papers={1: 0.9, 3: 0.8}),
             2: Node(2, 1, "Ocean warming", keywords=["coral", "ocean"], papers={1: 0.9}),
             3: Node(3, 1, "Pollinators", keywords=["bee", "pesticides"], papers={3: 0.9}),
             4: Node(4, 0, "Graphs <b>", keywords=["graph"], papers={2: 0.9})}
    with lib.store.transaction():
        lib.store.trees.save(Tree("t", nodes, 0, next_id=5))
    settings = WebSettings(llm_url=chat.base, llm_model="stand-in-7b", llm_timeout=5)
    yield TestClient(create_app(lib, settings))
    lib.close()


def test_a_topic_page_links_its_overview_and_ask(client: TestClient) -> None:
    page = client.get("/trees/t/nodes/1")
    assert 'href="/trees/t/nodes/1/overview"' in page.text
    assert 'href="/ask?node=t%3A1"' in page.text


def test_the_overview_has_a_section_per_sub_topic_with_cited_sentences(
        client: TestClient, chat: ChatStandIn) -> None:
    page = client.get("/trees/t/nodes/1/overview")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Overview: Nature" in text and 'id="section-2"' in text and 'id="section-3"' in text
    assert 'href="/papers/bees#s' in text and 'href="/papers/ocean#s' in text
    assert "Write paragraphs with stand-in-7b" in text and not chat.requests
    written = client.get("/trees/t/nodes/1/overview", params={"llm": 1})
    assert written.status_code == 200 and 'class="marker"' in written.text
    assert "citation precision 1.00" in written.text and len(chat.requests) == 2
    leaf = client.get("/trees/t/nodes/4/overview")
    assert "Graphs &lt;b&gt;" in leaf.text and "<b>\"" not in leaf.text  # escaped


def test_overview_downloads(client: TestClient) -> None:
    md = client.get("/trees/t/nodes/1/overview.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "attachment" in md.headers["content-disposition"] and "# " in md.text
    bib = client.get("/trees/t/nodes/1/overview.bib")
    assert bib.status_code == 200 and bib.text.count("@") == 2 and "Bee decline" in bib.text
    html = client.get("/trees/t/nodes/1/overview.html")
    assert html.text.lstrip().lower().startswith("<!doctype html>")
    assert client.get("/trees/t/nodes/1/overview.pdf").status_code == 400


def test_api_review(client: TestClient, chat: ChatStandIn) -> None:
    body = client.post("/api/review", json={"node": "t:1", "llm": False}).json()
    assert [s["label"] for s in body["sections"]] == ["Ocean warming", "Pollinators"]
    assert {r["key"] for r in body["references"]} == {"ocean", "bees"}
    assert body["model"] is None and not chat.requests
    written = client.post("/api/review", json={"node": "t:1"}).json()
    assert written["model"] == "stand-in-7b" and written["precision"] == 1.0
    r = client.post("/api/review", json={"node": "t:99"})
    assert r.status_code == 400 and "t:0" in r.json()["error"]["message"]
    assert client.post("/api/review", json={"node": "t:1", "sections_max": 0}).status_code == 400
    assert client.get("/trees/nope/nodes/1/overview").status_code == 400
