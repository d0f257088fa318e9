"""SQL for papers, their identifiers and their title blocking keys."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from ..records.papers import Candidate, Paper, Shown
from .db import chunks
from .keys import key_hash

#: JSON text as stored (one encoder: ``json.dumps`` with options builds one per call).
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


class PaperRepo:
    """Reads and writes the ``papers``, ``paper_ids`` and ``title_hashes`` tables."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- lookups used by dedup -------------------------------------------------
    def by_identifier(self, scheme: str, value: str) -> list[int]:
        rows = self.conn.execute(
            "SELECT paper_id FROM paper_ids WHERE scheme = ? AND value = ?", (scheme, value))
        return [r[0] for r in rows]

    def by_identifiers(self, ids: dict[str, str]) -> dict[str, list[int]]:
        """``scheme -> ids of the papers with that identifier`` for a record's
        ``scheme -> value`` pairs, in one query (ordered by paper id)."""
        if not ids:
            return {}
        where = " OR ".join(["(scheme = ? AND value = ?)"] * len(ids))
        out: dict[str, list[int]] = defaultdict(list)
        for pid, scheme in self.conn.execute(
                f"SELECT paper_id, scheme FROM paper_ids WHERE {where} ORDER BY paper_id",
                [v for pair in ids.items() for v in pair]):
            out[scheme].append(pid)
        return dict(out)

    def by_title_keys(self, keys: list[str]) -> list[tuple[int, str]]:
        """``(paper_id, norm_title)`` of every paper filed under one of the title blocking
        keys: all of them (no cap), the ids from the keys' index range and the titles
        from the covering index ``papers_titles`` (no row of ``papers`` read)."""
        if not keys:
            return []
        rows = self.conn.execute(
            "SELECT k.paper_id, p.norm_title FROM title_hashes k JOIN papers p"
            " INDEXED BY papers_titles ON p.id = k.paper_id"
            f" WHERE k.h IN ({_placeholders(len(keys))})", [key_hash(k) for k in keys])
        return list(dict.fromkeys((r[0], r[1]) for r in rows))

    def candidates(self, paper_ids: list[int]) -> list[Candidate]:
        if not paper_ids:
            return []
        marks = _placeholders(len(paper_ids))
        ids: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for pid, scheme, value in self.conn.execute(
                f"SELECT paper_id, scheme, value FROM paper_ids WHERE paper_id IN ({marks})",
                paper_ids):
            ids[pid][scheme].add(value)
        rows = self.conn.execute(
            f"SELECT id, norm_title, abstract FROM papers WHERE id IN ({marks}) ORDER BY id",
            paper_ids)
        return [
            Candidate(r[0], r[1], r[2], {s: frozenset(v) for s, v in ids[r[0]].items()})
            for r in rows
        ]

    def key_of(self, paper_id: int) -> str:
        return str(self.conn.execute("SELECT key FROM papers WHERE id = ?",
                                     (paper_id,)).fetchone()[0])

    # -- writes ------------------------------------------------------------------
    def insert(self, *, key: str, title: str, norm_title: str, abstract: str,
               authors: list[str], date: str | None, venue: str | None,
               categories: list[str], links: list[str], now: str) -> int | None:
        """The new paper's id, or None (nothing written) when ``key`` is taken. Its title
        keys and identifiers are written by :meth:`file_titles` and
        :meth:`add_identifier_rows`."""
        year = int(date[:4]) if date else None
        cur = self.conn.execute(
            "INSERT INTO papers (key, title, norm_title, abstract, authors, date, year, venue,"
            " categories, links, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (key) DO NOTHING",
            (key, title, norm_title, abstract, _json(authors), date, year, venue,
             _json(categories), _json(links), now, now))
        if cur.rowcount == 0:
            return None
        return int(cur.lastrowid or 0)

    def file_titles(self, rows: list[tuple[int, int]]) -> None:
        """File papers under their title's blocking keys: ``(key_hash, paper_id)`` rows
        (keys of a title a paper had before stay, so that title still finds it)."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO title_hashes (h, paper_id) VALUES (?, ?)", rows)

    def add_identifiers(self, paper_id: int, ids: Iterable[tuple[str, str, str]]) -> None:
        """Add ``(scheme, match_value, raw)`` triples the paper does not have yet."""
        self.add_identifier_rows([(paper_id, s, v, r) for s, v, r in ids])

    def add_identifier_rows(self, rows: list[tuple[int, str, str, str]]) -> None:
        """Add ``(paper_id, scheme, match_value, raw)`` rows the papers do not have yet."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO paper_ids (paper_id, scheme, value, raw) VALUES (?,?,?,?)",
            rows)

    def fill_gaps(self, paper_id: int, *, abstract: str, authors: list[str],
                  date: str | None, venue: str | None, categories: list[str],
                  links: list[str], now: str) -> bool:
        """Fill the paper's empty fields from a newly met source; True if anything changed."""
        row = self.conn.execute(
            "SELECT abstract, authors, date, venue, categories, links FROM papers WHERE id = ?",
            (paper_id,)).fetchone()
        new: dict[str, Any] = {}
        if abstract and not row["abstract"]:
            new["abstract"] = abstract
        if authors and row["authors"] == "[]":
            new["authors"] = _json(authors)
        if date and not row["date"]:
            new["date"], new["year"] = date, int(date[:4])
        if venue and not row["venue"]:
            new["venue"] = venue
        for name, values in (("categories", categories), ("links", links)):
            old = json.loads(row[name])
            merged = old + [v for v in values if v not in old]
            if merged != old:
                new[name] = _json(merged)
        if not new:
            return False
        new["updated_at"] = now
        sets = ", ".join(f"{k} = ?" for k in new)
        self.conn.execute(f"UPDATE papers SET {sets} WHERE id = ?", (*new.values(), paper_id))
        return True

    def revise(self, paper_id: int, *, title: str, norm_title: str, abstract: str,
               authors: list[str], now: str, block_keys: list[str]) -> None:
        """Replace the paper's title and text with a newer version's (a source's new version
        of the same paper); an empty abstract or author list keeps the old one."""
        row = self.conn.execute("SELECT abstract, authors FROM papers WHERE id = ?",
                                (paper_id,)).fetchone()
        self.conn.execute(
            "UPDATE papers SET title = ?, norm_title = ?, abstract = ?, authors = ?,"
            " updated_at = ? WHERE id = ?",
            (title, norm_title, abstract or row["abstract"],
             _json(authors) if authors else row["authors"], now, paper_id))
        self.file_titles([(key_hash(k), paper_id) for k in block_keys])

    # -- reads for the edges -------------------------------------------------------
    def id_for(self, key_or_identifier: str) -> int | None:
        row = self.conn.execute("SELECT id FROM papers WHERE key = ?",
                                (key_or_identifier,)).fetchone()
        return int(row[0]) if row else None

    def ids_for(self, keys: list[str]) -> dict[str, int]:
        """``key -> paper id`` of the keys that name papers (one query per 900 keys)."""
        out: dict[str, int] = {}
        for chunk in chunks(keys):
            out.update(self.conn.execute(
                f"SELECT key, id FROM papers WHERE key IN ({_placeholders(len(chunk))})",
                chunk).fetchall())
        return out

    def get_many(self, paper_ids: list[int]) -> list[Paper]:
        """Papers with their identifiers (collections and sources are added by the caller)."""
        if not paper_ids:
            return []
        marks = _placeholders(len(paper_ids))
        ids: dict[int, dict[str, str]] = defaultdict(dict)
        for pid, scheme, raw in self.conn.execute(
                f"SELECT paper_id, scheme, raw FROM paper_ids WHERE paper_id IN ({marks}) "
                "ORDER BY paper_id, scheme, value", paper_ids):
            ids[pid].setdefault(scheme, raw)
        rows = self.conn.execute(f"SELECT * FROM papers WHERE id IN ({marks})", paper_ids)
        by_id = {r["id"]: _paper(r, ids[r["id"]]) for r in rows}
        return [by_id[i] for i in paper_ids if i in by_id]

    def shown(self, paper_ids: list[int]) -> dict[int, Shown]:
        """``paper id -> what a search result shows of it`` (one query per 900 ids)."""
        out: dict[int, Shown] = {}
        for chunk in chunks(paper_ids):
            out.update((r[0], Shown(r[1], r[2], r[3], r[4], json.loads(r[5])))
                       for r in self.conn.execute(
                           "SELECT id, key, title, abstract, year, authors FROM papers "
                           f"WHERE id IN ({_placeholders(len(chunk))})", chunk))
        return out

    def texts(self, paper_ids: list[int]) -> dict[int, tuple[str, str, str]]:
        """``paper id -> (key, title, abstract)``, read in chunks."""
        out: dict[int, tuple[str, str, str]] = {}
        for chunk in chunks(paper_ids):
            rows = self.conn.execute(
                f"SELECT id, key, title, abstract FROM papers WHERE id IN "
                f"({_placeholders(len(chunk))})", chunk)
            out.update({r[0]: (r[1], r[2], r[3]) for r in rows})
        return out

    def iter_ids(self, batch: int = 1000, *, collection_id: int | None = None,
                 order: str = "id") -> Iterator[list[int]]:
        """Paper ids in batches, in insertion order (or newest first with ``order='recent'``)."""
        if order == "recent":
            sql = "SELECT id FROM papers ORDER BY COALESCE(date, '') DESC, id DESC"
            params: tuple[Any, ...] = ()
            if collection_id is not None:
                sql = ("SELECT p.id FROM papers p JOIN collection_papers c ON c.paper_id = p.id "
                       "WHERE c.collection_id = ? ORDER BY COALESCE(p.date, '') DESC, p.id DESC")
                params = (collection_id,)
            cur = self.conn.execute(sql, params)
            while chunk := cur.fetchmany(batch):
                yield [r[0] for r in chunk]
            return
        last = 0
        while True:
            if collection_id is None:
                rows = self.conn.execute(
                    "SELECT id FROM papers WHERE id > ? ORDER BY id LIMIT ?", (last, batch))
            else:
                rows = self.conn.execute(
                    "SELECT paper_id FROM collection_papers WHERE collection_id = ? "
                    "AND paper_id > ? ORDER BY paper_id LIMIT ?", (collection_id, last, batch))
            chunk = [r[0] for r in rows]
            if not chunk:
                return
            yield chunk
            last = chunk[-1]

    def counts(self) -> dict[str, Any]:
        one = self.conn.execute(
            "SELECT COUNT(*), SUM(abstract != '') FROM papers").fetchone()
        by_scheme = dict(self.conn.execute(
            "SELECT scheme, COUNT(DISTINCT paper_id) FROM paper_ids GROUP BY scheme"
            " ORDER BY scheme").fetchall())
        return {"papers": one[0], "with_abstract": one[1] or 0, "identifiers": by_scheme}


def _paper(row: sqlite3.Row, ids: dict[str, str]) -> Paper:
    return Paper(
        id=row["id"], key=row["key"], title=row["title"], abstract=row["abstract"],
        authors=json.loads(row["authors"]), date=row["date"], year=row["year"],
        venue=row["venue"], categories=json.loads(row["categories"]),
        links=json.loads(row["links"]), ids=dict(ids), created_at=row["created_at"])
