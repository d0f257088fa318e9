"""One URL builder: pages, feeds and mail link a paper (and a topic) by the same URL."""

from __future__ import annotations

import csv
import email
import re
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("jinja2")

from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.follow.feeds import paper_entry, render_feed
from paperatlas.follow.mail import Renderer
from paperatlas.follow.settings import DigestSettings
from paperatlas.records.follow import Digest, Pick, Subscription
from paperatlas.urls import SITE, Urls, tree_name
from paperatlas.web import WebSettings, create_app

BASE = "https://papers.example.org"
KEY = "lit/ref:1?a_b~%"


def test_urls_relative_and_absolute() -> None:
    assert SITE.paper(KEY) == "/papers/lit%2Fref%3A1%3Fa_b~%25"
    assert SITE.paper("a b") == "/papers/a%20b"
    assert Urls(BASE + "/").paper("x") == BASE + "/papers/x"
    assert SITE.tree("a/b~c%d") == "/trees/a~2Fb~7Ec~25d"
    assert tree_name("a~2Fb~7ec~25d") == "a/b~c%d"
    assert Urls(BASE).tree("t t", 4) == BASE + "/trees/t%20t/nodes/4"
    assert SITE.feed(SITE.tree("t", 4)) == "/feeds/trees/t/nodes/4"
    assert SITE.collection("reading/list") == "/collections/reading%2Flist"
    assert SITE.search("a&b", "lexical") == "/search?q=a%26b&mode=lexical"
    assert SITE.search_feed("x") == "/feeds/search?q=x"
    assert Urls(BASE).confirm("3.k2.Ab-_") == BASE + "/subscriptions/confirm/3.k2.Ab-_"
    assert Urls(BASE).unsubscribe("3.k2.Ab") == BASE + "/unsubscribe/3.k2.Ab"
    assert SITE.subscriptions() == "/subscriptions" and SITE.home() == "/"


def _mail_text(message: bytes, kind: str = "plain") -> str:
    msg = email.message_from_bytes(message, policy=default)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(preferencelist=(kind,))
    assert part is not None
    return str(part.get_content())


def test_page_feed_and_mail_link_a_paper_alike(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["id", "title", "abstract"],
                                 [KEY, "Protein folding at speed", "About proteins."]])
    with Library(tmp_path / "u.db", embedding_model=None) as lib:
        lib.ingest([source], collection="c")
        paper = next(iter(lib.papers()))
        assert paper.key == KEY  # a key with characters a URL must quote
        client = TestClient(create_app(lib, WebSettings(secret_key="k", base_url=BASE)))
        page = client.get("/collections/c").text
        hrefs = [h for h in re.findall(r'href="([^"]+)"', page) if h.startswith("/papers/")]
        assert hrefs == [SITE.paper(KEY)]
        assert client.get(hrefs[0]).status_code == 200  # the page link reaches the paper

        feed = render_feed(lib.follow.feed("collection", collection="c"), "rss", base_url=BASE,
                           self_url=BASE + "/feeds/collections/c.rss")
        links = re.findall(r"<link>([^<]+)</link>", feed.decode())
        assert links == [BASE + "/collections/c", BASE + hrefs[0]]
        assert paper_entry(paper).path == hrefs[0]

    sub = Subscription(id=3, email="reader@example.org", user=None, frequency="daily",
                       created_at="2025-07-01T00:00:00")
    pick = Pick(paper_id=paper.id, key=KEY, title=paper.title, abstract="", authors=[],
                score=0.9, reason="matches 'protein'")
    renderer = Renderer(DigestSettings(base_url=BASE + "/"), "paperatlas <a@example.org>")
    _, _, message = renderer.digest(Digest(sub, "2025-07-01 00:00", 1, [pick]), "3.x.tok")
    text = _mail_text(message)
    assert [line.strip() for line in text.splitlines() if "/papers/" in line] == \
        [BASE + hrefs[0]]
    html = _mail_text(message, "html")
    assert re.findall(r'href="([^"]*/papers/[^"]*)"', html) == [BASE + hrefs[0]]
    assert f"Unsubscribe (one click): {BASE}/unsubscribe/3.x.tok" in text
