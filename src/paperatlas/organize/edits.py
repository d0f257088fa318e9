"""Corrections to a tree, as edits that can be replayed after an update or a rebuild.

Each edit is one of the dataclasses of :mod:`.edit_types` (parsed there from a CLI line, a
form or a JSON body, or read back from the log). Applying one changes the tree in place;
one that no longer fits (its node is gone) raises :class:`EditError`, which a rebuild
reports and skips.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import NotFoundError
from ..records.trees import ROOT, TOPIC, UNSORTED, Node, Tree
from .builder import unsorted_node
from .edit_types import (
    EDIT_OPS,
    EDITS,
    Delete,
    EditError,
    Lock,
    Merge,
    Move,
    MovePaper,
    Pin,
    Rename,
    Split,
    TreeEdit,
    Unlock,
    Unpin,
    parse_edit,
)

__all__ = ["EDITS", "EDIT_OPS", "EditError", "Splitter", "TreeEdit", "apply", "parse_edit"]

Splitter = Callable[[Tree, int], list[int]]


def apply(tree: Tree, edit: TreeEdit, split: Splitter) -> str:
    """Apply one edit in place; returns a one-line description of what changed."""
    if isinstance(edit, (Rename, Lock)):
        node = _topic(tree, edit.node)
        label = " ".join((node.label if edit.label is None else edit.label).split())
        if not label:
            raise EditError("a label cannot be empty")
        node.label, node.label_locked = label, True
        return f"node {node.id} is now {label!r} (locked)"
    if isinstance(edit, Unlock):
        node = _topic(tree, edit.node)
        node.label_locked = False
        return f"node {node.id} label unlocked"
    if isinstance(edit, Move):
        node, parent = _topic(tree, edit.node), _node(tree, edit.parent)
        if parent.kind == UNSORTED or node.id in {n.id for n in [parent, *tree.path(parent.id)]}:
            raise EditError(f"cannot move node {node.id} under node {parent.id}")
        node.parent = parent.id
        return f"node {node.id} moved under {parent.id}"
    if isinstance(edit, Merge):
        into = _topic(tree, edit.into)
        for other in [_topic(tree, n) for n in edit.nodes if n != into.id]:
            if other.id in {n.id for n in tree.path(into.id)}:
                raise EditError(f"cannot merge node {other.id} into its own descendant")
            _fold(tree, other.id, into.id)
        return f"merged {list(edit.nodes)} into {into.id}"
    if isinstance(edit, Split):
        node = _topic(tree, edit.node)
        made = split(tree, node.id)
        if not made:
            raise EditError(f"node {node.id} is too small or too uniform to split")
        return f"node {node.id} split into {made}"
    if isinstance(edit, Delete):
        gone = _topic(tree, edit.node)
        up = tree.nodes[gone.parent] if gone.parent is not None else None
        target = up if up is not None and up.kind != ROOT else unsorted_node(tree)
        _fold(tree, gone.id, target.id, children_to=gone.parent)
        return f"node {gone.id} deleted; its papers went to {target.id}"
    return _paper_edit(tree, edit)


def _paper_edit(tree: Tree, edit: MovePaper | Pin | Unpin) -> str:
    if not isinstance(edit.paper, int):
        raise EditError(f"paper {edit.paper!r} is not resolved to a paper id")
    paper = edit.paper
    if isinstance(edit, Unpin):
        for n in tree.nodes.values():
            n.pinned.discard(paper)
        return f"paper {paper} unpinned"
    node = _node(tree, edit.node)
    if node.kind == ROOT:
        raise EditError("papers cannot be linked to the root")
    score = max((n.papers.get(paper, 0.0) for n in tree.nodes.values()), default=0.0)
    for n in tree.nodes.values():
        if edit.source is None or n.id == edit.source:
            n.papers.pop(paper, None)
            n.pinned.discard(paper)
    node.papers[paper] = score
    if isinstance(edit, Pin):
        node.pinned.add(paper)
    return f"paper {paper} {'pinned' if isinstance(edit, Pin) else 'moved'} to node {node.id}"


def _node(tree: Tree, node_id: int) -> Node:
    try:
        return tree.nodes[node_id]
    except KeyError:
        raise NotFoundError(f"tree {tree.name!r} has no node {node_id!r}") from None


def _topic(tree: Tree, node_id: int) -> Node:
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

