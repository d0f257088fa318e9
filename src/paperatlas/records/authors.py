"""Typed records of authors: an author's page (their papers, co-authors and topics), an
author of a source with identifiers."""

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


@dataclass(frozen=True)
class AuthorIdentifier:
    """An identifier of an author (``scheme``: ``orcid``, ``s2``, ``openalex``, ``hf``) and
    its page."""

    scheme: str
    value: str
    url: str


@dataclass
class AuthorPage:
    """One author: every name variant met, their papers newest first (up to the page's
    limit; ``total`` counts them all), co-authors and topics by papers shared.

    ``key`` is the name key (``smith.j``), or ``scheme:value`` (``orcid:0000-...``) for an
    author told apart from others of the same name key by an ORCID. ``ids`` are the
    identifiers the sources give the author; ``people`` the authors of the same name key
    that ORCIDs tell apart: on a name key's page, each of them (the papers listed are those
    whose author is none of them); on one of theirs, the others."""

    key: str
    name: str
    variants: list[str]
    total: int
    coauthors: list[AuthorRef] = field(default_factory=list)
    topics: list[AuthorTopic] = field(default_factory=list)
    ids: list[AuthorIdentifier] = field(default_factory=list)
    people: list[AuthorRef] = field(default_factory=list)
    papers: list[Paper] = field(default_factory=list)


@dataclass(frozen=True)
class Mention:
    """One author of one source row of a paper: ``entry`` numbers the source's authors
    with identifiers, ``position`` is the author's place in its list of authors (from 0;
    -1 when unknown), ``name`` as written there, ``ids`` the identifiers that source gave
    them as ``(scheme, value)`` pairs (``("orcid", "0000-0002-1689-6636")``)."""

    source_id: int
    entry: int
    paper_id: int
    position: int
    name: str
    ids: frozenset[tuple[str, str]]
