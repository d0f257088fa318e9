"""A tree's change log in words: topics by their labels, papers by their titles.

The log (``tree_log``) records node and paper ids, as the edits name them; :func:`describe`
turns one entry into a sentence with the tree's current labels and the papers' titles (a
topic deleted since is "topic N", a paper gone "paper N").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Papers named one by one in an update's sentence; the rest are counted.
SHOWN = 5
#: Characters of a title shown.
TITLE_CHARS = 70


def paper_ids(entries: Iterable[Mapping[str, Any]]) -> set[int]:
    """The ids of the papers the entries name (to look their titles up)."""
    out: set[int] = set()
    for entry in entries:
        out |= {int(p) for p in entry.get("added", {}) if str(p).isdigit()}
        paper = entry.get("args", {}).get("paper")
        if isinstance(paper, int) or (isinstance(paper, str) and paper.isdigit()):
            out.add(int(paper))
    return out


def describe(entry: Mapping[str, Any], labels: Mapping[int, str],
             titles: Mapping[int, str]) -> str:
    """One log entry as a sentence (see the module doc)."""

    def topic(node: Any) -> str:
        return f"“{labels[node]}”" if node in labels else f"topic {node}"

    def paper(pid: Any) -> str:
        key = int(pid) if str(pid).isdigit() else pid
        title = titles.get(key) if isinstance(key, int) else None
        if not title:
            return f"paper {pid}"
        return f"“{title[:TITLE_CHARS - 1]}…”" if len(title) > TITLE_CHARS else f"“{title}”"

    def topics(nodes: Iterable[Any]) -> str:
        return ", ".join(topic(n) for n in nodes)

    kind = entry.get("kind", "")
    if kind in ("build", "rebuild"):
        text = f"{entry.get('papers', 0)} papers in {entry.get('nodes', 0)} topics"
        if entry.get("edits_applied"):
            text += f"; {entry['edits_applied']} of your edits replayed"
        if entry.get("edits_skipped"):
            text += f"; {len(entry['edits_skipped'])} could not be: " + \
                "; ".join(entry["edits_skipped"])
        return text
    if kind == "update":
        added = list(entry.get("added", {}).items())
        parts = [f"{len(added)} papers added"] if added else []
        placed = [f"{paper(p)} → {topics(n if isinstance(n, list) else [n])}"
                  for p, n in added[:SHOWN]]
        if placed:
            parts[0] += ": " + "; ".join(placed) + \
                (f"; and {len(added) - SHOWN} more" if len(added) > SHOWN else "")
        for field, what in (("new_nodes", "new topics"), ("grown_nodes", "grown"),
                            ("split_nodes", "split")):
            if entry.get(field):
                parts.append(f"{what}: {topics(entry[field])}")
        if entry.get("unsorted"):
            parts.append(f"{entry['unsorted']} papers unsorted")
        if entry.get("removed"):
            parts.append(f"{entry['removed']} papers removed")
        return "; ".join(parts) or "nothing changed"
    if kind == "edit":
        return _edit(str(entry.get("op", "")), entry.get("args", {}), topic, paper)
    return str(entry.get("result", kind))


def _edit(op: str, args: Mapping[str, Any], topic: Any, paper: Any) -> str:
    """An edit as a sentence, its topics and papers named."""
    node = topic(args["node"]) if "node" in args else ""
    if op == "rename":  # the topic's label now is the new one, or a later one
        label = args.get("label", "")
        return f"renamed a topic to “{label}”" if node == f"“{label}”" else \
            f"renamed {node} to “{label}” (then)"
    if op == "lock":
        return f"locked the label of {node}"
    if op == "unlock":
        return f"unlocked the label of {node}"
    if op == "move":
        return f"moved {node} under {topic(args.get('parent'))}"
    if op == "merge":
        merged = ", ".join(topic(n) for n in args.get("nodes", []))
        return f"merged {merged} into {topic(args.get('into'))}"
    if op == "split":
        return f"split {node}"
    if op == "delete":
        return f"deleted {node}"
    if op in ("move-paper", "pin"):
        verb = "pinned" if op == "pin" else "moved"
        return f"{verb} {paper(args.get('paper'))} to {node}"
    if op == "unpin":
        return f"unpinned {paper(args.get('paper'))}"
    return op
