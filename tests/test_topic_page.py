"""A topic page lists the papers of its whole subtree, best first, a page at a time; its
treemap labels fit their boxes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from paperatlas import Library
from paperatlas.organize.export import fitted, treemap_svg
from paperatlas.records.trees import Node, Tree
from paperatlas.treeview import ranked_papers, topic_page
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from paperatlas.web import WebSettings, create_app


def small_tree() -> Tree:
    tree = Tree(name="t", nodes={0: Node(0, None, kind="root")}, root=0)
    tree.nodes[1] = Node(1, 0, label="Retrieval", representative=[12])
    tree.nodes[2] = Node(2, 1, label="Dense retrieval", papers={10: 0.9, 11: 0.5, 12: 0.7})
    tree.nodes[3] = Node(3, 1, label="Re-ranking", papers={13: 0.8, 11: 0.6}, pinned={13})
    return tree


def test_a_parent_topic_lists_its_subtrees_papers_best_first() -> None:
    ranked, pinned = ranked_papers(small_tree(), 1)
    # the representative paper first, then by the best similarity to a topic under it
    assert ranked == [(12, 0.7), (10, 0.9), (13, 0.8), (11, 0.6)] and pinned == {13}
    from paperatlas.organize.export import PaperRef

    refs = {p: PaperRef(f"k{p}", f"Paper {p}") for p in range(10, 14)}
    page = topic_page(small_tree(), 1, refs, page=2, per_page=3)
    assert [p.key for p in page.papers] == ["k11"] and page.papers_total == 4
    assert (page.page, page.pages) == (2, 2)


def test_treemap_labels_fit_their_boxes() -> None:
    assert fitted("Retrieval-augmented generation (12)", 300, 12) == \
        "Retrieval-augmented generation (12)"
    assert fitted("Retrieval-augmented generation systems", 160, 12) == "Retrieval-augmented…"
    assert fitted("Retrieval-augmented generation systems", 120, 12) == "Retrieval-augme…"
    assert fitted("Retrieval", 20, 12) == ""
    tree = small_tree()
    for i in range(4, 30):  # many small sub-topics: labels shrink or go, never overflow
        tree.nodes[i] = Node(i, 1, label=f"A long sub-topic label number {i}",
                             papers={100 + i: 0.5})
    svg = treemap_svg(tree, 480, 270)
    boxes = {m[4]: (float(m[0]), float(m[2])) for m in re.findall(
        r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"[^>]*'
        r'data-node="(\d+)"', svg)}
    texts = re.findall(r'data-node="(\d+)"><title>[^<]*</title></rect><text x="([\d.]+)" '
                       r'y="[\d.]+" font-size="([\d.]+)">([^<]*)</text>', svg)
    assert texts
    for node, left, font, shown in texts:  # inside its own box: over no neighbour
        x, width = boxes[node]
        assert float(left) == pytest.approx(x + 4, abs=0.1)
        assert float(font) >= 9 and len(shown) * 0.62 * float(font) <= width - 8 + 1e-6


@pytest.fixture(scope="module")
def plib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    tmp = tmp_path_factory.mktemp("topics")
    lib = Library(tmp / "p.db", embedding_model=HashingEmbedder("hash-64", 64))
    lib.ingest([write_csv(tmp / "in.csv", papers_of("protein", 70) + papers_of("galaxy", 30))])
    lib.trees.build("t", min_size=3)
    yield lib
    lib.close()


def test_the_topic_page_shows_its_papers_paged(plib: Library) -> None:
    client = TestClient(create_app(plib, WebSettings(secret_key="test-key")))
    tree = plib.trees.get("t")
    top = tree.nodes[tree.root]  # every paper under it: more than a page
    papers = tree.subtree_papers(top.id)
    assert len(papers) > 50
    first = client.get(f"/trees/t/nodes/{top.id}")
    assert first.status_code == 200
    shown = set(re.findall(r'class="title" href="/papers/([^"]+)"', first.text))
    keys = {plib.store.papers.key_of(p) for p in papers}
    assert shown <= keys and len(shown) == min(50, len(keys))
    assert f"Papers <span class=\"count\">{len(keys)}</span>" in first.text
    if len(keys) > 50:
        second = client.get(f"/trees/t/nodes/{top.id}?page=2").text
        more = set(re.findall(r'class="title" href="/papers/([^"]+)"', second))
        assert more and not more & shown and 'rel="prev"' in second
    assert client.get(f"/trees/t/nodes/{top.id}?page=0").status_code == 400
