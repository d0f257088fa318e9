"""Streaming reads of XML answers (arXiv's Atom, OAI-PMH and RSS listings, PubMed), and
the element helpers their parsers share.

Each wanted element becomes available as soon as it is complete and is then dropped, so a
file of any size needs the memory of one paper (a record, or a line, over the size limit
fails the file).
"""

from __future__ import annotations

import pyexpat
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import ParseError
from ..text import clean_space
from .limits import MAX_RECORD_CHARS
from .source import Lines


@dataclass(frozen=True)
class Shape:
    """Which elements of an XML file hold the records, and which roots are allowed."""

    what: str  # what the file is, for messages ("an arXiv API Atom feed")
    roots: tuple[str, ...]
    wanted: frozenset[tuple[str, str]]  # (element, parent element), local names


def local_name(tag: str) -> str:
    """A tag without its namespace."""
    return tag.rpartition("}")[2]


def stream(fh: Lines, path: str, shape: Shape) -> Iterator[tuple[ET.Element, int]]:
    """Yield each wanted element, complete, with the line of its start tag.

    Lines are fed one at a time so that expat's line numbers are the file's;
    a yielded element is removed from the tree once the caller is done with it.
    """
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    stack: list[ET.Element] = []
    starts: list[int] = []
    n, text = 0, ""
    size = 0  # characters fed since the last record
    try:
        for n, text in fh:
            size += len(text) + 1
            if size > MAX_RECORD_CHARS:
                raise ParseError(f"a record is more than {MAX_RECORD_CHARS} characters long "
                                 f"(from line {starts[-1] if starts else 1})", path=path, line=n)
            try:
                parser.feed(text + "\n")
            except UnicodeEncodeError as exc:  # a stray byte, kept as a surrogate escape
                raise ParseError("malformed XML: a byte that is not valid text",
                                 path=path, line=n) from exc
            for item in parser.read_events():
                event, elem = item[0], item[-1]
                if not isinstance(elem, ET.Element):
                    continue
                if event == "start":
                    if not stack and local_name(elem.tag) not in shape.roots:
                        raise ParseError(
                            f"not {shape.what}: the root element is <{local_name(elem.tag)}>",
                            path=path, line=n)
                    stack.append(elem)
                    starts.append(n)
                    continue
                stack.pop()
                line = starts.pop()
                if not stack or (local_name(elem.tag),
                                 local_name(stack[-1].tag)) not in shape.wanted:
                    continue
                yield elem, line
                stack[-1].remove(elem)
                size = 0
        parser.close()
        list(parser.read_events())
    except ET.ParseError as exc:
        line, column = exc.position[0], exc.position[1]
        if line > n:  # the end of the file (each line is fed with a newline)
            line, column = max(n, 1), len(text) if n else 0
        raise ParseError(f"malformed XML: {pyexpat.ErrorString(exc.code)} (column {column + 1})",
                         path=path, line=line) from exc


def children(elem: ET.Element, name: str) -> list[ET.Element]:
    """The children of ``elem`` with the local name ``name``."""
    return [node for node in elem if local_name(node.tag) == name]


def child(elem: ET.Element, name: str) -> ET.Element | None:
    """The first child of ``elem`` with the local name ``name``, if any."""
    return next((node for node in elem if local_name(node.tag) == name), None)


def element_text(elem: ET.Element | None) -> str:
    """All the text inside ``elem``, whitespace collapsed (``""`` for none)."""
    return clean_space("".join(elem.itertext())) if elem is not None else ""


def child_texts(elem: ET.Element, name: str) -> list[str]:
    """The non-empty texts of the children named ``name``."""
    return [t for t in (element_text(node) for node in children(elem, name)) if t]


def child_text(elem: ET.Element, name: str) -> str:
    """The text of the first child named ``name`` (``""`` for none)."""
    return element_text(child(elem, name))


def unique(values: Iterable[str]) -> list[str]:
    """The non-empty values, each once, in their order."""
    return list(dict.fromkeys(v for v in values if v))


def put_extra(extra: dict[str, object], **values: object) -> None:
    """Add the non-empty ``values`` to a record's ``extra``."""
    extra.update({k: v for k, v in values.items() if v not in (None, "", [], {})})
