"""Issue 20, item 7: what every visitor meets: feed links they can see, an upvote button
that asks them to sign in, one "Trending" tab."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.web import WebSettings, create_app
from test_ask import PAPERS, write_papers
from test_semantic import HashingEmbedder


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    lib = Library(tmp_path / "s.db", embedding_model=HashingEmbedder("hash-64", 64))
    lib.ingest([write_papers(tmp_path / "corpus.jsonl", PAPERS)], collection="c", index=True)
    yield TestClient(create_app(lib, WebSettings()))
    lib.close()


def test_feeds_are_linked_where_people_see_them(client: TestClient) -> None:
    home = client.get("/").text
    assert 'class="chip chip-feed" href="/feeds/newest.rss"' in home
    assert 'href="/feeds/newest.atom"' in home
    collection = client.get("/collections/c").text
    assert 'href="/feeds/collections/c.rss"' in collection
    search = client.get("/search", params={"q": "bees"}).text
    assert 'href="/feeds/search.rss?q=bees&amp;mode="' in search
    assert client.get("/feeds/newest.rss").status_code == 200


def test_anonymous_visitors_get_an_upvote_button_that_asks_them_to_sign_in(
        client: TestClient) -> None:
    home = client.get("/").text
    assert 'class="vote-button vote-signin" href="/signin?next=/"' in home
    paper = client.get("/papers/bees").text
    assert 'href="/signin?next=/papers/bees"' in paper and "Sign in to upvote" in paper


def test_one_trending_tab(client: TestClient) -> None:
    home = client.get("/", params={"tab": "trending", "window": "month"}).text
    assert 'aria-current="page">Trending</a>' in home and "Trending (" not in home
    assert 'aria-current="true">month</a>' in home
