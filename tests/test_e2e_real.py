"""End to end in Chromium on a library built from the real exports and API answers in
``../shared/data/formats`` (issue 20's "works on a library built from the real exports"):
bioRxiv, PubMed, OpenAlex, Crossref, Semantic Scholar, arXiv (API, OAI-PMH, RSS, Kaggle
lines), Hugging Face Daily Papers and three Zotero exports of one collection (CSV, RIS,
BibTeX), ingested together so duplicates merge across them. The bulk files (2,000 OAI
records, 1,000 Semantic Scholar titles, the two 1,241-item Zotero libraries) are left out to
keep the run short: ~1,000 papers. Screenshots go to ``test-artifacts/e2e/real-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from paperatlas import Library
from test_e2e import browser, page, served, shot  # noqa: F401 (fixtures; skips without a browser)

from conftest import shared_dir

SUFFIXES = {".xml", ".json", ".jsonl", ".bib", ".ris", ".csv"}
#: Left out: the bulk files, and esearch answers (lists of ids, no papers).
LEFT_OUT = ("2000records", "bulk_titles", "bulk-performance", "esearch")
ZOTERO = "zotero/slr-deepfake-collection"


def real_files() -> list[Path]:
    root = shared_dir() / "data" / "formats"
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root}")
    return sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES
                  and not any(part in p.name for part in LEFT_OUT))


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Library]]:
    """The real exports ingested, indexed with the default model, organized and mapped,
    served on loopback: ``(base url, library)``."""
    lib = Library(tmp_path_factory.mktemp("e2e-real") / "real.db")
    report = lib.ingest(real_files())
    assert report.failed_files == 0, [f.error for f in report.files if not f.ok]
    assert report.added > 900 and report.merged > 900  # the Zotero exports merge
    lib.index()
    lib.trees.build("real")
    lib.map.build()
    try:
        with served(lib) as base:
            yield base, lib
    finally:
        lib.close()


def _zotero_paper(lib: Library) -> str:
    """A paper of the Zotero collection that all three of its exports carry."""
    for hit in lib.search("deepfake detection survey", limit=50, mode="lexical").hits:
        sources = lib.papers.get(hit.key).sources
        if {Path(s.path).suffix for s in sources} >= {".csv", ".ris", ".bib"}:
            return hit.key
    raise AssertionError("no paper carries all three Zotero exports")


def test_the_front_page_and_a_paper_merged_from_three_exports(
        real: tuple[str, Library], page: Page) -> None:  # noqa: F811
    base, lib = real
    page.goto(base + "/")
    expect(page.locator(".paper-card").first).to_be_visible()
    expect(page.locator(".paper-card .badge-source", has_text="bioRxiv").first).to_be_visible()
    shot(page, "real-01-home")
    key = _zotero_paper(lib)
    page.goto(f"{base}/papers/{key}")
    sources = page.locator(".sources li")
    expect(sources).to_have_count(3)
    for suffix in (".csv", ".ris", ".bib"):
        expect(page.locator(".sources")).to_contain_text(suffix)
    page.locator("details.cite summary").click()
    entry = page.locator("details.cite pre.cite-entry")
    expect(entry).to_be_visible()
    assert entry.inner_text().lstrip().startswith("@")
    shot(page, "real-02-paper")


def test_an_author_of_a_real_export(real: tuple[str, Library], page: Page) -> None:  # noqa: F811
    base, _ = real
    # A PubMed efetch article (full given names) and its author page.
    page.goto(base + "/search?q=Chae+Sehyun&mode=lexical")
    expect(page.locator(".weak-notice")).to_have_count(0)
    first = page.locator(".result").first
    expect(first).to_contain_text("SENP2")
    first.locator(".authors a", has_text="Sehyun Chae").click()
    page.wait_for_url("**/authors/**")
    expect(page.locator("h1")).to_have_text("Sehyun Chae")
    expect(page.locator(".author-papers .paper-card")).to_have_count(1)
    expect(page.locator(".coauthors")).to_contain_text("Kyong Soo Park")
    shot(page, "real-03-author")


def test_search_topics_and_export_on_real_papers(real: tuple[str, Library],
                                                 page: Page) -> None:  # noqa: F811
    base, lib = real
    page.goto(base + "/search?q=zqxv+plombreth+wuggle")
    expect(page.locator(".weak-notice")).to_contain_text("No close matches")
    page.goto(base + "/search?q=deepfake+audio+detection")
    expect(page.locator(".weak-notice")).to_have_count(0)
    expect(page.locator(".result").first).to_contain_text(re.compile("deepfake", re.I))
    shot(page, "real-04-search")
    tree = lib.trees.get("real")
    top = max(tree.children(tree.root), key=lambda n: len(tree.subtree_papers(n.id)))
    page.goto(base + "/trees/real")
    page.locator(f"a[href='/trees/real/nodes/{top.id}']").first.click()
    expect(page.locator("h1")).to_have_text(top.label)
    shot(page, "real-05-topic")
    with page.expect_download() as info:
        page.locator(".export-links a", has_text="RIS").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert text.count("\nER  -") + text.startswith("ER  -") == len(tree.subtree_papers(top.id))


def test_map_subscribe_and_a_phone_screen(real: tuple[str, Library], page: Page,  # noqa: F811
                                          browser: Browser) -> None:  # noqa: F811
    base, lib = real
    page.goto(base + "/map")
    expect(page.locator(".map-legend [data-map-legend] li").first).to_be_visible()
    shot(page, "real-06-map")
    page.goto(base + "/subscribe")
    expect(page.locator("p.notice")).to_contain_text("no mail set up")  # served without SMTP
    page.fill("input[name=email]", "ada@example.org")
    page.locator("select[name=node]").select_option(index=1)
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Subscription saved")
    assert lib.follow.subscriptions(email="ada@example.org")
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    tab = phone.new_page()
    try:
        tab.goto(base + "/search?q=quantum+entanglement")
        expect(tab.locator(".topsearch input")).to_be_visible()
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        shot(tab, "real-07-phone")
    finally:
        phone.close()
