"""Bounds on offsets, pages, limits, years and ids (issue 15, items 1 and 7): every one is
checked before an engine sees it, answered 400 on the web and exit status 1 in the CLI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperatlas import InvalidOptionError, Library
from paperatlas.bounds import MAX_LIMIT, MAX_OFFSET, page_offset, parse_int
from paperatlas.cli import main
from paperatlas.errors import OutOfRangeError
from paperatlas.follow.tokens import LinkError, make_token, read_token
from paperatlas.web import WebSettings, create_app
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

HUGE = "1000000000000"
VERY_HUGE = "99999999999999999999999"


@pytest.fixture(scope="module")
def blib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """Two topics of 12 papers in "main", with a tree "t"."""
    tmp = tmp_path_factory.mktemp("bounds")
    lib = Library(tmp / "b.db", embedding_model=HashingEmbedder("hash-64", 64))
    rows = papers_of("protein", 12) + papers_of("graph", 12)
    lib.ingest([write_csv(tmp / "in" / "main.csv", rows)], collection="main")
    lib.trees.build("t", collection="main", min_size=3)
    yield lib
    lib.close()


@pytest.fixture(scope="module")
def client(blib: Library) -> TestClient:
    return TestClient(create_app(blib, WebSettings(page_size=10)),
                      raise_server_exceptions=False)


# -- item 1: huge offsets, pages and limits never reach an engine -----------------------
@pytest.mark.parametrize("mode", ["lexical", "semantic", "hybrid"])
def test_search_refuses_offsets_and_limits_beyond_the_bounds(blib: Library, mode: str) -> None:
    assert blib.search("protein", mode=mode, offset=MAX_OFFSET, limit=MAX_LIMIT).hits == []
    for kwargs in ({"offset": MAX_OFFSET + 1}, {"offset": int(HUGE)}, {"offset": 2_000_000_000},
                   {"offset": -1}, {"limit": MAX_LIMIT + 1}, {"limit": 10**15}):
        with pytest.raises(OutOfRangeError) as err:
            blib.search("protein", mode=mode, **kwargs)
        name = next(iter(kwargs))
        assert f"invalid {name}" in str(err.value) and " to " in str(err.value)


def test_api_huge_offset_is_400_and_the_app_keeps_serving(client: TestClient) -> None:
    for offset in (HUGE, "2000000000", str(MAX_OFFSET + 1)):
        r = client.get("/api/search", params={"q": "protein", "mode": "lexical",
                                              "offset": offset})
        assert r.status_code == 400, r.text
        assert str(MAX_OFFSET) in r.json()["error"]["message"]
    r = client.get("/api/search", params={"q": "protein", "limit": str(10**9)})
    assert r.status_code == 400
    r = client.get("/search", params={"q": "protein", "page": HUGE})
    assert r.status_code == 400 and "page" in r.text and "1 to 1001" in r.text
    r = client.get("/search", params={"q": "protein", "page": "1001", "mode": "lexical"})
    assert r.status_code == 200  # the last page within the bound
    assert client.get("/api/search", params={"q": "protein", "mode": "lexical"}).status_code == 200


def test_cli_huge_page_is_a_clear_error(blib: Library) -> None:
    runner = CliRunner()
    for extra in (["--page", HUGE], ["--limit", str(MAX_LIMIT + 1)], ["--year-from", "10000"]):
        result = runner.invoke(main, ["--db", str(blib.path), "--model", "none", "search",
                                      "protein", "--mode", "lexical", *extra])
        assert result.exit_code != 0, result.output
        assert "valid values are" in result.output or "range" in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_lists_refuse_huge_limits(blib: Library) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--db", str(blib.path), "--model", "none", "papers",
                                  "--limit", VERY_HUGE])
    assert result.exit_code != 0 and "limit" in result.output, result.output


def test_papers_lists_refuse_offsets_and_limits_beyond_the_bounds(
        blib: Library, client: TestClient) -> None:
    with pytest.raises(InvalidOptionError):
        list(blib.papers(offset=10**30))
    with pytest.raises(InvalidOptionError):
        list(blib.papers(limit=10**30))
    for params in ({"offset": VERY_HUGE}, {"limit": "1000"}, {"offset": "-1"}):
        assert client.get("/api/papers", params=params).status_code == 400
    assert client.get("/", params={"page": VERY_HUGE}).status_code == 400
    assert client.get("/collections/main", params={"page": VERY_HUGE}).status_code == 400


def test_page_offset_names_the_valid_pages() -> None:
    assert page_offset(1, 10) == 0 and page_offset(1001, 10) == MAX_OFFSET
    with pytest.raises(OutOfRangeError, match="1 to 1001"):
        page_offset(1002, 10)
    with pytest.raises(OutOfRangeError):
        page_offset(0, 10)


# -- item 7: 400, not 500, for numbers out of range and digits int() refuses -------------
@pytest.mark.parametrize("url", [
    f"/api/search?q=x&offset={VERY_HUGE}",
    "/api/search?q=x&year_from=99999999999999999999",
    "/api/search?q=x&year_to=-99999999999999999999",
    "/search?q=x&year_from=99999999999999999999",
    "/search?q=x&year_to=%C2%B2",
    f"/search?q=x&page={VERY_HUGE}",
    "/api/jobs/99999999999999999999",
    "/jobs/99999999999999999999",
    "/api/trees/t/nodes/99999999999999999999",
    "/trees/t/nodes/99999999999999999999",
    "/feeds/trending.atom?node=plain:%C2%B2",
    "/feeds/trending.rss?node=t:99999999999999999999",
    "/api/trending?node=plain:%C2%B2",
    "/api/trending?node=t:%D9%A3",
    "/subscriptions/confirm/%C2%B2.abc.def",
    "/subscriptions/confirm/1.%C2%B2.def",
    "/api/papers/x?similar=99999999999999999999",
])
def test_out_of_range_numbers_are_400(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code in (400, 404), (r.status_code, r.text[:300])


@pytest.mark.parametrize("token", ["%C2%B2.abc.def", "1.%C2%B2.def", "99999999999999999999999.a.b"])
def test_unsubscribe_with_unicode_digits_is_400(client: TestClient, token: str) -> None:
    r = client.post(f"/unsubscribe/{token}")
    assert r.status_code == 400, r.text[:300]
    from urllib.parse import unquote
    r = client.post("/api/unsubscribe", json={"token": unquote(token)})
    assert r.status_code == 400, r.text[:300]
    r = client.post("/api/subscriptions/confirm", json={"token": unquote(token)})
    assert r.status_code in (400, 404, 405), r.text[:300]


def test_read_token_refuses_non_ascii_digits() -> None:
    secret = b"k" * 32
    now = time.time()
    good = make_token(secret, "confirm", 7, now)
    assert read_token(secret, "confirm", good, now) == 7
    for bad in ("\u00b2.abc.def", "1.\u00b2.def", "\u0663.abc.def", "1.abc\u00b2.def",
                "1_0.abc.def", "-1.abc.def", "9" * 30 + ".abc.def", "1." + "z" * 30 + ".a",
                "", "...", "1.abc"):
        with pytest.raises(LinkError):
            read_token(secret, "confirm", bad, now)


def test_parse_int_takes_ascii_digits_only() -> None:
    assert parse_int("n", " 42 ", 0, 100) == 42 and parse_int("n", "-3", -5, 5) == -3
    for bad in ("\u00b2", "\u0663", "1_000", "", "-", "+1", "1e3", "9" * 40, "101"):
        with pytest.raises(OutOfRangeError):
            parse_int("n", bad, 0, 100)


def test_library_ids_beyond_sqlite_are_refused(blib: Library, tmp_path: Path) -> None:
    from paperatlas.errors import NotFoundError
    for call in (lambda: blib.jobs.get(10**20), lambda: blib.follow.subscription(10**20),
                 lambda: blib.trees.node("t", 10**20),
                 lambda: blib.follow.trending(tree="t", node=10**20)):
        with pytest.raises((InvalidOptionError, NotFoundError)):
            call()
