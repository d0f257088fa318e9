"""RSS and Atom feeds: validity (feedparser), stable GUIDs, dates, escaping, and the
conditional requests of the web server (ETag, Last-Modified, 304)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("argon2")
pytest.importorskip("feedparser")

import feedparser
from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.errors import InvalidOptionError
from paperatlas.follow.feeds import render_feed
from paperatlas.web import WebSettings, create_app
from test_semantic import HashingEmbedder
from test_tree import papers_of
from test_votes import PASSWORD, write_dated

EVIL = "<script>alert('x')</script> & <b>bold</b> \x01claims"


@pytest.fixture(scope="module")
def flib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """Dated papers in "main" (one with a hostile title), a tree "t", a collection with a
    slash in its name, and a user with a vote."""
    tmp = tmp_path_factory.mktemp("feeds")
    lib = Library(tmp / "f.db", embedding_model=HashingEmbedder("hash-64", 64))
    rows = [(t, a, f"2025-07-{1 + i % 9:02d}") for i, (t, a) in
            enumerate(papers_of("protein", 10) + papers_of("galaxy", 10))]
    rows.append((EVIL, "An abstract with <i>markup</i> & ampersands about protein.", "2025-07-09"))
    lib.ingest([write_dated(tmp / "in" / "main.csv", rows)], collection="main")
    with lib.store.transaction():  # ingest cleans markup; a library made before it has some
        lib.store.conn.execute(
            "UPDATE papers SET title = ?, abstract = ? WHERE title LIKE '<script>%'",
            (EVIL, "An abstract with <i>markup</i> & ampersands about protein."))
    lib.trees.build("t", collection="main", min_size=4)
    lib.collections.create("reading/list")
    lib.collections.add("reading/list", [p.key for p in lib.papers(limit=3)])
    lib.people.add("alice", PASSWORD)
    lib.follow.vote(evil_key(lib), "alice")
    yield lib
    lib.close()


def evil_key(lib: Library) -> str:
    return next(p.key for p in lib.papers() if p.title.startswith("<script>"))


@pytest.fixture
def client(flib: Library) -> TestClient:
    return TestClient(create_app(flib, WebSettings(secret_key="k",
                                                   base_url="http://testserver")))


def feed_urls(lib: Library) -> list[str]:
    tree = lib.trees.get("t")
    node = next(n.id for n in tree.nodes.values() if n.kind == "topic")
    stems = ["/feeds/newest.{}", "/feeds/trending.{}?window=month",
             "/feeds/collections/main.{}", "/feeds/collections/reading%2Flist.{}",
             f"/feeds/trees/t/nodes/{node}.{{}}", f"/feeds/trees/t/nodes/{tree.root}.{{}}",
             "/feeds/search.{}?q=protein", "/feeds/search.{}?q=protein&mode=lexical"]
    return [s.format(fmt) for s in stems for fmt in ("rss", "atom")]


def test_every_feed_is_valid_with_stable_guids(client: TestClient, flib: Library) -> None:
    for url in feed_urls(flib):
        r = client.get(url)
        assert r.status_code == 200, (url, r.text)
        kind = "rss" if ".rss" in url else "atom"
        assert r.headers["content-type"].startswith(f"application/{kind}+xml"), url
        parsed = feedparser.parse(r.content)
        assert parsed.bozo == 0, (url, parsed.get("bozo_exception"))
        assert parsed.version == ("rss20" if kind == "rss" else "atom10"), url
        assert parsed.entries, url
        again = feedparser.parse(client.get(url).content)
        ids = [e.id for e in parsed.entries]
        assert ids == [e.id for e in again.entries] and len(set(ids)) == len(ids), url
        assert all(e.id == e.link and e.link.startswith("http://testserver/papers/")
                   for e in parsed.entries), url
        assert parsed.feed.links[0].href.startswith("http://testserver/"), url


def test_rss_and_atom_agree_on_ids_dates_and_authors(client: TestClient, flib: Library) -> None:
    rss = feedparser.parse(client.get("/feeds/collections/main.rss").content)
    atom = feedparser.parse(client.get("/feeds/collections/main.atom").content)
    assert [e.id for e in rss.entries] == [e.id for e in atom.entries]
    newest = list(flib.papers(collection="main", order="recent", limit=len(atom.entries)))
    assert [e.title for e in atom.entries] == [p.title.replace("\x01", "") for p in newest]
    for entry, paper in zip(atom.entries, newest, strict=True):
        assert time.strftime("%Y-%m-%d", entry.published_parsed) == paper.date
        assert time.strftime("%Y-%m-%d", rss.entries[atom.entries.index(entry)]
                             .published_parsed) == paper.date
        assert entry.updated_parsed is not None
    assert atom.feed.title.startswith("Collection: main")
    assert rss.feed.title.startswith("Collection: main")


def test_titles_are_escaped_not_markup(client: TestClient, flib: Library) -> None:
    for url in ("/feeds/newest.rss", "/feeds/newest.atom", "/feeds/trending.atom?window=month"):
        body = client.get(url).content
        assert b"<script>" not in body and b"<b>bold" not in body, url
        assert b"&lt;script&gt;" in body and b"\x01" not in body, url
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0
        entry = next(e for e in parsed.entries if "alert" in e.title)
        # the title is plain text: a reader shows the angle brackets, it runs nothing
        assert entry.title == EVIL.replace("\x01", "")
        assert entry.title_detail.type == "text/plain"
        if url.endswith(".rss"):  # RSS: HTML that shows the text
            assert entry.summary_detail.type == "text/html"
            assert "&lt;i&gt;markup&lt;/i&gt; &amp; ampersands" in entry.summary
        else:
            assert "<i>markup</i> & ampersands" in entry.summary


def test_trending_feed_follows_votes(client: TestClient, flib: Library) -> None:
    url = "/feeds/trending.rss?window=week"
    first = client.get(url)
    parsed = feedparser.parse(first.content)
    assert [e.id for e in parsed.entries] == [f"http://testserver/papers/{evil_key(flib)}"]
    assert "1 vote in the last week" in parsed.entries[0].summary
    other = next(p.key for p in flib.papers() if p.key != evil_key(flib))
    flib.follow.vote(other, "alice")
    try:
        second = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
        assert len(feedparser.parse(second.content).entries) == 2
    finally:
        flib.follow.unvote(other, "alice")
    assert client.get("/feeds/trending.rss?window=year").status_code == 400
    assert client.get("/feeds/trending.atom?window=day&node=t-1").status_code == 400


def test_conditional_requests_answer_304(client: TestClient) -> None:
    url = "/feeds/newest.atom"
    r = client.get(url)
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    assert etag.startswith('"') and parsedate_to_datetime(modified).tzinfo is not None
    assert client.get(url).headers["etag"] == etag  # the same bytes, the same tag
    hit = client.get(url, headers={"If-None-Match": etag})
    assert hit.status_code == 304 and hit.content == b"" and hit.headers["etag"] == etag
    assert client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(url, headers={"If-Modified-Since": old}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": "yesterday"}).status_code == 200
    both = client.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": modified})
    assert both.status_code == 200  # If-None-Match wins
    rss = client.get("/feeds/newest.rss")
    assert rss.headers["etag"] != etag
    assert client.get("/feeds/newest.rss", headers={"If-None-Match": rss.headers["etag"]}
                      ).status_code == 304


def test_feed_errors(client: TestClient) -> None:
    assert client.get("/feeds/newest.json").status_code == 400
    assert "valid values are: rss, atom" in client.get("/feeds/newest.json").text
    assert client.get("/feeds/collections/nope.rss").status_code == 404
    assert client.get("/feeds/collections/main").status_code == 400
    assert client.get("/feeds/trees/t/nodes/9999.rss").status_code == 404
    assert client.get("/feeds/trees/nope/nodes/1.atom").status_code == 404
    r = client.get("/feeds/search.rss?q=%20")
    assert r.status_code == 400 and "search feed query" in r.text
    assert client.get("/feeds/search.rss?q=x&mode=magic").status_code == 400
    assert client.get("/feeds/newest.rss?limit=0").status_code == 400


def test_pages_link_their_feeds(client: TestClient, flib: Library) -> None:
    home = client.get("/").text
    assert 'rel="alternate" type="application/rss+xml"' in home
    assert 'href="/feeds/newest.atom"' in home
    trending = client.get("/?tab=trending&window=day").text
    assert 'href="/feeds/trending.rss?window=day' in trending
    assert 'href="/feeds/collections/reading%2Flist.rss"' in client.get(
        "/collections/reading%2Flist").text
    node = next(n.id for n in flib.trees.get("t").nodes.values() if n.kind == "topic")
    assert f'href="/feeds/trees/t/nodes/{node}.atom"' in client.get(f"/trees/t/nodes/{node}").text
    search = client.get("/search?q=protein&mode=lexical").text
    assert 'href="/feeds/search.atom?q=protein&amp;mode=lexical"' in search
    for href in ("/feeds/collections/reading%2Flist.rss", "/feeds/search.atom?q=protein&mode=lexical"):
        assert client.get(href).status_code == 200


def test_render_feed_is_pure_and_checks_the_format(flib: Library) -> None:
    feed = flib.follow.feed("newest", limit=5)
    one = render_feed(feed, "atom", base_url="https://example.org/", self_url="https://x/f")
    assert one == render_feed(feed, "atom", base_url="https://example.org",
                              self_url="https://x/f")
    assert b"<id>https://example.org/feeds/newest</id>" in one
    assert len(feedparser.parse(one).entries) == 5
    with pytest.raises(InvalidOptionError, match="rss, atom"):
        render_feed(feed, "json", base_url="", self_url="")
    with pytest.raises(InvalidOptionError, match="newest, trending, collection, node, search"):
        flib.follow.feed("popular")


def test_empty_feeds_are_valid(tmp_path: Path) -> None:
    with Library(tmp_path / "e.db", embedding_model=None) as lib:
        client = TestClient(create_app(lib, WebSettings(secret_key="k")))
        for url in ("/feeds/newest.rss", "/feeds/newest.atom", "/feeds/trending.atom"):
            r = client.get(url)
            assert r.status_code == 200
            parsed = feedparser.parse(r.content)
            assert parsed.bozo == 0 and parsed.entries == [], url
            assert r.headers["last-modified"] == "Thu, 01 Jan 1970 00:00:00 GMT"
