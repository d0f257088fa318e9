"""JSON Lines (BEIR corpora included) and JSON documents."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from ..errors import ParseError
from ..records.papers import Record
from .base import Parser
from .limits import (
    MAX_JSON_DOCUMENT_CHARS,
    MAX_JSON_VALUES,
    MAX_LINE_CHARS,
    MAX_NESTING,
    error_record,
    guarded,
    json_too_deep,
    json_values,
)
from .lineworkers import decode, too_deep
from .source import InputFile, Lines

#: Keys under which a JSON document commonly holds its list of records.
_LIST_KEYS = ("data", "results", "items", "papers", "records", "works", "message")
#: Keys of a wrapper object whose value is the real payload (recorded API responses).
_WRAPPER_KEYS = ("response", "body")
#: Keys under which Semantic Scholar citation/reference items hold the paper.
_PAPER_KEYS = ("citingPaper", "citedPaper", "paper")


def _flatten_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """Lift BEIR's ``metadata`` fields (without overriding) and unwrap citation items."""
    for key in _PAPER_KEYS:
        inner = obj.get(key)
        if isinstance(inner, dict) and "title" not in obj:
            obj = {**inner, **{k: v for k, v in obj.items() if k != key}}
            break
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return obj
    flat = {k: v for k, v in obj.items() if k != "metadata"}
    for k, v in meta.items():
        flat.setdefault(k, v)
    return flat


class JsonLinesParser(Parser):
    """One JSON object per line; BEIR ``corpus.jsonl`` is the common case."""

    name = "jsonl"
    suffixes: ClassVar[tuple[str, ...]] = (".jsonl", ".ndjson", ".jsonlines")

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        lines = [ln.strip() for ln in file.head.splitlines() if ln.strip()]
        if not lines or not lines[0].startswith("{"):
            return False
        if _first_line_cut(file):  # a first line longer than the head: trust the name
            return file.path.suffix.lower() in cls.suffixes
        try:
            json.loads(lines[0])
        except ValueError:
            return False
        # A one-line JSON document in a .json file is a document, not JSON Lines.
        return file.path.suffix.lower() != ".json" or (
            len(lines) > 1 and lines[1].startswith("{"))

    #: One record per line and nothing carried from line to line: a resumed ingest may
    #: start at any line (see :mod:`paperatlas.importer`).
    one_record_per_line: ClassVar[bool] = True

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        columns: dict[str, str] | None = None
        names: tuple[str, ...] = ()

        def build(obj: dict[str, Any], *, line: int, entry: int) -> Record:
            nonlocal columns, names
            obj = _flatten_metadata(obj)
            if tuple(obj) != names:  # the usual case: every line has the same keys
                names = tuple(obj)
                columns = self.mapping.resolve([str(k) for k in names])
            return guarded(self.mapping.to_record, obj, line=line, entry=entry,
                           columns=columns)

        yield from self._lines(fh, build)

    @staticmethod
    def _lines(fh: Lines, build: Callable[..., Record]) -> Iterator[Record]:
        """``build(obj, line=, entry=)`` for each line's object. A line that is no JSON
        object is a rejected record, unless it is the first (then the file is no JSON
        Lines and fails whole); a last line cut off (no line break) is rejected too."""
        entry = 0
        resumed = fh.number > 0  # the ingest resumes after the lines already stored
        fh.tolerant = True  # an over-long line is a record error
        for n, line in fh:
            if n in fh.long:
                entry += 1
                yield error_record(f"line is {fh.long[n].chars} characters long "
                                   f"(more than {MAX_LINE_CHARS})", line=n, entry=entry)
                continue
            if not line.strip():
                continue
            entry += 1
            if (deep := too_deep(line)) is not None:
                yield error_record(deep, line=n, entry=entry)
                continue
            obj, problem = decode(line, not fh.final_newline)
            if problem is None:
                yield build(obj, line=n, entry=entry)
            elif entry == 1 and not resumed:
                raise ParseError(problem, path=fh.path, line=n)
            else:
                yield error_record(problem, line=n, entry=entry)


