"""Upvotes and trending lists with time decay.

A signed-in user upvotes a paper once (an undo takes the vote back). A paper's trending
score over a window (day, week or month before ``now``) is Hacker News' gravity formula::

    score = votes / (age_hours + 2) ** 1.8

- ``votes`` counts the votes cast in the window, so only papers someone upvoted in the
  window are listed: a trending list never shows a paper nobody voted for. (Hacker News
  writes ``points - 1`` because a story starts with its submitter's point; a paper here
  starts with none, so the count is used as it is.)
- ``age_hours`` is the time from the paper's date (``YYYY[-MM[-DD]]`` as midnight UTC) to
  ``now``, or from the time it was added to the library when it has no date; never below 0.
  The paper's own age, not the votes' age, decays the score: trending is about new work
  drawing attention, so an old paper found again today ranks below a new one with as many
  votes. The ``+ 2`` hours keep a paper dated today from dividing by (almost) zero.
- With gravity 1.8 a paper two days old needs about 3.2 times the votes of one a day old
  to rank beside it; among papers that are all months old the decays differ little, so
  the vote counts decide.

Ties go to the paper with more votes in all, then the younger one, then the one added
first. The scores of a whole scope come from one SQL query and one numpy expression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from ..bounds import MAX_ID, parse_int
from ..errors import InvalidOptionError, NotFoundError, OutOfRangeError
from ..records.papers import Paper
from ..records.serialize import json_field
from ..store import PaperScope, Store

#: Trending windows and their length in days.
WINDOWS: dict[str, int] = {"day": 1, "week": 7, "month": 30}
GRAVITY = 1.8
OFFSET_HOURS = 2.0
_UNIX_JD = 2440587.5  # the Julian day of 1970-01-01T00:00:00Z
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: The score, as a trending list states it.
FORMULA = f"votes / (age_hours + {OFFSET_HOURS:g}) ** {GRAVITY:g}"


@dataclass(frozen=True)
class VoteResult:
    """A user's vote on a paper after a vote or an undo."""

    key: str
    user: str
    voted: bool  # whether the user's vote is on the paper now
    changed: bool  # False when the call asked for what was already so
    votes: int  # the paper's votes now


@dataclass(frozen=True)
class VoteCount:
    """A paper's votes, and whether the asking user is among the voters."""

    votes: int = 0
    mine: bool = False


@dataclass(frozen=True)
class TrendingPaper:
    """One paper of a trending list with what ranked it there (its JSON shows the paper's
    key, title, authors and date)."""

    paper: Paper = field(metadata=json_field(flatten={
        "key": "key", "title": "title", "authors": "authors", "date": "date"}))
    score: float = field(metadata=json_field(digits=8))
    votes: int  # cast in the window
    total_votes: int
    age_hours: float = field(metadata=json_field(digits=2))
    last_vote: str  # the latest vote in the window (ISO 8601 UTC)


@dataclass(frozen=True)
class Trending:
    """A trending list: the window, its scope and the papers, best first."""

    window: str
    since: str
    now: str
    collection: str | None = None
    tree: str | None = None
    node: int | None = None
    formula: str = field(init=False, default=FORMULA)
    papers: list[TrendingPaper] = field(default_factory=list)


def trending_scores(votes: np.ndarray, age_hours: np.ndarray) -> np.ndarray:
    """The gravity score of each paper (see the module docstring)."""
    age = np.maximum(np.asarray(age_hours, dtype=np.float64), 0.0)
    return np.asarray(votes, dtype=np.float64) / np.power(age + OFFSET_HOURS, GRAVITY)


def parse_node(value: str | None, option: str = "node") -> tuple[str | None, int | None]:
    """A ``TREE:ID`` topic reference as ``(tree, id)``; blank as ``(None, None)``. The id is
    ASCII digits within SQLite's range (``'²'`` passes ``str.isdigit`` but not ``int``)."""
    if value is None or not value.strip():
        return None, None
    tree, _, node = value.strip().rpartition(":")
    try:
        number = parse_int(option, node, 0, MAX_ID)
    except OutOfRangeError:
        number = None
    if not tree or number is None:
        raise InvalidOptionError(option, value, [f"TREE:ID such as default:3 (ID from 0 to "
                                                 f"{MAX_ID})"])
    return tree, number


