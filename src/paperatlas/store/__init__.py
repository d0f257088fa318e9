"""The storage layer: the only place in paperatlas that speaks SQL.

A :class:`Store` has one write connection, used by one thread at a time inside
:meth:`Store.transaction` (the one write path), and a read-only connection per thread
for everything else, so that readers never wait for a writer and never write
(datasette's shape).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from ..errors import StoreError
from .author_ids import AuthorIdRepo
from .collections import CollectionRepo
from .db import connect, connect_reader, rolled_back, schema_version, transaction, utcnow
from .jobs import JobRepo
from .maps import MapRepo
from .outbox import OutboxRepo
from .papers import PaperRepo
from .provenance import ProvenanceRepo
from .search import SearchRepo
from .sentences import SentenceRepo
from .sessions import SessionRepo
from .signups import SignupRepo
from .sources import SignalRepo, SourceRepo
from .subscriptions import SubscriptionRepo
from .throttle import ThrottleRepo
from .tokens import TokenRepo
from .trees import TreeRepo
from .users import UserRepo
from .vectors import VectorRepo
from .votes import PaperScope, VoteRepo
from .writefail import write_failure

__all__ = ["AuthorIdRepo", "CollectionRepo", "JobRepo", "MapRepo", "OutboxRepo", "PaperRepo",
           "PaperScope", "ProvenanceRepo", "Repos", "SearchRepo", "SentenceRepo",
           "SessionRepo", "SignalRepo", "SignupRepo", "SourceRepo", "Store",
           "SubscriptionRepo", "ThrottleRepo", "TokenRepo", "TreeRepo", "UserRepo",
           "VectorRepo", "VoteRepo", "utcnow"]


class Repos:
    """The repositories, over one connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.papers = PaperRepo(conn)
        self.provenance = ProvenanceRepo(conn)
        self.collections = CollectionRepo(conn)
        self.search = SearchRepo(conn)
        self.sentences = SentenceRepo(conn)
        self.vectors = VectorRepo(conn)
        self.trees = TreeRepo(conn)
        self.tokens = TokenRepo(conn)
        self.users = UserRepo(conn)
        self.jobs = JobRepo(conn)
        self.maps = MapRepo(conn)
        self.votes = VoteRepo(conn)
        self.subscriptions = SubscriptionRepo(conn)
        self.outbox = OutboxRepo(conn)
        self.throttle = ThrottleRepo(conn)
        self.sessions = SessionRepo(conn)
        self.sources = SourceRepo(conn)
        self.signals = SignalRepo(conn)
        self.signups = SignupRepo(conn)
        self.author_ids = AuthorIdRepo(conn)


class RoutedConnection:
    """What the repositories execute SQL on: each call goes to the calling thread's
    connection of the moment (see :meth:`Store.connection`), so a repository kept in a
    variable still writes inside its thread's transaction and reads outside it."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def target(self) -> sqlite3.Connection:
        return self._store.connection()

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        return self._store.connection().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any]) -> sqlite3.Cursor:
        return self._store.connection().executemany(sql, parameters)

    def cursor(self) -> sqlite3.Cursor:
        return self._store.connection().cursor()

    @property
    def total_changes(self) -> int:
        return self._store.connection().total_changes


class Store:
    """A library database: the write connection, a read-only connection per thread, and
    the repositories over whichever one the calling thread should use.

    Inside :meth:`transaction` a thread's repositories use the write connection (and so
    see the transaction's own changes); anywhere else they use the thread's read-only
    connection, where a write fails with :class:`StoreError`.
    """

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self._busy_ms = busy_timeout_ms
        #: The write connection; tests and maintenance may run SQL on it directly.
        self.conn: sqlite3.Connection = connect(path, busy_timeout_ms)
        self._repos = Repos(cast(sqlite3.Connection, RoutedConnection(self)))
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._memory = str(path) == ":memory:"  # one connection: nothing else sees it
        self._closed = False

    # -- which connection --------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """The connection this thread uses now: the write connection inside its
        transaction, else its own read-only one."""
        if self._memory or getattr(self._local, "writing", False):
            return self.conn
        conn: sqlite3.Connection | None = getattr(self._local, "reader", None)
        if conn is None:
            if self._closed:
                raise StoreError(f"{self.path}: the library is closed")
            conn = connect_reader(self.path, self._busy_ms)
            with self._readers_lock:
                self._readers.append(conn)
            self._local.reader = conn
        return conn

    @property
    def papers(self) -> PaperRepo:
        return self._repos.papers

    @property
    def provenance(self) -> ProvenanceRepo:
        return self._repos.provenance

    @property
    def collections(self) -> CollectionRepo:
        return self._repos.collections

    @property
    def search(self) -> SearchRepo:
        return self._repos.search

    @property
    def sentences(self) -> SentenceRepo:
        return self._repos.sentences

    @property
    def vectors(self) -> VectorRepo:
        return self._repos.vectors

    @property
    def trees(self) -> TreeRepo:
        return self._repos.trees

    @property
    def tokens(self) -> TokenRepo:
        return self._repos.tokens

    @property
    def users(self) -> UserRepo:
        return self._repos.users

    @property
    def jobs(self) -> JobRepo:
        return self._repos.jobs

    @property
    def maps(self) -> MapRepo:
        return self._repos.maps

    @property
    def votes(self) -> VoteRepo:
        return self._repos.votes

    @property
    def subscriptions(self) -> SubscriptionRepo:
        return self._repos.subscriptions

    @property
    def outbox(self) -> OutboxRepo:
        return self._repos.outbox

    @property
    def throttle(self) -> ThrottleRepo:
        return self._repos.throttle

    @property
    def sessions(self) -> SessionRepo:
        return self._repos.sessions

    @property
    def sources(self) -> SourceRepo:
        return self._repos.sources

    @property
    def signals(self) -> SignalRepo:
        return self._repos.signals

    @property
    def signups(self) -> SignupRepo:
        return self._repos.signups

    @property
    def author_ids(self) -> AuthorIdRepo:
        return self._repos.author_ids

    # -- the write path ------------------------------------------------------------------
    @contextmanager
    def transaction(self, *, dry_run: bool = False) -> Iterator[None]:
        """One unit of work on the write connection, one thread at a time; with
        ``dry_run`` it is always rolled back."""
        with self._write_lock:
            if getattr(self._local, "writing", False):
                raise StoreError("a transaction is already open in this thread")
            self._local.writing = True
            try:
                with rolled_back(self.conn) if dry_run else transaction(self.conn):
                    yield
            except (sqlite3.OperationalError, OSError) as exc:
                if (failure := write_failure(self.path, exc)) is not None:
                    raise failure from exc
                raise
            finally:
                self._local.writing = False

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that all see one state of the library: a read transaction on this
        thread's read connection (inside :meth:`transaction`, that transaction's state)."""
        conn = self.connection()
        if conn is self.conn or conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")  # nothing to keep: the connection is read-only

    @property
    def schema_version(self) -> int:
        return schema_version(self.conn)

    def close(self) -> None:
        """Close every connection (the readers of all threads too)."""
        self._closed = True
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        self.conn.close()
