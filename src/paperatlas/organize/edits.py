"""Corrections to a tree, as edits that can be replayed after an update or a rebuild.

Each edit is an operation name and arguments naming nodes and papers by id. Applying one
changes the tree in place; one that no longer fits (its node is gone) raises
:class:`EditError`, which a rebuild reports and skips.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import InvalidOptionError, NotFoundError, PaperatlasError
from .builder import unsorted_node
from .model import ROOT, TOPIC, UNSORTED, Edit, Node, Tree

#: Edit operations and the arguments each needs.
EDIT_OPS: dict[str, tuple[str, ...]] = {
    "rename": ("node", "label"),
    "lock": ("node", "label"),
    "unlock": ("node",),
    "move": ("node", "parent"),
    "merge": ("nodes", "into"),
    "split": ("node",),
    "delete": ("node",),
    "move-paper": ("paper", "node"),
    "pin": ("paper", "node"),
    "unpin": ("paper",),
}

Splitter = Callable[[Tree, int], list[int]]


class EditError(PaperatlasError):
    """An edit that cannot be applied to this tree."""


def check(edit: Edit) -> None:
    """Raise unless ``edit`` names a known operation with all its arguments."""
    if edit.op not in EDIT_OPS:
        raise InvalidOptionError("tree edit", edit.op, list(EDIT_OPS))
    missing = [a for a in EDIT_OPS[edit.op] if a not in edit.args]
    if missing:
        raise EditError(f"edit {edit.op!r} needs {', '.join(missing)}")


def apply(tree: Tree, edit: Edit, split: Splitter) -> str:
    """Apply one edit in place; returns a one-line description of what changed."""
    check(edit)
    a = edit.args
    if edit.op in ("rename", "lock"):
        node = _topic(tree, a["node"])
        label = " ".join(str(a["label"]).split())
        if not label:
            raise EditError("a label cannot be empty")
        node.label, node.label_locked = label, True
        return f"node {node.id} is now {label!r} (locked)"
    if edit.op == "unlock":
        node = _topic(tree, a["node"])
        node.label_locked = False
        return f"node {node.id} label unlocked"
    if edit.op == "move":
        node, parent = _topic(tree, a["node"]), _node(tree, a["parent"])
        if parent.kind == UNSORTED or node.id in {n.id for n in [parent, *tree.path(parent.id)]}:
            raise EditError(f"cannot move node {node.id} under node {parent.id}")
        node.parent = parent.id
        return f"node {node.id} moved under {parent.id}"
    if edit.op == "merge":
        into = _topic(tree, a["into"])
        for other in [_topic(tree, n) for n in a["nodes"] if n != into.id]:
            if other.id in {n.id for n in tree.path(into.id)}:
                raise EditError(f"cannot merge node {other.id} into its own descendant")
            _fold(tree, other.id, into.id)
        return f"merged {a['nodes']} into {into.id}"
    if edit.op == "split":
        node = _topic(tree, a["node"])
        made = split(tree, node.id)
        if not made:
            raise EditError(f"node {node.id} is too small or too uniform to split")
        return f"node {node.id} split into {made}"
    if edit.op == "delete":
        gone = _topic(tree, a["node"])
        up = tree.nodes[gone.parent] if gone.parent is not None else None
        target = up if up is not None and up.kind != ROOT else unsorted_node(tree)
        _fold(tree, gone.id, target.id, children_to=gone.parent)
        return f"node {gone.id} deleted; its papers went to {target.id}"
    paper = int(a["paper"])
    if edit.op == "unpin":
        for n in tree.nodes.values():
            n.pinned.discard(paper)
        return f"paper {paper} unpinned"
    node = _node(tree, a["node"])
    if node.kind == ROOT:
        raise EditError("papers cannot be linked to the root")
    score = max((n.papers.get(paper, 0.0) for n in tree.nodes.values()), default=0.0)
    source = a.get("from")
    for n in tree.nodes.values():
        if source is None or n.id == source:
            n.papers.pop(paper, None)
            n.pinned.discard(paper)
    node.papers[paper] = score
    if edit.op == "pin":
        node.pinned.add(paper)
    return f"paper {paper} {'pinned' if edit.op == 'pin' else 'moved'} to node {node.id}"


def _node(tree: Tree, node_id: object) -> Node:
    try:
        return tree.nodes[int(node_id)]  # type: ignore[call-overload]
    except (KeyError, TypeError, ValueError):
        raise NotFoundError(f"tree {tree.name!r} has no node {node_id!r}") from None


def _topic(tree: Tree, node_id: object) -> Node:
    node = _node(tree, node_id)
    if node.kind != TOPIC:
        raise EditError(f"node {node.id} is the {node.kind} node and cannot be edited")
    return node


def _fold(tree: Tree, source: int, target: int, children_to: int | None = None) -> None:
    """Move the papers (pins included) of ``source`` into ``target`` and remove ``source``;
    its children go under ``children_to`` (default: ``target``)."""
    src, dst = tree.nodes[source], tree.nodes[target]
    for pid, score in src.papers.items():
        dst.papers[pid] = max(score, dst.papers.get(pid, score))
    dst.pinned |= src.pinned
    for child in tree.nodes.values():
        if child.parent == source:
            child.parent = children_to if children_to is not None else target
    del tree.nodes[source]

