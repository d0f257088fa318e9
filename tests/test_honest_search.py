"""Honest result pages: the weak flag and its strength per mode, the lexical match count in
every mode, spelling suggestions from the library's vocabulary; on real libraries."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from paperatlas import Library
from paperatlas.search.honest import THRESHOLDS, is_weak, strength
from paperatlas.search.lexical import LexicalHits
from paperatlas.search.suggest import distance, max_edits
from test_semantic import HashingEmbedder
from test_tree import papers_of

RAG = ["Retrieval augmented generation for question answering",
       "Retrieval augmented generation with long contexts",
       "Evaluating retrieval augmented generation systems",
       "Retrieval augmented generation in medicine",
       "Graph retrieval augmented generation",
       "Retrieval augmented generation benchmarks"]


@pytest.fixture(scope="module")
def hlib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    tmp = tmp_path_factory.mktemp("honest")
    lib = Library(tmp / "h.db", embedding_model=HashingEmbedder("hash-256", 256))
    rows = [{"id": f"rag{i}", "title": t, "abstract": "Retrieval then generation.",
             "authors": ["Patrick Lewis"], "date": "2024-01-01"} for i, t in enumerate(RAG)]
    rows += [{"id": f"p{i}", "title": t, "abstract": a, "date": "2023-01-01"}
             for i, (t, a) in enumerate(papers_of("protein", 20))]
    path = tmp / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    lib.ingest([path])
    lib.index()
    yield lib
    lib.close()


def test_strength_per_mode() -> None:
    hits = LexicalHits([(1, 3.0)], 5, top=3.0, ideal=4.0, rarest=5)
    assert strength("lexical", hits, None) == 0.75
    assert strength("semantic", hits, 0.3) == 0.3
    assert strength("hybrid", hits, 0.3) == pytest.approx(0.5 * 0.3 + 0.5 * 0.75)
    # A lexical strength above 1 (a word many times) counts as 1 in hybrid.
    assert strength("hybrid", LexicalHits([], 0, top=9.0, ideal=3.0), 0.5) == 0.75
    assert strength("lexical", None, None) == 0.0
    assert strength("lexical", LexicalHits([], 0), None) == 0.0  # no ideal: no words known
    for mode, t in THRESHOLDS.items():
        assert is_weak(mode, t - 0.01) and not is_weak(mode, t)


def test_edit_distance() -> None:
    assert distance("retreival", "retrieval", 2) == 1  # two neighbours swapped
    assert distance("generaton", "generation", 2) == 1
    assert distance("protein", "protean", 2) == 1
    assert distance("abc", "xyz", 2) == 3  # past the limit: limit + 1
    assert distance("short", "muchlongerword", 2) == 3
    assert distance("same", "same", 1) == 0
    assert max_edits("cell") == 1 and max_edits("retrieval") == 2
    assert max_edits("retrieval", known=1) == 1 and max_edits("fennel") == 1


def test_a_misspelled_query_is_weak_and_gets_a_suggestion(hlib: Library) -> None:
    page = hlib.search("retreival augmented generaton", mode="lexical")
    assert page.hits and page.weak
    assert page.suggestion == "retrieval augmented generation"
    typed = hlib.search("Retreival-augmented generaton?", mode="lexical")
    assert typed.suggestion == "Retrieval-augmented generation?"  # as typed, words fixed
    # A stop word is never "unknown" (the text index leaves it out).
    assert hlib.search("they retreival", mode="lexical").suggestion == "they retrieval"
    right = hlib.search(page.suggestion, mode="lexical")
    assert not right.weak and right.suggestion is None and right.matched == 6
    assert right.strength is not None and page.strength is not None
    assert right.strength > page.strength


def test_nonsense_is_weak_in_every_mode_and_counts_no_words(hlib: Library) -> None:
    for mode in ("lexical", "semantic", "hybrid"):
        page = hlib.search("protein qwzxv blorptk", mode=mode)
        assert page.weak, mode
        assert page.matched == 20, mode  # "protein" is in every protein paper
    none = hlib.search("qwzxv blorptk", mode="semantic")
    assert none.matched == 0 and none.hits and none.weak
    assert hlib.search("qwzxv blorptk", mode="lexical").hits == []
    assert not hlib.search("qwzxv blorptk", mode="lexical").weak  # nothing shown at all


def test_a_real_match_is_not_weak_and_is_counted(hlib: Library) -> None:
    for mode in ("lexical", "hybrid"):
        page = hlib.search("Retrieval augmented generation benchmarks", mode=mode)
        assert not page.weak and page.hits[0].key == "rag5", mode
        assert page.matched == 6 and page.suggestion is None
    # An author's name is a real match too.
    assert not hlib.search("Patrick Lewis", mode="lexical").weak


def test_weak_pages_on_the_web(hlib: Library) -> None:
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from paperatlas.web import WebSettings, create_app

    client = TestClient(create_app(hlib, WebSettings(page_size=10)))
    html = client.get("/search", params={"q": "retreival augmented generaton"}).text
    assert "No close matches for “retreival augmented generaton”; nearest papers:" in html
    assert "Did you mean" in html and "retrieval augmented generation</a>?" in html
    good = client.get("/search", params={"q": "retrieval augmented generation",
                                         "mode": "hybrid"}).text
    assert "No close matches" not in good and "6 papers with these words" in good
    data = client.get("/api/search", params={"q": "retreival augmented generaton"}).json()
    assert data["weak"] is True and data["suggestion"] == "retrieval augmented generation"
    assert data["matched"] == 6 and isinstance(data["strength"], float)
