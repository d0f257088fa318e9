"""Typed records of subscriptions, digests and the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

from .serialize import json_field

#: What a subscription can follow.
ITEM_KINDS: tuple[str, ...] = ("search", "seed", "node", "collection", "author")
#: How often a subscription gets a digest.
FREQUENCIES: tuple[str, ...] = ("daily", "weekly")
#: The states of an outbox message: ``pending`` (due at ``next_attempt_at``), ``sending``
#: (claimed by a run), ``sent``, ``failed`` (gave up) or ``cancelled`` (unsubscribed first).
OUTBOX_STATES: tuple[str, ...] = ("pending", "sending", "sent", "failed", "cancelled")


@dataclass(frozen=True)
class Item:
    """One thing a subscription follows.

    ``value`` is the search text, a paper key, ``TREE:NODE``, a collection or an author
    name; ``mode`` is a saved search's mode (empty: the library's default).
    """

    kind: str
    value: str
    mode: str = ""

    def describe(self) -> str:
        names = {"search": "search", "seed": "papers like", "node": "topic",
                 "collection": "collection", "author": "author"}
        mode = f" ({self.mode})" if self.mode else ""
        return f"{names[self.kind]} {self.value!r}{mode}"


@dataclass
class Subscription:
    """Who gets digests (an email address and/or a user) and what they follow."""

    json_computed: ClassVar[tuple[str, ...]] = ("confirmed",)

    id: int
    email: str | None
    user: str | None
    frequency: str
    created_at: str
    confirmed_at: str | None = None
    last_digest_at: str | None = None
    last_paper_id: int | None = None
    items: list[Item] = field(default_factory=list)

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


class NewPaper(NamedTuple):
    """What ranking and rendering need of a paper added in a digest's window."""

    id: int
    key: str
    created_at: str
    title: str
    abstract: str
    authors: list[str]


@dataclass(frozen=True)
class Pick:
    """A paper chosen for a digest, its score and why (the best-matching item)."""

    paper_id: int
    key: str
    title: str
    abstract: str
    authors: list[str]
    score: float
    reason: str


@dataclass
class Digest:
    """The next digest of one subscription (what a run sends, or a preview shows); its JSON
    names the subscription by id and email."""

    subscription: Subscription = field(
        metadata=json_field(flatten={"subscription": "id", "email": "email"}))
    since: str  # when the window starts (UTC, to the minute), to show
    considered: int  # new papers in the window
    picks: list[Pick] = field(default_factory=list, metadata=json_field(key="papers"))


@dataclass(frozen=True)
class OutboxMessage:
    """A message in the outbox (without its body)."""

    id: int
    subscription_id: int | None
    kind: str
    message_id: str
    recipient: str
    subject: str
    papers: int
    state: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    created_at: str
    sent_at: str | None


@dataclass
class DigestReport:
    """What a ``digest run`` did: digests queued (phase 1) and messages sent (phase 2)."""

    dry_run: bool
    due: int = 0  # subscriptions that were due
    queued: int = 0  # digests written to the outbox (or that would be, on a dry run)
    empty: int = 0  # due subscriptions with nothing to send
    papers: int = 0  # papers in the queued digests
    sent: int = 0
    retrying: int = 0  # failed attempts that will be retried
    failed: int = 0  # messages that gave up in this run
    rank_seconds: float = 0.0
    queue_seconds: float = 0.0
    send_seconds: float = 0.0
    skipped: str | None = None  # why nothing was done (another run holds the lock)
    error: str | None = None  # why sending stopped early (the SMTP server failed)
    digests: list[Digest] = field(default_factory=list)  # on a dry run
