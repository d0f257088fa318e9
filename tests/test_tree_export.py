"""Tree exports (JSON, Markdown, OPML, HTML, CSV) and the terminal outline, on hand-built trees."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest

from paperatlas.errors import InvalidOptionError
from paperatlas.organize.export import (
    TREE_FORMATS,
    PaperRef,
    _squarify,
    node_sizes,
    ordered_children,
    outline,
    write_tree,
)
from paperatlas.records.serialize import to_json
from paperatlas.records.trees import ROOT, UNSORTED, Node, Tree

NAME = 'Mes thèmes <&> "x"'


def make_tree() -> tuple[Tree, dict[int, PaperRef]]:
    """Root 0 -> Vision(1) {Segmentation(3), Detection(4)}, Language(2) {Translation(5)},
    Unsorted(6). Paper 5 is linked to both Vision leaves; paper 6 directly to Language."""
    nodes = [
        Node(0, None, label=NAME, kind=ROOT),
        Node(
            1,
            0,
            label="Vision <&>",
            keywords=["image", "cnn", "detection", "pixels", "video"],
            label_locked=True,
            description='Seeing "things" & more',
        ),
        Node(2, 0, label="Language", keywords=["text"], papers={6: 0.5}),
        Node(3, 1, label="Segmentation", papers={4: 0.95, 5: 0.6}, pinned={4}),
        Node(
            4, 1, label="Détection d'objets", papers={2: 0.8, 1: 0.9, 5: 0.7}, representative=[1, 2]
        ),
        Node(5, 2, label='Translation "MT"', papers={7: 0.9}),
        Node(6, 0, label="Unsorted", kind=UNSORTED, papers={8: 0.1, 9: 0.2, 10: 0.05}),
    ]
    tree = Tree(NAME, {n.id: n for n in nodes}, root=0, next_id=6)
    papers = {pid: PaperRef(f"2401.{pid:05d}", f"Paper {pid}") for pid in range(1, 11)}
    papers[1] = PaperRef("2401.00001", 'Ünïcödé <b>bold</b> & "quotes"')
    return tree, papers


def render(fmt: str) -> str:
    tree, papers = make_tree()
    buf = io.StringIO()
    write_tree(tree, fmt, buf, papers)
    return buf.getvalue()


def link_count(tree: Tree) -> int:
    return sum(len(n.papers) for n in tree.nodes.values())


def test_sizes_count_multi_linked_papers_once() -> None:
    tree, _ = make_tree()
    sizes = node_sizes(tree)
    assert sizes == {0: 9, 1: 4, 2: 2, 3: 2, 4: 3, 5: 1, 6: 3}
    assert all(sizes[nid] == len(tree.subtree_papers(nid)) for nid in tree.nodes)


def test_sizes_match_subtree_papers_on_a_large_tree() -> None:
    nodes = {0: Node(0, None, kind=ROOT)}
    for nid in range(1, 1001):
        parent = 0 if nid <= 10 else (nid - 1) // 10  # ten-way tree, three levels
        nodes[nid] = Node(nid, parent, papers={(nid * 7 + k) % 10_000: 0.5 for k in range(12)})
    tree = Tree("big", nodes, root=0)
    sizes = node_sizes(tree)
    for nid in (0, 1, 5, 10, 42, 99, 500, 1000):
        assert sizes[nid] == len(tree.subtree_papers(nid))


def test_children_by_size_then_id_with_unsorted_last() -> None:
    tree, _ = make_tree()
    kids = ordered_children(tree, node_sizes(tree))
    assert kids[0] == [1, 2, 6]  # unsorted (3) is larger than Language (2) but stays last
    assert kids[1] == [4, 3]  # Detection (3) before Segmentation (2) despite its higher id
    tree.nodes[3].papers[11] = 0.3  # now both have 3 papers: the lower id wins
    assert ordered_children(tree, node_sizes(tree))[1] == [3, 4]


def test_json_round_trips_with_every_link() -> None:
    tree, papers = make_tree()
    text = render("json")
    assert "Détection" in text and "Ünïcödé" not in text  # raw UTF-8; titles are not in JSON
    doc = json.loads(text)
    assert doc["tree"] == NAME
    assert doc["settings"] == to_json(tree.settings)
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert set(nodes) == set(tree.nodes)
    assert nodes[0]["parent"] is None and nodes[0]["kind"] == "root"
    assert nodes[6]["kind"] == UNSORTED
    assert nodes[1]["label_locked"] is True and nodes[2]["label_locked"] is False
    assert nodes[1]["description"] == 'Seeing "things" & more'
    assert nodes[4]["papers"] == ["2401.00001", "2401.00002", "2401.00005"]  # score order
    assert nodes[4]["representative"] == ["2401.00001", "2401.00002"]
    assert {nid: n["size"] for nid, n in nodes.items()} == node_sizes(tree)
    for node in tree.nodes.values():
        assert sorted(nodes[node.id]["papers"]) == sorted(papers[p].key for p in node.papers)
        assert nodes[node.id]["parent"] == node.parent
    seen: set[int] = set()
    for n in doc["nodes"]:  # parents before children, in display order
        assert n["parent"] is None or n["parent"] in seen
        seen.add(n["id"])
    assert [n["id"] for n in doc["nodes"]] == [0, 1, 4, 3, 2, 5, 6]


def test_markdown_nesting() -> None:
    lines = render("markdown").splitlines()
    assert lines[0] == f"# {NAME}"
    assert f"- **{NAME}**" not in "\n".join(lines)  # the root is the heading, not a bullet
    body = [line for line in lines[1:] if line]
    assert body[0] == "- **Vision <&>** (4) — image, cnn, detection, pixels, video"
    assert body[1] == "  - **Détection d'objets** (3)"
    assert body[2] == '    - Ünïcödé <b>bold</b> & "quotes" (`2401.00001`)'
    assert "  - Paper 6 (`2401.00006`)" in body
    assert "    - Paper 7 (`2401.00007`)" in body
    assert body.index("- **Unsorted** (3)") > body.index("- **Language** (2) — text")
    assert sum(1 for line in body if line.lstrip().startswith("- **")) == 6


def test_opml_parses_with_nesting() -> None:
    text = render("opml")
    root = ET.fromstring(text.split("\n", 1)[1])  # skip the XML declaration
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == NAME
    top = root.findall("body/outline")
    assert [o.get("text") for o in top] == ["Vision <&> (4)", "Language (2)", "Unsorted (3)"]
    vision = top[0]
    assert [o.get("text") for o in vision.findall("outline")] == [
        "Détection d'objets (3)",
        "Segmentation (2)",
    ]
    detection_papers = vision.findall("outline")[0].findall("outline")
    assert detection_papers[0].get("text") == 'Ünïcödé <b>bold</b> & "quotes"'
    assert [o.get("key") for o in detection_papers] == ["2401.00001", "2401.00002", "2401.00005"]
    language = top[1].findall("outline")
    assert language[0].get("key") == "2401.00006"  # direct papers before child topics
    assert language[1].get("text") == 'Translation "MT" (1)'
    keyed = [o for o in root.iter("outline") if o.get("key")]
    assert len(keyed) == link_count(make_tree()[0])


def test_html_is_standalone_and_escaped() -> None:
    text = render("html")
    assert "<details" in text and "<summary>" in text and "<svg" in text
    assert f"<title>{'Mes thèmes &lt;&amp;&gt; &quot;x&quot;'} — paperatlas</title>" in text
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text, re.I)
    assert "http://" not in text and "https://" not in text
    assert "<link" not in text and "<script src" not in text
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quotes&quot;" in text
    assert "Vision <&>" not in text
    assert "<title>Vision &lt;&amp;&gt; (4)</title>" in text
    assert "<title>Détection d&#x27;objets (3)</title>" in text  # second level in the treemap
    assert text.count("<details") == 6  # every node but the root
    assert text.count("<details") == text.count("</details>")
    for key in ("2401.00001", "2401.00006", "2401.00010"):
        assert f"<code>{key}</code>" in text


def test_treemap_tiles_fill_their_box() -> None:
    values = [6.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0]
    rects = _squarify(values, (10, 20, 600, 400))
    assert len(rects) == len(values)
    total = 600 * 400
    for value, (x, y, w, h) in zip(values, rects, strict=True):
        assert w * h == pytest.approx(value / sum(values) * total)
        assert x >= 10 - 1e-6 and x + w <= 610 + 1e-6
        assert y >= 20 - 1e-6 and y + h <= 420 + 1e-6
    assert max(max(w / h, h / w) for _, _, w, h in rects) < 3  # squarified, not sliced


def test_csv_one_row_per_link() -> None:
    tree, _ = make_tree()
    rows = list(csv.reader(io.StringIO(render("csv"))))
    assert rows[0] == [
        "node_id",
        "node_label",
        "node_path",
        "paper_key",
        "paper_title",
        "score",
        "pinned",
    ]
    assert len(rows) - 1 == link_count(tree) == 10
    by_link = {(r[0], r[3]): r for r in rows[1:]}
    assert by_link[("4", "2401.00001")][1:3] == [
        "Détection d'objets",
        "Vision <&> / Détection d'objets",
    ]
    assert by_link[("4", "2401.00001")][4] == 'Ünïcödé <b>bold</b> & "quotes"'
    assert by_link[("3", "2401.00004")][5:] == ["0.9500", "1"]
    assert by_link[("3", "2401.00005")][6] == "0"
    assert by_link[("6", "2401.00008")][2] == "Unsorted"


@pytest.mark.parametrize("fmt", ["xml", "", "JSON"])
def test_invalid_format_lists_valid_ones(fmt: str) -> None:
    tree, papers = make_tree()
    with pytest.raises(InvalidOptionError) as err:
        write_tree(tree, fmt, io.StringIO(), papers)
    assert err.value.valid == list(TREE_FORMATS)
    for name in TREE_FORMATS:
        assert name in str(err.value)


def test_outline_lines() -> None:
    tree, papers = make_tree()
    assert outline(tree, papers) == [
        f"{NAME} (9 papers, 5 topics)",
        "├── [1] Vision <&>* (4) — image, cnn, detection, pixels",
        "│   ├── [4] Détection d'objets (3)",
        "│   └── [3] Segmentation (2)",
        "├── [2] Language (2) — text",
        '│   └── [5] Translation "MT" (1)',
        "└── [6] Unsorted (3)",
    ]


def test_outline_papers_and_depth_limit() -> None:
    tree, papers = make_tree()
    lines = outline(tree, papers, show_papers=2, max_depth=1)
    assert lines == [
        f"{NAME} (9 papers, 5 topics)",
        "├── [1] Vision <&>* (4) — image, cnn, detection, pixels",
        "├── [2] Language (2) — text",
        "│     · Paper 6 [2401.00006]",
        "└── [6] Unsorted (3)",
        "      · Paper 9 [2401.00009]",
        "      · Paper 8 [2401.00008]",
    ]
    deep = outline(tree, papers, show_papers=1)
    i = deep.index("│   ├── [4] Détection d'objets (3)")
    assert deep[i + 1] == '│   │     · Ünïcödé <b>bold</b> & "quotes" [2401.00001]'
    assert deep[deep.index("├── [2] Language (2) — text") + 1] == "│   │ · Paper 6 [2401.00006]"
