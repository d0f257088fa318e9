"""JSON answers of web APIs (Hugging Face, OpenAlex, Semantic Scholar): the document,
read within the size limits, and helpers their parsers share.

A recorded answer wrapped as ``{"_request": ..., "response": <body>}`` (the shape of
the test cassettes in the shared data) reads as its body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from .. import ids as idmod
from ..errors import ParseError
from ..records.papers import Record
from ..text import clean_space
from .jsonfmt import decode_document
from .limits import MAX_JSON_DOCUMENT_CHARS, guarded
from .source import InputFile, Lines

_WRAPPED = re.compile(r'^\{\s*"_request"\s*:')


def read_answer(fh: Lines, path: str, what: str) -> Any:
    """The JSON document of an answer (unwrapped); a malformed or cut one fails the file."""
    text = fh.read_rest(MAX_JSON_DOCUMENT_CHARS, (
        f"the answer is more than {MAX_JSON_DOCUMENT_CHARS} characters long (the limit)"))
    doc = decode_document(text, path, subject="the answer",
                          invalid=f"invalid JSON (not a complete {what})")
    if isinstance(doc, dict) and "_request" in doc and isinstance(doc.get("response"),
                                                                   dict | list):
        doc = doc["response"]
    return doc


def head_of(file: InputFile) -> str:
    """The start of the answer for sniffing, past a recording's ``_request`` wrapper."""
    head = file.head.lstrip()
    if _WRAPPED.match(head):
        at = head.find('"response"')
        head = head[at + len('"response"'):].lstrip(" \t\r\n:") if at >= 0 else head
    return head


def text_of(value: Any) -> str:
    """A string field, whitespace collapsed (``""`` for null and non-strings)."""
    return clean_space(value) if isinstance(value, str) else ""


def add_id(rec: Record, scheme: str, raw: Any) -> None:
    """Keep ``raw`` as an id of ``scheme`` when it is one (an arXiv DOI as an arXiv id)."""
    if raw in (None, ""):
        return
    value = str(raw)
    pair = idmod.normalize(scheme, value)
    if pair:
        rec.ids.setdefault(scheme, pair[1])
    elif (guess := idmod.recognize(value)) is not None:
        rec.ids.setdefault(guess[0], guess[2])


def put_signals(rec: Record, **values: Any) -> None:
    """What a source says of a paper (upvotes, repository, ...), the empty ones left out."""
    kept = {k: v for k, v in values.items() if v not in (None, "", [], {})}
    if kept:
        rec.extra["signals"] = kept


def unexpected(doc: Any, path: str, what: str) -> ParseError:
    """The error for a document that is not the answer expected (an error answer names
    its message)."""
    if isinstance(doc, dict):
        message = doc.get("error") or doc.get("message")
        if message:
            return ParseError(f"not {what}: the API answered an error: "
                              f"{str(message)[:300]}", path=path, line=1)
    return ParseError(f"not {what} (a JSON {type(doc).__name__} of another shape)",
                      path=path, line=1)


def not_object(item: Any, entry: int, path: str) -> ParseError:
    """The error for an item of the answer's list that is not an object (a garbled answer:
    the whole page fails, so a source asks it again)."""
    return ParseError(f"item {entry} of the answer is a JSON {type(item).__name__}, not an "
                      "object", path=path, line=1)


def each_record(items: list[Any], path: str, build: Callable[..., Record], *,
                nulls: bool = False) -> Iterator[Record]:
    """A record per item of an answer's list, ``build(item, line=0, entry=i)`` guarded; an
    item that is not an object fails the whole answer (``null`` too, unless ``nulls``)."""
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) and not (nulls and item is None):
            raise not_object(item, i, path)
        yield guarded(build, item, line=0, entry=i)
