"""Pure helpers that shape core results for pages and JSON: links, snippets, days, pages."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from ..records.papers import Paper
from ..search import SearchPage, Snippet
from ..search.sentences import MAX_SENTENCES
from ..search.splitter import sentence_spans, split_sentences
from ..urls import SITE
from ..urls import tree_name as tree_name  # the segment's reader, for the routes

#: Where each identifier scheme resolves on the web.
ID_URLS: dict[str, str] = {
    "arxiv": "https://arxiv.org/abs/{}",
    "doi": "https://doi.org/{}",
    "pmid": "https://pubmed.ncbi.nlm.nih.gov/{}/",
    "pmcid": "https://www.ncbi.nlm.nih.gov/pmc/articles/{}/",
    "s2": "https://www.semanticscholar.org/paper/{}",
    "openalex": "https://openalex.org/{}",
}
ID_NAMES: dict[str, str] = {"arxiv": "arXiv", "doi": "DOI", "pmid": "PubMed",
                            "pmcid": "PMC", "s2": "Semantic Scholar", "openalex": "OpenAlex"}


def paper_url(key: str) -> str:
    """The page of a paper, relative to the site (see :class:`paperatlas.urls.Urls`)."""
    return SITE.paper(key)


def abstract_sentences(abstract: str) -> list[tuple[int | None, str]]:
    """The abstract as ``(index, sentence)`` and ``(None, gap)`` pieces, in order: each
    sentence numbered as ``ask`` cites it (the stored split: the same splitter), so a
    citation's link lands on it."""
    sentences = split_sentences(abstract)[:MAX_SENTENCES]
    pieces: list[tuple[int | None, str]] = []
    at = 0
    for i, (start, end) in enumerate(sentence_spans(abstract, sentences)):
        if start > at:
            pieces.append((None, abstract[at:start]))
        pieces.append((i, abstract[start:end]))
        at = end
    if at < len(abstract):
        pieces.append((None, abstract[at:]))
    return pieces


def tree_url(name: str, node: int | None = None) -> str:
    """The explorer page of a tree, or of one of its topics, relative to the site (prefix
    ``/api`` or ``/feeds`` for the JSON or a feed); :func:`tree_name` reads it back."""
    return SITE.tree(name, node)


def id_links(ids: dict[str, str]) -> list[dict[str, str]]:
    """A paper's identifiers as ``{scheme, name, value, url}`` (url empty when unknown)."""
    out = []
    for scheme, value in ids.items():
        pattern = ID_URLS.get(scheme)
        url = pattern.format(quote(value, safe="/:().;")) if pattern else ""
        out.append({"scheme": scheme, "name": ID_NAMES.get(scheme, scheme), "value": value,
                    "url": url})
    return out


def web_links(links: list[str]) -> list[str]:
    """The links that are safe to put in an ``href``: http(s) only (no ``javascript:``)."""
    return [u for u in links if u.lower().startswith(("http://", "https://"))]


#: How the feed names the formats (parsers) papers came from; others by their own name.
SOURCE_NAMES: dict[str, str] = {
    "arxiv-atom": "arXiv", "arxiv-oai": "arXiv", "arxiv-rss": "arXiv", "arxiv-snapshot":
    "arXiv", "hf-daily": "HF Daily", "dailypapers": "HF Daily", "openalex": "OpenAlex",
    "semantic-scholar": "Semantic Scholar", "pubmed": "PubMed", "biorxiv": "bioRxiv",
    "medrxiv": "medRxiv"}
#: The external signals a paper page shows, in this order, with their labels (the others
#: follow by name).
SIGNAL_LABELS: dict[str, str] = {
    "upvotes": "Upvotes", "numComments": "Comments", "githubRepo": "GitHub",
    "githubStars": "GitHub stars", "projectPage": "Project page",
    "organization": "Organization", "ai_keywords": "AI keywords", "ai_summary": "AI summary"}


def source_badges(paper: Paper) -> list[str]:
    """Where a paper came from, once each: the remote sources and file formats of its
    records (``bioRxiv``, ``HF Daily``, ``bibtex``), in the order they were met."""
    out: list[str] = []
    for source in paper.sources:
        name = SOURCE_NAMES.get(source.format, source.format)
        if name == "bioRxiv" and "medrxiv" in source.path:
            name = "medRxiv"
        if name and name not in out:
            out.append(name)
    return out


