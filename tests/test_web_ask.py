"""Issue 19: the Ask page and ``POST /api/ask`` on a real library (the hashing stand-in
embedder), and the paper page's numbered sentences that citations link to."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.records.trees import Node, Tree
from paperatlas.urls import Urls
from paperatlas.web import WebSettings, create_app
from paperatlas.web.present import abstract_sentences
from test_ask import PAPERS, write_papers
from test_semantic import HashingEmbedder


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    lib = Library(tmp_path / "a.db", embedding_model=HashingEmbedder("hash-64", 64))
    lib.ingest([write_papers(tmp_path / "corpus.jsonl", PAPERS)], collection="c", index=True)
    nodes = {0: Node(0, None, kind="root"), 1: Node(1, 0, "sea", papers={1: 0.9}),
             2: Node(2, 0, "bees", papers={3: 0.9})}
    with lib.store.transaction():
        lib.store.trees.save(Tree("t", nodes, 0, next_id=3))
    yield TestClient(create_app(lib, WebSettings()))
    lib.close()


def test_api_ask_answers_with_cited_sentences(client: TestClient) -> None:
    r = client.post("/api/ask", json={"question": "neonicotinoid honey bee colony survival"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["abstained"] is False
    assert body["evidence"][0]["key"] == "bees" and body["evidence"][0]["sentence"] == 1
    assert body["evidence"][0]["text"].startswith("Neonicotinoid exposure reduced")
    assert body["papers"][0]["title"] == "Bee decline" and "timings" in body
    scoped = client.post("/api/ask", json={"question": "honey bee", "node": "t:1"}).json()
    assert {e["key"] for e in scoped["evidence"] + scoped["nearest"]} == {"ocean"}
    none = client.post("/api/ask", json={"question": "lattice gauge chromodynamics"}).json()
    assert none["abstained"] is True and none["evidence"] == []
    assert none["message"].startswith("No paper in this library addresses")


def test_api_ask_bad_input_is_a_400_naming_it(client: TestClient) -> None:
    r = client.post("/api/ask", json={"question": "bees", "collection": "nope"})
    assert r.status_code == 400 and "valid values are: c" in r.json()["error"]["message"]
    r = client.post("/api/ask", json={"question": "bees", "node": "t:99"})
    assert r.status_code == 400 and "topic of tree 't'" in r.json()["error"]["message"]
    r = client.post("/api/ask", json={"question": "bees", "papers": ["k"] * 201})
    assert r.status_code == 400 and "papers in a scope" in r.json()["error"]["message"]
    r = client.post("/api/ask", json={"question": "   "})
    assert r.status_code == 400 and "question" in r.json()["error"]["message"]
    assert client.post("/api/ask", json={}).status_code == 400
    r = client.post("/api/ask", json={"question": "bees", "papers": ["no-such-paper"]})
    assert r.status_code == 404


def test_ask_page_quotes_sentences_linked_to_their_place(client: TestClient) -> None:
    page = client.get("/ask")
    assert page.status_code == 200 and 'name="q"' in page.text and "<section" not in page.text
    page = client.get("/ask", params={"q": "neonicotinoid honey bee colony survival"})
    assert page.status_code == 200
    assert 'href="/papers/bees#s1"' in page.text and "Neonicotinoid exposure reduced" in page.text
    paper = client.get("/papers/bees")
    sentence = re.search(r'<span class="sentence" id="s1">([^<]*)</span>', paper.text)
    assert sentence and sentence.group(1).startswith("Neonicotinoid exposure reduced")
    none = client.get("/ask", params={"q": "lattice gauge chromodynamics"})
    assert "No paper in this library addresses" in none.text
    bad = client.get("/ask", params={"q": "bees", "collection": "nope"})
    assert bad.status_code == 400 and "valid values are: c" in bad.text
    scoped = client.get("/ask", params={"q": "honey bee", "papers": "ocean, graph"})
    assert 'href="/papers/bees#' not in scoped.text


def test_abstract_sentences_cover_the_text_and_number_the_split() -> None:
    text = "First one.  Second (Fig. 2) here.\nThird!"
    pieces = abstract_sentences(text)
    assert "".join(p for _, p in pieces) == text
    assert [(i, p) for i, p in pieces if i is not None] == [
        (0, "First one."), (1, "Second (Fig. 2) here."), (2, "Third!")]
    assert Urls().sentence("10.1/x y", 2) == "/papers/10.1%2Fx%20y#s2"
    assert Urls().ask() == "/ask" and Urls().ask("q?", node="t:1") == "/ask?q=q%3F&node=t%3A1"
