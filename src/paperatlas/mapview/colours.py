"""Each tree's colour per point, written beside the point file by ``map build``.

Colouring a map by a tree reads every link of the tree (seconds at 2.5M papers), so a build
writes, for each tree, ``map-<stem>-t<tree id>.npz`` (uncompressed, a few bytes a point):
``topic`` (int16, the first-level topic's index per row of the point file ``<stem>``),
``order`` (those topics' node ids) and ``version`` (the tree's, when computed). A server
reads it in milliseconds while the tree is unchanged; once the tree changes it computes
the colours itself (and the next ``map build``, or the ``map_place`` job after an index,
writes them again).
"""

from __future__ import annotations

import uuid
import zipfile
from pathlib import Path

import numpy as np

from ..vectors import files

_PREFIX = "map-"


def path(folder: Path, stem: str, tree_id: int) -> Path:
    return folder / f"{_PREFIX}{stem}-t{tree_id}.npz"


def version(folder: Path, stem: str, tree_id: int) -> str | None:
    """The tree version the stored colours were computed from (None: none stored)."""
    found = read(folder, stem, tree_id)
    return None if found is None else found[0]


def read(folder: Path, stem: str, tree_id: int) -> tuple[str, list[int], np.ndarray] | None:
    """``(tree version, first-level node ids, topic index per row)``, None when missing or
    unreadable."""
    try:
        with np.load(path(folder, stem, tree_id), allow_pickle=False) as data:
            return (str(data["version"]), [int(v) for v in data["order"]],
                    np.asarray(data["topic"], dtype=np.int16))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def write(folder: Path, stem: str, tree_id: int, tree_version: str, order: list[int],
          topic: np.ndarray) -> None:
    """Store a tree's colours for the point file ``stem`` (replacing older ones)."""
    final = path(folder, stem, tree_id)
    tmp = final.with_name(f"{final.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, version=np.array(tree_version), order=np.array(order, dtype=np.int64),
                 topic=np.asarray(topic, dtype=np.int16))
    files.publish(tmp, final)
