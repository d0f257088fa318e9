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
    papers: list[PaperBrief]  # linked directly to this topic, best first
    representative: list[PaperBrief]


@dataclass(frozen=True)
class PaperTopic:
    """Where a paper sits in one tree: the topic, the path to it and how well it fits."""

    tree: str
    id: int
    label: str
    score: float
    pinned: bool
    path: list[TopicRef]  # from the first level down to the parent


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


def page_paper_ids(tree: Tree, node_id: int) -> list[int]:
    """The papers :func:`topic_page` names (to look their keys and titles up first)."""
    node = node_of(tree, node_id)
    return sorted(set(node.papers) | set(node.representative))


def topic_page(tree: Tree, node_id: int, papers: Mapping[int, PaperRef]) -> TopicPage:
    """The view of one topic; ``papers`` gives the key and title of each paper it names."""
    node = node_of(tree, node_id)
    sizes = node_sizes(tree)
    kids = ordered_children(tree, sizes)

    def brief(pid: int, score: float) -> PaperBrief | None:
        ref = papers.get(pid)
        if ref is None:
            return None  # deleted from the library since the tree was saved
        return PaperBrief(ref.key, ref.title, round(score, 4), pid in node.pinned)

    linked = sorted(node.papers.items(), key=lambda kv: (-kv[1], kv[0]))
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
