"""SQL for the authors' identifiers (``author_ids``, kept from the source rows by a
trigger: see :func:`.migrations_authors.m021_author_ids`)."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable

from ..records.authors import Mention

#: Values bound in one statement (SQLite allows 32766; two per identifier).
_CHUNK = 400

_COLUMNS = "source_id, entry, paper_id, position, name, scheme, value"


class AuthorIdRepo:
    """Reads ``author_ids`` as :class:`~paperatlas.records.authors.Mention` s: one per
    author of a source row, with every identifier that source gave them."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def on_papers(self, paper_ids: Iterable[int]) -> list[Mention]:
        """The authors with identifiers of these papers (every source's)."""
        ids = sorted(set(paper_ids))
        rows: list[sqlite3.Row] = []
        for i in range(0, len(ids), _CHUNK * 2):
            part = ids[i:i + _CHUNK * 2]
            rows += self.conn.execute(
                f"SELECT {_COLUMNS} FROM author_ids WHERE paper_id IN"
                f" ({','.join('?' * len(part))})", part).fetchall()
        return _mentions(rows)

    def shared(self, paper_ids: Iterable[int]) -> set[int]:
        """Those of these papers that two sources or more give author identifiers on."""
        ids = sorted(set(paper_ids))
        out: set[int] = set()
        for i in range(0, len(ids), _CHUNK * 2):
            part = ids[i:i + _CHUNK * 2]
            out.update(r[0] for r in self.conn.execute(
                f"SELECT paper_id FROM author_ids WHERE paper_id IN ({','.join('?' * len(part))})"
                " GROUP BY paper_id HAVING COUNT(DISTINCT source_id) > 1", part))
        return out

    def with_ids(self, pairs: Iterable[tuple[str, str]]) -> list[Mention]:
        """The authors (on any paper) that have any of these ``(scheme, value)``
        identifiers, with all of their identifiers."""
        wanted = sorted(set(pairs))
        rows: list[sqlite3.Row] = []
        for i in range(0, len(wanted), _CHUNK):
            part = wanted[i:i + _CHUNK]
            rows += self.conn.execute(
                f"SELECT DISTINCT {', '.join('b.' + c for c in _COLUMNS.split(', '))}"
                " FROM author_ids a JOIN author_ids b"
                " ON b.source_id = a.source_id AND b.entry = a.entry"
                f" WHERE (a.scheme, a.value) IN (VALUES {','.join(['(?,?)'] * len(part))})",
                [x for pair in part for x in pair]).fetchall()
        return _mentions(rows)

    def counts(self) -> dict[str, int]:
        """How many identifiers of each scheme are stored (distinct values), and how many
        papers have an author with any (``"papers"``)."""
        out = {str(s): int(n) for s, n in self.conn.execute(
            "SELECT scheme, COUNT(DISTINCT value) FROM author_ids GROUP BY scheme")}
        out["papers"] = int(self.conn.execute(
            "SELECT COUNT(DISTINCT paper_id) FROM author_ids").fetchone()[0])
        return out


def _mentions(rows: list[sqlite3.Row]) -> list[Mention]:
    """One mention per ``(source_id, entry)`` of ``rows``, with the identifiers of its
    rows."""
    ids: dict[tuple[int, int], list[tuple[str, str]]] = defaultdict(list)
    first: dict[tuple[int, int], sqlite3.Row] = {}
    for r in rows:
        place = (r[0], r[1])
        ids[place].append((r[5], r[6]))
        first.setdefault(place, r)
    return [Mention(source_id=s, entry=e, paper_id=r[2], position=r[3], name=r[4],
                    ids=frozenset(ids[s, e]))
            for (s, e), r in first.items()]
