"""Build a topic tree: features -> cluster -> label -> assign, each stage swappable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from ..records.trees import ROOT, TOPIC, UNSORTED, Node, Tree, TreeSettings
from .base import Clusterer, Corpus, Featurizer, Group, Labeler, TextView
from .cluster import LeidenClusterer
from .features import CombinedFeatures, normalize_rows
from .label import KeywordLabeler
from .labelrules import unique_labels
from .parallel import (
    default_workers,
    fork_map,
    one_blas_thread,
    release_memory,
    threads,
    using_threads,
)
from .sampled import SAMPLE_MAX, attach, centroids, check_sample_max, sample

REPRESENTATIVES = 5
GROUP_TITLES = 30
#: Subtrees are grown in worker processes only under a node of at least this many papers
#: (a fork costs tens of milliseconds; smaller builds take less than that).
PARALLEL_MIN = 2000
#: A node's centroid is summed this many papers at a time above this many (none copied).
CENTROID_CHUNK = 65_536
#: After a split of this many papers, freed memory goes back to the system.
RELEASE_MIN = 10_000


@dataclass
class Branch:
    """A grown subtree before it gets node ids: its rows, and its children if it split."""

    rows: list[int]
    children: list[Branch] = field(default_factory=list)


class TreeBuilder:
    """Builds, splits, names and links; used by build, update and the split edit alike."""

    def __init__(self, settings: TreeSettings, *, features: Featurizer | None = None,
                 clusterer: Clusterer | None = None, labeler: Labeler | None = None,
                 workers: int | None = None, parallel_min: int = PARALLEL_MIN,
                 sample_max: int = SAMPLE_MAX) -> None:
        self.settings = settings
        self.features = features or CombinedFeatures()
        self.clusterer = clusterer or LeidenClusterer()
        self.labeler = labeler or KeywordLabeler()
        #: Processes (and threads) a build may use; the tree does not depend on it.
        self.workers = default_workers() if workers is None else max(1, workers)
        self.parallel_min = parallel_min
        #: A node of more papers is split on a seeded sample of this many (0: never).
        self.sample_max = check_sample_max(sample_max)
        self._fit_on: Corpus | None = None  # the corpus the stages last saw
        #: The other names the labeler offered for the nodes named last, best first.
        self._alternatives: dict[int, list[str]] = {}

    def prepare(self, corpus: Corpus) -> None:
        """Let the labeler and the features see every paper once (phrase and word counts)."""
        self.labeler.fit(corpus)
        self.features.fit(corpus)
        self._fit_on = corpus

    # -- build ------------------------------------------------------------------------
    def build(self, name: str, corpus: Corpus) -> Tree:
        """A new tree over every paper of ``corpus``; every paper lands in a leaf."""
        s = self.settings
        tree = Tree(name=name, nodes={}, root=0, settings=s)
        root = Node(id=tree.new_id(), parent=None, kind=ROOT, label=name)
        tree.nodes[root.id] = root
        tree.root = root.id
        with one_blas_thread(), using_threads(self.workers):
            if self._fit_on is not corpus:
                self.prepare(corpus)
            leaves: dict[int, list[int]] = {}
            self._place(tree, root.id, self.grow(list(range(len(corpus.ids))), 0, corpus),
                        leaves)
            if len(leaves) == 1 and root.id in leaves:  # too few papers to split: one topic
                only = Node(id=tree.new_id(), parent=root.id)
                tree.nodes[only.id] = only
                leaves = {only.id: leaves.pop(root.id)}
            self.link(tree, corpus, leaves)
            self._name_tree(tree, root.id, corpus)
        if not s.unsorted_threshold:
            s.unsorted_threshold = unsorted_threshold(corpus, leaves)
        if not s.split_size:
            largest = max((len(n.papers) for n in tree.nodes.values()), default=0)
            s.split_size = max(4 * s.min_size, 2 * largest)
        return tree

    def grow(self, rows: list[int], depth: int, corpus: Corpus) -> Branch:
        """Split ``rows`` (at ``depth``) and their groups, recursively. The subtrees of the
        first node with at least ``parallel_min`` papers grow in worker processes; a
        subtree is the same wherever it grows."""
        groups = self.split_rows(rows, corpus) if depth < self.settings.max_depth else [rows]
        if len(groups) < 2:
            return Branch(rows)
        if threads() < 2 or len(rows) < self.parallel_min:  # (1 in a worker process)
            return Branch(rows, [self.grow(g, depth + 1, corpus) for g in groups])
        children = fork_map(_grow_task, (self, corpus), [(g, depth + 1) for g in groups],
                            threads(), sizes=[len(g) ** 1.5 for g in groups])
        return Branch(rows, children)

    def _place(self, tree: Tree, node_id: int, branch: Branch,
               leaves: dict[int, list[int]]) -> None:
        """Give a grown branch's nodes ids (depth first, in order) and collect its leaves."""
        if not branch.children:
            leaves[node_id] = branch.rows
            return
        for sub in branch.children:
            child = Node(id=tree.new_id(), parent=node_id)
            tree.nodes[child.id] = child
            self._place(tree, child.id, sub, leaves)

    def split_rows(self, rows: list[int], corpus: Corpus) -> list[list[int]]:
        """Corpus rows split into child groups (largest first); one group: no split."""
        s = self.settings
        if len(rows) < 3 * s.min_size:
            return [rows]
        split, rest = rows, None
        if self.sample_max and len(rows) > self.sample_max:  # cluster a sample, attach the rest
            split, rest = sample(rows, self.sample_max, s.seed)
        texts, fitted = Picked(corpus.texts, split), split if self._fit_on is corpus else None
        if rest is None:
            feats, project = self.features.features(corpus.vectors[split], texts, fitted), None
        else:
            feats, project = self.features.sampled(corpus.vectors[split], texts, fitted)
        del texts
        labels = self.clusterer.split(feats, max_children=s.max_children, min_size=s.min_size,
                                      seed=s.seed)
        cents = centroids(feats, labels) if project is not None else None
        del feats
        if rest is not None:
            labels = attach(corpus.vectors, rows, rest, labels, cents, project)
        del project
        if len(split) >= RELEASE_MIN:
            release_memory()  # before the subtrees' workers fork
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
        extra = s.max_links - 1
        for j, leaf_id in enumerate(leaf_ids):
            rows = leaves[leaf_id]
            sims = corpus.vectors[rows] @ cents.T
            own = sims[:, j].copy()
            others: list[list[int]] = [[] for _ in rows]
            if extra > 0:  # other leaves within the margin, most similar first
                sims[:, j] = -np.inf
                close = sims >= (own - s.margin)[:, None]
                for i in np.flatnonzero(close.any(axis=1)).tolist():
                    cand = np.flatnonzero(close[i])
                    others[i] = cand[np.argsort(-sims[i][cand])][:extra].tolist()
            pids = [corpus.ids[row] for row in rows]
            tree.nodes[leaf_id].papers.update(zip(pids, own.tolist(), strict=True))
            for r, ks in enumerate(others):  # other leaves: never this leaf's dict
                for k in ks:
                    tree.nodes[leaf_ids[k]].papers[pids[r]] = float(sims[r, k])
        self.refresh(tree, corpus)

    def refresh(self, tree: Tree, corpus: Corpus, node_ids: list[int] | None = None) -> None:
        """Recompute centroid and representative papers of the given nodes (default: all)."""
        under = _Subtrees(tree, corpus)
        for node in (tree.nodes[i] for i in (node_ids or list(tree.nodes))):
            rows = under.rows(node.id)
            if not len(rows):
                node.centroid, node.representative = None, []
                continue
            cent, scores = _centroid(corpus.vectors, rows)
            node.centroid = list(map(round, cent.tolist(), repeat(6)))
            best = np.argsort(-scores, kind="stable")[:REPRESENTATIVES]
            node.representative = [corpus.ids[rows[i]] for i in best]

    # -- label ------------------------------------------------------------------------
    def name_children(self, tree: Tree, parent_id: int, corpus: Corpus, *,
                      recursive: bool = False, only: set[int] | None = None) -> None:
        """Name the children of ``parent_id`` together (locked labels are kept); a name
        another topic of the tree has is changed (:func:`~.labelrules.unique_labels`)."""
        self._alternatives = {}
        self._name(tree, parent_id, corpus, _Subtrees(tree, corpus), recursive, only)
        self._unique(tree)

    def _unique(self, tree: Tree) -> None:
        """Make the labels just named distinct from every other label of the tree."""
        named = self._alternatives
        unique_labels(tree, lambda node_id: named.get(node_id, []), set(named))

    def _name_tree(self, tree: Tree, root_id: int, corpus: Corpus) -> None:
        """Name every node: the first level here, then the subtree under each first-level
        node (in worker processes when the labeler allows it; the names are the same)."""
        under = _Subtrees(tree, corpus)
        self._alternatives = {}
        self._name(tree, root_id, corpus, under, False, None)
        first = [c for c in under.kids[root_id] if tree.nodes[c].kind == TOPIC]
        if threads() < 2 or not self.labeler.forkable or len(corpus.ids) < self.parallel_min:
            for c in first:
                self._name(tree, c, corpus, under, True, None)
        else:
            sizes = [float(len(under.rows(c))) for c in first]
            for names in fork_map(_name_task, (self, tree, corpus, under), first, threads(),
                                  sizes):
                for node_id, (label, keywords, description, others) in names.items():
                    node = tree.nodes[node_id]
                    node.label, node.keywords, node.description = label, keywords, description
                    self._alternatives[node_id] = others
        self._unique(tree)

    def _name(self, tree: Tree, parent_id: int, corpus: Corpus, under: _Subtrees,
              recursive: bool, only: set[int] | None) -> None:
        children = [tree.nodes[c] for c in under.kids[parent_id]
                    if tree.nodes[c].kind == TOPIC]
        named = [c for c in children if only is None or c.id in only]
        if named:
            parent = tree.nodes[parent_id]
            groups = [self._group(c, corpus, under) for c in named]
            names = self.labeler.label(groups, parent="" if parent.kind == ROOT else parent.label)
            for child, name in zip(named, names, strict=True):
                child.keywords = name.keywords
                child.description = name.description or child.description
                if not child.label_locked:  # a name a sibling has: see _unique
                    child.label = name.label
                    self._alternatives[child.id] = name.alternatives
        if recursive:
            for c in children:
                self._name(tree, c.id, corpus, under, recursive, None)

    def _group(self, node: Node, corpus: Corpus, under: _Subtrees) -> Group:
        rows = under.rows(node.id).tolist()
        first = corpus.rows(node.representative)
        seen = set(first)
        order = (first + [r for r in rows[: GROUP_TITLES + len(first)] if r not in seen])
        order = order[:GROUP_TITLES]
        centroid = np.asarray(node.centroid, dtype=np.float32) if node.centroid else None
        return Group(node_id=node.id, titles=[corpus.titles[r] for r in order],
                     texts=[corpus.texts[r] for r in order], rows=rows, centroid=centroid)