def window_days(window: str) -> int:
    """The length of a window; an unknown one is an :class:`InvalidOptionError`."""
    if window not in WINDOWS:
        raise InvalidOptionError("trending window", window, list(WINDOWS))
    return WINDOWS[window]


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC).replace(microsecond=0)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


class TrendingService:
    """Votes and trending lists of one library; ``complete`` fills in the collections and
    sources of papers read from the store."""

    def __init__(self, store: Store, complete: Callable[[list[Paper]], list[Paper]]) -> None:
        self.store = store
        self.complete = complete

    def vote(self, paper_id: int, user: str, *, up: bool = True,
             now: datetime | None = None) -> VoteResult:
        """Cast (``up``) or take back a user's vote; repeating either changes nothing."""
        repo = self.store.votes
        user_id = repo.user_id(user)
        if user_id is None:
            raise NotFoundError(f"no user named {user!r}")
        with self.store.transaction():
            if up:
                changed = repo.add(user_id, paper_id, _utc(now).strftime(TIME_FORMAT))
            else:
                changed = repo.remove(user_id, paper_id)
            votes = repo.counts([paper_id], None).get(paper_id, (0, False))[0]
        name = self.store.users.get(user)
        return VoteResult(self.store.papers.key_of(paper_id), name.name if name else user,
                          up, changed, votes)

    def counts(self, paper_ids: list[int], user: str | None) -> dict[int, VoteCount]:
        """The votes of each paper (every id is answered) and whether ``user`` voted."""
        user_id = self.store.votes.user_id(user) if user else None
        found = self.store.votes.counts(paper_ids, user_id)
        return {pid: VoteCount(*found.get(pid, (0, False))) for pid in paper_ids}

    def scope(self, collection: str | None, tree: str | None,
              node: int | None) -> PaperScope:
        """The scope named by a caller; a node needs its tree, and the tree alone means its
        root. Unknown names and nodes are :class:`NotFoundError`."""
        collection_id = self.store.collections.require(collection)
        if tree is None:
            if node is not None:
                raise InvalidOptionError("topic node", node, ["a node with its tree (TREE:ID)"])
            return PaperScope(collection_id)
        tree_id = self.store.trees.id_for(tree)
        if tree_id is None:
            raise NotFoundError(f"no tree named {tree!r}")
        heads = self.store.trees.heads(tree)
        if node is None:
            node = next(nid for nid, (parent, _, _) in heads.items() if parent is None)
        elif node not in heads:
            raise NotFoundError(f"no topic {node} in tree {tree!r}")
        return PaperScope(collection_id, tree_id, node)

    def trending(self, window: str, *, collection: str | None = None,
                 tree: str | None = None, node: int | None = None, limit: int = 20,
                 now: datetime | None = None) -> Trending:
        """The ``limit`` best papers of a scope by score over ``window`` before ``now``."""
        days = window_days(window)
        if limit < 1:
            raise InvalidOptionError("limit", limit, ["1, 2, ..."])
        scope = self.scope(collection, tree, node)
        at = _utc(now)
        since = (at - timedelta(days=days)).strftime(TIME_FORMAT)
        found = self.store.votes.in_window(since, at.strftime(TIME_FORMAT), scope)
        votes = np.asarray(found.votes, dtype=np.float64)
        total = np.asarray(found.total, dtype=np.float64)
        day = np.asarray(found.day, dtype=np.float64)
        age = np.maximum((at.timestamp() / 86400.0 + _UNIX_JD - day) * 24.0, 0.0)
        scores = trending_scores(votes, age)
        order = np.lexsort((np.asarray(found.paper_ids), age, -total, -scores))[:limit]
        ids = [found.paper_ids[i] for i in order]
        papers = {p.id: p for p in self.complete(self.store.papers.get_many(ids))}
        items = [TrendingPaper(papers[found.paper_ids[i]], float(scores[i]), int(votes[i]),
                               int(total[i]), float(age[i]), found.last_vote[i])
                 for i in order if found.paper_ids[i] in papers]
        return Trending(window, since, at.strftime(TIME_FORMAT), collection, tree,
                        scope.node_id, items)

    def newest(self, scope: PaperScope, limit: int) -> list[Paper]:
        """The newest papers of ``scope`` (by date, then newest added)."""
        ids = self.store.votes.recent_ids(scope, limit)
        return self.complete(self.store.papers.get_many(ids))
