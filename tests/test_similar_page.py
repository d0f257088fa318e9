"""Issue 20, item 3: "similar" defaults to semantic (chosen by leave-one-out on CSFCube's
dev queries) with its scores shown as they are, and a "more like this" page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.web import WebSettings, create_app
from test_ask import PAPERS, write_papers
from test_semantic import HashingEmbedder

MORE = [{"_id": "wasps", "title": "Wasp decline",
         "text": "Pesticides harm wasps too. Neonicotinoid exposure reduced wasp survival."}]


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[Library]:
    library = Library(tmp_path / "s.db", embedding_model=HashingEmbedder("hash-64", 64))
    library.ingest([write_papers(tmp_path / "corpus.jsonl", PAPERS + MORE)], index=True)
    yield library
    library.close()


def test_similar_is_semantic_by_default_with_cosines_as_scores(lib: Library) -> None:
    page = lib.search.similar(["bees"], limit=3)
    assert page.mode == "semantic" and page.hits[0].key == "wasps"
    vectors = lib.search.service.vectors.get([lib.papers.resolve(k) for k in ("bees", "wasps")])
    a, b = vectors.values()
    assert abs(page.hits[0].score - float(a @ b)) < 1e-3 and page.hits[0].score < 0.999
    assert lib.search.similar(["bees"], mode="hybrid").mode == "hybrid"


def test_more_like_this_page(lib: Library) -> None:
    client = TestClient(create_app(lib, WebSettings()))
    paper = client.get("/papers/bees")
    assert 'href="/similar?paper=bees"' in paper.text
    page = client.get("/similar", params={"paper": "bees"})
    assert page.status_code == 200 and "More like “Bee decline”" in page.text
    assert 'href="/papers/wasps"' in page.text and "the cosine" in page.text
    lexical = client.get("/similar", params={"paper": "bees", "mode": "lexical"})
    assert "BM25" in lexical.text
    assert client.get("/similar", params={"paper": "bees", "mode": "fuzzy"}).status_code == 400
    assert client.get("/similar", params={"paper": "nope"}).status_code == 404
