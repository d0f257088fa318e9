"""End to end in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

The seed library (the Daily Papers pages in ``../shared/seeds``: ingested, indexed with the
default model, organized into a tree) is served by uvicorn on a free loopback port, and a
browser clicks through it. A screenshot of every page goes to ``test-artifacts/e2e/`` (or
``$PAPERATLAS_ARTIFACTS``). Without a browser these tests are skipped, unless
``PAPERATLAS_E2E=1`` (set by ``.ci/run``), where a missing browser is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("PAPERATLAS_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("PAPERATLAS_E2E") == "1"
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("PAPERATLAS_ARTIFACTS", REPO / "test-artifacts")) / "e2e"

if not REQUIRED:
    pytest.importorskip("playwright")
    pytest.importorskip("uvicorn")
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM} (install Debian's chromium; "
                    "PAPERATLAS_E2E=1 makes this an error)", allow_module_level=True)
elif not CHROMIUM.exists():
    raise RuntimeError(f"PAPERATLAS_E2E=1 but there is no browser at {CHROMIUM}")

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

from paperatlas import Library  # noqa: E402
from served import served  # noqa: E402 (the other e2e modules import it from here)

TIMEOUT_MS = 15_000
CHIME = "CHIME: LLM-Assisted Hierarchical Organization of Scientific Studies"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM),
                                      args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[Any] = []
    tab.on("pageerror", lambda error: errors.append(error))
    tab.on("console", lambda message: errors.append(message.text)  # a blocked script or style
           if "Content Security Policy" in message.text else None)
    yield tab
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_search_for_a_seed_paper_and_open_it(site: tuple[str, Library], page: Page) -> None:
    base, _ = site
    page.goto(base + "/")
    shot(page, "01-home")
    page.goto(base + "/search")
    page.fill("input[name=q]", "LLM-assisted hierarchical organization of scientific studies")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/search?*")
    expect(page.locator(".result-count")).to_contain_text("results")
    shot(page, "02-search")
    first = page.locator("ol.results a.title").first
    expect(first).to_contain_text("CHIME")
    first.click()
    expect(page.locator("h1")).to_contain_text(CHIME)
    expect(page.locator(".abstract")).to_contain_text("expert-curated dataset")
    shot(page, "03-paper")


def test_follow_a_similar_paper(site: tuple[str, Library], page: Page) -> None:
    base, lib = site
    key = lib.search("CHIME hierarchical organization literature review", limit=1).hits[0].key
    page.goto(f"{base}/papers/{key}")
    similar = page.locator("h2:has-text('Similar papers') + ol a.title").first
    title = similar.inner_text()
    similar.click()
    expect(page.locator("h1")).to_contain_text(title.strip()[:40])
    assert f"/papers/{key}" not in page.url
    shot(page, "04-similar-paper")


def test_expand_the_tree_and_open_a_node(site: tuple[str, Library], page: Page) -> None:
    base, lib = site
    page.goto(base + "/trees/seeds")
    shot(page, "05-tree")
    tree = lib.trees.get("seeds")
    parent = next(n for n in tree.children(tree.root) if tree.children(n.id))
    child = tree.children(parent.id)[0]
    branch = page.locator(f"details#n{parent.id}")
    link = branch.locator(f"a[href$='/{child.id}']").first
    expect(link).to_be_hidden()
    branch.locator("summary").first.click()
    expect(link).to_be_visible()
    link.click()
    expect(page.locator("h1")).to_contain_text(tree.nodes[child.id].label)
    shot(page, "06-node")


def test_rename_a_node_as_a_signed_in_user(site: tuple[str, Library], page: Page) -> None:
    base, lib = site
    tree = lib.trees.get("seeds")
    node = next(n for n in tree.children(tree.root) if n.kind == "topic")
    page.goto(f"{base}/trees/seeds/nodes/{node.id}")
    expect(page.locator("details.edits")).to_have_count(0)  # reading only, until signed in
    page.goto(f"{base}/signin?next=/trees/seeds/nodes/{node.id}")
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", "correct horse battery")
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"**/trees/seeds/nodes/{node.id}")
    shot(page, "07-signed-in")
    page.locator("details.edits summary").click()
    rename = page.locator("form.inline-form:has(input[name=op][value=rename])")
    rename.locator("input[name=label]").fill("Renamed in the browser")
    rename.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("Renamed in the browser")
    page.reload()
    expect(page.locator("h1")).to_contain_text("Renamed in the browser")
    assert lib.trees.get("seeds").nodes[node.id].label == "Renamed in the browser"
    assert any(e.op == "rename" for e in lib.store.trees.edits("seeds"))
    shot(page, "07-renamed-node")


def test_load_the_map_and_click_a_point(site: tuple[str, Library], page: Page) -> None:
    base, lib = site
    page.goto(base + "/map")
    expect(page.locator("#map[data-state=ready]")).to_be_visible()
    count = lib.papers.count()
    expect(page.locator("[data-map-status]")).to_contain_text(f"{count} of {count} papers")
    assert page.evaluate("window.paperatlasMap.count()") == count
    labels = page.locator("#map canvas").get_attribute("data-labels")  # topic names drawn
    assert labels is not None and int(labels) >= 2
    shot(page, "08-map")
    x, y = page.evaluate("window.paperatlasMap.pageXY(7)")
    page.mouse.move(x, y)
    title = page.locator(".map-tip strong")
    expect(title).to_be_visible()
    hovered = title.inner_text()
    page.mouse.wheel(0, -400)  # zoom in at the point: it stays under the pointer
    page.mouse.move(x + 1, y)
    expect(title).to_have_text(hovered)
    page.mouse.click(x + 1, y)
    page.wait_for_url("**/papers/*")
    expect(page.locator("h1")).to_have_text(hovered)
    shot(page, "09-paper-from-map")


def test_the_map_draws_a_sample_then_a_zoom_s_detail(site: tuple[str, Library],
                                                    page: Page) -> None:
    base, _ = site
    page.goto(base + "/map?budget=3")  # a first view of 3 points: a sample of the map
    expect(page.locator("#map[data-state=ready]")).to_be_visible()
    assert page.evaluate("window.paperatlasMap.count()") == 3
    assert not page.evaluate("window.paperatlasMap.complete()")
    x, y = page.evaluate("window.paperatlasMap.pageXY(0)")
    with page.expect_response(lambda r: "/api/map/paper?id=" in r.url) as hovered:
        page.mouse.move(x, y)  # the title is fetched on hover
    assert hovered.value.status == 200
    title = page.locator(".map-tip strong")
    expect(title).to_have_text(hovered.value.json()["title"])
    with page.expect_response(lambda r: "/api/map/points" in r.url and "x0=" in r.url) as got:
        page.mouse.wheel(0, -600)  # a zoom fetches the points of its part once it settles
    assert got.value.status == 200
    assert got.value.headers["content-type"] == "application/octet-stream"
    assert got.value.body()[:4] == b"PAM1"
    assert page.evaluate("window.paperatlasMap.drawn()") >= 3


def test_api_docs_render_offline(site: tuple[str, Library], page: Page) -> None:
    base, _ = site
    page.goto(base + "/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()  # Swagger UI ran
    expect(page.locator(".opblock-summary-path[data-path='/api/search']")).to_be_visible()
    shot(page, "10-api-docs")


def test_ask_a_question_and_open_a_cited_sentence(site: tuple[str, Library],
                                                   page: Page) -> None:
    base, _ = site
    page.goto(base + "/")
    page.locator("nav a[href='/ask']").click()
    question = page.locator(".askform input[name=q]")
    question.fill("How can an LLM organize scientific studies into a hierarchy?")
    question.press("Enter")
    page.wait_for_url("**/ask?*")
    cite = page.locator(".evidence a.cite").first
    expect(cite).to_be_visible()
    quoted = cite.inner_text().strip("“”")
    shot(page, "10-ask")
    cite.click()
    page.wait_for_url("**/papers/**#s*")
    target = page.locator(".abstract .sentence:target")
    expect(target).to_have_text(quoted)
    assert target.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    shot(page, "11-cited-sentence")


def test_ask_with_a_model_streams_a_checked_answer(site: tuple[str, Library],
                                                   page: Page) -> None:
    from llm_standin import chat_standin

    _, lib = site
    with chat_standin() as chat, served(lib, llm_url=chat.base,
                                        llm_model="stand-in-7b") as base:
        page.goto(base + "/ask?q=" + "hierarchical organization of "
                  "scientific studies with LLMs")
        status = page.locator(".written-status")
        expect(status).to_contain_text("citation precision 1.00")
        marker = page.locator(".written-text a.marker").first
        expect(marker).to_have_text("[1]")
        shot(page, "12-ask-written")
        marker.click()
        page.wait_for_url("**/papers/**#s*")
        expect(page.locator(".abstract .sentence:target")).to_be_visible()
    assert chat.requests and "[1]" in chat.requests[0]["messages"][-1]["content"]


def test_a_topic_overview_quotes_its_papers(site: tuple[str, Library], page: Page) -> None:
    base, lib = site
    tree = lib.trees.get("seeds")
    top = max(tree.children(tree.root), key=lambda n: len(tree.subtree_papers(n.id)))
    page.goto(f"{base}/trees/seeds/nodes/{top.id}")
    page.locator(".topic-actions a", has_text="Overview").click()
    page.wait_for_url("**/overview")
    expect(page.locator("h1")).to_contain_text("Overview")
    expect(page.locator(".overview-section").first).to_be_visible()
    cite = page.locator(".overview-section a.cite").first
    expect(cite).to_be_visible()
    shot(page, "13-overview")
    cite.click()
    page.wait_for_url("**/papers/**#s*")
    expect(page.locator(".abstract .sentence:target")).to_be_visible()


def test_a_phone_sized_screen_keeps_the_search_box(site: tuple[str, Library],
                                                   browser: Browser) -> None:
    base, _ = site
    context = browser.new_context(viewport={"width": 390, "height": 844})
    tab = context.new_page()
    try:
        for path in ("/", "/search?q=language+models", "/ask"):
            tab.goto(base + path)
            box = tab.locator(".topsearch input")
            expect(box).to_be_visible()
            bounds = box.bounding_box()
            assert bounds and bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= 390
            expect(tab.locator("nav.nav a[href='/search']")).to_be_visible()
            width = tab.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} scrolls sideways: {width}px"
        shot(tab, "14-phone-search")
        tab.locator(".topsearch input").fill("hierarchical organization")
        tab.locator(".topsearch input").press("Enter")
        tab.wait_for_url("**/search?*")
        expect(tab.locator("ol.results a.title").first).to_be_visible()
    finally:
        context.close()


def test_cite_a_paper_and_export_a_topic(site: tuple[str, Library], page: Page) -> None:
    base, lib = site
    key = lib.search("CHIME hierarchical organization literature review", limit=1).hits[0].key
    page.goto(f"{base}/papers/{key}")
    entry = page.locator("details.cite pre.cite-entry")
    expect(entry).to_be_hidden()
    page.locator("details.cite summary").click()
    expect(entry).to_be_visible()
    expect(entry).to_contain_text("CHIME")
    assert entry.inner_text().lstrip().startswith("@")
    shot(page, "15-cite")
    tree = lib.trees.get("seeds")
    top = max(tree.children(tree.root), key=lambda n: len(tree.subtree_papers(n.id)))
    page.goto(f"{base}/trees/seeds/nodes/{top.id}")
    with page.expect_download() as info:
        page.locator(".export-links a", has_text="BibTeX").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert text.count("@") >= len(tree.subtree_papers(top.id)) // 2 and "title = {" in text


def test_subscribe_by_picking_a_topic(site: tuple[str, Library], page: Page) -> None:
    base, lib = site
    page.goto(base + "/subscribe")
    page.fill("input[name=email]", "ada@example.org")
    topics = page.locator("select[name=node] option")
    assert topics.count() >= 2
    label = topics.nth(1).inner_text()
    page.locator("select[name=node]").select_option(index=1)
    shot(page, "16-subscribe")
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Subscription saved")
    expect(page.locator("main li").first).to_contain_text(label.split(" \u203a ")[-1])
    assert any(s.email == "ada@example.org" for s in lib.follow.subscriptions(
        email="ada@example.org"))
