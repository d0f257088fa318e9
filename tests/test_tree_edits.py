"""Tree edits as dataclasses: the one parser (CLI, forms, API), the log's format (older
records included) and replay after a rebuild."""

from __future__ import annotations

from typing import Any

import pytest

from paperatlas import Library
from paperatlas.errors import InvalidOptionError, OutOfRangeError
from paperatlas.organize.edit_types import (
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
    Unlock,
    Unpin,
    focus,
    from_record,
    parse_edit,
    renumbered,
    to_record,
)
from paperatlas.organize.edits import apply
from paperatlas.organize.rebuild import replay
from paperatlas.records.trees import ROOT, Edit, Node, Tree
from test_tree import tlib  # noqa: F401  (three topics of 40 papers)


def small_tree() -> Tree:
    nodes = [Node(0, None, kind=ROOT), Node(1, 0, "a", papers={10: 0.9, 11: 0.8}),
             Node(2, 0, "b", papers={12: 0.7}), Node(3, 1, "a1", papers={11: 0.5})]
    return Tree(name="t", nodes={n.id: n for n in nodes}, root=0, next_id=3)


def no_split(tree: Tree, node: int) -> list[int]:
    return []


def test_parse_types_like_every_edge() -> None:
    assert parse_edit("merge", {"nodes": "3, 4 5", "into": "7", "csrf": "x"}) == \
        Merge(nodes=(3, 4, 5), into=7)
    assert parse_edit("merge", {"nodes": [3, "4"], "into": 7}, strict=True) == \
        Merge(nodes=(3, 4), into=7)
    assert parse_edit("rename", {"node": 3, "label": "New"}, strict=True) == Rename(3, "New")
    assert parse_edit("lock", {"node": "2", "label": ""}) == Lock(node=2)
    assert parse_edit("pin", {"paper": 2405, "node": " 4 "}) == Pin(paper="2405", node=4)
    assert parse_edit("unpin", {"paper": "2405.00001"}) == Unpin(paper="2405.00001")
    assert set(EDITS) == set(EDIT_OPS) == {"rename", "lock", "unlock", "move", "merge",
                                           "split", "delete", "move-paper", "pin", "unpin"}


@pytest.mark.parametrize(("op", "raw", "error", "text"), [
    ("explode", {"node": 1}, InvalidOptionError, "rename, lock, unlock, move, merge"),
    (None, {"node": 1}, InvalidOptionError, "tree edit None"),
    ("rename", {"node": 1, "label": "x", "color": "red"}, InvalidOptionError,
     "'color'; valid values are: node, label"),
    ("rename", {"node": 1}, EditError, "edit 'rename' needs label"),
    ("merge", {"into": 1}, EditError, "needs nodes"),
    ("move", {"node": True, "parent": 1}, InvalidOptionError, "invalid node True"),
    ("move", {"node": "one", "parent": 1}, InvalidOptionError, "node id"),
    ("move", {"node": "\u00b2", "parent": 1}, InvalidOptionError, "node id"),
    ("move", {"node": 1, "parent": "-3"}, InvalidOptionError, "invalid parent"),
    ("split", {"node": 2**64}, OutOfRangeError, "node"),
    ("delete", {"node": "99999999999999999999"}, OutOfRangeError, "node"),
    ("merge", {"nodes": {"a": 1}, "into": 1}, InvalidOptionError, "a list of node ids"),
])
def test_parse_rejects_naming_the_field(op: Any, raw: dict[str, Any], error: type[Exception],
                                        text: str) -> None:
    with pytest.raises(error, match=text.replace("(", r"\(")):
        parse_edit(op, raw, strict=True)


