"""What an ingest batch writes about the papers it adds, kept until nothing can miss it.

A new paper's row goes into ``papers`` at once (its key must be unique), but its
identifiers, title keys, source row, collection link and signals are only read by the
dedup of a later record that could be the same paper, or by the next batch. They are
kept here and written in one ``executemany`` per table (:meth:`BatchWrites.flush`):
before every commit, before a record that matches a stored paper is merged (merging
reads sources and signals), and before the dedup of a record that shares an identifier
or a title key with a paper kept here (then the store answers as if each had been
written at once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .store import Store


@dataclass
class BatchWrites:
    """Rows of the papers added since the last :meth:`flush`."""

    ids: list[tuple[int, str, str, str]] = field(default_factory=list)
    titles: list[tuple[int, int]] = field(default_factory=list)
    sources: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[tuple[int, int, str]] = field(default_factory=list)
    signals: list[tuple[Any, ...]] = field(default_factory=list)
    _id_values: set[tuple[str, str]] = field(default_factory=set)
    _hashes: set[int] = field(default_factory=set)

    def add(self, paper_id: int, *, ids: list[tuple[str, str, str]], hashes: list[int],
            source: tuple[Any, ...], link: tuple[int, int, str],
            signals: list[tuple[Any, ...]]) -> None:
        """A paper just inserted: its ``(scheme, match value, raw)`` identifiers, its title
        key hashes, its source row, collection link and signal rows."""
        self.ids.extend((paper_id, s, v, r) for s, v, r in ids)
        self._id_values.update((s, v) for s, v, _ in ids)
        self.titles.extend((h, paper_id) for h in hashes)
        self._hashes.update(hashes)
        self.sources.append(source)
        self.links.append(link)
        self.signals.extend(signals)

    def touches(self, ids: dict[str, str], hashes: list[int]) -> bool:
        """Whether a record with these identifiers (``scheme -> match value``) and title
        key hashes could be one of the papers kept here."""
        return (any((s, v) in self._id_values for s, v in ids.items())
                or any(h in self._hashes for h in hashes))

    def flush(self, store: Store) -> None:
        if not self.sources:
            return
        store.papers.add_identifier_rows(self.ids)
        store.papers.file_titles(self.titles)
        store.provenance.add_sources(self.sources)
        store.collections.add_new_papers(self.links)
        store.signals.put_rows(self.signals)
        self.clear()

    def clear(self) -> None:
        """Forget everything kept (the transaction it belonged to rolled back)."""
        self.ids, self.titles, self.sources, self.links, self.signals = [], [], [], [], []
        self._id_values, self._hashes = set(), set()
