"""The token cache: every paper's title and text tokenized once, when the library is indexed.

Counting words and phrases starts from tokens, and tokenizing a collection's texts is the
largest serial step of a tree build (about a fifth of it at 10,000 papers). ``index`` keeps
the tokens of every paper in SQLite (:class:`~paperatlas.store.TokenRepo`), following the
papers' change log as the search index does (resumable, batch by batch), and a build reads
them back (:func:`cached_tokens`). A paper changed since the last sync, or missing from the
cache, makes the build tokenize the texts itself: the cache is never trusted when stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..embed.base import paper_text, title_in_abstract
from ..store import Store, utcnow
from .phrases import Tokens, assemble, tokens_of

#: The change-log reader's name in ``index_state``.
STATE = "tokens"
#: Bumped whenever :func:`~.phrases.tokens_of` changes what it returns (the cache restarts).
SETTINGS = {"tokenizer": 2}  # 2: letters of every script, markup and escapes
BATCH = 5000
#: With more papers changed than this since the last sync, the cache is not consulted.
STALE_LIMIT = 10_000


def corpus_texts(title: str, abstract: str) -> tuple[str, str]:
    """What a tree reads of a paper: its title ("" when the abstract begins with it) and
    its text (title + abstract)."""
    derived = title_in_abstract(title, abstract)
    return ("" if derived else title), (abstract if derived else paper_text(title, abstract))


@dataclass(frozen=True)
class TokenSync:
    """What a sync of the cache did."""

    updated: int
    removed: int
    rebuilt: bool


def sync(store: Store) -> TokenSync:
    """Tokenize every paper changed since the last sync (one transaction per batch)."""
    seq, settings = store.search.state(STATE)
    rebuilt = bool(seq) and settings != SETTINGS
    if rebuilt:
        with store.transaction():
            store.tokens.clear()
            store.search.set_state(STATE, 0, SETTINGS, utcnow())
        seq = 0
    updated = removed = 0
    while batch := store.search.changed_since(seq, BATCH):
        ids = [pid for _, pid in batch]
        texts = store.papers.texts(ids)
        rows = []
        for pid in ids:
            if pid in texts:
                title, text = corpus_texts(*texts[pid][1:])
                rows.append((pid, tokens_of(title), tokens_of(text)))
        gone = [pid for pid in ids if pid not in texts]
        with store.transaction():
            table = store.tokens.ids_for(t for _, a, b in rows for t in (*a, *b))
            store.tokens.put([(pid, [table[t] for t in a], [table[t] for t in b])
                              for pid, a, b in rows])
            store.tokens.delete(gone)
            seq = batch[-1][0]
            store.search.set_state(STATE, seq, SETTINGS, utcnow())
        updated, removed = updated + len(rows), removed + len(gone)
    return TokenSync(updated, removed, rebuilt)


def cached_tokens(store: Store, paper_ids: list[int]) -> Tokens | None:
    """The tokens of these papers (titles, then texts, row-aligned with ``paper_ids``) from
    the cache, or None when any of them is missing or changed since the last sync."""
    seq, settings = store.search.state(STATE)
    if not seq or settings != SETTINGS:
        return None
    changed = store.search.changed_since(seq, STALE_LIMIT)
    if len(changed) == STALE_LIMIT or not {p for _, p in changed}.isdisjoint(paper_ids):
        return None
    found = store.tokens.load(paper_ids)
    if len(found) < len(set(paper_ids)):
        return None
    pairs = [found[p] for p in paper_ids]
    return assemble([t for t, _ in pairs], [x for _, x in pairs], store.tokens.names)