class BeirParser(JsonLinesParser):
    """BEIR corpus lines: ``_id``, ``title``, ``text`` and optional ``metadata``."""

    name = "beir"

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        if not super().sniff(file):
            return False
        if _first_line_cut(file):
            return _BEIR_START.match(file.head) is not None
        first = next(ln for ln in file.head.splitlines() if ln.strip())
        obj = json.loads(first)
        return isinstance(obj, dict) and "_id" in obj and ("text" in obj or "title" in obj)

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        """As JSON Lines; a document with an empty title (common in BEIR corpora, e.g.
        NFCorpus) gets its first words as the title, flagged ``title_derived``."""
        for rec in super().parse(file, fh):
            if not rec.title and rec.abstract:
                words = rec.abstract.split()
                rec.title = " ".join(words[:_DERIVED_TITLE_WORDS])
                rec.extra["title_derived"] = True
            yield rec


#: Words of the text taken as the title of an untitled BEIR document.
_DERIVED_TITLE_WORDS = 12
_HEAD_BYTES = 8192  # how much of a file InputFile.head holds
_BEIR_START = re.compile(r'\s*\{\s*"_id"\s*:')


def _first_line_cut(file: InputFile) -> bool:
    """Whether the head (the first KB) ends inside the first non-blank line."""
    return "\n" not in file.head.lstrip() and file.size > _HEAD_BYTES


class JsonDocumentParser(Parser):
    """A JSON array of records, or an object holding one (``{"data": [...]}``)."""

    name = "json"
    suffixes = (".json",)

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        return file.head.lstrip().startswith(("[", "{"))

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        path = str(file.path)
        text = fh.read_rest(MAX_JSON_DOCUMENT_CHARS, (
            f"the JSON document is more than {MAX_JSON_DOCUMENT_CHARS} characters long "
            "(the limit); split it, or convert it to JSON Lines"))
        if not text.strip():
            return
        doc = decode_document(text, path, subject="the JSON document",
                              advice="; split it, or convert it to JSON Lines")
        items = _find_records(doc)
        if items is None:
            raise ParseError("no list of records found in the JSON document", path=path, line=1)
        for i, obj in enumerate(items, 1):
            if not isinstance(obj, dict):
                raise ParseError(f"record {i} is a {type(obj).__name__}, not an object",
                                 path=path, line=None)
            yield guarded(self._record, obj, line=0, entry=i)

    def _record(self, obj: dict[str, Any], *, line: int, entry: int) -> Record:
        return self.mapping.to_record(_flatten_metadata(obj), line=line, entry=entry)


def decode_document(text: str, path: str, *, subject: str, advice: str = "",
                    invalid: str = "invalid JSON") -> Any:
    """Decode one JSON document after counting its values and checking its depth.

    ``subject`` names the document in the errors; ``advice`` ends the one for too many values.
    """
    if json_values(text) > MAX_JSON_VALUES:  # first: the depth check costs per value too
        raise ParseError(f"{subject} holds more than {MAX_JSON_VALUES} values "
                         f"(the limit){advice}", path=path)
    if json_too_deep(text):
        raise ParseError(f"{subject} is nested deeper than {MAX_NESTING} levels",
                         path=path, line=1)
    try:
        return json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", str(exc))
        raise ParseError(f"{invalid}: {msg}", path=path, line=line) from exc


def _find_records(doc: Any) -> list[Any] | None:
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict):
        return None
    for key in _WRAPPER_KEYS:
        if isinstance(doc.get(key), dict | list):
            return _find_records(doc[key])
    for key in _LIST_KEYS:
        value = doc.get(key)
        if isinstance(value, list):
            return value
        if isinstance(value, dict) and isinstance(value.get("items"), list):
            return list(value["items"])
    if any(key in doc for key in ("title", "display_name", *_PAPER_KEYS)):
        return [doc]  # the document is itself one record
    lists = [v for v in doc.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
    if len(lists) == 1:
        return lists[0]
    return [doc]
