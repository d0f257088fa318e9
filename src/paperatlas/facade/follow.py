"""``lib.follow``: votes, trending, subscriptions, digests and feeds (the work is in
``follow/``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..bounds import MAX_LIST, check_id, check_limit
from ..follow.feeds import Feed
from ..follow.service import FollowService
from ..follow.settings import DigestSettings, MailSettings
from ..follow.trending import Trending, TrendingService, VoteCount, VoteResult
from ..records.follow import Digest, DigestReport, Item, OutboxMessage, Subscription
from ..store import Store
from .feeds import FeedBuilder
from .papers import Papers


class Follow:
    """What follows the field: ``lib.follow.vote(key, user)``, ``.trending()``,
    ``.subscribe(...)``, ``.digest_run(...)``, ``.feed(kind)``."""

    def __init__(self, store: Store, papers: Papers, trends: TrendingService,
                 service: FollowService, feeds: FeedBuilder) -> None:
        self.store = store
        self.papers = papers
        self.trends = trends
        self.service = service
        self.feeds = feeds

    def set_clock(self, clock: Callable[[], datetime] | None = None) -> None:
        """What the subscription mail caps take as now (tests move it)."""
        if clock is None:
            self.service.set_clock()
        else:
            self.service.set_clock(clock)

    # -- votes and trending ----------------------------------------------------------------
    def vote(self, key: str, user: str) -> VoteResult:
        """Upvote a paper as ``user`` (once: voting again changes nothing)."""
        return self.trends.vote(self.papers.resolve(key), user)

    def unvote(self, key: str, user: str) -> VoteResult:
        """Take ``user``'s vote on a paper back (nothing to take back is no error)."""
        return self.trends.vote(self.papers.resolve(key), user, up=False)

    def votes(self, keys: list[str], user: str | None = None) -> dict[str, VoteCount]:
        """Each paper's votes by key, and whether ``user`` voted for it."""
        found = self.store.papers.ids_for(keys)
        ids = {k: found[k] if k in found else self.papers.resolve(k) for k in keys}
        counts = self.trends.counts(list(ids.values()), user)
        return {k: counts[pid] for k, pid in ids.items()}

    def trending(self, window: str = "week", *, collection: str | None = None,
                 tree: str | None = None, node: int | None = None, limit: int = 20,
                 now: datetime | None = None) -> Trending:
        """The papers upvoted in the last day, week or month (``window``), best first by
        ``votes / (age_hours + 2) ** 1.8`` (see ``follow.trending``), of a collection and/or
        a topic's subtree (``tree`` alone: the whole tree)."""
        check_limit(limit)
        if node is not None:
            check_id("topic", node)
        return self.trends.trending(window, collection=collection, tree=tree, node=node,
                                    limit=limit, now=now)

    def feed(self, kind: str, **params: Any) -> Feed:
        """A feed (``follow.feeds.FEED_KINDS``) to write with ``follow.feeds.render_feed``;
        ``params`` as :meth:`FeedBuilder.build` takes them."""
        return self.feeds.build(kind, **params)

    # -- subscriptions and digests ----------------------------------------------------------
    def subscribe(self, email: str | None, items: list[Item], settings: DigestSettings,
                  mail: MailSettings, **options: Any) -> Subscription:
        """A subscription (``user``, ``frequency``, ``confirmed``); an unconfirmed email one
        queues a confirmation message in the outbox."""
        return self.service.subscribe(email, items, settings, mail, **options)

    def subscriptions(self, *, email: str | None = None,
                      user: str | None = None) -> list[Subscription]:
        return self.service.subscriptions.find(email=email, user=user)

    def subscription(self, sub_id: int, *, user: str | None = None) -> Subscription:
        check_id("subscription", sub_id)
        return self.service.subscriptions.get(sub_id, user=user)

    def subscription_remove(self, sub_id: int, *, user: str | None = None) -> None:
        check_id("subscription", sub_id)
        self.service.subscriptions.remove(sub_id, user=user)

    def subscription_confirm(self, token: str) -> Subscription:
        return self.service.subscriptions.confirm(token)

    def unsubscribe(self, token: str) -> Subscription | None:
        """End the subscription an unsubscribe link names (None: it had ended already)."""
        return self.service.subscriptions.unsubscribe(token)

    def digest_run(self, settings: DigestSettings, mail: MailSettings,
                   **options: Any) -> DigestReport:
        """Queue the due digests and send the outbox (``frequency``, ``since``,
        ``dry_run``, ``send``); see ``follow/digest.py`` and ``follow/outbox.py``."""
        return self.service.run(settings, mail, **options)

    def digest_send(self, settings: DigestSettings, mail: MailSettings) -> DigestReport:
        return self.service.send(settings, mail)

    def digest_preview(self, settings: DigestSettings, **which: Any) -> list[Digest]:
        """The next digests of an ``email``'s or a ``user``'s subscriptions, or of one
        ``subscription``."""
        if isinstance(which.get("subscription"), int):
            check_id("subscription", which["subscription"])
        return self.service.preview(settings, **which)

    def outbox(self, state: str | None = None, limit: int = 50) -> list[OutboxMessage]:
        check_limit(limit, MAX_LIST)
        return self.service.outbox(state, limit)
