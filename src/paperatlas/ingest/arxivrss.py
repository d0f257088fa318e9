"""arXiv's announcement feed (``rss.arxiv.org/rss/CATS``, RSS 2.0): one ``<item>`` per
paper announced today, with its announce type (new, cross, replace, replace-cross) and
version as signals (a replacement's newer version revises the paper's text).

The description holds ``arXiv:ID Announce Type: TYPE`` and then ``Abstract: ...``; the
authors are one comma-separated ``dc:creator``. Read as a stream like the other arXiv
listings (:mod:`.arxivxml`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

from ..records.papers import Record
from ..text import clean_space
from .apijson import put_signals
from .arxivxml import abs_link, set_arxiv_ids
from .base import Parser
from .source import InputFile, Lines
from .xmlstream import Shape, child_text, child_texts, put_extra, stream, unique

_HEAD = re.compile(r"^\s*arXiv:(\S+)\s+Announce Type:\s*(\S+)\s*(?:Abstract:\s*)?", re.I)


def _date(text: str) -> str | None:
    try:
        return parsedate_to_datetime(text).date().isoformat() if text else None
    except (TypeError, ValueError):
        return None


def _authors(text: str) -> list[str]:
    """``dc:creator``'s comma-separated names (``and`` before the last, at times)."""
    parts = re.split(r",\s*|\s+and\s+", text)
    return [clean_space(p) for p in parts if clean_space(p)]


class ArxivRssParser(Parser):
    """An arXiv announcement RSS feed: each item a paper, its announce type a signal."""

    name = "arxiv-rss"
    _shape = Shape("an arXiv announcement RSS feed", ("rss",),
                    frozenset({("item", "channel")}))

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = file.head.lstrip()
        return (head.startswith("<") and "<rss" in head
                and ("arxiv.org/schemas/atom" in head or "rss.arxiv.org" in head))

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        for entry, (elem, line) in enumerate(stream(fh, str(file.path), self._shape), 1):
            yield self._record(elem, line, entry)

    @staticmethod
    def _record(elem: ET.Element, line: int, entry: int) -> Record:
        description = child_text(elem, "description")
        head = _HEAD.match(description)
        abstract = description[head.end():] if head else description
        rec = Record(title=child_text(elem, "title"), abstract=clean_space(abstract),
                     line=line, entry=entry)
        rec.authors = _authors(child_text(elem, "creator"))
        rec.categories = unique(child_texts(elem, "category"))
        rec.date = _date(child_text(elem, "pubDate"))
        guid = child_text(elem, "guid")
        set_arxiv_ids(rec, [head.group(1) if head else "", guid, child_text(elem, "link")], [],
                      guid or child_text(elem, "link"))
        rec.links = unique([child_text(elem, "link")])
        abs_link(rec)
        kind = (child_text(elem, "announce_type") or (head.group(2) if head else "")).lower()
        put_extra(rec.extra, license=child_text(elem, "rights"))
        # the version announced: a replacement's newer version revises the paper
        version = re.search(r"v(\d+)$", head.group(1) if head else guid)
        put_signals(rec, announce_type=kind or None,
                    version=int(version.group(1)) if version else None)
        return rec
