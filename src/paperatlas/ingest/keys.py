"""Names: the files an ingest reads, the collection they go to, a new paper's key."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from .. import ids as idmod
from ..records.papers import ID_SCHEMES, Record
from ..text import slug, storable


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and the files inside folders named (sorted, hidden ones skipped)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file()
                              and not any(part.startswith(".") for part in f.relative_to(p).parts)))
        else:
            out.append(p)
    return out


def default_collection(path: Path, fmt: str | None) -> str:
    """The file's name; for a BEIR ``corpus.jsonl``, the data set's folder name."""
    if fmt == "beir" and path.stem == "corpus" and path.resolve().parent.name:
        return storable(path.resolve().parent.name)
    return storable(path.stem)


#: A file name that says nothing of its contents: a hash or a UUID, perhaps numbered
#: (``000_60a7c2738998f4b5``).
_OPAQUE = re.compile(r"^(?:\d{1,6}[_-])?"
                     r"(?:[0-9a-f]{12,}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$",
                     re.IGNORECASE)
#: How a collection named from its contents calls each format.
FORMAT_TITLES = {"dailypapers": "Daily Papers", "hf-daily": "Daily Papers",
                 "arxiv-atom": "arXiv", "arxiv-oai": "arXiv", "arxiv-rss": "arXiv",
                 "arxiv-snapshot": "arXiv", "kaggle": "arXiv", "openalex": "OpenAlex",
                 "semantic-scholar": "Semantic Scholar", "pubmed": "PubMed",
                 "biorxiv": "bioRxiv", "bibtex": "BibTeX", "ris": "RIS", "csljson": "CSL-JSON"}


def content_collection(name: str, fmt: str | None, first: Record) -> str:
    """``name`` (a file's name), or, when it is opaque (a hash), a name from what the file
    holds: its format and the day its first paper was listed or dated ("Daily Papers, Jul
    3"), with the name's number when it has one, so numbered pages of one day stay apart
    ("Daily Papers, Mar 17 (004)"); without a day, the format and the number ("Daily
    Papers (001)", or the name's last characters)."""
    if not _OPAQUE.match(name):
        return name
    title = FORMAT_TITLES.get(fmt or "", fmt or "Papers")
    when = str(first.extra.get("listed_on") or first.date or "")
    numbered = re.match(r"(\d{1,6})[_-]", name)
    number = f" ({numbered.group(1)})" if numbered else ""
    if when:
        return storable(f"{title}, {when}{number}")
    return storable(f"{title}{number or ' ' + name[-6:]}")


def base_key(rec: Record) -> str:
    """The key a record asks for: its source's key, else its first identifier, else
    its title's slug."""
    if rec.source_key:
        return re.sub(r"\s+", "_", rec.source_key.strip())
    for scheme in ID_SCHEMES:
        raw = rec.ids.get(scheme)
        pair = idmod.normalize(scheme, raw) if raw else None
        if pair:
            return pair[0] if scheme == "arxiv" else pair[1]
    return slug(rec.title)


def new_keys(rec: Record, collection: str) -> Iterator[str]:
    """A new paper's key: its own (arXiv id, DOI, source key, title slug), else scoped by
    its collection, else numbered (``base~2``, ``base~3``, ...)."""
    base = base_key(rec)
    yield base
    yield f"{collection}:{base}"
    yield from (f"{base}~{n}" for n in itertools.count(2))
