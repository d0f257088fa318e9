"""The parts of :class:`~paperatlas.library.Library` that follow the field: votes,
trending, feeds, subscriptions and digests (the work is in ``follow/``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .bounds import MAX_LIST, check_id, check_limit
from .follow.service import FollowService
from .follow.settings import DigestSettings, MailSettings
from .follow.trending import Trending, TrendingService, VoteCount, VoteResult
from .library_base import LibraryBase
from .records.follow import Digest, DigestReport, Item, OutboxMessage, Subscription


class FollowMixin(LibraryBase):
    """Votes, trending, subscriptions and digests (mixed into ``Library``)."""

    trends: TrendingService
    follow: FollowService

    # -- votes, trending and feeds -------------------------------------------------------
    def vote(self, key: str, user: str) -> VoteResult:
        """Upvote a paper as ``user`` (once: voting again changes nothing)."""
        return self.trends.vote(self._resolve(key), user)

    def unvote(self, key: str, user: str) -> VoteResult:
        """Take ``user``'s vote on a paper back (nothing to take back is no error)."""
        return self.trends.vote(self._resolve(key), user, up=False)

    def votes(self, keys: list[str], user: str | None = None) -> dict[str, VoteCount]:
        """Each paper's votes by key, and whether ``user`` voted for it."""
        found = self.store.papers.ids_for(keys)
        ids = {k: found[k] if k in found else self._resolve(k) for k in keys}
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

    # -- subscriptions and digests (the work is in follow/) -----------------------------
    def subscribe(self, email: str | None, items: list[Item], settings: DigestSettings,
                  mail: MailSettings, **options: Any) -> Subscription:
        """A subscription (``user``, ``frequency``, ``confirmed``); an unconfirmed email one
        queues a confirmation message in the outbox."""
        return self.follow.subscribe(email, items, settings, mail, **options)

    def subscriptions(self, *, email: str | None = None,
                      user: str | None = None) -> list[Subscription]:
        return self.follow.subscriptions.find(email=email, user=user)

    def subscription(self, sub_id: int, *, user: str | None = None) -> Subscription:
        check_id("subscription", sub_id)
        return self.follow.subscriptions.get(sub_id, user=user)

    def subscription_remove(self, sub_id: int, *, user: str | None = None) -> None:
        check_id("subscription", sub_id)
        self.follow.subscriptions.remove(sub_id, user=user)

    def subscription_confirm(self, token: str) -> Subscription:
        return self.follow.subscriptions.confirm(token)

    def unsubscribe(self, token: str) -> Subscription | None:
        """End the subscription an unsubscribe link names (None: it had ended already)."""
        return self.follow.subscriptions.unsubscribe(token)

    def digest_run(self, settings: DigestSettings, mail: MailSettings,
                   **options: Any) -> DigestReport:
        """Queue the due digests and send the outbox (``frequency``, ``since``,
        ``dry_run``, ``send``); see ``follow/digest.py`` and ``follow/outbox.py``."""
        return self.follow.run(settings, mail, **options)

    def digest_send(self, settings: DigestSettings, mail: MailSettings) -> DigestReport:
        return self.follow.send(settings, mail)

    def digest_preview(self, settings: DigestSettings, **which: Any) -> list[Digest]:
        """The next digests of an ``email``'s or a ``user``'s subscriptions, or of one
        ``subscription``."""
        if isinstance(which.get("subscription"), int):
            check_id("subscription", which["subscription"])
        return self.follow.preview(settings, **which)

    def outbox(self, state: str | None = None, limit: int = 50) -> list[OutboxMessage]:
        check_limit(limit, MAX_LIST)
        return self.follow.outbox(state, limit)
