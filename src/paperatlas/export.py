"""Write papers out as JSON Lines or CSV (one row per paper, named by key)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from typing import TextIO

from .errors import InvalidOptionError
from .records.papers import Paper
from .records.serialize import to_json

CSV_COLUMNS = ("key", "title", "abstract", "authors", "date", "year", "venue", "categories",
               "links", "ids", "collections", "sources")


def write_jsonl(papers: Iterable[Paper], out: TextIO) -> int:
    n = 0
    for paper in papers:
        out.write(json.dumps(to_json(paper), ensure_ascii=False) + "\n")
        n += 1
    return n


def write_csv(papers: Iterable[Paper], out: TextIO) -> int:
    """Lists are joined with ``"; "``; ids as ``scheme:value``; sources as ``path:line``."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    n = 0
    for p in papers:
        writer.writerow([
            p.key, p.title, p.abstract, "; ".join(p.authors), p.date or "", p.year or "",
            p.venue or "", "; ".join(p.categories), "; ".join(p.links),
            "; ".join(f"{s}:{v}" for s, v in p.ids.items()), "; ".join(p.collections),
            "; ".join(f"{s.path}:{s.line}" for s in p.sources),
        ])
        n += 1
    return n


WRITERS: dict[str, Callable[[Iterable[Paper], TextIO], int]] = {
    "jsonl": write_jsonl,
    "csv": write_csv,
}


def writer_for(fmt: str) -> Callable[[Iterable[Paper], TextIO], int]:
    try:
        return WRITERS[fmt]
    except KeyError:
        raise InvalidOptionError("export format", fmt, tuple(WRITERS)) from None
