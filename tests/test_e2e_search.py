"""End to end in Chromium (see ``test_e2e``): an author query and the author page, and a
query with no close match showing the notice (issue 20, points 1 and 2).

The seed pages carry no authors, so the author test serves a second, lexical-only library
built from a real export with authors (the Kaggle arXiv metadata sample in
``../shared/data/formats``); the no-match test runs on the seed library.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from test_e2e import browser, page, served, shot  # noqa: F401 (fixtures; skips without a browser)

pytest.importorskip("uvicorn")
from playwright.sync_api import Page, expect

from paperatlas import Library

from conftest import shared_dir

KAGGLE = Path("data/formats/arxiv-kaggle-metadata-sample/"
              "arxiv-metadata-oai-snapshot_sample49.jsonl")


@pytest.fixture(scope="module")
def authors_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Kaggle sample (49 arXiv papers with their authors), served on loopback."""
    source = shared_dir() / KAGGLE
    if not source.exists():
        pytest.skip(f"shared data not found at {source}")
    lib = Library(tmp_path_factory.mktemp("e2e-authors") / "k.db", embedding_model=None)
    lib.ingest([source])
    lib.index()
    try:
        with served(lib) as base:
            yield base
    finally:
        lib.close()


def test_an_author_query_and_the_author_page(authors_site: str, page: Page) -> None:  # noqa: F811
    page.goto(authors_site + "/search")
    page.fill("input[name=q]", "Asgharian")
    page.select_option("select[name=mode]", "lexical")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/search?*")
    expect(page.locator(".result-count")).to_contain_text("2 results")
    expect(page.locator(".weak-notice")).to_have_count(0)
    shot(page, "20-author-query")
    page.locator(".result .authors a", has_text="Masoud Asgharian").first.click()
    page.wait_for_url("**/authors/**")
    expect(page.locator("h1")).to_have_text("Masoud Asgharian")
    expect(page.locator(".author-head")).to_contain_text("2 papers")
    expect(page.locator(".author-papers .paper-card")).to_have_count(2)
    expect(page.locator(".coauthors")).to_contain_text("Vahid Partovi Nia")
    expect(page.locator("a.follow-author")).to_have_attribute(
        "href", "/subscribe?author=Masoud+Asgharian")
    shot(page, "21-author-page")
    # A co-author's page, then the feed the page links to.
    page.locator(".coauthors a", has_text="Vahid Partovi Nia").click()
    expect(page.locator("h1")).to_have_text("Vahid Partovi Nia")
    feed = page.request.get(authors_site + "/feeds/authors/nia.v.atom")
    assert feed.ok and "Vahid Partovi Nia" in feed.text()
    # An empty query with the author filter lists the same papers.
    page.goto(authors_site + "/search?author=M.+Asgharian")
    expect(page.locator(".result-count")).to_contain_text("2 papers by M. Asgharian")


def test_a_query_with_no_close_match_says_so(site: tuple[str, Library],
                                             page: Page) -> None:  # noqa: F811
    base, _ = site
    page.goto(base + "/search?q=" + "zqxv+plombreth+wuggle")
    expect(page.locator(".weak-notice")).to_have_text(
        "No close matches for “zqxv plombreth wuggle”; nearest papers:")
    expect(page.locator(".result-count")).to_contain_text("0 papers with these words")
    assert page.locator(".result").count() > 0  # the nearest papers are still shown
    shot(page, "22-no-close-match")
    page.goto(base + "/search?q=hierarchical+text+classification")
    expect(page.locator(".result").first).to_be_visible()
    expect(page.locator(".weak-notice")).to_have_count(0)
