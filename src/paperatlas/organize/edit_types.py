"""Tree edits as values: one frozen dataclass per operation and the one parser that makes
them from a CLI line, a form or a JSON body, and reads them back from the edit log.

A node is named by its id (ASCII digits, within :mod:`paperatlas.bounds`); a paper by a key
or identifier as given (the library resolves it to the paper's id before the edit is
applied and logged). The log stores ``op`` and :meth:`EditBase.args`, the same keys as
versions before these classes, and :func:`from_record` reads either.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..bounds import MAX_ID, check_range, parse_int
from ..errors import InvalidOptionError, PaperatlasError
from ..records.trees import Edit

#: Arguments that name one node by its id (``nodes`` names several).
NODE_ARGS = ("node", "parent", "into")


class EditError(PaperatlasError):
    """An edit that cannot be applied to this tree (or lacks an argument it needs)."""


@dataclass(frozen=True)
class EditBase:
    """What every edit shares: its operation name and its arguments as the log keeps them."""

    op: ClassVar[str] = ""

    def args(self) -> dict[str, Any]:
        """The arguments as logged (and as the API echoes them): unset ones left out."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out["from" if f.name == "source" else f.name] = (
                    list(value) if isinstance(value, tuple) else value)
        return out


@dataclass(frozen=True)
class Rename(EditBase):
    """Give a topic a new label (locked against relabelling)."""

    node: int
    label: str
    op: ClassVar[str] = "rename"


@dataclass(frozen=True)
class Lock(EditBase):
    """Keep a topic's label (``label`` given: rename it too)."""

    node: int
    label: str | None = None
    op: ClassVar[str] = "lock"


@dataclass(frozen=True)
class Unlock(EditBase):
    """Let updates relabel a topic again."""

    node: int
    op: ClassVar[str] = "unlock"


@dataclass(frozen=True)
class Move(EditBase):
    """Move a topic (with its subtree) under another node."""

    node: int
    parent: int
    op: ClassVar[str] = "move"


@dataclass(frozen=True)
class Merge(EditBase):
    """Fold topics into one."""

    nodes: tuple[int, ...]
    into: int
    op: ClassVar[str] = "merge"


@dataclass(frozen=True)
class Split(EditBase):
    """Split a topic into subtopics."""

    node: int
    op: ClassVar[str] = "split"


@dataclass(frozen=True)
class Delete(EditBase):
    """Delete a topic; its papers go to its parent (or Unsorted)."""

    node: int
    op: ClassVar[str] = "delete"


@dataclass(frozen=True)
class MovePaper(EditBase):
    """Link a paper to a node instead of where it is (``source``: only out of that node)."""

    paper: int | str
    node: int
    source: int | None = None
    op: ClassVar[str] = "move-paper"


@dataclass(frozen=True)
class Pin(MovePaper):
    """Move a paper to a node and keep it there through updates."""

    op: ClassVar[str] = "pin"


@dataclass(frozen=True)
class Unpin(EditBase):
    """Let updates place a pinned paper again."""

    paper: int | str
    op: ClassVar[str] = "unpin"


TreeEdit = Rename | Lock | Unlock | Move | Merge | Split | Delete | MovePaper | Pin | Unpin
PaperEdit = MovePaper | Pin | Unpin
_CLASSES: tuple[type[TreeEdit], ...] = (Rename, Lock, Unlock, Move, Merge, Split, Delete,
                                         MovePaper, Pin, Unpin)
#: Each operation's class.
EDITS: dict[str, type[TreeEdit]] = {cls.op: cls for cls in _CLASSES}
#: Edit operations and the arguments each takes (``source`` is read from old logs only).
EDIT_OPS: dict[str, tuple[str, ...]] = {
    op: tuple(f.name for f in dataclasses.fields(cls) if f.name != "source")
    for op, cls in EDITS.items()}


def parse_edit(op: object, raw: Mapping[str, Any], *, strict: bool = False) -> TreeEdit:
    """One edit from a form, a JSON body or CLI words: ``op`` and its named arguments, empty
    ones left out. Node ids must be ids (``nodes``: a list or a comma/space separated
    string); with ``strict``, an argument the operation does not take is an error."""
    return _parse(op, raw, strict=strict, paper=str)


def from_record(record: Edit) -> TreeEdit:
    """A logged edit (by this version or an older one) as its dataclass; papers by id."""
    raw = dict(record.args)
    source = raw.pop("from", None)
    edit = _parse(record.op, raw, strict=False, paper=_paper_id)
    if source is not None and isinstance(edit, MovePaper):
        edit = dataclasses.replace(edit, source=node_id(source, "from"))
    return edit


def to_record(edit: TreeEdit, *, id: int = 0, at: str = "") -> Edit:
    """The edit as the log stores it."""
    return Edit(op=edit.op, args=edit.args(), id=id, at=at)


def renumbered(edit: TreeEdit, new_id: Callable[[int], int]) -> TreeEdit:
    """The edit with every node id it names passed through ``new_id``."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(edit):
        value = getattr(edit, f.name)
        if f.name in (*NODE_ARGS, "source") and isinstance(value, int):
            changes[f.name] = new_id(value)
        elif f.name == "nodes":
            changes[f.name] = tuple(new_id(n) for n in value)
    return dataclasses.replace(edit, **changes)


def focus(edit: TreeEdit) -> int | None:
    """The node a person looks at after the edit: the merged-into node, else the edited one."""
    if isinstance(edit, Merge):
        return edit.into
    return getattr(edit, "node", None)


def node_id(value: Any, name: str) -> int:
    """A node id from a number or a string of ASCII digits (not ``"²"``, not ``True``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return check_range(name, value, 0, MAX_ID)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return parse_int(name, value, 0, MAX_ID)
    raise InvalidOptionError(name, value, ["a node id (a number; see `tree show` or the "
                                           "tree's JSON)"])


def _paper_id(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return str(value)


def _parse(op: object, raw: Mapping[str, Any], *, strict: bool,
           paper: Callable[[Any], int | str]) -> TreeEdit:
    cls = EDITS.get(op) if isinstance(op, str) else None
    if cls is None:
        raise InvalidOptionError("tree edit", op, list(EDITS))
    wanted = EDIT_OPS[cls.op]
    unknown = sorted(str(k) for k in raw if k not in wanted)
    if strict and unknown:
        raise InvalidOptionError(f"argument of the {cls.op!r} edit", unknown[0], list(wanted))
    values: dict[str, Any] = {}
    for name in wanted:
        value = raw.get(name)
        if value is None or value == "":
            continue
        if name in NODE_ARGS:
            values[name] = node_id(value, name)
        elif name == "nodes":
            items = value.replace(",", " ").split() if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not items:
                raise InvalidOptionError("nodes", value, ["a list of node ids"])
            values[name] = tuple(node_id(v, name) for v in items)
        elif name == "paper":
            values[name] = paper(value)
        else:
            values[name] = str(value)
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in values
               and f.default is dataclasses.MISSING]
    if missing:
        raise EditError(f"edit {cls.op!r} needs {', '.join(missing)}")
    return cls(**values)
