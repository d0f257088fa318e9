"""Issue 19: the Ask page and ``POST /api/ask`` on a real library (the hashing stand-in
embedder), and the paper page's numbered sentences that citations link to."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from llm_standin import Chat, ChatStandIn
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


# -- with a chat model (the stand-in endpoint on loopback) --------------------------------
def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``(event, data)`` of a server-sent event stream."""
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


@pytest.fixture
def llm_client(tmp_path: Path, chat: ChatStandIn) -> Iterator[TestClient]:
    lib = Library(tmp_path / "l.db", embedding_model=HashingEmbedder("hash-64", 64))
    lib.ingest([write_papers(tmp_path / "corpus.jsonl", PAPERS)], collection="c", index=True)
    settings = WebSettings(llm_url=chat.base, llm_model="stand-in-7b", llm_timeout=2)
    yield TestClient(create_app(lib, settings))
    lib.close()


BEES = "neonicotinoid exposure honey bee colony survival"


def test_api_ask_with_the_servers_model_checks_its_citations(llm_client: TestClient,
                                                             chat: ChatStandIn) -> None:
    body = llm_client.post("/api/ask", json={"question": BEES}).json()
    assert body["model"] == "stand-in-7b" and body["verdict"] == "SUPPORT"
    assert body["sentences"][0]["citations"] == [1] and body["citation_precision"] == 1.0
    assert body["evidence"][0]["key"] == "bees"
    chat.answer = lambda request: Chat("VERDICT: SUPPORT\nBees die [1]. Also [9].")
    body = llm_client.post("/api/ask", json={"question": BEES}).json()
    assert [s["status"] for s in body["sentences"]] == ["cited", "miscited"]
    assert body["citation_precision"] == 0.5
    asked = len(chat.requests)
    plain = llm_client.post("/api/ask", json={"question": BEES, "llm": False}).json()
    assert plain["model"] is None and plain["sentences"] == [] and len(chat.requests) == asked


def test_a_failing_model_is_a_502_naming_it(llm_client: TestClient, chat: ChatStandIn) -> None:
    chat.answer = lambda request: Chat(status=500, body="boom")
    r = llm_client.post("/api/ask", json={"question": BEES})
    assert r.status_code == 502 and "127.0.0.1" in r.json()["error"]["message"]
    chat.answer = lambda request: Chat("VERDICT: SUPPORT\nLate [1].", delay=5)
    started = time.monotonic()
    r = llm_client.post("/api/ask", json={"question": BEES})
    assert r.status_code == 502 and time.monotonic() - started < 4.5


def test_the_page_streams_evidence_deltas_then_the_checked_answer(llm_client: TestClient,
                                                                  chat: ChatStandIn) -> None:
    page = llm_client.get("/ask", params={"q": BEES})
    assert 'data-stream="/ask/stream?q=' in page.text and "/static/ask.js" in page.text
    r = llm_client.get("/ask/stream", params={"q": BEES, "collection": "c"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _events(r.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "evidence" and kinds[-1] == "answer" and "delta" in kinds
    assert set(kinds[1:-1]) == {"delta"}
    evidence = events[0][1]
    assert evidence["links"][0] == "/papers/bees#s1"
    written = "".join(data["text"] for kind, data in events if kind == "delta")
    assert written.startswith("VERDICT: SUPPORT")
    assert events[-1][1]["answer"]["citation_precision"] == 1.0
    none = llm_client.get("/ask", params={"q": "lattice gauge chromodynamics"})
    assert "data-stream" not in none.text  # abstained: no model to ask


def test_stream_errors(llm_client: TestClient, chat: ChatStandIn, client: TestClient) -> None:
    bad = llm_client.get("/ask/stream", params={"q": BEES, "collection": "nope"})
    assert bad.status_code == 400  # before the first event
    chat.answer = lambda request: Chat(status=503, body="overloaded")
    events = _events(llm_client.get("/ask/stream", params={"q": BEES}).text)
    assert [kind for kind, _ in events] == ["evidence", "failure"]
    assert events[1][1]["type"] == "LLMError" and "503" in events[1][1]["message"]
    r = client.get("/ask/stream", params={"q": BEES})  # a server without a model
    assert r.status_code == 400 and "--llm-url" in r.text
