"""A full rebuild that keeps what people did: old node ids where topics persist, and the
edit log replayed on top."""

from __future__ import annotations

from ..errors import PaperatlasError
from .edits import Splitter, apply
from .model import UNSORTED, Edit, Node, Tree

#: Two nodes are the same topic when their papers overlap at least this much (Jaccard).
SAME_TOPIC = 0.5


def carry_ids(old: Tree, new: Tree) -> Tree:
    """``new`` renumbered: each node takes the id of the old node with the same papers
    (best Jaccard overlap first, one to one); the rest get ids the old tree never used."""
    old_sets = {n.id: old.subtree_papers(n.id) for n in old.nodes.values()
                if n.id != old.root and n.kind != UNSORTED}
    new_sets = {n.id: new.subtree_papers(n.id) for n in new.nodes.values() if n.id != new.root}
    pairs = []
    for nid, ns in new_sets.items():
        for oid, os_ in old_sets.items():
            inter = len(ns & os_)
            if inter:
                jac = inter / len(ns | os_)
                if jac >= SAME_TOPIC:
                    pairs.append((-jac, nid, oid))
    mapping = {new.root: old.root}
    used: set[int] = {old.root}
    for _, nid, oid in sorted(pairs):
        if nid not in mapping and oid not in used:
            mapping[nid], used = oid, used | {oid}
    next_id = max(old.next_id, max(old.nodes, default=0))
    for nid in sorted(new.nodes):
        if nid not in mapping:
            next_id += 1
            mapping[nid] = next_id
    nodes: dict[int, Node] = {}
    for n in new.nodes.values():
        n.id = mapping[n.id]
        n.parent = None if n.parent is None else mapping[n.parent]
        nodes[n.id] = n
    return Tree(name=new.name, nodes=nodes, root=mapping[new.root], settings=new.settings,
                next_id=next_id)


def replay(tree: Tree, edits: list[Edit], split: Splitter) -> tuple[int, list[str]]:
    """Apply the edit log in order; edits that no longer fit are skipped, with the reason."""
    applied, skipped = 0, []
    for edit in edits:
        try:
            apply(tree, edit, split)
            applied += 1
        except PaperatlasError as exc:
            skipped.append(f"edit {edit.id} ({edit.op}): {exc}")
    return applied, skipped
