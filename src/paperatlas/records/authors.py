"""Typed records of authors: an author's page (their papers, co-authors and topics)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .papers import Paper


@dataclass(frozen=True)
class AuthorRef:
    """An author named by their key (``authors.author_key``), with a paper count."""

    key: str
    name: str
    papers: int


@dataclass(frozen=True)
class AuthorTopic:
    """A topic of a tree that an author's papers are in, and how many of them."""

    tree: str
    node: int
    label: str
    papers: int


@dataclass
class AuthorPage:
    """One author: every name variant met, their papers newest first (up to the page's
    limit; ``total`` counts them all), co-authors and topics by papers shared."""

    key: str
    name: str
    variants: list[str]
    total: int
    coauthors: list[AuthorRef] = field(default_factory=list)
    topics: list[AuthorTopic] = field(default_factory=list)
    papers: list[Paper] = field(default_factory=list)
