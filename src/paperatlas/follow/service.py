"""What the facade calls for subscriptions and digests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ..errors import InvalidOptionError
from ..records.follow import OUTBOX_STATES, Digest, DigestReport, Item, OutboxMessage, Subscription
from ..store import Store
from ..vectors import VectorStore
from .digest import Analyze, DigestService, Encode
from .mail import SmtpTransport
from .outbox import Transport, iso
from .settings import DigestSettings, MailLimits, MailSettings
from .subscriptions import SubscriptionService, utc_now


def parse_since(text: str) -> str:
    """A ``--since`` date (``2024-07-01``, or a time ``2024-07-01T08:00[:00][Z]``, UTC) as
    the library writes times."""
    value = text.strip().removesuffix("Z")
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return iso(datetime.strptime(value, fmt).replace(tzinfo=UTC))
        except ValueError:
            continue
    raise InvalidOptionError("since", text, ["a date such as 2024-07-01",
                                             "a UTC time such as 2024-07-01T08:00"])


class FollowService:
    """Subscriptions, their digests and the outbox of one library."""

    def __init__(self, store: Store, *, vectors: VectorStore, resolve: Callable[[str], int],
                 analyze: Analyze, encode: Callable[[], Encode | None],
                 index: Callable[[], object]) -> None:
        self.store = store
        self.subscriptions = SubscriptionService(store, resolve)
        self.digests = DigestService(store, vectors, analyze, encode)
        self._index = index
        #: Makes the transport of a run (tests may send elsewhere).
        self.transport: Callable[[MailSettings], Transport] = SmtpTransport

    def set_clock(self, clock: Callable[[], datetime] = utc_now) -> None:
        """Use another clock (tests step through backoff and due times)."""
        self.subscriptions.clock = clock
        self.digests.clock = clock

    def subscribe(self, email: str | None, items: list[Item], settings: DigestSettings,
                  mail: MailSettings, *, user: str | None = None, frequency: str = "daily",
                  confirmed: bool = False, client: str | None = None,
                  limits: MailLimits | None = None) -> Subscription:
        """See :meth:`SubscriptionService.add` (``limits`` cap what ``client`` may ask)."""
        return self.subscriptions.add(email, items, settings, mail.sender, user=user,
                                      frequency=frequency, confirmed=confirmed,
                                      client=client, limits=limits)

    def run(self, settings: DigestSettings, mail: MailSettings, *,
            frequency: str | None = None, since: str | None = None, dry_run: bool = False,
            send: bool = True) -> DigestReport:
        self._index()  # new papers need their vectors before they are ranked
        transport = self.transport(mail) if send and not dry_run else None
        return self.digests.run(settings, mail.sender, transport, frequency=frequency,
                                since=parse_since(since) if since else None, dry_run=dry_run)

    def send(self, settings: DigestSettings, mail: MailSettings) -> DigestReport:
        return self.digests.send(settings, self.transport(mail))

    def preview(self, settings: DigestSettings, *, email: str | None = None,
                subscription: int | None = None, user: str | None = None) -> list[Digest]:
        """The next digest of an address's subscriptions, or of one subscription (of
        ``user``, when given), as a run now would make it (without the due check)."""
        if subscription is not None:
            subs = [self.subscriptions.get(subscription, user=user)]
        elif email is None and user is None:
            raise InvalidOptionError("preview", "", ["an email address", "a subscription id"])
        else:
            subs = self.subscriptions.find(email=email, user=user)
        # A preview only reads (pages show it): papers not indexed yet wait for the next
        # ``index`` or ``digest run``, which embeds before it ranks.
        return self.digests.plan(subs, settings)[0]

    def outbox(self, state: str | None = None, limit: int = 50) -> list[OutboxMessage]:
        if state is not None and state not in OUTBOX_STATES:
            raise InvalidOptionError("outbox state", state, OUTBOX_STATES)
        if limit < 1:
            raise InvalidOptionError("limit", limit, ["1 or more"])
        return self.store.outbox.list(state, limit)
