"""Digests: which subscriptions are due, what each gets, and the two phases of a run.

Phase 1 ranks the new papers for every due subscription at once (:mod:`.ranking`), then,
one transaction per subscription, writes the rendered message to the outbox, records its
papers in ``sent_papers`` and moves the subscription's window on (to the highest paper id
seen: SQLite has one writer at a time, so a later paper always gets a higher id). Phase 2
sends the outbox (:mod:`.outbox`). A run stopped anywhere resumes with the next run.

A subscription's window: the papers added since it was created (or since ``--since``) for
its first digest, then those after the last digest's highest paper id. A daily
subscription is due 20 hours after its last digest, a weekly one after 6 days and 20
hours, so a cron line at a fixed time always finds them due.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np

from ..authors import author_key, fold, is_key
from ..errors import InvalidOptionError
from ..records.follow import FREQUENCIES, Digest, DigestReport, NewPaper, Pick, Subscription
from ..store import Store
from ..vectors import VectorStore
from .mail import Renderer
from .outbox import Transport, iso, send_due, send_lock
from .ranking import Candidates, Ranker, window_mask
from .settings import DigestSettings
from .subscriptions import utc_now
from .tokens import link_secret, make_token

#: How long after its last digest a subscription is due again.
DUE_AFTER: dict[str, timedelta] = {"daily": timedelta(hours=20),
                                   "weekly": timedelta(days=6, hours=20)}
Analyze = Callable[[str], list[str]]
Encode = Callable[[list[str]], np.ndarray]


class DigestService:
    """Plans, previews, queues and sends the digests of one library."""

    def __init__(self, store: Store, vectors: VectorStore, analyze: Analyze,
                 encode: Callable[[], Encode | None],
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.vectors = vectors
        self.analyze = analyze
        self.encode = encode  # the query encoder, when the library has a model
        self.clock = clock

    def due(self, frequency: str | None = None) -> list[Subscription]:
        """Confirmed email subscriptions whose next digest is due now."""
        if frequency is not None and frequency not in FREQUENCIES:
            raise InvalidOptionError("frequency", frequency, FREQUENCIES)
        chosen = [frequency] if frequency else list(FREQUENCIES)
        now = self.clock()
        return self.store.subscriptions.due(
            chosen, {f: iso(now - DUE_AFTER[f]) for f in chosen})

    def plan(self, subs: list[Subscription], settings: DigestSettings,
             since: str | None = None) -> tuple[list[Digest], int]:
        """The next digest of each subscription and the highest paper id it looked at."""
        top = self.store.subscriptions.max_paper_id()
        if not subs:
            return [], top
        afters = [s.last_paper_id for s in subs if s.last_paper_id is not None]
        starts = [since] if since else [s.created_at for s in subs if s.last_paper_id is None]
        rows = [r for r in self.store.subscriptions.new_papers(
            None if since or not afters else min(afters), min(starts) if starts else None)
            if r.id <= top]
        cands = Candidates(ids=np.array([r.id for r in rows], dtype=np.int64),
                           created=np.array([r.created_at for r in rows], dtype=str),
                           texts=[f"{r.title} {r.abstract}" for r in rows],
                           vectors=self._vectors([r.id for r in rows]))
        ranker = Ranker(cands, settings.rank)
        keys, exclude = self._rows(ranker, subs, rows, settings)
        sent: dict[int, list[int]] = defaultdict(list)
        index = {int(pid): i for i, pid in enumerate(cands.ids)}
        for sub_id, pid in self.store.subscriptions.sent_among(list(index)):
            sent[sub_id].append(index[pid])
        digests = []
        for s in subs:
            window = window_mask(cands, after_id=None if since else s.last_paper_id,
                                 since=since or s.created_at)
            skip = np.array(sent[s.id] + [index[p] for p in exclude[s.id] if p in index],
                            dtype=np.int64)
            picks = ranker.pick(keys[s.id], window, skip)
            digests.append(Digest(
                subscription=s, considered=int(window.sum()),
                since=(since or s.last_digest_at or s.created_at).replace("T", " ")[:16],
                picks=[Pick(rows[i].id, rows[i].key, rows[i].title, rows[i].abstract,
                            rows[i].authors, round(score, 4), reason)
                       for i, score, reason in picks]))
        return digests, top

    def _vectors(self, ids: list[int]) -> np.ndarray | None:
        found = self.vectors.get(ids)
        if not found:
            return None
        dim = len(next(iter(found.values())))
        mat = np.zeros((len(ids), dim), dtype=np.float32)
        for i, pid in enumerate(ids):
            if pid in found:
                mat[i] = found[pid]
        return mat

    def _rows(self, ranker: Ranker, subs: list[Subscription], rows: list[NewPaper],
              settings: DigestSettings) -> tuple[dict[int, list[str]], dict[int, set[int]]]:
        """Add a score row per distinct followed thing; each subscription's row keys and the
        paper ids it must not get (its seeds and the papers its user voted for)."""
        repo = self.store.subscriptions
        keys: dict[int, list[str]] = defaultdict(list)
        exclude: dict[int, set[int]] = defaultdict(set)
        searches: dict[str, tuple[str, str, str, str]] = {}
        seeds: dict[str, int] = {}
        for s in subs:
            for item in s.items:
                key = f"{item.kind}\x00{item.mode}\x00{item.value}"
                keys[s.id].append(key)
                if item.kind == "search":
                    searches[key] = (key, item.value, item.mode or "hybrid",
                                     f"search \u201c{item.value}\u201d")
                elif item.kind == "seed" and key not in seeds:
                    pid = self.store.papers.id_for(item.value)
                    if pid is not None:
                        seeds[key] = pid
                if item.kind == "seed" and key in seeds:
                    exclude[s.id].add(seeds[key])
        vectors = self.vectors.get(list(seeds.values()))
        titles = self.store.papers.texts([p for p in seeds.values() if p not in vectors])
        for key, pid in seeds.items():
            if pid not in vectors and pid in titles:  # no vector: its title, lexically
                k, title, _ = titles[pid]
                searches[key] = (key, title, "lexical", f"like {k}")
        encode = self.encode() if ranker.semantic and any(
            s[2] != "lexical" for s in searches.values()) else None
        ranker.add_searches(list(searches.values()), self.analyze, encode)
        ranker.add_similar([(key, vectors[pid], f"like {item_value(key)}")
                            for key, pid in seeds.items() if pid in vectors])
        self._members(ranker, {k for ks in keys.values() for k in ks}, rows)
        users = sorted({s.user for s in subs if s.user})
        voted = repo.upvoted(users)
        negatives: np.ndarray | None = None
        for user, pids in voted.items():
            vecs = self.vectors.get(pids)
            if not vecs:
                continue
            mat = np.vstack(list(vecs.values()))
            ranker.add_nearest(f"votes\x00{user}", mat, "like papers you upvoted")
            if len(pids) >= settings.rank.min_votes:
                if negatives is None:
                    negatives = self.vectors.sample(settings.rank.negatives)
                ranker.add_classifier(f"clf\x00{user}", mat, negatives, "learned from your votes")
        for s in subs:
            if s.user in voted:
                keys[s.id] += [f"votes\x00{s.user}", f"clf\x00{s.user}"]
                exclude[s.id].update(voted[s.user])
        return keys, exclude

    def _members(self, ranker: Ranker, keys: set[str], rows: list[NewPaper]) -> None:
        repo = self.store.subscriptions
        by_word: dict[str, set[int]] = defaultdict(set)
        by_key: dict[str, set[int]] = defaultdict(set)  # author key -> paper ids
        for r in rows:  # author words -> candidate (paper id, author position)
            for n, name in enumerate(r.authors):
                by_key[author_key(name)].add(r.id)
                for word in _words(fold(name)):
                    by_word[word].add(r.id * 1000 + min(n, 999))
        for key in keys:
            kind, _, value = key.split("\x00")
            if kind == "node":
                tree, _, node = value.rpartition(":")
                label = repo.node_label(tree, int(node)) or f"#{node}"
                members = repo.node_members(tree, int(node))
                vectors = self.vectors.get(sorted(members))
                centre = np.vstack(list(vectors.values())).mean(axis=0) if vectors else None
                ranker.add_member(key, members, f"topic \u201c{label}\u201d ({tree})", centre)
            elif kind == "collection":
                ranker.add_member(key, repo.collection_members(value), f"collection {value}")
            elif kind == "author":
                # Every word in one author's name (accents folded), or the same author
                # key for a full name (J. Smith, Smith, John: authors.author_key).
                words = _words(fold(value))
                hits = set.intersection(*(by_word.get(w, set()) for w in words)) if words else set()
                named = by_key.get(value if is_key(value) else author_key(value), set()) if (
                    len(words) > 1) else set()
                ranker.add_member(key, {h // 1000 for h in hits} | named, f"author {value}")

    def run(self, settings: DigestSettings, sender: str, transport: Transport | None, *,
            frequency: str | None = None, since: str | None = None,
            dry_run: bool = False) -> DigestReport:
        """Queue the due digests, then send the outbox through ``transport`` (None: queue
        only). A dry run writes and sends nothing and lists the digests instead."""
        report = DigestReport(dry_run=dry_run)
        if dry_run:
            self._queue(settings, sender, frequency, since, report)
            return report
        with send_lock(self.store.path) as held:
            if not held:
                report.skipped = "another digest run is in progress"
                return report
            self._queue(settings, sender, frequency, since, report)
            if transport is not None:
                start = time.perf_counter()
                send_due(self.store, transport, settings, self.clock, report)
                report.send_seconds = round(time.perf_counter() - start, 3)
        return report

    def send(self, settings: DigestSettings, transport: Transport) -> DigestReport:
        """Phase 2 alone: send the outbox's due messages (confirmations, retries)."""
        report = DigestReport(dry_run=False)
        with send_lock(self.store.path) as held:
            if not held:
                report.skipped = "another digest run is in progress"
                return report
            send_due(self.store, transport, settings, self.clock, report)
        return report

    def _queue(self, settings: DigestSettings, sender: str, frequency: str | None,
               since: str | None, report: DigestReport) -> None:
        subs = self.due(frequency)
        report.due = len(subs)
        start = time.perf_counter()
        digests, top = self.plan(subs, settings, since)
        report.rank_seconds = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        if report.dry_run:
            report.digests = [d for d in digests if d.picks]
        else:
            renderer = Renderer(settings, sender)
            secret = link_secret(self.store)
            for d in digests:
                self._commit(d, top, renderer, secret)
        report.queued = sum(1 for d in digests if d.picks)
        report.empty = len(digests) - report.queued
        report.papers = sum(len(d.picks) for d in digests)
        report.queue_seconds = round(time.perf_counter() - start, 3)

    def _commit(self, digest: Digest, top: int, renderer: Renderer, secret: bytes) -> None:
        """Phase 1 for one subscription, in one transaction."""
        sub, now = digest.subscription, self.clock()
        rendered = None
        if digest.picks and sub.email:
            token = make_token(secret, "unsubscribe", sub.id, now.timestamp())
            rendered = renderer.digest(digest, token)
        with self.store.transaction():
            if not self.store.subscriptions.mark_digested(sub.id, sub.last_digest_at, iso(now),
                                                          top):
                return  # changed since it was read (removed, or digested by another run)
            if rendered is not None and sub.email:
                message_id, subject, message = rendered
                outbox_id = self.store.outbox.add(sub.id, "digest", message_id, sub.email,
                                                  subject, message, len(digest.picks), iso(now))
                self.store.subscriptions.add_sent(sub.id, [p.paper_id for p in digest.picks],
                                                  outbox_id)


def item_value(key: str) -> str:
    return key.rsplit("\x00", 1)[-1]


def _words(name: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in name.casefold()).split() if w]
