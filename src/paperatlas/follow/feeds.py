"""RSS 2.0 and Atom feeds of papers: the newest, trending, a collection, a topic, a search.

:class:`~paperatlas.facade.feeds.FeedBuilder` turns a library's lists into a :class:`Feed`
(paths relative to the site); :func:`render_feed` writes it as RSS or Atom bytes with
absolute links. Both are deterministic: the same papers and votes give the same bytes, so a
hash of them is a stable ``ETag``. A paper's GUID (RSS) and id (Atom) is the absolute URL of
its page, which holds its key and so never changes. An entry's ``updated`` time is when the
paper was added to the library (for trending, its latest vote if later); ``published`` is
the paper's date. Text is written with ``xml.etree``, which escapes it (an RSS description,
which readers take as HTML, is escaped as HTML first; Atom says ``type="text"``); characters
XML cannot hold are dropped."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime

from ..errors import InvalidOptionError
from ..records.papers import Paper
from ..urls import SITE, Urls
from .trending import TrendingPaper

FEED_FORMATS: tuple[str, ...] = ("rss", "atom")
FEED_KINDS: tuple[str, ...] = ("newest", "trending", "collection", "node", "search")
MEDIA_TYPES: dict[str, str] = {"rss": "application/rss+xml; charset=utf-8",
                               "atom": "application/atom+xml; charset=utf-8"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/elements/1.1/"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class FeedEntry:
    """One paper in a feed."""

    key: str
    title: str
    summary: str
    path: str  # the paper's page, relative to the site
    updated: datetime
    published: datetime | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Feed:
    """A feed before it is written: ``id_path`` names it (the same for RSS and Atom),
    ``html_path`` is the page it follows."""

    kind: str
    title: str
    description: str
    id_path: str
    html_path: str
    entries: list[FeedEntry]

    @property
    def updated(self) -> datetime:
        """The latest change of an entry (1970 for an empty feed)."""
        return max((e.updated for e in self.entries), default=EPOCH)


def _when(text: str | None) -> datetime | None:
    """An ISO date or time as UTC: ``YYYY[-MM[-DD]]`` at midnight, times as given."""
    if not text:
        return None
    try:
        if len(text) <= 10:
            parts = [int(x) for x in text.split("-")] + [1, 1]
            return datetime.combine(date(parts[0], parts[1], parts[2]), datetime.min.time(),
                                    UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def paper_entry(paper: Paper, *, note: str = "", touched: str | None = None) -> FeedEntry:
    """A paper as a feed entry; ``note`` leads its summary, ``touched`` (a later change,
    such as a vote) moves its ``updated`` time."""
    added = _when(paper.created_at) or EPOCH
    later = _when(touched)
    summary = " · ".join(s for s in (note, paper.abstract) if s)
    return FeedEntry(key=paper.key, title=paper.title, summary=summary,
                     path=SITE.paper(paper.key), updated=max(added, later or added),
                     published=_when(paper.date), authors=list(paper.authors),
                     categories=list(paper.categories))


def trending_entry(item: TrendingPaper, window: str) -> FeedEntry:
    votes = f"{item.votes} vote{'s' if item.votes != 1 else ''} in the last {window}"
    return paper_entry(item.paper, note=votes, touched=item.last_vote)


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _sub(parent: ET.Element, tag: str, text: str | None = None,
         **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _text(v) for k, v in attrib.items()})
    if text is not None:
        element.text = _text(text)
    return element


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_feed(feed: Feed, fmt: str, *, base_url: str, self_url: str,
                site_title: str = "paperatlas") -> bytes:
    """The feed as RSS 2.0 or Atom 1.0 (``fmt``, one of ``FEED_FORMATS``), UTF-8 XML;
    ``base_url`` makes links absolute (see :class:`~paperatlas.urls.Urls`), ``self_url`` is
    the feed's own."""
    if fmt not in FEED_FORMATS:
        raise InvalidOptionError("feed format", fmt, FEED_FORMATS)
    from .. import __version__  # (the package imports this module first)

    urls = Urls(base_url)
    title = f"{feed.title} · {site_title}"
    root = (_rss(feed, urls, self_url, title, __version__) if fmt == "rss"
            else _atom(feed, urls, self_url, title, site_title, __version__))
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _rss(feed: Feed, urls: Urls, self_url: str, title: str, version: str) -> ET.Element:
    # Prefixed names are written as they are (no global ``register_namespace``).
    rss = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM, "xmlns:dc": DC})
    channel = _sub(rss, "channel")
    _sub(channel, "title", title)
    _sub(channel, "link", urls.url(feed.html_path))
    _sub(channel, "description", feed.description)
    _sub(channel, "atom:link", href=self_url, rel="self", type="application/rss+xml")
    _sub(channel, "lastBuildDate", format_datetime(feed.updated, usegmt=True))
    _sub(channel, "generator", f"paperatlas {version}")
    for e in feed.entries:
        item = _sub(channel, "item")
        _sub(item, "title", e.title)
        _sub(item, "link", urls.url(e.path))
        _sub(item, "guid", urls.url(e.path), isPermaLink="true")
        _sub(item, "pubDate", format_datetime(e.published or e.updated, usegmt=True))
        if e.summary:  # readers take an RSS description as HTML: escape the text for it
            _sub(item, "description", html.escape(e.summary, quote=False))
        for name in e.authors:
            _sub(item, "dc:creator", name)
        for category in e.categories:
            _sub(item, "category", category)
    return rss


def _atom(feed: Feed, urls: Urls, self_url: str, title: str, site_title: str,
          version: str) -> ET.Element:
    root = ET.Element("feed", {"xmlns": ATOM})
    _sub(root, "id", urls.url(feed.id_path))
    _sub(root, "title", title)
    _sub(root, "subtitle", feed.description)
    _sub(root, "updated", _rfc3339(feed.updated))
    _sub(root, "link", rel="alternate", type="text/html", href=urls.url(feed.html_path))
    _sub(root, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(_sub(root, "author"), "name", site_title)
    _sub(root, "generator", "paperatlas", version=version)
    for e in feed.entries:
        entry = _sub(root, "entry")
        _sub(entry, "id", urls.url(e.path))
        _sub(entry, "title", e.title, type="text")
        _sub(entry, "link", rel="alternate", type="text/html", href=urls.url(e.path))
        _sub(entry, "updated", _rfc3339(e.updated))
        if e.published is not None:
            _sub(entry, "published", _rfc3339(e.published))
        for name in e.authors:
            _sub(_sub(entry, "author"), "name", name)
        if e.summary:
            _sub(entry, "summary", e.summary, type="text")
        for category in e.categories:
            _sub(entry, "category", term=category)
    return root
