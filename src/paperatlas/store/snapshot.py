"""The SQLite half of backups: a consistent copy of a live library file, and the checks a
restore makes of one (see :mod:`paperatlas.backup` for the whole backup)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from ..errors import StoreError
from .db import connect_reader, schema_version, utcnow

#: How many problems ``PRAGMA integrity_check`` reports at most.
INTEGRITY_ROWS = 20


def copy_database(source: Path, dest: Path, *,
                  positions: dict[str, tuple[int, dict[str, Any]]] | None = None) -> int:
    """Copy the library at ``source`` to the new file ``dest`` with SQLite's online backup
    API, and return the copy's schema version.

    The copy is one snapshot: it is read in a single backup step, under one read
    transaction. In WAL mode a reader never blocks writers (an ingest, the worker, the
    server's writes go on meanwhile), whereas a backup in several steps starts over each
    time another connection commits, so beside a busy writer it might never finish.

    ``positions`` (``name -> (seq, settings)``) overwrite rows of ``index_state`` in the
    copy: the change-log positions of index files copied beside it, so that a restored
    library's next ``index`` takes in everything they lack. The copy is left in rollback
    journal mode (one self-contained file; a library opened on it goes back to WAL)."""
    if dest.exists():
        raise StoreError(f"{dest}: exists already")
    src = connect_reader(source)
    try:
        out = sqlite3.connect(str(dest), isolation_level=None)
        try:
            src.backup(out, pages=-1)
            out.execute("PRAGMA journal_mode=DELETE")
            if positions:
                out.execute("BEGIN IMMEDIATE")
                for name, (seq, settings) in positions.items():
                    out.execute(
                        "INSERT INTO index_state (name, seq, settings, updated_at)"
                        " VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq,"
                        " settings = excluded.settings, updated_at = excluded.updated_at",
                        (name, seq, json.dumps(settings), utcnow()))
                out.execute("COMMIT")
            return schema_version(out)
        finally:
            out.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{source}: cannot be backed up ({exc})") from exc
    finally:
        src.close()


def integrity_errors(path: Path) -> list[str]:
    """What ``PRAGMA integrity_check`` finds wrong with the library file at ``path``
    (empty: nothing), read without writing to it."""
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True,
                               isolation_level=None)
        try:
            rows = [str(r[0]) for r in conn.execute(
                f"PRAGMA integrity_check({INTEGRITY_ROWS})")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def describe(path: Path) -> tuple[int, int]:
    """The schema version of the library file at ``path`` and how many papers it holds."""
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True,
                               isolation_level=None)
        try:
            version = schema_version(conn)
            papers = int(conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0]) \
                if version else 0
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a paperatlas library ({exc})") from exc
    return version, papers
