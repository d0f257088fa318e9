"""Write a topic tree as JSON, Markdown, OPML, standalone HTML or CSV, and as a terminal outline.

Every format shows the same tree: children ordered by size (distinct papers in the subtree)
descending, then id, with the "unsorted" node last among its siblings. Papers are named by
the key and title the caller passes in ``papers``; the core's integer ids never show.
"""

from __future__ import annotations

import csv
import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TextIO

from paperatlas.errors import InvalidOptionError
from paperatlas.records.trees import ROOT, UNSORTED, Node, Tree

from ..records.serialize import to_json

TREE_FORMATS = ("json", "markdown", "opml", "html", "csv")

Rect = tuple[float, float, float, float]  # x, y, width, height


@dataclass(frozen=True)
class PaperRef:
    """How a paper is shown in an export: its key and title."""

    key: str
    title: str


def node_sizes(tree: Tree) -> dict[int, int]:
    """Distinct papers in each node's subtree, computed in one bottom-up pass."""
    kids = tree.child_ids()
    order = [n.id for n, _ in tree.walk()]
    sets: dict[int, set[int]] = {}
    sizes = {nid: len(node.papers) for nid, node in tree.nodes.items()}
    for nid in reversed(order):
        merged = set(tree.nodes[nid].papers)
        for child in kids[nid]:
            merged |= sets.pop(child, set())
        sets[nid] = merged
        sizes[nid] = len(merged)
    return sizes


def ordered_children(tree: Tree, sizes: Mapping[int, int]) -> dict[int, list[int]]:
    """Children of every node: by size descending, then id; unsorted nodes last."""
    return {
        nid: sorted(ids, key=lambda c: (tree.nodes[c].kind == UNSORTED, -sizes[c], c))
        for nid, ids in tree.child_ids().items()
    }


def _walk(tree: Tree, kids: Mapping[int, list[int]]) -> Iterator[tuple[Node, int]]:
    """Every node reachable from the root with its depth, parents first, in display order."""
    stack = [(tree.root, 0)]
    while stack:
        nid, depth = stack.pop()
        yield tree.nodes[nid], depth
        stack.extend((c, depth + 1) for c in reversed(kids[nid]))


def _label(node: Node) -> str:
    if node.label:
        return node.label
    return "Unsorted" if node.kind == UNSORTED else f"Topic {node.id}"


def _ref(papers: Mapping[int, PaperRef], pid: int) -> PaperRef:
    return papers.get(pid) or PaperRef(str(pid), "")


def _linked(node: Node, papers: Mapping[int, PaperRef]) -> list[tuple[PaperRef, int, float]]:
    """Papers linked directly to ``node``: (ref, paper id, score), best score first."""
    ranked = sorted(node.papers.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(_ref(papers, pid), pid, score) for pid, score in ranked]


def _count_topics(tree: Tree) -> int:
    return sum(1 for n in tree.nodes.values() if n.kind not in (ROOT, UNSORTED))


def write_tree(tree: Tree, fmt: str, out: TextIO, papers: Mapping[int, PaperRef]) -> None:
    """Write ``tree`` to ``out`` in ``fmt`` (one of :data:`TREE_FORMATS`)."""
    writers: dict[str, Callable[[Tree, TextIO, Mapping[int, PaperRef]], None]] = {
        "json": _write_json,
        "markdown": _write_markdown,
        "opml": _write_opml,
        "html": _write_html,
        "csv": _write_csv,
    }
    if fmt not in writers:
        raise InvalidOptionError("tree format", fmt, TREE_FORMATS)
    writers[fmt](tree, out, papers)


