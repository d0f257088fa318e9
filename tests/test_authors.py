"""Authors: name variants as one key, author names searchable, author pages (HTML, JSON,
feed) and following an author; on a real SQLite library."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperatlas import Library
from paperatlas.authors import author_key, display_name, fold, is_key, split_name
from paperatlas.errors import InvalidOptionError, NotFoundError
from test_semantic import HashingEmbedder
from test_tree import papers_of

GOTLIEB = ["Krishna Gotlieb", "K. Gotlieb", "Gotlieb, Krishna"]
KARAGOZ = ["Betül Karagöz", "Betul Karagoz", "Karagöz, B."]


def author_rows() -> list[dict[str, object]]:
    """30 protein papers, 10 by a Gotlieb written three ways; 30 galaxy papers, 6 by a
    Karagöz with and without accents; a GottBERT paper by neither."""
    rows: list[dict[str, object]] = []
    for i, (title, abstract) in enumerate(papers_of("protein", 30)):
        authors = [GOTLIEB[i % 3], "Ada Lovelace"] if i < 10 else ["Grace Hopper"]
        rows.append({"id": f"p{i}", "title": title, "abstract": abstract, "authors": authors,
                     "date": f"{2010 + i}-01-0{1 + i % 9}"})
    for i, (title, abstract) in enumerate(papers_of("galaxy", 30)):
        authors = [KARAGOZ[i % 3], "Ada Lovelace"] if i < 6 else ["Alan Turing"]
        rows.append({"id": f"g{i}", "title": title, "abstract": abstract, "authors": authors,
                     "date": f"{2000 + i}-06-01"})
    rows.append({"id": "gottbert", "title": "GottBERT: a pure German language model",
                 "abstract": "A German language model.", "authors": ["Raphael Scheible"],
                 "date": "2020-12-03"})
    return rows


@pytest.fixture(scope="module")
def alib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    tmp = tmp_path_factory.mktemp("authors")
    lib = Library(tmp / "a.db", embedding_model=HashingEmbedder("hash-256", 256))
    path = tmp / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in author_rows()), encoding="utf-8")
    lib.ingest([path])
    lib.index()
    lib.trees.build("t", min_size=4)
    yield lib
    lib.close()


@pytest.mark.parametrize(("name", "key"), [
    ("John Smith", "smith.j"), ("J. Smith", "smith.j"), ("Smith, John", "smith.j"),
    ("Smith, J.", "smith.j"), ("SMITH, JOHN", "smith.j"), ("Betül Karagöz", "karagoz.b"),
    ("Karagoz, Betul", "karagoz.b"), ("Ludwig van Beethoven", "van-beethoven.l"),
    ("van Beethoven, Ludwig", "van-beethoven.l"), ("Martin Luther King Jr.", "king.m"),
    ("Jean-Pierre Dupont", "dupont.j"), ("A. B. Smith-Jones", "smith-jones.a"),
    ("Plato", "plato."), ("Łukasz Øster", "oster.l"), ("  ", ""), ("Conan O'Brien", "o-brien.c"),
])
def test_name_variants_share_a_key(name: str, key: str) -> None:
    assert author_key(name) == key
    if key:
        assert is_key(key)


def test_names_fold_split_and_display() -> None:
    assert fold("Karagöz Straße") == "karagoz strasse"
    assert split_name("de la Cruz, Maria") == (["Maria"], ["de", "la", "Cruz"])
    assert not is_key("John Smith") and not is_key("smith") and is_key("smith.j")
    # The fullest given name wins, then "First Last" over "Last, First", then frequency.
    assert display_name(["J. Smith", "J. Smith", "John Smith"]) == "John Smith"
    assert display_name(["Smith, John", "John Smith"]) == "John Smith"
    assert display_name(["  "]) == ""


def test_an_author_name_is_a_query(alib: Library) -> None:
    page = alib.search("Gotlieb", mode="lexical")
    assert page.total == 10 and not page.weak
    assert {h.key for h in page.hits} == {f"p{i}" for i in range(10)}
    # Accents folded both ways; a topical query is not changed by author names.
    assert alib.search("Karagoz", mode="lexical").total == 6
    assert alib.search("karagöz", mode="lexical").total == 6
    assert alib.search("Krishna Gotlieb", mode="hybrid").hits[0].key.startswith("p")
    topical = alib.search("protein", mode="lexical", limit=100)
    assert topical.total == 30


def test_an_empty_query_with_an_author_lists_their_papers_newest_first(alib: Library) -> None:
    for name in ("Gotlieb", "K. Gotlieb", "Gotlieb, Krishna", "gotlieb.k"):
        page = alib.search("", author=name, limit=20)
        assert page.total == 10, name
        years = [h.year for h in page.hits]
        assert years == sorted(years, reverse=True) and years[0] == 2019
        assert not page.weak
    assert alib.search("", author="Karagöz").total == 6
    assert alib.search("", author="Nobody Here").total == 0
    assert alib.search("", mode="lexical").total == 0  # no words, no filter: nothing


def test_author_page(alib: Library) -> None:
    page = alib.authors.get("K. Gotlieb", limit=5)
    assert page.key == "gotlieb.k" and page.name == "Krishna Gotlieb" and page.total == 10
    assert sorted(page.variants) == sorted(GOTLIEB)
    assert [p.key for p in page.papers] == ["p9", "p8", "p7", "p6", "p5"]
    assert [(c.name, c.papers) for c in page.coauthors] == [("Ada Lovelace", 10)]
    assert page.topics and sum(t.papers for t in page.topics) >= 10
    assert alib.authors.get("gotlieb.k").key == alib.authors.get("Gotlieb").key
    assert alib.authors.get("Karagoz").name == "Betül Karagöz"
    with pytest.raises(NotFoundError):
        alib.authors.get("Nobody Here")
    with pytest.raises(InvalidOptionError):
        alib.authors.get("!!!")
    feed = alib.authors.feed("Gotlieb", limit=3)
    assert feed.title == "Author: Krishna Gotlieb" and len(feed.entries) == 3
    assert feed.html_path == "/authors/gotlieb.k"


def test_author_pages_on_the_web(alib: Library, tmp_path: Path) -> None:
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from paperatlas.web import WebSettings, create_app

    client = TestClient(create_app(alib, WebSettings(page_size=10)))
    html = client.get("/authors/Gotlieb, Krishna").text
    assert "Krishna Gotlieb" in html and "Follow this author" in html
    assert 'href="/authors/Ada%20Lovelace"' in html or "/authors/lovelace.a" in html
    assert "/feeds/authors/gotlieb.k.rss" in html
    data = client.get("/api/authors/K. Gotlieb", params={"limit": 2}).json()
    assert data["key"] == "gotlieb.k" and data["total"] == 10 and len(data["papers"]) == 2
    assert data["coauthors"][0] == {"key": "lovelace.a", "name": "Ada Lovelace", "papers": 10}
    assert client.get("/api/authors/Nobody Here").status_code == 404
    rss = client.get("/feeds/authors/gotlieb.k.rss")
    assert rss.status_code == 200 and b"Krishna Gotlieb" in rss.content
    assert client.get("/feeds/authors/gotlieb.k.txt").status_code == 400
    # Author names in result cards link to their pages; an author search lists them.
    page = client.get("/search", params={"q": "Gotlieb", "mode": "lexical"}).text
    assert '<a class="author" href="/authors/' in page
    listing = client.get("/search", params={"author": "Gotlieb"}).text
    assert "10</strong> papers by Gotlieb, newest first" in listing
    follow = client.get("/subscribe", params={"author": "Krishna Gotlieb"})
    assert follow.status_code == 200 and "Krishna Gotlieb" in follow.text


def test_following_an_author_gets_every_variant_of_their_name(tmp_path: Path) -> None:
    from paperatlas.follow.settings import MailSettings
    from paperatlas.follow.subscriptions import items_from
    from test_subscriptions import make_library, settings

    lib = make_library(tmp_path, model=False)
    st = settings()
    lib.follow.subscribe("f@example.org", items_from(authors=["Krishna Gotlieb"]), st,
                         MailSettings(), confirmed=True)
    new = [{"id": f"n{i}", "title": f"New paper {i}", "abstract": "Words.", "authors": [name],
            "date": "2025-01-01"}
           for i, name in enumerate(GOTLIEB + KARAGOZ + ["Anna Gotlieb", "Gotlieb Krishnan"])]
    path = tmp_path / "new.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in new), encoding="utf-8")
    lib.ingest([path])
    lib.index()
    [digest] = lib.follow.digest_preview(st, email="f@example.org")
    # All three ways of writing him; not Anna (another initial) nor a Krishnan.
    assert sorted(p.key for p in digest.picks) == ["n0", "n1", "n2"]
    lib.close()