def upvotes(signals: dict[str, dict[str, Any]] | None) -> int | None:
    """A paper's upvotes on Hugging Face Daily Papers (else any source's), if known."""
    if not signals:
        return None
    for source in ("hf-daily", *sorted(signals)):
        value = signals.get(source, {}).get("upvotes")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def signal_items(signals: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A paper's external signals as ``{source, name, label, text, url, words}`` rows: a
    link for URLs (http(s) only), ``words`` for lists (keywords), else ``text``."""
    rows: list[dict[str, Any]] = []
    order = list(SIGNAL_LABELS)
    for source, values in sorted((signals or {}).items()):
        for name in sorted(values, key=lambda n: (order.index(n) if n in order
                                                  else len(order), n)):
            value = values[name]
            if name == "version" or value in (None, "", []):
                continue
            row: dict[str, Any] = {"source": SOURCE_NAMES.get(source, source), "name": name,
                                   "label": SIGNAL_LABELS.get(name, name.replace("_", " ")),
                                   "text": "", "url": "", "words": []}
            if isinstance(value, list):
                row["words"] = [str(v) for v in value]
            elif isinstance(value, str) and web_links([value]):
                row["url"] = row["text"] = value
                if name == "githubRepo":
                    row["text"] = value.split("github.com/", 1)[-1]
            else:
                row["text"] = str(value)
            rows.append(row)
    return rows


def segments(snippet: Snippet) -> list[tuple[str, bool]]:
    """A snippet as ``(text, highlighted)`` pieces, for templates to escape and mark."""
    out: list[tuple[str, bool]] = []
    last = 0
    for start, end in snippet.highlights:
        if start > last:
            out.append((snippet.text[last:start], False))
        out.append((snippet.text[start:end], True))
        last = end
    if last < len(snippet.text):
        out.append((snippet.text[last:], False))
    return out


def day_of(paper: Paper) -> str:
    """The day a feed files a paper under: its date, else the date of the listing it came
    from (Daily Papers pages), else the day it was added."""
    if paper.date:
        return paper.date
    for source in paper.sources:
        listed = source.extra.get("listed_on")
        if isinstance(listed, str) and listed:
            return listed
    return f"Added {paper.created_at[:10]}" if paper.created_at else "Undated"


def day_title(day: str) -> str:
    """``2025-07-03`` as ``Thu, Jul 3, 2025``; anything else as it is."""
    try:
        d = date.fromisoformat(day)
    except ValueError:
        return day
    return f"{d:%a, %b} {d.day}, {d.year}"


def when(paper: Paper) -> str:
    """A paper's date as a card shows it, year included: ``Jul 3, 2025``, ``Jul 2025`` or
    ``2025`` (what the record says; nothing when it says nothing)."""
    text = paper.date or ""
    for size, pattern, shown in ((10, "%Y-%m-%d", "{d:%b} {d.day}, {d.year}"),
                                 (7, "%Y-%m", "{d:%b} {d.year}")):
        try:
            return shown.format(d=datetime.strptime(text[:size], pattern))
        except ValueError:
            continue
    return str(paper.year) if paper.year else ""


def by_day(papers: list[Paper]) -> list[tuple[str, list[Paper]]]:
    """Papers grouped by :func:`day_of`, groups in the order they first appear."""
    groups: dict[str, list[Paper]] = {}
    for p in papers:
        groups.setdefault(day_of(p), []).append(p)
    return [(day_title(day), items) for day, items in groups.items()]


def paper_summary(paper: Paper) -> dict[str, Any]:
    """A paper as lists show it in JSON: without abstract and sources."""
    return {"key": paper.key, "title": paper.title, "authors": paper.authors,
            "date": paper.date, "year": paper.year, "venue": paper.venue,
            "collections": paper.collections, "ids": paper.ids}


def similar_dicts(page: SearchPage) -> list[dict[str, Any]]:
    """Similar papers as a paper's JSON lists them."""
    return [{"key": h.key, "title": h.title, "score": h.score, "year": h.year,
             "authors": h.authors} for h in page.hits]


@dataclass(frozen=True)
class Pager:
    """Page ``page`` (1-based) of ``total`` items, ``size`` a page, and links to others."""

    page: int
    size: int
    total: int
    params: tuple[tuple[str, str], ...] = ()  # the query string to keep, without "page"
    limit: int | None = None  # the last page there may be a link to (bounds.max_page)

    @property
    def pages(self) -> int:
        pages = max(1, math.ceil(self.total / self.size)) if self.size else 1
        return pages if self.limit is None else min(pages, self.limit)

    @property
    def first(self) -> int:
        return min((self.page - 1) * self.size + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.page * self.size, self.total)

    def url(self, page: int) -> str:
        params = [(k, v) for k, v in self.params if v != ""]
        return "?" + urlencode([*params, ("page", str(page))] if page > 1 else params)

    def window(self, radius: int = 2) -> list[int | None]:
        """Page numbers to show: the first, the last and those near this one (None: a gap)."""
        shown = sorted({1, self.pages, *range(max(1, self.page - radius),
                                              min(self.pages, self.page + radius) + 1)})
        out: list[int | None] = []
        for n in shown:
            if out and n - (out[-1] or 0) > 1:
                out.append(None)
            out.append(n)
        return out
