"""A full rebuild that keeps what people did: old node ids where topics persist, and the
edit log replayed on top."""

from __future__ import annotations

from ..errors import PaperatlasError
from ..records.trees import UNSORTED, Edit, Node, Tree
from .edit_types import from_record, renumbered, to_record
from .edits import Splitter, apply

#: Two nodes are the same topic when their papers overlap at least this much (Jaccard).
SAME_TOPIC = 0.5


def carry_ids(old: Tree, new: Tree) -> tuple[Tree, dict[int, int]]:
    """``new`` renumbered: each node takes the id of the old node with the same papers
    (best Jaccard overlap first, one to one); the rest get ids the old tree never used.

    Also returns aliases: each old node that found no match, mapped to the new node that
    overlaps it most, so that edits naming it still land where its papers went."""
    old_sets = {n.id: old.subtree_papers(n.id) for n in old.nodes.values()
                if n.id != old.root and n.kind != UNSORTED}
    new_sets = {n.id: new.subtree_papers(n.id) for n in new.nodes.values() if n.id != new.root}
    pairs = []
    for nid, ns in new_sets.items():
        for oid, os_ in old_sets.items():
            inter = len(ns & os_)
            if inter:
                pairs.append((-inter / len(ns | os_), nid, oid))
    mapping = {new.root: old.root}
    used: set[int] = {old.root}
    pairs.sort()
    for neg, nid, oid in pairs:
        if -neg >= SAME_TOPIC and nid not in mapping and oid not in used:
            mapping[nid], used = oid, used | {oid}
    closest: dict[int, int] = {}
    for _, nid, oid in pairs:  # best overlap first
        if oid not in used and oid not in closest:
            closest[oid] = nid
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
    tree = Tree(name=new.name, nodes=nodes, root=mapping[new.root], settings=new.settings,
                next_id=next_id)
    return tree, {oid: mapping[nid] for oid, nid in closest.items()}


def replay(tree: Tree, edits: list[Edit], split: Splitter,
           aliases: dict[int, int]) -> tuple[list[Edit], list[str]]:
    """Apply the edit log in order, node ids of vanished topics read through ``aliases``;
    returns the edits as applied (ids rewritten) and, for those that no longer fit, why."""
    applied, skipped = [], []
    for record in edits:
        try:
            edit = renumbered(from_record(record), lambda n: n if n in tree.nodes
                              else aliases.get(n, n))
            apply(tree, edit, split)
            applied.append(to_record(edit, id=record.id, at=record.at))
        except PaperatlasError as exc:
            skipped.append(f"edit {record.id} ({record.op}): {exc}")
    return applied, skipped