def _write_json(tree: Tree, out: TextIO, papers: Mapping[int, PaperRef]) -> None:
    sizes = node_sizes(tree)
    nodes = [
        {
            "id": node.id,
            "parent": node.parent,
            "label": node.label,
            "keywords": list(node.keywords),
            "description": node.description,
            "kind": node.kind,
            "label_locked": node.label_locked,
            "size": sizes[node.id],
            "papers": [ref.key for ref, _, _ in _linked(node, papers)],
            "representative": [_ref(papers, pid).key for pid in node.representative],
        }
        for node, _ in _walk(tree, ordered_children(tree, sizes))
    ]
    doc = {"tree": tree.name, "settings": to_json(tree.settings), "nodes": nodes}
    json.dump(doc, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _write_markdown(tree: Tree, out: TextIO, papers: Mapping[int, PaperRef]) -> None:
    sizes = node_sizes(tree)
    out.write(f"# {tree.name}\n\n")
    for node, depth in _walk(tree, ordered_children(tree, sizes)):
        if depth == 0:
            continue
        pad = "  " * (depth - 1)
        keywords = f" — {', '.join(node.keywords)}" if node.keywords else ""
        out.write(f"{pad}- **{_label(node)}** ({sizes[node.id]}){keywords}\n")
        for ref, _, _ in _linked(node, papers):
            out.write(f"{pad}  - {ref.title} (`{ref.key}`)\n")


def _write_opml(tree: Tree, out: TextIO, papers: Mapping[int, PaperRef]) -> None:
    sizes = node_sizes(tree)
    kids = ordered_children(tree, sizes)
    opml = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(opml, "head"), "title").text = tree.name
    body = ET.SubElement(opml, "body")

    def add(parent: ET.Element, nid: int) -> None:
        node = tree.nodes[nid]
        elem = ET.SubElement(parent, "outline", text=f"{_label(node)} ({sizes[nid]})")
        if node.keywords:
            elem.set("keywords", ", ".join(node.keywords))
        for ref, _, _ in _linked(node, papers):
            ET.SubElement(elem, "outline", text=ref.title, key=ref.key)
        for child in kids[nid]:
            add(elem, child)

    for child in kids[tree.root]:
        add(body, child)
    ET.indent(opml)
    out.write('<?xml version="1.0" encoding="utf-8"?>\n')
    out.write(ET.tostring(opml, encoding="unicode"))
    out.write("\n")


def _write_csv(tree: Tree, out: TextIO, papers: Mapping[int, PaperRef]) -> None:
    sizes = node_sizes(tree)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["node_id", "node_label", "node_path", "paper_key", "paper_title", "score", "pinned"]
    )
    for node, _ in _walk(tree, ordered_children(tree, sizes)):
        path = " / ".join(_label(n) for n in tree.path(node.id))
        for ref, pid, score in _linked(node, papers):
            pinned = 1 if pid in node.pinned else 0
            writer.writerow(
                [node.id, _label(node), path, ref.key, ref.title, f"{score:.4f}", pinned]
            )


def outline(
    tree: Tree,
    papers: Mapping[int, PaperRef],
    *,
    show_papers: int = 0,
    max_depth: int | None = None,
) -> list[str]:
    """The lines ``tree show`` prints: a header, then one line per node below the root."""
    sizes = node_sizes(tree)
    kids = ordered_children(tree, sizes)
    lines = [f"{tree.name} ({len(tree.all_papers())} papers, {_count_topics(tree)} topics)"]

    limit = float("inf") if max_depth is None else max_depth

    def emit(nid: int, depth: int, prefix: str) -> None:
        children = kids[nid] if depth < limit else []
        for i, cid in enumerate(children):
            node, last = tree.nodes[cid], i == len(children) - 1
            mark = "*" if node.label_locked else ""
            keywords = f" — {', '.join(node.keywords[:4])}" if node.keywords else ""
            head = f"{prefix}{'└── ' if last else '├── '}[{cid}] {_label(node)}{mark}"
            lines.append(f"{head} ({sizes[cid]}){keywords}")
            inner = prefix + ("    " if last else "│   ")
            bar = "│ " if kids[cid] and depth + 1 < limit else "  "
            for ref, _, _ in _linked(node, papers)[: max(show_papers, 0)]:
                lines.append(f"{inner}{bar}· {ref.title} [{ref.key}]")
            emit(cid, depth + 1, inner)

    emit(tree.root, 0, "")
    return lines


