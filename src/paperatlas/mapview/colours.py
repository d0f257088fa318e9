"""Each tree's colour per point, written beside the point file by ``map build``.

Colouring a map by a tree reads every link of the tree (seconds at 2.5M papers), so a build
writes, for each tree, ``map-<stem>-t<tree id>.npz`` (uncompressed, a few bytes a point):
``topic`` (int16, the first-level topic's index per row of the point file ``<stem>``),
``order`` (those topics' node ids), ``version`` (the tree's, when computed) and
``fingerprint`` (of the tree's links and first levels, :func:`fingerprint`). A server reads
it in milliseconds while the tree is unchanged, and after an edit that left its links and
first levels alone (a rename: one scan of the links to check); otherwise it computes the
colours itself (and the next ``map build``, or the ``map_place`` job that follows a tree
update or an index, writes them again).
"""

from __future__ import annotations

import hashlib
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..vectors import files
from .topics import Heads, top_nodes

_PREFIX = "map-"


def path(folder: Path, stem: str, tree_id: int) -> Path:
    return folder / f"{_PREFIX}{stem}-t{tree_id}.npz"


@dataclass(frozen=True)
class Colours:
    """A tree's stored colours for one point file."""

    version: str
    fingerprint: str
    order: list[int]
    topic: np.ndarray


def fingerprint(links: str, heads: Heads) -> str:
    """What the colours depend on: the links' checksum and each node's first-level topic
    (with the first levels' kinds, which place Unsorted last)."""
    tops = sorted(top_nodes(heads).items())
    kinds = sorted({(t, heads[t][2]) for _, t in tops})
    return hashlib.sha1(repr((links, tops, kinds)).encode()).hexdigest()


def read(folder: Path, stem: str, tree_id: int) -> Colours | None:
    """The stored colours; None when missing or unreadable."""
    try:
        with np.load(path(folder, stem, tree_id), allow_pickle=False) as data:
            return Colours(str(data["version"]), str(data["fingerprint"]),
                           [int(v) for v in data["order"]],
                           np.asarray(data["topic"], dtype=np.int16))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def write(folder: Path, stem: str, tree_id: int, colours: Colours) -> None:
    """Store a tree's colours for the point file ``stem`` (replacing older ones)."""
    final = path(folder, stem, tree_id)
    tmp = final.with_name(f"{final.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, version=np.array(colours.version),
                 fingerprint=np.array(colours.fingerprint),
                 order=np.array(colours.order, dtype=np.int64),
                 topic=np.asarray(colours.topic, dtype=np.int16))
    files.publish(tmp, final)
