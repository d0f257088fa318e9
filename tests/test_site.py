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


def test_subscribe_by_picking_topics_without_mail_set_up(tmp_path: Path) -> None:
    import re

    from paperatlas.records.trees import Node, Tree

    lib = Library(tmp_path / "t.db", embedding_model=HashingEmbedder("hash-64", 64))
    lib.ingest([write_papers(tmp_path / "corpus.jsonl", PAPERS)], collection="c", index=True)
    nodes = {0: Node(0, None, kind="root"), 1: Node(1, 0, "Nature", papers={1: 0.9}),
             2: Node(2, 1, "Bees", papers={3: 0.9}), 3: Node(3, 2, "Too deep", papers={3: 1})}
    with lib.store.transaction():
        lib.store.trees.save(Tree("t", nodes, 0, next_id=4))
    assert lib.trees.choices() == [("t:1", "t \u203a Nature"), ("t:2", "t \u203a Nature \u203a Bees")]
    client = TestClient(create_app(lib, WebSettings(secret_key="k")))
    form = client.get("/subscribe")
    assert '<option value="t:2">t \u203a Nature \u203a Bees</option>' in form.text
    assert "Topic (TREE:ID)" not in form.text and "no mail set up yet" in form.text
    assert 'data-paper-picker="seed-papers"' in form.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    r = client.post("/subscribe", data={"csrf": csrf.group(1), "email": "ada@example.org",
                                        "node": ["t:1", "t:2"], "collection": [""],
                                        "frequency": "weekly"})
    assert r.status_code == 200 and "Subscription saved" in r.text
    assert "Check your inbox" not in r.text and "nothing was sent" in r.text
    sub = lib.follow.subscriptions(email="ada@example.org")[0]
    assert sorted(item.value for item in sub.items) == ["t:1", "t:2"]
    lib.close()


def test_paper_cards_show_authors_and_the_date_with_its_year() -> None:
    from paperatlas.records.papers import Paper
    from paperatlas.web.present import when

    def paper(date: str | None, year: int | None) -> Paper:
        return Paper(id=1, key="k", title="t", abstract="", authors=[], date=date, year=year,
                     venue=None, categories=[], links=[], ids={}, created_at="")

    assert when(paper("2024-07-03", 2024)) == "Jul 3, 2024"
    assert when(paper("2024-07", 2024)) == "Jul 2024"
    assert when(paper(None, 2021)) == "2021" and when(paper(None, None)) == ""
    assert when(paper("someday", 1999)) == "1999"

