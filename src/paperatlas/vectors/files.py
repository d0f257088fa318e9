"""Files beside the library that readers switch to atomically: written under a temporary
name, flushed to disk, moved into place; a small JSON sidecar moved into place last names
them, so a crash leaves the previous version in use."""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Left-over files of another writer are removed once this old (seconds).
ORPHAN_AGE = 3600.0


def sync(path: Path) -> None:
    """Flush ``path``'s data to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def publish(tmp: Path, final: Path) -> None:
    """Flush ``tmp`` and move it to ``final`` (readers see the old file or the new one)."""
    sync(tmp)
    os.replace(tmp, final)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically."""
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    publish(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when missing or unreadable."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def stat_version(path: Path) -> tuple[int, int, int] | None:
    """Changes when ``path`` is replaced (one ``stat``, about a microsecond)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def remove_orphans(paths: Iterable[Path], keep: Iterable[str]) -> None:
    """Remove ``paths`` not named in ``keep``, left by crashed or concurrent writers (those
    of the last hour are spared: another writer may still be moving them)."""
    now, kept = time.time(), set(keep)
    for path in paths:
        if path.name in kept:
            continue
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > ORPHAN_AGE:
                path.unlink()