def _squarify(values: list[float], rect: Rect) -> list[Rect]:
    """Lay ``values`` (positive) out as rectangles filling ``rect`` (Bruls et al. 2000)."""
    x, y, w, h = rect
    total = sum(values)
    if total <= 0 or w <= 0 or h <= 0:
        return [(x, y, 0.0, 0.0) for _ in values]
    areas = [v * w * h / total for v in values]

    def worst(row: list[float], side: float) -> float:
        s = sum(row)
        return max(max(row) * side * side / (s * s), s * s / (side * side * min(row)))

    out: list[Rect] = []
    i = 0
    while i < len(areas):
        side = min(w, h)
        row = [areas[i]]
        i += 1
        while i < len(areas) and side > 0 and worst([*row, areas[i]], side) <= worst(row, side):
            row.append(areas[i])
            i += 1
        across = w < h  # lay the row along the top, else as a column on the left
        thick = sum(row) / (w if across else h) if min(w, h) > 0 else 0.0
        pos = x if across else y
        for a in row:
            step = a / thick if thick > 0 else 0.0
            out.append((pos, y, step, thick) if across else (x, pos, thick, step))
            pos += step
        if across:
            y, h = y + thick, h - thick
        else:
            x, w = x + thick, w - thick
    return out


#: Treemap label sizes (px): first-level boxes, then their sub-topics' (smaller boxes get
#: smaller text, down to the least; a box too small for that shows none, only its tooltip).
TOP_FONT, SUB_FONT, LEAST_FONT = 14.0, 12.0, 9.0
#: Width of a character against the font size (a sans-serif's average, rounded up).
CHAR_WIDTH = 0.62


def _font(rect: Rect, largest: float) -> float:
    """The font size of a box's label: ``largest`` where the box has room, else what its
    height and width allow (0: too small for a readable label)."""
    _, _, w, h = rect
    size = min(largest, (h - 4) * 0.8, (w - 8) / (CHAR_WIDTH * 4))
    return round(size, 1) if size >= LEAST_FONT else 0.0


