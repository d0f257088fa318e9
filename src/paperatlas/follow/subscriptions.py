"""Subscriptions: check what one follows, double opt-in, and unsubscribing by link.

An email subscription starts unconfirmed and gets no digest until its address confirms it:
adding one queues a confirmation message (signed link, valid 7 days) in the outbox.
Asking again while it is pending sends nothing (until a cool-down has passed), and the
web caps confirmations per address and per client (``MailLimits``, counted in
``throttle_events``).
Every message carries a signed unsubscribe link (valid a year) that deletes the
subscription, its sent-papers record and its unsent messages in one transaction.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from ..errors import InvalidOptionError, NotFoundError, TooManyRequestsError
from ..records.follow import FREQUENCIES, ITEM_KINDS, Item, Subscription
from ..search.service import MODES
from ..store import Store
from .mail import Renderer
from .outbox import iso
from .settings import DigestSettings, MailLimits
from .tokens import link_secret, make_token, read_token

#: A plain email address (no display name, no comments): local part, @, a dotted domain.
EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MAX_ITEMS = 50
MAX_TEXT = 300

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def address_hash(address: str) -> str:
    """A short stable name for a mailbox in logs and throttle keys (not the address): case
    and a ``+tag`` (``ada+x@`` reaches ``ada@``) do not make another one."""
    local, at, domain = address.strip().lower().rpartition("@")
    mailbox = local.partition("+")[0] + at + domain if at else domain
    return hashlib.sha256(mailbox.encode()).hexdigest()[:16]


def _span(seconds: float) -> str:
    """``seconds`` in words: "40 seconds", "12 minutes", "3 hours"."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size:
            return f"{round(seconds / size)} {unit}s"
    n = max(1, round(seconds))
    return f"{n} second{'s' if n != 1 else ''}"


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
            *, user: str | None = None, frequency: str = "daily", confirmed: bool = False,
            client: str | None = None, limits: MailLimits | None = None) -> Subscription:
        """A new subscription; an unconfirmed email one queues its confirmation message.

        The same subscription asked for again while its confirmation is pending is that
        one, unchanged: its confirmation is queued again only ``resend_after`` seconds after
        the last. ``limits`` (the web passes them, with the asking ``client``) cap the
        confirmations to one address and from one client: over a cap,
        :class:`TooManyRequestsError` (logged, with a hash of the address).
        """
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
            if address is None or confirmed:
                sub_id = self.store.subscriptions.add(address, user, frequency, checked,
                                                      iso(now), iso(now))
                return self.get(sub_id)
            pending = self._pending(address, user, frequency, checked)
            if pending is not None and not self._resend_due(pending, limits, now):
                return pending
            self._count_mail(address, client, limits, now.timestamp())
            sub = pending or self.get(self.store.subscriptions.add(
                address, user, frequency, checked, iso(now), None))
            renderer = Renderer(settings, sender)
            message_id, subject, message = renderer.confirmation(
                sub, make_token(secret, "confirm", sub.id, now.timestamp()),
                make_token(secret, "unsubscribe", sub.id, now.timestamp()))
            self.store.outbox.add(sub.id, "confirm", message_id, address, subject,
                                  message, 0, iso(now))
        return sub

    def _pending(self, address: str, user: str | None, frequency: str,
                 items: list[Item]) -> Subscription | None:
        """An unconfirmed subscription of this address (and user) to exactly these items."""
        for sub in self.store.subscriptions.find(email=address):
            if (not sub.confirmed and sub.frequency == frequency and set(sub.items) == set(items)
                    and (sub.user or "").lower() == (user or "").lower()):
                return sub
        return None

    def _resend_due(self, sub: Subscription, limits: MailLimits | None, now: datetime) -> bool:
        last = self.store.outbox.last_created(sub.id, "confirm")
        wait = (limits or MailLimits()).resend_after
        return last is None or last <= iso(now - timedelta(seconds=wait))

    def _count_mail(self, address: str, client: str | None, limits: MailLimits | None,
                    at: float) -> None:
        """Count one confirmation to ``address`` (asked for by ``client``), or refuse it
        when that would pass a cap of ``limits`` (counted in the library, so the caps hold
        across server processes and restarts)."""
        hashed = address_hash(address)
        caps = [] if limits is None else [
            ("per-address", f"mail:to:{hashed}", limits.per_address, limits.address_window)]
        if client is not None and limits is not None:
            caps.insert(0, ("per-client", f"mail:client:{client}", limits.per_client,
                            limits.client_window))
        for name, key, cap, window in caps:
            since = at - window
            if self.store.throttle.count(key, since) >= cap:
                retry = (self.store.throttle.oldest(key, since) or at) + window - at
                log.warning("confirmation mail refused: the %s cap of %d in %s is reached"
                            " (address %s, client %s)", name, cap, _span(window), hashed,
                            client or "-")
                raise TooManyRequestsError(
                    "too many confirmation messages were asked for; try again in "
                    f"{_span(retry)}", retry_after=retry)
        self.store.throttle.record(f"mail:to:{hashed}", at)
        if client is not None:
            self.store.throttle.record(f"mail:client:{client}", at)

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
            digits = node.strip()  # ASCII only: int() refuses "²", SQLite ids past 2**63
            if not tree or not (digits.isascii() and digits.isdigit() and len(digits) < 19):
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

