"""SearchQuery (issue 16 item 4): one request, checked once, with modes and fusions as enums."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from paperatlas import InvalidOptionError, Library
from paperatlas.errors import OutOfRangeError
from paperatlas.options import choose, values
from paperatlas.records.serialize import to_json
from paperatlas.search import (
    FUSIONS,
    MODES,
    Fusion,
    Mode,
    SearchOptions,
    SearchQuery,
)

from conftest import daily_page


def test_text_is_coerced_to_enums_and_defaults_hold() -> None:
    q = SearchQuery("lora", mode="lexical", fusion="rrf")
    assert q.mode is Mode.LEXICAL and q.fusion is Fusion.RRF
    assert (q.limit, q.offset, q.snippets) == (10, 0, True)
    plain = SearchQuery("lora")
    assert plain.mode is None and plain.fusion is Fusion.CONVEX
    assert SearchQuery("x", mode=Mode.SEMANTIC).mode is Mode.SEMANTIC
    assert SearchQuery("x", mode="").mode is None  # a blank form field: the library chooses


def test_the_old_tuples_are_the_valid_values() -> None:
    assert MODES == values(Mode) == ("hybrid", "lexical", "semantic")
    assert FUSIONS == values(Fusion) == ("convex", "rrf") and FUSIONS[0] == Fusion.CONVEX


@pytest.mark.parametrize(("options", "listed"), [
    ({"mode": "fuzzy"}, "hybrid, lexical, semantic"),
    ({"mode": "LEXICAL"}, "hybrid, lexical, semantic"),
    ({"fusion": "sum"}, "convex, rrf"),
])
def test_a_bad_choice_lists_the_valid_ones(options: SearchOptions, listed: str) -> None:
    with pytest.raises(InvalidOptionError, match=listed):
        SearchQuery("x", **options)


@pytest.mark.parametrize("options", [
    {"limit": -1}, {"limit": 1001}, {"offset": -1}, {"offset": 10_001},
    {"year_from": 10_000}, {"year_to": -1}, {"limit": True}, {"limit": "5"},
])
def test_numbers_out_of_range_fail_when_made(options: SearchOptions) -> None:
    with pytest.raises(OutOfRangeError):
        SearchQuery("x", **options)


def test_blank_filters_mean_none_and_the_query_is_frozen() -> None:
    q = SearchQuery("x", collection="", author="  ", category=None)
    assert (q.collection, q.author, q.category) == (None, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.limit = 5  # type: ignore[misc]
    with pytest.raises(TypeError, match="colection"):
        SearchQuery("x", colection="main")  # type: ignore[typeddict-unknown-key]
    with pytest.raises(InvalidOptionError):
        SearchQuery(None)  # type: ignore[arg-type]


def test_options_name_every_field_but_the_text() -> None:
    names = [f.name for f in dataclasses.fields(SearchQuery)]
    assert names[0] == "text" and set(typing.get_type_hints(SearchOptions)) == set(names[1:])
    q = SearchQuery("x", mode="semantic", limit=3, offset=6, year_from=2020, author="Li")
    assert SearchQuery("x", **q.options()) == q
    again = q.replace(limit=5, fusion="rrf")
    assert (again.limit, again.fusion, again.offset, again.author) == (5, Fusion.RRF, 6, "Li")
    with pytest.raises(OutOfRangeError):
        q.replace(limit=-2)


def test_choose_takes_members_and_their_text() -> None:
    assert choose(Mode, "mode", "hybrid") is Mode.HYBRID is choose(Mode, "mode", Mode.HYBRID)
    with pytest.raises(InvalidOptionError, match="invalid mode 3"):
        choose(Mode, "mode", 3)  # type: ignore[arg-type]


def test_library_search_takes_a_query_or_its_text(lib: Library, tmp_path: Path) -> None:
    listing = tmp_path / "page.txt"
    listing.write_text(daily_page([(f"Protein folding study {i}", "Proteins fold in water.")
                                   for i in range(5)]), encoding="utf-8")
    lib.ingest([listing], index=True)
    q = SearchQuery("protein", mode="lexical", limit=2, snippets=False)
    page = lib.search(q)
    assert page.mode == "lexical" == Mode.LEXICAL and len(page.hits) == 2 and page.total == 5
    assert to_json(page) == to_json(lib.search("protein", mode="lexical", limit=2,
                                               snippets=False))
    more = lib.search(q, offset=2)  # options given with a query replace its own
    assert [h.rank for h in more.hits] == [3, 4]
    with pytest.raises(InvalidOptionError, match="hybrid, lexical, semantic"):
        lib.search.similar([page.hits[0].key], mode="fuzzy")


def test_the_page_and_its_api_twin_read_the_same_query(lib: Library, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from paperatlas.web import WebSettings, create_app

    listing = tmp_path / "page.txt"
    listing.write_text(daily_page([(f"Graph study {i}", "Graphs and nodes.") for i in range(3)]),
                       encoding="utf-8")
    lib.ingest([listing], index=True)
    client = TestClient(create_app(lib, WebSettings(page_size=10)))
    form = {"q": "graph", "mode": " lexical", "collection": "", "year_from": " ", "author": ""}
    api = client.get("/api/search", params=form).json()
    page = client.get("/search", params=form)
    assert api["total"] == 3 and api["mode"] == "lexical"
    assert page.status_code == 200 and "<strong>3</strong> results for" in page.text
    assert '<span class="chip chip-mode">lexical</span>' in page.text
    assert all(h["title"] in page.text for h in api["results"])
    for bad in ({"year_to": "²"}, {"year_from": "soon"}, {"mode": "fuzzy"}):
        for url in ("/api/search", "/search"):
            assert client.get(url, params={"q": "graph", **bad}).status_code == 400, (url, bad)
