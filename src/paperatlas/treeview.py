"""Read-only views of topic trees for the edges: one topic with its papers, a paper's topics.

Pure functions over a loaded :class:`Tree` (or the few rows a view needs); papers are named
by key and title, never by the core's integer ids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import NotFoundError
from .organize.export import PaperRef, node_sizes, ordered_children
from .records.trees import ROOT, TOPIC, UNSORTED, Node, Tree


@dataclass(frozen=True)
class TopicRef:
    """A topic as a breadcrumb names it."""

    id: int
    label: str


@dataclass(frozen=True)
class TopicBrief:
    """A topic as a list of sub-topics shows it: label, size (distinct papers) and keywords."""

    id: int
    label: str
    size: int
    kind: str = TOPIC
    keywords: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PaperBrief:
    """A paper linked to a topic: key, title, similarity to the topic, pinned by a person."""

    key: str
    title: str
    score: float
    pinned: bool = False


@dataclass
class TopicPage:
    """One topic with its place in the tree, its sub-topics and its papers."""

    tree: str
    id: int
    label: str
    kind: str
    keywords: list[str]
    description: str
    label_locked: bool
    size: int
    path: list[TopicRef]  # from the first level down to the parent (empty for top topics)
    children: list[TopicBrief]  # by size, the unsorted node last
    papers: list[PaperBrief]  # one page of the papers of its subtree, best first
    representative: list[PaperBrief]
    papers_total: int = 0  # papers in its subtree (every page)
    page: int = 1
    pages: int = 1


@dataclass(frozen=True)
class PaperTopic:
    """Where a paper sits in one tree: the topic, the path to it and how well it fits."""

    tree: str
    id: int
    label: str
    score: float
    pinned: bool
    path: list[TopicRef]  # from the first level down to the parent


#: Papers a topic page lists at once.
PAGE_PAPERS = 50


def display_label(label: str, kind: str, node_id: int) -> str:
    """A node's label, or what stands in for it while it has none."""
    if label:
        return label
    return "Unsorted" if kind == UNSORTED else f"Topic {node_id}"


def _label(node: Node) -> str:
    return display_label(node.label, node.kind, node.id)


def node_of(tree: Tree, node_id: int) -> Node:
    """The node ``node_id`` of ``tree``; a missing one is a :class:`NotFoundError`."""
    node = tree.nodes.get(node_id)
    if node is None:
        raise NotFoundError(f"no topic {node_id} in tree {tree.name!r}")
    return node


def ranked_papers(tree: Tree, node_id: int) -> tuple[list[tuple[int, float]], set[int]]:
    """Every paper under a topic, best first: its representative papers (the closest to
    its centre), then by similarity to their own topic (the best link under it); and the
    papers a person pinned there."""
    node = node_of(tree, node_id)
    best: dict[int, float] = {}
    pinned: set[int] = set()
    for nid in tree.subtree_ids(node_id):
        under = tree.nodes[nid]
        pinned |= under.pinned
        for pid, score in under.papers.items():
            if score > best.get(pid, -2.0):
                best[pid] = score
    first = [p for p in node.representative if p in best]
    rest = sorted(best.keys() - set(first), key=lambda p: (-best[p], p))
    return [(p, best[p]) for p in first + rest], pinned


def _page(ranked: list[tuple[int, float]], page: int, per_page: int) -> list[tuple[int, float]]:
    return ranked[(page - 1) * per_page:page * per_page]


def page_paper_ids(tree: Tree, node_id: int, page: int = 1,
                   per_page: int = PAGE_PAPERS) -> list[int]:
    """The papers :func:`topic_page` names (to look their keys and titles up first)."""
    node = node_of(tree, node_id)
    ranked, _ = ranked_papers(tree, node_id)
    return sorted({p for p, _ in _page(ranked, page, per_page)} | set(node.representative))


def topic_page(tree: Tree, node_id: int, papers: Mapping[int, PaperRef], page: int = 1,
               per_page: int = PAGE_PAPERS) -> TopicPage:
    """The view of one topic, with page ``page`` of the papers of its subtree (``per_page``
    a page); ``papers`` gives the key and title of each paper it names."""
    node = node_of(tree, node_id)
    sizes = node_sizes(tree)
    kids = ordered_children(tree, sizes)
    ranked, pinned = ranked_papers(tree, node_id)

    def brief(pid: int, score: float) -> PaperBrief | None:
        ref = papers.get(pid)
        if ref is None:
            return None  # deleted from the library since the tree was saved
        return PaperBrief(ref.key, ref.title, round(score, 4), pid in pinned)

    linked = _page(ranked, page, per_page)
    return TopicPage(
        tree=tree.name, id=node.id, label=_label(node), kind=node.kind,
        keywords=list(node.keywords), description=node.description,
        label_locked=node.label_locked, size=sizes[node.id],
        path=[TopicRef(n.id, _label(n)) for n in tree.path(node.id)[:-1]],
        children=[TopicBrief(c, _label(tree.nodes[c]), sizes[c], tree.nodes[c].kind,
                             list(tree.nodes[c].keywords)) for c in kids[node.id]],
        papers=[b for pid, score in linked if (b := brief(pid, score)) is not None],
        representative=[b for pid in node.representative
                        if (b := brief(pid, node.papers.get(pid, 0.0))) is not None],
        papers_total=len(ranked), page=page, pages=max(1, -(-len(ranked) // per_page)),
    )


def subtree(tree: Tree, node_id: int) -> Tree:
    """The part of ``tree`` under ``node_id`` (included), as a tree rooted there."""
    node_of(tree, node_id)
    nodes = {nid: tree.nodes[nid] for nid in tree.subtree_ids(node_id)}
    nodes[node_id] = dataclasses.replace(tree.nodes[node_id], parent=None)
    return Tree(name=_label(tree.nodes[node_id]), nodes=nodes, root=node_id,
                settings=tree.settings, next_id=tree.next_id)


def paper_topics(links: list[tuple[str, int, float, bool]],
                 heads: Mapping[str, Mapping[int, tuple[int | None, str, str]]]
                 ) -> list[PaperTopic]:
    """A paper's topics from its links ``(tree, node, score, pinned)`` and each tree's
    ``node -> (parent, label, kind)``."""
    out: list[PaperTopic] = []
    for name, node_id, score, pinned in links:
        nodes = heads.get(name, {})
        if node_id not in nodes:
            continue
        path: list[TopicRef] = []
        parent = nodes[node_id][0]
        while (parent is not None and parent in nodes and nodes[parent][2] != ROOT
               and len(path) < len(nodes)):
            up, label, kind = nodes[parent]
            path.append(TopicRef(parent, display_label(label, kind, parent)))
            parent = up
        _, label, kind = nodes[node_id]
        out.append(PaperTopic(name, node_id, display_label(label, kind, node_id),
                              round(score, 4), pinned, path[::-1]))
    return out
