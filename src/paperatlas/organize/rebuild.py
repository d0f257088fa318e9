"""A full rebuild that keeps what people did: old node ids where topics persist, and the
edit log replayed on top."""

from __future__ import annotations

from typing import Any

from ..errors import PaperatlasError
from .edits import Splitter, apply
from .model import UNSORTED, Edit, Node, Tree

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
    for edit in edits:
        edit = Edit(op=edit.op, args=_renamed(edit.args, aliases, tree), id=edit.id,
                    at=edit.at)
        try:
            apply(tree, edit, split)
            applied.append(edit)
        except PaperatlasError as exc:
            skipped.append(f"edit {edit.id} ({edit.op}): {exc}")
    return applied, skipped


def _renamed(args: dict[str, Any], aliases: dict[int, int], tree: Tree) -> dict[str, Any]:
    def one(node_id: Any) -> Any:
        if isinstance(node_id, int) and node_id not in tree.nodes:
            return aliases.get(node_id, node_id)
        return node_id

    out = dict(args)
    for field in ("node", "parent", "into"):
        if field in out:
            out[field] = one(out[field])
    if "nodes" in out:
        out["nodes"] = [one(n) for n in out["nodes"]]
    return out
