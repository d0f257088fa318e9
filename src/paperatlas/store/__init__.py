"""The storage layer: the only place in paperatlas that speaks SQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .collections import CollectionRepo
from .db import connect, rolled_back, schema_version, transaction, utcnow
from .jobs import JobRepo
from .maps import MapRepo
from .outbox import OutboxRepo
from .papers import PaperRepo
from .provenance import ProvenanceRepo
from .search import SearchRepo
from .sessions import SessionRepo
from .subscriptions import SubscriptionRepo
from .throttle import ThrottleRepo
from .tokens import TokenRepo
from .trees import TreeRepo
from .users import UserRepo
from .vectors import VectorRepo
from .votes import PaperScope, VoteRepo

__all__ = ["CollectionRepo", "JobRepo", "MapRepo", "OutboxRepo", "PaperRepo", "PaperScope",
           "ProvenanceRepo", "SearchRepo", "SessionRepo", "Store", "SubscriptionRepo",
           "ThrottleRepo", "TokenRepo", "TreeRepo", "UserRepo", "VectorRepo", "VoteRepo", "utcnow"]


class Store:
    """A library database: one connection and the repositories over it."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.conn: sqlite3.Connection = connect(path, busy_timeout_ms)
        self.papers = PaperRepo(self.conn)
        self.provenance = ProvenanceRepo(self.conn)
        self.collections = CollectionRepo(self.conn)
        self.search = SearchRepo(self.conn)
        self.vectors = VectorRepo(self.conn)
        self.trees = TreeRepo(self.conn)
        self.tokens = TokenRepo(self.conn)
        self.users = UserRepo(self.conn)
        self.jobs = JobRepo(self.conn)
        self.maps = MapRepo(self.conn)
        self.votes = VoteRepo(self.conn)
        self.subscriptions = SubscriptionRepo(self.conn)
        self.outbox = OutboxRepo(self.conn)
        self.throttle = ThrottleRepo(self.conn)
        self.sessions = SessionRepo(self.conn)

    @contextmanager
    def transaction(self, *, dry_run: bool = False) -> Iterator[None]:
        """One unit of work; with ``dry_run`` it is always rolled back."""
        ctx = rolled_back(self.conn) if dry_run else transaction(self.conn)
        with ctx:
            yield

    @property
    def schema_version(self) -> int:
        return schema_version(self.conn)

    def close(self) -> None:
        self.conn.close()
