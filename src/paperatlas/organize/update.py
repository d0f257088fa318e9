"""Incremental update: place new papers into an existing tree without rebuilding it.

A new paper is linked to the leaf whose centroid is closest (and to other leaves within
the margin), as a paper is at build time. A paper not close enough to any leaf (below the
tree's ``unsorted_threshold``) goes to the "Unsorted" node. A leaf that grows past the split
size is split (deepening); once "Unsorted" is big enough its papers are organized into new
first-level topics (widening). Nodes that are not touched keep their ids, labels and papers.
"""

from __future__ import annotations

import time

import numpy as np

from ..records.trees import TOPIC, UNSORTED, Node, Tree, UpdateReport
from .base import Corpus
from .builder import TreeBuilder, unsorted_node
from .features import normalize_rows


def update(tree: Tree, builder: TreeBuilder, corpus: Corpus) -> UpdateReport:
    """Bring ``tree`` up to date with ``corpus`` (the papers now in the tree's scope)."""
    start = time.perf_counter()
    report = UpdateReport(name=tree.name)
    present = set(corpus.ids)
    report.removed = _drop_missing(tree, present)
    in_tree = tree.all_papers()
    new = [pid for pid in corpus.ids if pid not in in_tree]
    if not new:
        report.seconds = time.perf_counter() - start
        return report
    kids = tree.child_ids()
    leaves = [n for n in tree.nodes.values() if n.kind == TOPIC and n.centroid is not None
              and not kids.get(n.id)]
    grown: set[int] = set()
    vectors = corpus.vectors[corpus.rows(new)]
    leaf_ids = [n.id for n in leaves]
    leaf_cents = normalize_rows(np.asarray([n.centroid for n in leaves], dtype=np.float32)) \
        if leaves else np.zeros((0, vectors.shape[1]), np.float32)
    s = tree.settings
    for pid, vec in zip(new, vectors, strict=True):
        sims = leaf_cents @ vec if len(leaf_ids) else np.zeros(0)
        if not len(sims) or float(sims.max()) < s.unsorted_threshold:
            box = unsorted_node(tree)
            box.papers[pid] = float(sims.max()) if len(sims) else 0.0
            report.added[pid] = [box.id]
            continue
        best = int(np.argmax(sims))
        leaf, own = leaf_ids[best], float(sims[best])
        targets = [leaf]
        if s.max_links > 1:
            close = [leaf_ids[i] for i in np.argsort(-sims) if sims[i] >= own - s.margin]
            targets += [c for c in close if c != leaf][: s.max_links - 1]
        for node_id in targets:
            tree.nodes[node_id].papers[pid] = float(sims[leaf_ids.index(node_id)])
            grown.add(node_id)
        report.added[pid] = targets
    _split_large(tree, builder, corpus, grown, report)
    _organize_unsorted(tree, builder, corpus, report)
    touched = set(grown) | {n for ids in report.added.values() for n in ids}
    ancestors = {a.id for t in touched if t in tree.nodes for a in tree.path(t)}
    builder.refresh(tree, corpus, sorted((touched | ancestors | {tree.root}) & set(tree.nodes)))
    report.grown_nodes = sorted(grown - set(report.split_nodes))
    left = next((n for n in tree.nodes.values() if n.kind == UNSORTED), None)
    report.unsorted = len(left.papers) if left else 0
    report.seconds = time.perf_counter() - start
    return report


def _drop_missing(tree: Tree, present: set[int]) -> int:
    gone: set[int] = set()
    for node in tree.nodes.values():
        for pid in [p for p in node.papers if p not in present]:
            del node.papers[pid]
            node.pinned.discard(pid)
            gone.add(pid)
    return len(gone)


def _split_large(tree: Tree, builder: TreeBuilder, corpus: Corpus, grown: set[int],
                 report: UpdateReport) -> None:
    limit = tree.settings.split_size
    for node_id in sorted(grown):
        node = tree.nodes[node_id]
        if limit and len(node.papers) > limit:
            made = split_node(tree, builder, corpus, node_id)
            if made:
                report.split_nodes.append(node_id)
                report.new_nodes += made


def split_node(tree: Tree, builder: TreeBuilder, corpus: Corpus, node_id: int) -> list[int]:
    """Split a node's papers into new children (pinned papers stay); their ids."""
    node = tree.nodes[node_id]
    movable = [p for p in node.papers if p not in node.pinned]
    return _make_children(tree, builder, corpus, node, movable)


def _organize_unsorted(tree: Tree, builder: TreeBuilder, corpus: Corpus,
                       report: UpdateReport) -> None:
    box = next((n for n in tree.nodes.values() if n.kind == UNSORTED), None)
    if box is None or len(box.papers) < 3 * tree.settings.min_size:
        return
    movable = [p for p in box.papers if p not in box.pinned]
    made = _make_children(tree, builder, corpus, box, movable, parent=tree.root)
    report.new_nodes += made
    if not box.papers:
        del tree.nodes[box.id]


def _make_children(tree: Tree, builder: TreeBuilder, corpus: Corpus, node: Node,
                   papers: list[int], parent: int | None = None) -> list[int]:
    """Cluster ``papers`` of ``node`` into new topic nodes under ``parent`` (default: the
    node itself); groups smaller than ``min_size`` stay where they were."""
    rows = corpus.rows(papers)
    groups = [g for g in builder.split_rows(rows, corpus) if len(g) >= tree.settings.min_size]
    if len(groups) < 2 and parent is None:
        return []
    made: list[int] = []
    for members in groups:
        child = Node(id=tree.new_id(), parent=node.id if parent is None else parent)
        tree.nodes[child.id] = child
        cent = normalize_rows(corpus.vectors[members].mean(axis=0, keepdims=True))[0]
        for r in members:
            pid = corpus.ids[r]
            child.papers[pid] = float(corpus.vectors[r] @ cent)
            node.papers.pop(pid, None)
        made.append(child.id)
    builder.refresh(tree, corpus, made)
    sub = Corpus([corpus.ids[r] for g in groups for r in g],
                 corpus.vectors[[r for g in groups for r in g]],
                 [corpus.titles[r] for g in groups for r in g],
                 [corpus.texts[r] for g in groups for r in g])
    builder.prepare(sub)
    target = node.id if parent is None else parent
    builder.name_children(tree, target, sub, only=set(made))
    return made
