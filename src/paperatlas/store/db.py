"""The SQLite connection: pragmas, migrations and transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from ..errors import StoreError
from .migrations import MIGRATIONS
from .writefail import write_failure

T = TypeVar("T")
#: Values per ``IN (...)`` query: below SQLite's oldest limit on bound parameters (999).
CHUNK = 900


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in slices of at most ``size`` (one ``IN (...)`` query each)."""
    for i in range(0, len(values), size):
        yield values[i:i + size]


#: Page cache of the write connection (KiB): dedup lookups and index inserts of a big
#: ingest stay in memory instead of re-reading pages (SQLite's default is 2 MiB).
WRITE_CACHE_KIB = 65_536


def utcnow() -> str:
    """The current time as ISO 8601 UTC with second precision."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def connect(path: str | Path, busy_timeout_ms: int = 10_000) -> sqlite3.Connection:
    """Open (creating if needed) a library database and bring its schema up to date."""
    p = Path(path)
    if str(p) != ":memory:" and p.parent and not p.parent.exists():
        raise StoreError(f"{p}: the folder {p.parent} does not exist")
    try:
        conn = sqlite3.connect(str(p), isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA cache_size=-{WRITE_CACHE_KIB}")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        migrate(conn)
    except StoreError:
        raise
    except sqlite3.DatabaseError as exc:
        raise write_failure(p, exc) or StoreError(
            f"{p}: not a paperatlas library ({exc})") from exc
    return conn


def connect_reader(path: str | Path, busy_timeout_ms: int = 10_000) -> sqlite3.Connection:
    """A read-only connection to a library that exists (made by :func:`connect`): every
    write on it fails, so a read path cannot write by mistake."""
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot be read ({exc})") from exc
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _begin(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError("the library is busy: another process is writing to it; "
                             "try again when it is done") from exc
        raise


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the database up to the newest schema: every pending migration runs in ONE
    transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), so a failure anywhere (an error, a
    full disk, a kill) leaves the library at its old version, untouched. SQLite runs DDL
    (``CREATE``/``ALTER``/``DROP``) inside a transaction; no migration changes
    ``PRAGMA foreign_keys`` (a no-op inside one)."""
    steps = MIGRATIONS
    current = schema_version(conn)
    if current > len(steps):
        raise StoreError(
            f"the library has schema version {current}, newer than this paperatlas "
            f"understands ({len(steps)}); upgrade paperatlas")
    if current == len(steps):
        return
    number = current
    _begin(conn)
    try:
        # Read again under the write lock: another process may have migrated meanwhile.
        current = number = schema_version(conn)
        for number, fn in enumerate(steps[current:], start=current + 1):
            fn(conn)
            conn.execute(f"PRAGMA user_version={number}")
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:  # (SQLite itself rolls back on some errors: a full disk)
            conn.execute("ROLLBACK")
        if number > current and isinstance(exc, Exception) and not isinstance(exc, StoreError):
            name = getattr(steps[number - 1], "__name__", "?")
            raise StoreError(
                f"migration {number} ({name}) failed: {exc}; the library is unchanged, "
                f"still at schema version {current}") from exc
        raise


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One unit of work: everything inside commits together or not at all."""
    _begin(conn)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def rolled_back(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Work whose effects are always undone (dry runs)."""
    _begin(conn)
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
