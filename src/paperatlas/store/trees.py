"""SQL for topic trees: a tree is saved whole, in the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import numpy as np

from ..records.serialize import to_json
from ..records.trees import Edit, Node, Tree, TreeInfo, TreeSettings
from .db import utcnow


class TreeRepo:
    """Reads and writes ``trees``, ``tree_nodes``, ``tree_links``, ``tree_edits`` and
    ``tree_log``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def id_for(self, name: str) -> int | None:
        row = self.conn.execute("SELECT id FROM trees WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def all(self) -> list[TreeInfo]:
        rows = self.conn.execute(
            "SELECT t.name, t.settings, t.created_at, t.updated_at,"
            " (SELECT COUNT(*) FROM tree_nodes n WHERE n.tree_id = t.id),"
            " (SELECT COUNT(DISTINCT paper_id) FROM tree_links l WHERE l.tree_id = t.id)"
            " FROM trees t ORDER BY t.name")
        return [TreeInfo(name=r[0], collection=json.loads(r[1]).get("collection"),
                         nodes=r[4], papers=r[5], created_at=r[2], updated_at=r[3])
                for r in rows]

    def save(self, tree: Tree) -> int:
        """Replace the stored tree of this name with ``tree`` (edits and log are kept)."""
        now = utcnow()
        tree_id = self.id_for(tree.name)
        settings = json.dumps(to_json(tree.settings))
        if tree_id is None:
            cur = self.conn.execute(
                "INSERT INTO trees (name, settings, next_id, root, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?)", (tree.name, settings, tree.next_id, tree.root, now, now))
            tree_id = int(cur.lastrowid or 0)
        else:
            self.conn.execute(
                "UPDATE trees SET settings = ?, next_id = ?, root = ?, updated_at = ?"
                " WHERE id = ?", (settings, tree.next_id, tree.root, now, tree_id))
            self.conn.execute("DELETE FROM tree_nodes WHERE tree_id = ?", (tree_id,))
            self.conn.execute("DELETE FROM tree_links WHERE tree_id = ?", (tree_id,))
        self.conn.executemany(
            "INSERT INTO tree_nodes (tree_id, node_id, parent, kind, label, keywords, description,"
            " label_locked, representative, centroid) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(tree_id, n.id, n.parent, n.kind, n.label, json.dumps(n.keywords), n.description,
              int(n.label_locked), json.dumps(n.representative),
              None if n.centroid is None else np.asarray(n.centroid, np.float32).tobytes())
             for n in tree.nodes.values()])
        self.conn.executemany(
            "INSERT INTO tree_links (tree_id, node_id, paper_id, score, pinned) VALUES (?,?,?,?,?)",
            [(tree_id, n.id, pid, score, int(pid in n.pinned))
             for n in tree.nodes.values() for pid, score in n.papers.items()])
        return tree_id

    def load(self, name: str) -> Tree | None:
        row = self.conn.execute(
            "SELECT id, settings, next_id, root FROM trees WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        tree_id = row[0]
        nodes: dict[int, Node] = {}
        for r in self.conn.execute(
                "SELECT node_id, parent, kind, label, keywords, description, label_locked,"
                " representative, centroid FROM tree_nodes WHERE tree_id = ?", (tree_id,)):
            centroid = None if r[8] is None else np.frombuffer(r[8], np.float32).tolist()
            nodes[r[0]] = Node(id=r[0], parent=r[1], kind=r[2], label=r[3],
                               keywords=json.loads(r[4]), description=r[5],
                               label_locked=bool(r[6]), representative=json.loads(r[7]),
                               centroid=centroid)
        for node_id, paper_id, score, pinned in self.conn.execute(
                "SELECT node_id, paper_id, score, pinned FROM tree_links WHERE tree_id = ?",
                (tree_id,)):
            nodes[node_id].papers[paper_id] = score
            if pinned:
                nodes[node_id].pinned.add(paper_id)
        return Tree(name=name, nodes=nodes, root=row[3],
                    settings=TreeSettings.from_dict(json.loads(row[1])), next_id=row[2])

    def links_of(self, paper_id: int) -> list[tuple[str, int, float, bool]]:
        """Where a paper sits in every tree: ``(tree, node id, score, pinned)``, best first."""
        rows = self.conn.execute(
            "SELECT t.name, l.node_id, l.score, l.pinned FROM tree_links l"
            " JOIN trees t ON t.id = l.tree_id WHERE l.paper_id = ?"
            " ORDER BY t.name, l.score DESC, l.node_id", (paper_id,))
        return [(r[0], r[1], r[2], bool(r[3])) for r in rows]

    def heads(self, name: str) -> dict[int, tuple[int | None, str, str]]:
        """``node id -> (parent, label, kind)`` of a tree, without its links or centroids."""
        rows = self.conn.execute(
            "SELECT n.node_id, n.parent, n.label, n.kind FROM tree_nodes n"
            " JOIN trees t ON t.id = n.tree_id WHERE t.name = ?", (name,))
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def delete(self, name: str) -> bool:
        return self.conn.execute("DELETE FROM trees WHERE name = ?", (name,)).rowcount > 0

    def add_edit(self, name: str, edit: Edit) -> Edit:
        tree_id = self.id_for(name)
        at = utcnow()
        cur = self.conn.execute("INSERT INTO tree_edits (tree_id, at, op, args) VALUES (?,?,?,?)",
                                (tree_id, at, edit.op, json.dumps(edit.args)))
        return Edit(op=edit.op, args=edit.args, id=int(cur.lastrowid or 0), at=at)

    def rewrite_edits(self, edits: list[Edit]) -> None:
        """Store new arguments of logged edits (node ids read through a rebuild)."""
        self.conn.executemany("UPDATE tree_edits SET args = ? WHERE id = ?",
                              [(json.dumps(e.args), e.id) for e in edits])

    def edits(self, name: str) -> list[Edit]:
        rows = self.conn.execute(
            "SELECT e.id, e.at, e.op, e.args FROM tree_edits e JOIN trees t ON t.id = e.tree_id"
            " WHERE t.name = ? ORDER BY e.id", (name,))
        return [Edit(op=r[2], args=json.loads(r[3]), id=r[0], at=r[1]) for r in rows]

    def log(self, name: str, kind: str, summary: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO tree_log (tree_id, at, kind, summary) SELECT id, ?, ?, ? FROM trees"
            " WHERE name = ?", (utcnow(), kind, json.dumps(summary), name))

    def history(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT l.at, l.kind, l.summary FROM tree_log l JOIN trees t ON t.id = l.tree_id"
            " WHERE t.name = ? ORDER BY l.id DESC LIMIT ?", (name, limit))
        return [{"at": r[0], "kind": r[1], **json.loads(r[2])} for r in rows]
