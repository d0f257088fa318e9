"""Build a topic tree: features -> cluster -> label -> assign, each stage swappable."""

from __future__ import annotations

import numpy as np

from .base import Clusterer, Corpus, Featurizer, Group, Labeler
from .cluster import LeidenClusterer
from .features import CombinedFeatures, normalize_rows
from .label import KeywordLabeler
from .model import ROOT, TOPIC, UNSORTED, Node, Tree, TreeSettings

REPRESENTATIVES = 5
GROUP_TITLES = 30


class TreeBuilder:
    """Builds, splits, names and links; used by build, update and the split edit alike."""

    def __init__(self, settings: TreeSettings, *, features: Featurizer | None = None,
                 clusterer: Clusterer | None = None, labeler: Labeler | None = None) -> None:
        self.settings = settings
        self.features = features or CombinedFeatures()
        self.clusterer = clusterer or LeidenClusterer()
        self.labeler = labeler or KeywordLabeler()
        self._fit_on: Corpus | None = None  # the corpus the stages last saw

    def prepare(self, corpus: Corpus) -> None:
        """Let the features and the labeler see every paper once (word and phrase counts)."""
        self.features.fit(corpus)
        self.labeler.fit(corpus)
        self._fit_on = corpus

    # -- build ------------------------------------------------------------------------
    def build(self, name: str, corpus: Corpus) -> Tree:
        """A new tree over every paper of ``corpus``; every paper lands in a leaf."""
        s = self.settings
        tree = Tree(name=name, nodes={}, root=0, settings=s)
        root = Node(id=tree.new_id(), parent=None, kind=ROOT, label=name)
        tree.nodes[root.id] = root
        tree.root = root.id
        if self._fit_on is not corpus:
            self.prepare(corpus)
        leaves: dict[int, list[int]] = {}
        self._grow(tree, root.id, list(range(len(corpus.ids))), 0, corpus, leaves)
        if len(leaves) == 1 and root.id in leaves:  # too few papers to split: one topic
            only = Node(id=tree.new_id(), parent=root.id)
            tree.nodes[only.id] = only
            leaves = {only.id: leaves.pop(root.id)}
        self.link(tree, corpus, leaves)
        self.name_children(tree, root.id, corpus, recursive=True)
        if not s.unsorted_threshold:
            s.unsorted_threshold = unsorted_threshold(corpus, leaves)
        if not s.split_size:
            largest = max((len(n.papers) for n in tree.nodes.values()), default=0)
            s.split_size = max(4 * s.min_size, 2 * largest)
        return tree

    def _grow(self, tree: Tree, node_id: int, rows: list[int], depth: int, corpus: Corpus,
              leaves: dict[int, list[int]]) -> None:
        groups = self.split_rows(rows, corpus) if depth < self.settings.max_depth else [rows]
        if len(groups) < 2:
            leaves[node_id] = rows
            return
        for members in groups:
            child = Node(id=tree.new_id(), parent=node_id)
            tree.nodes[child.id] = child
            self._grow(tree, child.id, members, depth + 1, corpus, leaves)

    def split_rows(self, rows: list[int], corpus: Corpus) -> list[list[int]]:
        """Corpus rows split into child groups (largest first); one group: no split."""
        s = self.settings
        if len(rows) < 3 * s.min_size:
            return [rows]
        feats = self.features.features(corpus.vectors[rows], [corpus.texts[r] for r in rows],
                                       rows=rows if self._fit_on is corpus else None)
        labels = self.clusterer.split(feats, max_children=s.max_children, min_size=s.min_size,
                                      seed=s.seed)
        count = int(labels.max()) + 1 if len(labels) else 0
        return [[rows[i] for i in np.flatnonzero(labels == c)] for c in range(count)]

    # -- assign -----------------------------------------------------------------------
    def link(self, tree: Tree, corpus: Corpus, leaves: dict[int, list[int]]) -> None:
        """Link each leaf's papers to it, and to other leaves within the margin; then set
        centroids and representative papers of every node."""
        s = self.settings
        leaf_ids = list(leaves)
        cents = normalize_rows(np.stack([corpus.vectors[leaves[i]].mean(axis=0)
                                         for i in leaf_ids]))
        for j, leaf_id in enumerate(leaf_ids):
            rows = leaves[leaf_id]
            sims = corpus.vectors[rows] @ cents.T
            own = sims[:, j]
            for r, row in enumerate(rows):
                pid = corpus.ids[row]
                tree.nodes[leaf_id].papers[pid] = float(own[r])
                if s.max_links < 2:
                    continue
                close = np.flatnonzero(sims[r] >= own[r] - s.margin)
                close = close[np.argsort(-sims[r][close])]
                for k in [int(c) for c in close if c != j][: s.max_links - 1]:
                    tree.nodes[leaf_ids[k]].papers[pid] = float(sims[r][k])
        self.refresh(tree, corpus)

    def refresh(self, tree: Tree, corpus: Corpus, node_ids: list[int] | None = None) -> None:
        """Recompute centroid and representative papers of the given nodes (default: all)."""
        kids = tree.child_ids()
        for node in (tree.nodes[i] for i in (node_ids or list(tree.nodes))):
            rows = corpus.rows(_subtree(tree, kids, node.id))
            if not rows:
                node.centroid, node.representative = None, []
                continue
            cent = normalize_rows(corpus.vectors[rows].mean(axis=0, keepdims=True))[0]
            node.centroid = [round(float(x), 6) for x in cent]
            sims = corpus.vectors[rows] @ cent
            best = np.argsort(-sims, kind="stable")[:REPRESENTATIVES]
            node.representative = [corpus.ids[rows[i]] for i in best]

    # -- label ------------------------------------------------------------------------
    def name_children(self, tree: Tree, parent_id: int, corpus: Corpus, *,
                      recursive: bool = False, only: set[int] | None = None) -> None:
        """Name the children of ``parent_id`` together (locked labels are kept)."""
        kids = tree.child_ids()
        children = [tree.nodes[c] for c in kids[parent_id] if tree.nodes[c].kind == TOPIC]
        named = [c for c in children if only is None or c.id in only]
        if named:
            parent = tree.nodes[parent_id]
            groups = [self._group(tree, kids, c, corpus) for c in named]
            names = self.labeler.label(groups, parent="" if parent.kind == ROOT else parent.label)
            others = {c.label.lower() for c in children if c not in named}
            for child, name in zip(named, names, strict=True):
                child.keywords = name.keywords
                child.description = name.description or child.description
                if not child.label_locked:
                    label = name.label
                    if label.lower() in others:  # a new node beside existing ones
                        extra = next((k for k in name.keywords if k.lower() not in label.lower()),
                                     str(child.id))
                        label = f"{label} and {extra.lower()}"
                    child.label = label
        if recursive:
            for c in children:
                self.name_children(tree, c.id, corpus, recursive=True)

    def _group(self, tree: Tree, kids: dict[int, list[int]], node: Node,
               corpus: Corpus) -> Group:
        papers = _subtree(tree, kids, node.id)
        rows = corpus.rows(papers)
        first = corpus.rows(node.representative)
        order = first + [r for r in rows if r not in set(first)][: GROUP_TITLES]
        order = order[:GROUP_TITLES]
        centroid = np.asarray(node.centroid, dtype=np.float32) if node.centroid else None
        return Group(node_id=node.id, titles=[corpus.titles[r] for r in order],
                     texts=[corpus.texts[r] for r in order], rows=rows, centroid=centroid)