class Picked(TextView):
    """Some rows of a corpus's texts, read when indexed (no list of them is made: a
    featurizer that reads the fitted words only asks how many there are)."""

    def __init__(self, texts: Sequence[str], rows: list[int]) -> None:
        self.texts, self.rows = texts, rows

    def __len__(self) -> int:
        return len(self.rows)

    def text(self, i: int) -> str:
        return self.texts[self.rows[i]]


class _Subtrees:
    """The corpus rows of the papers under each node (sorted), computed once per node."""

    def __init__(self, tree: Tree, corpus: Corpus) -> None:
        self.tree = tree
        self.corpus = corpus
        self.kids = tree.child_ids()
        self._rows: dict[int, np.ndarray] = {}

    def rows(self, node_id: int) -> np.ndarray:
        if node_id not in self._rows:
            row = self.corpus.row
            own = np.fromiter((row[p] for p in self.tree.nodes[node_id].papers if p in row),
                              dtype=np.int64)
            parts = [own] + [self.rows(c) for c in self.kids.get(node_id, [])]
            self._rows[node_id] = np.unique(np.concatenate(parts))
        return self._rows[node_id]


def _centroid(vectors: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The normalized mean of some rows of ``vectors``, and each row's dot product with it;
    read :data:`CENTROID_CHUNK` rows at a time when there are more (no copy of them all)."""
    if len(rows) <= CENTROID_CHUNK:
        members = vectors[rows]
        cent = normalize_rows(members.mean(axis=0, keepdims=True))[0]
        return cent, members @ cent
    parts = range(0, len(rows), CENTROID_CHUNK)
    total = np.zeros(vectors.shape[1], dtype=np.float64)
    for start in parts:
        total += vectors[rows[start:start + CENTROID_CHUNK]].sum(axis=0, dtype=np.float64)
    cent = normalize_rows((total / len(rows))[None, :])[0]
    return cent, np.concatenate([vectors[rows[start:start + CENTROID_CHUNK]] @ cent
                                 for start in parts])


def _grow_task(shared: tuple[TreeBuilder, Corpus], item: tuple[list[int], int]) -> Branch:
    builder, corpus = shared
    rows, depth = item
    return builder.grow(rows, depth, corpus)


def _name_task(shared: tuple[TreeBuilder, Tree, Corpus, _Subtrees],
               node_id: int) -> dict[int, tuple[str, list[str], str, list[str]]]:
    """Name the nodes under one node; their label, keywords, description and the other
    names offered."""
    builder, tree, corpus, under = shared
    builder._name(tree, node_id, corpus, under, True, None)
    out: dict[int, tuple[str, list[str], str, list[str]]] = {}
    stack = list(under.kids[node_id])
    while stack:
        node = tree.nodes[stack.pop()]
        out[node.id] = (node.label, node.keywords, node.description,
                        builder._alternatives.get(node.id, []))
        stack.extend(under.kids[node.id])
    return out


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


def unsorted_node(tree: Tree) -> Node:
    """The tree's "Unsorted" node under the root, made when first needed."""
    for node in tree.nodes.values():
        if node.kind == UNSORTED:
            return node
    node = Node(id=tree.new_id(), parent=tree.root, kind=UNSORTED, label="Unsorted",
                label_locked=True)
    tree.nodes[node.id] = node
    return node