def fitted(label: str, width: float, font: float) -> str:
    """``label`` cut to what ``width`` pixels hold at ``font`` px, with an ellipsis (at a
    word's end where one is near); "" when not even a few characters fit."""
    room = int(width / (CHAR_WIDTH * font))
    if len(label) <= room:
        return label
    if room < 4:
        return ""
    cut = label[:room - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space >= room // 2 else cut).rstrip(" ,;:-") + "…"


def _svg_box(node: Node, size: int, rect: Rect, fill: str, largest: float) -> tuple[str, float]:
    """A box and its label (cut to fit inside it: no text over a neighbour); and the
    height its label takes at its top."""
    x, y, w, h = rect
    label = _label(node)
    title = f"{label} ({size})"
    parts = [
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{fill}" data-node="{node.id}"><title>{html.escape(title)}</title></rect>'
    ]
    font = _font(rect, largest)
    shown = fitted(title, w - 8, font) if font else ""
    if shown and not shown.endswith(")"):  # the count does not fit: the label alone
        shown = fitted(label, w - 8, font)
    if not shown:
        return "".join(parts), 0.0
    parts.append(f'<text x="{x + 4:.1f}" y="{y + font + 2:.1f}" font-size="{font}">'
                 f"{html.escape(shown)}</text>")
    return "".join(parts), font + 5


def treemap_svg(tree: Tree, width: int = 960, height: int = 540) -> str:
    """An inline SVG treemap of the first two levels, each box titled "Label (size)"."""
    sizes = node_sizes(tree)
    kids = ordered_children(tree, sizes)
    top = [c for c in kids[tree.root] if sizes[c] > 0]
    parts = [
        f'<svg class="treemap" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html.escape(tree.name)} topic sizes">'
    ]
    for i, (nid, rect) in enumerate(
        zip(top, _squarify([float(sizes[c]) for c in top], (0, 0, width, height)), strict=True)
    ):
        hue = (i * 47) % 360
        box, head = _svg_box(tree.nodes[nid], sizes[nid], rect, f"hsl({hue},45%,55%)",
                             TOP_FONT)
        parts.append(box)
        x, y, w, h = rect
        head = head or 4.0  # sub-topics start below the label
        inner: Rect = (x + 2, y + head, w - 4, h - head - 2) if h > head + 20 and w > 20 \
            else (x, y, 0, 0)
        subs = [c for c in kids[nid] if sizes[c] > 0]
        for sid, sub in zip(subs, _squarify([float(sizes[c]) for c in subs], inner), strict=True):
            parts.append(_svg_box(tree.nodes[sid], sizes[sid], sub, f"hsl({hue},45%,72%)",
                                  SUB_FONT)[0])
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{margin-bottom:.2em}.meta{color:#666;margin-top:0}
.treemap{width:100%;height:auto;border:1px solid #ccc;background:#fafafa}
.treemap rect{stroke:#fff;stroke-width:1;cursor:pointer}.treemap rect:hover{opacity:.8}
.treemap text{font-size:11px;pointer-events:none;fill:#111}
.controls{margin:.6em 0}.controls input{margin-left:1em;padding:.2em .4em}
details{margin-left:1.2em;border-left:1px solid #ddd;padding-left:.5em}
summary{cursor:pointer;padding:.1em 0}.size{color:#555}.kw{color:#777;font-size:.9em}
.kind-unsorted>summary .label{font-style:italic;color:#777}
.desc{color:#444;margin:.2em 0 .2em 1.2em}
ul.papers{margin:.2em 0 .4em 0;padding-left:2.4em}ul.papers code{color:#666;font-size:.85em}
"""

_JS = """
const all = () => document.querySelectorAll('#tree details');
document.getElementById('expand').onclick = () => all().forEach(d => { d.open = true; });
document.getElementById('collapse').onclick = () => all().forEach(d => { d.open = false; });
document.getElementById('filter').oninput = (e) => {
  const q = e.target.value.trim().toLowerCase();
  all().forEach(d => {
    const hit = !q || d.textContent.toLowerCase().includes(q);
    d.style.display = hit ? '' : 'none';
    if (q && hit) d.open = true;
  });
};
document.querySelectorAll('.treemap rect').forEach(r => r.addEventListener('click', () => {
  const d = document.getElementById('n' + r.dataset.node);
  if (!d) return;
  for (let p = d; p; p = p.parentElement.closest('details')) p.open = true;
  d.scrollIntoView({behavior: 'smooth', block: 'start'});
}));
"""


def _write_html(tree: Tree, out: TextIO, papers: Mapping[int, PaperRef]) -> None:
    sizes = node_sizes(tree)
    kids = ordered_children(tree, sizes)
    esc = html.escape
    name = esc(tree.name)

    def block(nid: int) -> Iterator[str]:
        node = tree.nodes[nid]
        lock = " *" if node.label_locked else ""
        keywords = f' <span class="kw">{esc(", ".join(node.keywords))}</span>'
        yield (
            f'<details id="n{nid}" class="kind-{esc(node.kind)}"><summary>'
            f'<span class="label">{esc(_label(node))}{lock}</span> '
            f'<span class="size">({sizes[nid]})</span>{keywords if node.keywords else ""}'
            "</summary>"
        )
        if node.description:
            yield f'<p class="desc">{esc(node.description)}</p>'
        linked = _linked(node, papers)
        if linked:
            yield '<ul class="papers">'
            for ref, _, _ in linked:
                yield f"<li>{esc(ref.title)} <code>{esc(ref.key)}</code></li>"
            yield "</ul>"
        for child in kids[nid]:
            yield from block(child)
        yield "</details>"

    out.write(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{name} — paperatlas</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{name}</h1>\n"
        f'<p class="meta">{len(tree.all_papers())} papers, {_count_topics(tree)} topics</p>\n'
        f"<h2>Topic sizes</h2>\n{treemap_svg(tree)}\n<h2>Topics</h2>\n"
        '<div class="controls"><button id="expand">Expand all</button> '
        '<button id="collapse">Collapse all</button>'
        '<input id="filter" type="search" placeholder="Filter topics and papers"></div>\n'
        '<div id="tree">\n'
    )
    for child in kids[tree.root]:
        out.write("\n".join(block(child)))
        out.write("\n")
    out.write(f"</div>\n<script>{_JS}</script>\n</body>\n</html>\n")
