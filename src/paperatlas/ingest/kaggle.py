"""arXiv's metadata snapshot (Kaggle's ``arxiv-metadata-oai-snapshot.json``).

One JSON object per line (``id``, ``authors_parsed``, ``categories``, ``doi``,
``journal-ref``, ``abstract``, ``versions``, ``update_date``, ...): 2.5 million
lines, 4 GB. Read as JSON Lines (one record per line, so a big file is committed
in batches and a killed ingest resumes after its last batch, see
:mod:`paperatlas.importer`); a line that is no JSON object is a rejected record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from .. import ids as idmod
from ..records.papers import Record
from ..text import clean_space, parse_date
from .jsonfmt import JsonLinesParser
from .limits import RecordError, guarded
from .lineworkers import decoded_lines, prepared_lines, worth_it
from .prepare import Prepared
from .source import InputFile, Lines

#: The start of a snapshot line: ``{"id":"2212.11867","submitter":...``.
_SNAPSHOT_START = re.compile(r'\s*\{\s*"id"\s*:\s*"[^"]*"\s*,\s*"submitter"\s*:')
_VERSION = re.compile(r"^v(\d+)$")
_DOI_SPLIT = re.compile(r"[\s,;]+(?=10\.)|\s+")


def _text(value: Any) -> str:
    return clean_space(value) if isinstance(value, str) else ""


def _authors(obj: dict[str, Any]) -> list[str]:
    """``authors_parsed`` (``[last, first, suffix]`` triples) as ``"First Last Suffix"``;
    the ``authors`` string when there is none."""
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            if not isinstance(parts, list):
                raise RecordError("authors_parsed holds something that is not a list")
            last, first, suffix = ([p if isinstance(p, str) else "" for p in parts]
                                   + ["", "", ""])[:3]
            if name := clean_space(f"{first} {last} {suffix}"):
                names.append(name)
        return names
    raw = _text(obj.get("authors"))
    return [n.strip() for n in re.split(r",\s*|\s+and\s+", raw) if n.strip()]


def snapshot_record(obj: dict[str, Any], *, line: int, entry: int) -> Record:
    """One snapshot line as a record: the id (with its latest version), v1's date as the
    submission date, the latest version and ``update_date`` kept in ``extra``."""
    rec = Record(title=_text(obj.get("title")), abstract=_text(obj.get("abstract")),
                 authors=_authors(obj), line=line, entry=entry)
    rec.categories = list(dict.fromkeys(_text(obj.get("categories")).split()))
    rec.venue = _text(obj.get("journal-ref")) or None
    versions = [v for v in obj.get("versions") or [] if isinstance(v, dict)]
    numbers = [int(m.group(1)) for v in versions
               if (m := _VERSION.match(str(v.get("version", ""))))]
    if versions:
        rec.date = parse_date(_text(versions[0].get("created")))
    update = parse_date(_text(obj.get("update_date")))
    rec.date = rec.date or update
    raw_id = _text(obj.get("id"))
    latest = max(numbers) if numbers else None
    pair = idmod.normalize("arxiv", f"{raw_id}v{latest}" if latest else raw_id)
    if pair:
        rec.source_key = pair[0]
        rec.ids["arxiv"] = pair[1]
        rec.links.append(f"https://arxiv.org/abs/{pair[0]}")
    else:
        rec.source_key = raw_id or None
    dois = [p[1] for d in _DOI_SPLIT.split(_text(obj.get("doi")))
            if d and (p := idmod.normalize("doi", d.strip(",;")))]
    if dois:
        rec.ids["doi"] = dois[0]
    extra = {"comments": _text(obj.get("comments")), "report_no": _text(obj.get("report-no")),
             "license": _text(obj.get("license")), "update_date": update,
             "latest_version": f"v{latest}" if latest else None,
             "other_dois": dois[1:]}
    rec.extra = {k: v for k, v in extra.items() if v}
    if latest:  # a later snapshot with a newer version revises the paper
        rec.extra["signals"] = {"version": latest}
    return rec


class ArxivSnapshotParser(JsonLinesParser):
    """Lines of arXiv's metadata snapshot (the Kaggle "arXiv Dataset")."""

    name = "arxiv-snapshot"
    suffixes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        if _SNAPSHOT_START.match(file.head) is None:
            return False
        first = file.head.lstrip().split("\n", 1)[0]
        if "\n" not in file.head.lstrip():  # the first line is longer than the head
            return True
        try:
            obj = json.loads(first)
        except ValueError:
            return False
        return isinstance(obj, dict) and "versions" in obj and "authors_parsed" in obj

    #: Whether a big file's lines are decoded in a helper process (:mod:`.lineworkers`).
    helper = True

    def _helped(self, file: InputFile) -> bool:
        """Whether the file's lines are decoded (and prepared) in a helper process."""
        return not self.mapping.overrides and self.helper and worth_it(file.size)

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        if self.mapping.overrides:  # --map: the generic JSON Lines reading, as asked
            yield from super().parse(file, fh)
        elif self._helped(file):
            yield from decoded_lines(fh, build_snapshot_record)
        else:
            yield from self._lines(fh, build_snapshot_record)

    def prepared(self, file: InputFile, fh: Lines, after: int = 0) -> Iterator[Prepared]:
        if self._helped(file):  # text cleaning and the rest beside the writes
            return prepared_lines(fh, build_snapshot_record)
        return super().prepared(file, fh, after)


def build_snapshot_record(obj: dict[str, Any], *, line: int, entry: int) -> Record:
    """:func:`snapshot_record`, or an error record when the line breaks it."""
    return guarded(snapshot_record, obj, line=line, entry=entry)