def unsorted_threshold(corpus: Corpus, leaves: dict[int, list[int]],
                       percentile: float = 2.0) -> float:
    """The similarity below which a new paper fits no leaf: a low percentile of each
    paper's similarity to its leaf's centroid computed without it (leave-one-out), which is
    what a new paper like it would score; the paper's own weight would raise it."""
    scores: list[np.ndarray] = []
    for rows in leaves.values():
        if len(rows) < 2:
            continue
        members = corpus.vectors[rows]
        total = members.sum(axis=0)
        dots = members @ total  # S.x
        sq = np.einsum("ij,ij->i", members, members)
        rest = np.sqrt(np.maximum(float(total @ total) - 2 * dots + sq, 1e-12))  # |S - x|
        scores.append((dots - sq) / rest)
    return float(np.percentile(np.concatenate(scores), percentile)) if scores else 0.0


def _subtree(tree: Tree, kids: dict[int, list[int]], node_id: int) -> set[int]:
    out: set[int] = set()
    stack = [node_id]
    while stack:
        nid = stack.pop()
        out.update(tree.nodes[nid].papers)
        stack.extend(kids.get(nid, []))
    return out


def unsorted_node(tree: Tree) -> Node:
    """The tree's "Unsorted" node under the root, made when first needed."""
    for node in tree.nodes.values():
        if node.kind == UNSORTED:
            return node
    node = Node(id=tree.new_id(), parent=tree.root, kind=UNSORTED, label="Unsorted",
                label_locked=True)
    tree.nodes[node.id] = node
    return node
