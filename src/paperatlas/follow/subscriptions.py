"""Subscriptions: check what one follows, double opt-in, and unsubscribing by link.

An email subscription starts unconfirmed and gets no digest until its address confirms it:
adding one queues a confirmation message (signed link, valid 7 days) in the outbox.
Every message carries a signed unsubscribe link (valid a year) that deletes the
subscription, its sent-papers record and its unsent messages in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ..errors import InvalidOptionError, NotFoundError
from ..search.service import MODES
from ..store import Store
from .mail import Renderer
from .model import FREQUENCIES, ITEM_KINDS, Item, Subscription
from .outbox import iso
from .settings import DigestSettings
from .tokens import link_secret, make_token, read_token

#: A plain email address (no display name, no comments): local part, @, a dotted domain.
EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MAX_ITEMS = 50
MAX_TEXT = 300


def utc_now() -> datetime:
    return datetime.now(UTC)


def check_email(email: str) -> str:
    """The address, trimmed; :class:`InvalidOptionError` unless it looks like one."""
    email = email.strip()
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise InvalidOptionError("email address", email[:80],
                                 ["an address such as ada@example.org"])
    return email


def items_from(*, searches: Sequence[str] = (), seeds: Sequence[str] = (),
               nodes: Sequence[str] = (), collections: Sequence[str] = (),
               authors: Sequence[str] = (), mode: str = "") -> list[Item]:
    """Items from the CLI's and the forms' repeated options (blank values are skipped)."""
    groups = (("search", searches), ("seed", seeds), ("node", nodes),
              ("collection", collections), ("author", authors))
    return [Item(kind, " ".join(v.split()), mode if kind == "search" else "")
            for kind, values in groups for v in values if v.strip()]


class SubscriptionService:
    """The subscriptions of one library."""

    def __init__(self, store: Store, resolve: Callable[[str], int],
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.resolve = resolve  # a paper key or identifier -> paper id
        self.clock = clock

    def add(self, email: str | None, items: list[Item], settings: DigestSettings, sender: str,
            *, user: str | None = None, frequency: str = "daily",
            confirmed: bool = False) -> Subscription:
        """A new subscription; an unconfirmed email one queues its confirmation message."""
        address = check_email(email) if email else None
        if address is None and user is None:
            raise InvalidOptionError("email address", "", ["an address such as ada@example.org"])
        if frequency not in FREQUENCIES:
            raise InvalidOptionError("frequency", frequency, FREQUENCIES)
        checked = list(dict.fromkeys(self._check(item) for item in items))
        if not checked:
            raise InvalidOptionError("subscription (nothing to follow)", "", [
                "at least one search, seed paper, topic node, collection or author"])
        if len(checked) > MAX_ITEMS:
            raise InvalidOptionError("subscription items", len(checked), [f"at most {MAX_ITEMS}"])
        if user is not None and self.store.users.get(user) is None:
            raise NotFoundError(f"no user named {user!r}")
        now = self.clock()
        secret = link_secret(self.store)
        with self.store.transaction():
            sub_id = self.store.subscriptions.add(
                address, user, frequency, checked, iso(now),
                iso(now) if confirmed or address is None else None)
            sub = self.get(sub_id)
            if address is not None and not sub.confirmed:
                renderer = Renderer(settings, sender)
                message_id, subject, message = renderer.confirmation(
                    sub, make_token(secret, "confirm", sub_id, now.timestamp()),
                    make_token(secret, "unsubscribe", sub_id, now.timestamp()))
                self.store.outbox.add(sub_id, "confirm", message_id, address, subject,
                                      message, 0, iso(now))
        return sub

    def _check(self, item: Item) -> Item:
        if item.kind not in ITEM_KINDS:
            raise InvalidOptionError("subscription item kind", item.kind, ITEM_KINDS)
        value = " ".join(item.value.split())
        if not value or len(value) > MAX_TEXT:
            raise InvalidOptionError(f"{item.kind}", value[:40], [f"1 to {MAX_TEXT} characters"])
        if item.kind == "search" and item.mode not in ("", *MODES):
            raise InvalidOptionError("search mode", item.mode, MODES)
        if item.kind == "seed":
            value = self.store.papers.key_of(self.resolve(value))
        elif item.kind == "node":
            tree, _, node = value.rpartition(":")
            if not tree or not node.strip().isdigit():
                raise InvalidOptionError("topic node", value, ["TREE:NODE_ID, e.g. default:12"])
            if self.store.subscriptions.node_label(tree, int(node)) is None:
                raise NotFoundError(f"no topic {node} in a tree named {tree!r}")
            value = f"{tree}:{int(node)}"
        elif item.kind == "collection":
            self.store.collections.require(value)
        return Item(item.kind, value, item.mode if item.kind == "search" else "")

    def get(self, sub_id: int, *, user: str | None = None) -> Subscription:
        """A subscription (when ``user`` is given, only one of theirs)."""
        sub = self.store.subscriptions.get(sub_id)
        if sub is None or (user is not None and (sub.user or "").lower() != user.lower()):
            raise NotFoundError(f"no subscription {sub_id}" + (f" of {user!r}" if user else ""))
        return sub

    def find(self, *, email: str | None = None, user: str | None = None) -> list[Subscription]:
        return self.store.subscriptions.find(
            email=check_email(email) if email else None, user=user)

    def remove(self, sub_id: int, *, user: str | None = None) -> None:
        """Delete a subscription, what it was sent, and its messages not sent yet."""
        self.get(sub_id, user=user)
        with self.store.transaction():
            self.store.outbox.cancel_for(sub_id)
            self.store.subscriptions.remove(sub_id)

    def token(self, purpose: str, sub_id: int) -> str:
        return make_token(link_secret(self.store), purpose, sub_id, self.clock().timestamp())

    def confirm(self, token: str) -> Subscription:
        """Confirm the subscription a confirmation link names (again: no change)."""
        sub_id = read_token(link_secret(self.store), "confirm", token, self.clock().timestamp())
        self.get(sub_id)
        with self.store.transaction():
            self.store.subscriptions.confirm(sub_id, iso(self.clock()))
        return self.get(sub_id)

    def unsubscribe(self, token: str) -> Subscription | None:
        """End the subscription an unsubscribe link names; None when it already ended."""
        sub_id = read_token(link_secret(self.store), "unsubscribe", token,
                            self.clock().timestamp())
        sub = self.store.subscriptions.get(sub_id)
        if sub is not None:
            with self.store.transaction():
                self.store.outbox.cancel_for(sub_id)
                self.store.subscriptions.remove(sub_id)
        return sub

