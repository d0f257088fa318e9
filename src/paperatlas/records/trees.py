"""Typed records of a topic tree: nodes, the tree, its settings, edits and reports.

A tree is a set of :class:`Node` keyed by an integer id that is unique within the tree and
never reused: an update adds nodes with new ids and leaves the others as they are. Papers
are named by their integer ``paper_id`` inside the core; the edges show keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: Node kinds: the single root, topics, and the node that holds papers that fit nowhere.
ROOT, TOPIC, UNSORTED = "root", "topic", "unsorted"


@dataclass
class Node:
    """One topic. ``papers`` maps the papers linked directly to it to their similarity
    (cosine to the node's centroid); ``pinned`` holds those a person put there."""

    id: int
    parent: int | None
    label: str = ""
    keywords: list[str] = field(default_factory=list)
    description: str = ""
    kind: str = TOPIC
    label_locked: bool = False
    papers: dict[int, float] = field(default_factory=dict)
    pinned: set[int] = field(default_factory=set)
    representative: list[int] = field(default_factory=list)
    centroid: list[float] | None = None


@dataclass
class TreeSettings:
    """How a tree is built and kept up to date (stored with the tree)."""

    max_depth: int = 3
    min_size: int = 5
    max_children: int = 10
    margin: float = 0.02
    max_links: int = 2
    seed: int = 0
    collection: str | None = None
    split_size: int = 0  # a leaf larger than this is split on update (0: 3 x the largest at build)
    unsorted_threshold: float = 0.0  # below this similarity a new paper goes to "unsorted"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreeSettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Tree:
    """A named topic tree over some papers of a library."""

    name: str
    nodes: dict[int, Node]
    root: int
    settings: TreeSettings = field(default_factory=TreeSettings)
    next_id: int = 0

    def children(self, node_id: int) -> list[Node]:
        return [n for n in self.nodes.values() if n.parent == node_id]

    def child_ids(self) -> dict[int, list[int]]:
        """``node id -> ids of its children`` for every node, in id order."""
        out: dict[int, list[int]] = {i: [] for i in self.nodes}
        for n in sorted(self.nodes.values(), key=lambda n: n.id):
            if n.parent is not None:
                out[n.parent].append(n.id)
        return out

    def walk(self) -> Iterator[tuple[Node, int]]:
        """Every node with its depth (root = 0), parents before children, depth first."""
        kids = self.child_ids()
        stack = [(self.root, 0)]
        while stack:
            node_id, depth = stack.pop()
            yield self.nodes[node_id], depth
            stack.extend((c, depth + 1) for c in reversed(kids[node_id]))

    def is_leaf(self, node_id: int) -> bool:
        return not any(n.parent == node_id for n in self.nodes.values())

    def path(self, node_id: int) -> list[Node]:
        """The nodes from the root's first child down to ``node_id``."""
        out: list[Node] = []
        current: int | None = node_id
        while current is not None and current != self.root:
            node = self.nodes[current]
            out.append(node)
            current = node.parent
        return out[::-1]

    def subtree_ids(self, node_id: int) -> list[int]:
        """The node and every node below it (the node first)."""
        kids = self.child_ids()
        out: list[int] = []
        stack = [node_id]
        while stack:
            nid = stack.pop()
            out.append(nid)
            stack.extend(kids[nid])
        return out

    def subtree_papers(self, node_id: int) -> set[int]:
        """Papers linked to the node or to any node below it."""
        return {p for nid in self.subtree_ids(node_id) for p in self.nodes[nid].papers}

    def paper_nodes(self) -> dict[int, list[int]]:
        """``paper id -> ids of the nodes it is linked to`` (best link first)."""
        links: dict[int, list[tuple[float, int]]] = {}
        for node in self.nodes.values():
            for pid, score in node.papers.items():
                links.setdefault(pid, []).append((-score, node.id))
        return {pid: [nid for _, nid in sorted(v)] for pid, v in links.items()}

    def all_papers(self) -> set[int]:
        return {pid for n in self.nodes.values() for pid in n.papers}

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


@dataclass(frozen=True)
class TreeInfo:
    """A tree as listed: name, size and when it last changed."""

    name: str
    collection: str | None
    nodes: int
    papers: int
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Edit:
    """One correction a person made: ``op`` and its arguments (node ids, paper ids, text)."""

    op: str
    args: dict[str, Any]
    id: int = 0
    at: str = ""


@dataclass
class BuildReport:
    """What ``tree build`` made (or a rebuild remade)."""

    name: str
    papers: int
    nodes: int
    leaves: int
    depth: int
    multi_linked: int
    seconds: float
    edits_applied: int = 0
    edits_skipped: list[str] = field(default_factory=list)


@dataclass
class UpdateReport:
    """What ``tree update`` changed: where each new paper went and which nodes are new."""

    name: str
    added: dict[int, list[int]] = field(default_factory=dict)  # paper id -> node ids
    new_nodes: list[int] = field(default_factory=list)
    grown_nodes: list[int] = field(default_factory=list)
    split_nodes: list[int] = field(default_factory=list)
    unsorted: int = 0
    removed: int = 0
    seconds: float = 0.0


@dataclass
class EvalReport:
    """How a tree compares with a gold labelling (see ``organize.evaluate``)."""

    papers: int
    gold_papers: int
    assigned_share: float
    nmi: dict[int, float] = field(default_factory=dict)  # level -> NMI (single-label papers)
    ari: dict[int, float] = field(default_factory=dict)
    category_f1: dict[str, float] = field(default_factory=dict)
    mean_f1: float = 0.0
    label_fidelity: float | None = None
    navigability: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
