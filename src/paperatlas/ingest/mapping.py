"""Map the fields of a JSON object or CSV row onto a :class:`Record`.

A :class:`FieldMap` knows common column names for each field (``abstract``
may be ``abstract``, ``summary``, ``text``, ...) and takes user overrides such
as ``title=name``. Unmapped fields are kept in ``Record.extra``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import ids as idmod
from ..errors import InvalidOptionError
from ..records.papers import ID_SCHEMES, Record
from ..text import clean_space, parse_date, split_authors, split_list

#: Record fields and the source names tried for each, in order (compared lowercased).
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "key": ("_id", "key", "id", "paperid", "paper_id", "citation_key", "citationkey"),
    "title": ("title", "paper_title", "name", "display_name", "ti", "primary title"),
    "abstract": ("abstract", "summary", "text", "description", "abstract_note",
                 "abstract note", "abstractnote", "ab"),
    "authors": ("authors", "author", "creators", "author_names", "au"),
    "date": ("date", "published", "publication_date", "pub_date", "publicationdate",
             "issued", "created", "update_date"),
    "year": ("year", "publication_year", "pub_year", "py"),
    "venue": ("venue", "journal", "journal-ref", "journal_ref", "publication_title",
              "publication title", "publicationtitle", "proceedingstitle", "booktitle",
              "container_title", "container-title", "source", "jo"),
    "categories": ("categories", "category", "keywords", "subjects", "tags",
                   "fieldsofstudy", "manual tags"),
    "links": ("url", "urls", "link", "links", "pdf_url", "ur"),
    "arxiv": ("arxiv", "arxiv_id", "arxivid", "eprint"),
    "doi": ("doi", "do"),
    "pmid": ("pmid", "pubmed_id", "pubmed"),
    "pmcid": ("pmcid", "pmc"),
    "s2": ("s2", "s2_id", "semantic_scholar_id", "corpusid"),
    "openalex": ("openalex", "openalex_id"),
    "ids": ("ids", "externalids", "external_ids"),
}
FIELDS: tuple[str, ...] = tuple(DEFAULT_ALIASES)
_IDS_KEY_ALIASES = {"arxiv": "arxiv", "doi": "doi", "pubmed": "pmid", "pmid": "pmid",
                    "pubmedcentral": "pmcid", "pmcid": "pmcid", "corpusid": "s2",
                    "s2": "s2", "openalex": "openalex", "mag": "mag"}


def _norm_name(name: str) -> str:
    return name.strip().lower()


@dataclass
class FieldMap:
    """Which source field feeds which record field; user overrides first."""

    overrides: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for target in self.overrides:
            if target not in FIELDS:
                raise InvalidOptionError("mapping field", target, FIELDS)

    @classmethod
    def parse(cls, specs: list[str] | tuple[str, ...]) -> FieldMap:
        """Build from ``["title=name", "abstract=summary"]``."""
        overrides: dict[str, str] = {}
        for spec in specs:
            target, sep, source = spec.partition("=")
            if not sep or not source.strip():
                raise InvalidOptionError("mapping (expected FIELD=COLUMN)", spec, FIELDS)
            overrides[target.strip()] = source.strip()
        return cls(overrides)

    def resolve(self, names: list[str]) -> dict[str, str]:
        """For the given source field names, which one feeds each record field."""
        by_lower = {_norm_name(n): n for n in reversed(names)}
        chosen: dict[str, str] = {}
        used: set[str] = set()
        for target, source in self.overrides.items():
            actual = by_lower.get(_norm_name(source))
            if actual is not None:
                chosen[target] = actual
                used.add(actual)
        for target, aliases in DEFAULT_ALIASES.items():
            if target in chosen:
                continue
            for alias in aliases:
                actual = by_lower.get(alias)
                if actual is not None and actual not in used:
                    chosen[target] = actual
                    used.add(actual)
                    break
        return chosen

    def to_record(self, row: Mapping[str, Any], *, line: int, entry: int,
                  columns: dict[str, str] | None = None) -> Record:
        """Turn one row into a record; ``columns`` is a cached :meth:`resolve` result."""
        cols = columns if columns is not None else self.resolve(list(row))
        values = {target: row.get(source) for target, source in cols.items()}
        used = set(cols.values())
        extra = {k: v for k, v in row.items() if k not in used and v not in (None, "", [])}
        abstract = values.get("abstract") or uninvert(row.get("abstract_inverted_index"))
        rec = Record(
            title=clean_space(_as_text(values.get("title"))),
            abstract=clean_space(_as_text(abstract)),
            authors=_as_authors(values.get("authors")),
            venue=clean_space(_as_text(values.get("venue"))) or None,
            categories=_as_list(values.get("categories")),
            links=_as_list(values.get("links")),
            line=line,
            entry=entry,
            extra=extra,
        )
        raw_date = values.get("date") or values.get("year")
        rec.date = parse_date(_as_text(raw_date)) if raw_date not in (None, "") else None
        if rec.date is None and values.get("date") and values.get("year"):
            rec.date = parse_date(_as_text(values["year"]))
        _collect_ids(rec, values)
        key = _as_text(values.get("key")).strip()
        rec.source_key = key or None
        if key:
            guessed = idmod.recognize(key)
            if guessed and guessed[0] not in rec.ids:
                rec.ids[guessed[0]] = guessed[2]
        for scheme, raw in idmod.ids_from_links(rec.links).items():
            rec.ids.setdefault(scheme, raw)
        return rec


def record_from_fields(mapping: FieldMap, obj: dict[str, Any], *, line: int,
                       entry: int) -> Record:
    """A record from ``obj`` whose keys are record field names (``title``, ``doi``, ...).

    The other keys of ``obj`` end up in ``Record.extra``; a ``--map`` override may
    name any key of ``obj`` (lowercased) as the source of a record field.
    """
    columns = {name: name for name in FIELDS if obj.get(name) not in (None, "", [])}
    for target, source in mapping.overrides.items():
        if source.lower() in obj:
            columns[target] = source.lower()
    return mapping.to_record(obj, line=line, entry=entry, columns=columns)


def natural_name(parts: list[str]) -> str:
    """A name from its comma-separated parts in reading order.

    ``["Last", "First"]`` -> ``First Last``; ``["Last", "Jr", "First"]`` ->
    ``First Last Jr``; one part is already in reading order.
    """
    parts = [p for p in (clean_space(p) for p in parts) if p]
    if len(parts) == 2:
        return f"{parts[1]} {parts[0]}"
    if len(parts) >= 3:
        return f"{' '.join(parts[2:])} {parts[0]} {parts[1]}"
    return parts[0] if parts else ""


def _collect_ids(rec: Record, values: dict[str, Any]) -> None:
    for scheme in ID_SCHEMES:
        raw = _as_text(values.get(scheme)).strip()
        if raw:
            pair = idmod.normalize(scheme, raw)
            guess = None if pair else idmod.recognize(raw)  # e.g. an arXiv DOI is an arXiv id
            if pair:
                rec.ids[scheme] = pair[1]
            elif guess:
                rec.ids.setdefault(guess[0], guess[2])
            else:
                rec.extra.setdefault("unrecognized_ids", {})[scheme] = raw
    nested = values.get("ids")
    if isinstance(nested, Mapping):
        for name, raw_value in nested.items():
            alias = _IDS_KEY_ALIASES.get(re.sub(r"[^a-z]", "", str(name).lower()))
            if alias in ID_SCHEMES and raw_value not in (None, ""):
                pair = idmod.normalize(alias, str(raw_value))
                if pair and alias not in rec.ids:
                    rec.ids[alias] = pair[1]


def uninvert(index: Any) -> str:
    """OpenAlex's ``abstract_inverted_index`` (word -> positions) back to text."""
    if not isinstance(index, Mapping):
        return ""
    slots: dict[int, str] = {}
    for word, positions in index.items():
        if isinstance(positions, list):
            for pos in positions:
                if isinstance(pos, int) and 0 <= pos < 100_000:
                    slots[pos] = str(word)
    return " ".join(slots[i] for i in sorted(slots))


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(_as_text(v) for v in value)
    if isinstance(value, Mapping):
        return str(value.get("name") or value.get("display_name") or value.get("value")
                   or value.get("tag") or "")  # Zotero's tags: {"tag": ...}
    return str(value)


def _as_list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [t for t in (clean_space(_as_text(v)) for v in value) if t]
    return split_list(_as_text(value))


def _as_authors(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        return split_authors(_as_text(value))
    if any(isinstance(v, Mapping) and v.get("creatorType") == "author" for v in value):
        value = [v for v in value if not isinstance(v, Mapping)
                 or v.get("creatorType", "author") == "author"]  # Zotero: editors too
    names = []
    for v in value:
        if isinstance(v, list | tuple):  # arXiv's authors_parsed: [last, first, suffix]
            bits = [_as_text(p) for p in v]
            text = " ".join(p for p in (*bits[1:2], *bits[:1], *bits[2:]) if p)
        elif isinstance(v, Mapping) and not (v.get("name") or v.get("display_name")):
            # Zotero {"firstName", "lastName"}; CSL JSON {"given", "family"} or {"literal"}
            parts = (v.get("firstName") or v.get("given"), v.get("lastName") or v.get("family"))
            text = " ".join(str(p) for p in parts if p) or _as_text(v.get("literal"))
        else:
            text = _as_text(v)
        names.append(clean_space(text))
    return [n for n in names if n]