def test_log_round_trip_and_older_records() -> None:
    edits = [Rename(1, "x"), Lock(1, "y"), Unlock(1), Move(3, 2), Merge((2, 3), 1), Split(1),
             Delete(3), MovePaper(11, 2), Pin(10, 3), Unpin(10), MovePaper(11, 2, source=1)]
    for edit in edits:
        record = to_record(edit, id=5, at="now")
        assert (record.op, record.id) == (edit.op, 5) and from_record(record) == edit
    assert to_record(Merge((2, 3), 1)).args == {"nodes": [2, 3], "into": 1}
    assert to_record(MovePaper(11, 2, source=1)).args == {"paper": 11, "node": 2, "from": 1}
    # as older versions logged them: ids as strings, papers by id, "from" on move-paper
    assert from_record(Edit("lock", {"node": "3", "label": "Old"})) == Lock(3, "Old")
    assert from_record(Edit("pin", {"paper": 12, "node": 2, "from": 2})) == Pin(12, 2, 2)
    assert from_record(Edit("merge", {"nodes": [2], "into": "1"})) == Merge((2,), 1)
    with pytest.raises(EditError, match="needs node"):
        from_record(Edit("split", {}))
    assert renumbered(Merge((2, 3), 1), lambda n: n * 10) == Merge((20, 30), 10)
    assert renumbered(Pin(12, 2, 3), lambda n: n + 1) == Pin(12, 3, 4)
    assert focus(Merge((2, 3), 1)) == 1 and focus(Rename(2, "x")) == 2 and focus(Unpin(1)) is None


def test_apply_and_replay() -> None:
    tree = small_tree()
    assert apply(tree, Lock(2), no_split) == "node 2 is now 'b' (locked)"
    assert apply(tree, MovePaper(11, 2, source=3), no_split) == "paper 11 moved to node 2"
    assert 11 in tree.nodes[1].papers and 11 not in tree.nodes[3].papers
    with pytest.raises(EditError, match="not resolved"):
        apply(tree, Unpin("2405.00001"), no_split)
    with pytest.raises(EditError, match="cannot move"):
        apply(tree, Move(1, 3), no_split)
    log = [Edit("rename", {"node": "7", "label": "Renamed"}, id=1),  # 7: now node 1
           Edit("pin", {"paper": 12, "node": 1}, id=2),
           Edit("explode", {"node": 1}, id=3),
           Edit("delete", {"node": 99}, id=4)]
    tree = small_tree()
    applied, skipped = replay(tree, log, no_split, {7: 1})
    assert [(e.id, e.op, e.args) for e in applied] == [
        (1, "rename", {"node": 1, "label": "Renamed"}), (2, "pin", {"paper": 12, "node": 1})]
    assert tree.nodes[1].label == "Renamed" and 12 in tree.nodes[1].pinned
    assert skipped[0].startswith("edit 3 (explode): invalid tree edit 'explode'")
    assert skipped[1] == "edit 4 (delete): tree 't' has no node 99"


def test_older_log_replays_on_rebuild(tlib: Library) -> None:  # noqa: F811
    tlib.trees.build("t", min_size=4)
    tree = tlib.trees.get("t")
    a, b = sorted(n.id for n in tree.children(tree.root) if n.kind == "topic")[:2]
    pid = min(tree.subtree_papers(b))
    key = tlib.store.papers.key_of(pid)
    assert tlib.trees.edit("t", Pin(paper=key, node=a)) == f"paper {pid} pinned to node {a}"
    with tlib.store.transaction():  # as an older version wrote it: the node id as a string
        tlib.store.trees.add_edit("t", Edit("lock", {"node": str(b), "label": "Kept"}))
    report = tlib.trees.build("t", min_size=4)
    assert report.edits_applied == 2 and not report.edits_skipped
    tree = tlib.trees.get("t")
    assert tree.nodes[b].label == "Kept" and pid in tree.nodes[a].pinned
    assert [(e.op, e.args) for e in tlib.trees.service.edits("t")] == [
        ("pin", {"paper": pid, "node": a}), ("lock", {"node": b, "label": "Kept"})]
    edit_entry = next(h for h in tlib.trees.history("t", 5) if h["kind"] == "edit")
    assert (edit_entry["op"], edit_entry["args"]) == ("pin", {"paper": pid, "node": a})
