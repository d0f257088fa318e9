"""Author identifiers: recognizing them, and telling authors apart or together by them
(pure functions).

Sources name an author's identifiers beside the name: an ORCID iD (OpenAlex, Crossref,
PubMed), a Semantic Scholar author id, an OpenAlex author id, a Hugging Face account (the
Daily Papers' claimed authors). Each kind is normalized (:func:`normalize`) so that the
same author written by two sources compares equal: ``0000-0002-1689-6636`` (hyphens, an
upper-case check character that must be right), ``1741101``, ``A5023888391``, ``akhaliq``.

**One author** (:func:`group`): each author of each source of a paper that has an
identifier is a *mention*; mentions join when they

1. share an ORCID;
2. are the same author of a paper met in two of its sources: the same name key
   (Crossref's ``John A. Smith`` with an ORCID and Semantic Scholar's ``J. Smith`` with its
   author id; not where one source has two authors of that key), or the same place in the
   two lists of authors and a word of three letters or more in common (OpenAlex's
   ``Kyriacos A. Athanasiou`` and Semantic Scholar's ``Kyriacos, Κυριάκος, Athanasiou,
   Αθανασίου``, both fifth);
3. share another identifier (Semantic Scholar, OpenAlex, Hugging Face);

in that order, and never so that one author would hold two ORCIDs: an ORCID names one
person, so two people with the same name key and different ORCIDs stay apart, whereas the
other identifiers only ever join (their services sometimes give one person two ids, and
now and then one id to two people). Names without identifiers are left to the name key
(:mod:`paperatlas.authors`).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .authors import author_key, fold
from .records.authors import Mention
from .records.papers import AUTHOR_ID_SCHEMES, AuthorIds, Paper, Record

__all__ = ["AUTHOR_ID_SCHEMES", "Mention", "Person", "group", "id_url", "ids_for",
           "normalize", "on_paper", "parse_ref", "source_extra"]

#: The key of a source row's ``extra`` that holds its authors' identifiers.
EXTRA_KEY = "author_ids"

_ORCID = re.compile(r"^(?:(?:https?://)?(?:www\.)?orcid\.org/|orcid:\s*)?"
                    r"(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])/?$", re.IGNORECASE)
_S2 = re.compile(r"^(?:(?:https?://)?(?:www\.)?semanticscholar\.org/author/(?:[^/]+/)?)?"
                 r"(\d{1,15})$")
_OPENALEX = re.compile(r"^(?:(?:https?://)?openalex\.org/(?:authors/)?)?(A\d{1,15})$",
                       re.IGNORECASE)
_HF = re.compile(r"^(?:(?:https?://)?huggingface\.co/)?([A-Za-z0-9][A-Za-z0-9._-]{0,95})$")
#: How a page names an author by an identifier: ``orcid:0000-0002-1689-6636``, ``s2:1741101``.
_REF = re.compile(r"^([a-z0-9]+):(.+)$", re.IGNORECASE)

#: Where each kind of identifier is shown.
URLS = {"orcid": "https://orcid.org/{}", "s2": "https://www.semanticscholar.org/author/{}",
        "openalex": "https://openalex.org/{}", "hf": "https://huggingface.co/{}"}


def orcid_checks(digits: str) -> bool:
    """Whether 16 ORCID characters end in their ISO 7064 MOD 11-2 check character."""
    total = 0
    for ch in digits[:-1]:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    return digits[-1].upper() == ("X" if check == 10 else str(check))


def normalize(scheme: str, raw: object) -> str | None:
    """The identifier of ``scheme`` that ``raw`` writes (a bare id, a prefixed one or a
    URL), normalized; ``None`` when it is not one (an ORCID with a wrong check character
    is not one)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    text = str(raw).strip()
    if scheme == "orcid":
        m = _ORCID.match(text)
        if m is None or not orcid_checks("".join(m.groups())):
            return None
        return "-".join(m.groups()).upper()
    if scheme == "s2":
        m = _S2.match(text)
        return str(int(m.group(1))) if m and int(m.group(1)) > 0 else None
    if scheme == "openalex":
        m = _OPENALEX.match(text)
        return m.group(1).upper() if m else None
    if scheme == "hf":
        m = _HF.match(text)
        return m.group(1) if m else None
    return None


def ids_for(name: str, **raw: object) -> AuthorIds | None:
    """``name``'s identifiers from what a source wrote for each scheme (``orcid=...``,
    ``s2=...``), those that are not identifiers left out; ``None`` when none is one."""
    ids = {s: v for s, r in raw.items() if s in AUTHOR_ID_SCHEMES
           and (v := normalize(s, r)) is not None}
    return AuthorIds(name, ids) if ids and name else None


def id_url(scheme: str, value: str) -> str:
    """The page of an author identifier (``https://orcid.org/0000-...``)."""
    return URLS[scheme].format(value) if scheme in URLS else ""


def parse_ref(text: str) -> tuple[str, str] | None:
    """``(scheme, value)`` when ``text`` names an author by an identifier:
    ``orcid:0000-0002-1689-6636``, a bare ORCID or its URL, ``s2:1741101``,
    ``openalex:A5023888391`` or its URL, ``hf:akhaliq``."""
    text = text.strip()
    if (orcid := normalize("orcid", text)) is not None:
        return "orcid", orcid
    if text.lower().startswith(("http://", "https://")):
        for scheme in ("openalex", "s2"):
            if (value := normalize(scheme, text)) is not None:
                return scheme, value
        return None
    m = _REF.match(text)
    if m is None or m.group(1).lower() not in AUTHOR_ID_SCHEMES:
        return None
    scheme = m.group(1).lower()
    value = normalize(scheme, m.group(2))
    return (scheme, value) if value is not None else None


def ref(scheme: str, value: str) -> str:
    """How a page names an author by an identifier: ``orcid:0000-0002-1689-6636``."""
    return f"{scheme}:{value}"


def source_extra(rec: Record, clean: Callable[[str], str]) -> dict[str, object]:
    """What a record's source row keeps (its ``extra``), with its authors' identifiers
    under :data:`EXTRA_KEY`, one object per author: ``{"name": ..., "position": ...,
    "orcid": ..., "s2": ...}``, the name ``clean``-ed as the paper's are (``rec`` is
    cleaned already) and ``position`` its place in ``rec.authors`` when it is there."""
    if not rec.author_ids:
        return rec.extra
    places: dict[str, list[int]] = defaultdict(list)
    for i, n in enumerate(rec.authors):
        places[n].append(i)
    kept: list[dict[str, object]] = []
    for a in rec.author_ids:
        name = clean(a.name)
        if name and a.ids:
            at = places[name].pop(0) if places.get(name) else -1  # two of one name: in turn
            kept.append({"name": name, **({"position": at} if at >= 0 else {}), **a.ids})
    return {**rec.extra, EXTRA_KEY: kept} if kept else rec.extra


def on_paper(paper: Paper) -> list[dict[str, str]]:
    """The identifiers of each of ``paper.authors`` (in order; ``{}`` for an author
    without), from what its sources kept (:func:`source_extra`): an author of a source
    is one of the paper's when the names are equal, else when their name keys are and
    the paper has one author of that key, else when it has the same place in its list
    and a word of three letters or more in common (as :func:`group` joins them). A
    scheme two sources disagree on for one author (two ORCIDs) is left out: which is
    right is not known."""
    found: list[dict[str, set[str]]] = [defaultdict(set) for _ in paper.authors]
    exact: dict[str, list[int]] = defaultdict(list)
    keyed: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(paper.authors):
        exact[name].append(i)
        keyed[author_key(name)].append(i)
    for source in paper.sources:
        kept = source.extra.get(EXTRA_KEY)
        for entry in kept if isinstance(kept, list) else []:
            name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
            places = exact.get(name) or keyed.get(author_key(name)) or []
            at = entry.get("position") if isinstance(entry, dict) else None
            if (not places and isinstance(at, int) and 0 <= at < len(paper.authors)
                    and _words(name) & _words(paper.authors[at])):
                places = [at]
            if len(places) != 1:  # unknown, or two authors it could be
                continue
            for scheme in AUTHOR_ID_SCHEMES:
                if isinstance(value := entry.get(scheme), str):
                    found[places[0]][scheme].add(value)
    return [{s: next(iter(v)) for s, v in ids.items() if len(v) == 1} for ids in found]


@dataclass
class Person:
    """Mentions that are one author (see the module's rule)."""

    mentions: list[Mention] = field(default_factory=list)

    @property
    def orcid(self) -> str | None:
        """The author's ORCID (``None``: none is known)."""
        return next(iter(self.ids.get("orcid", [])), None)

    @property
    def ids(self) -> dict[str, list[str]]:
        """Every identifier met, by scheme (in :data:`AUTHOR_ID_SCHEMES` order)."""
        found: dict[str, set[str]] = defaultdict(set)
        for m in self.mentions:
            for scheme, value in m.ids:
                found[scheme].add(value)
        return {s: sorted(found[s]) for s in AUTHOR_ID_SCHEMES if s in found}

    @property
    def papers(self) -> set[int]:
        return {m.paper_id for m in self.mentions}

    def names(self) -> Counter[str]:
        """The names written, each counted once per paper."""
        return Counter(n for _, n in {(m.paper_id, m.name) for m in self.mentions})

    def has(self, scheme: str, value: str) -> bool:
        return any((scheme, value) in m.ids for m in self.mentions)


class _Union:
    """Union-find over mentions, each set holding at most one ORCID."""

    def __init__(self, mentions: list[Mention]) -> None:
        self.parent = list(range(len(mentions)))
        self.orcids = [{v for s, v in m.ids if s == "orcid"} for m in mentions]

    def root(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        a, b = self.root(i), self.root(j)
        if a == b or (self.orcids[a] and self.orcids[b] and self.orcids[a] != self.orcids[b]):
            return
        self.parent[b] = a
        self.orcids[a] = self.orcids[a] | self.orcids[b]


def group(mentions: Iterable[Mention], key_of: Callable[[str], str]) -> list[Person]:
    """The people ``mentions`` are (see the module's rule), the most mentioned first;
    ``key_of`` gives a name's key (:func:`paperatlas.authors.author_key`; asked only of
    the names on papers that two sources give identifiers on)."""
    ms = sorted(set(mentions), key=lambda m: (m.paper_id, m.source_id, m.entry))
    union = _Union(ms)
    sources: dict[int, set[int]] = defaultdict(set)
    for m in ms:
        sources[m.paper_id].add(m.source_id)
    by_id: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_key: dict[tuple[int, str], list[int]] = defaultdict(list)
    by_position: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, m in enumerate(ms):
        for pair in m.ids:
            by_id[pair].append(i)
        if len(sources[m.paper_id]) > 1:  # the same author met in two sources of a paper
            if key := key_of(m.name):
                by_key[m.paper_id, key].append(i)
            if m.position >= 0:
                by_position[m.paper_id, m.position].append(i)
    ids = sorted(by_id.items())
    for pair, members in ids:
        if pair[0] == "orcid":
            _join_all(union, members)
    for members in by_key.values():  # not where one source has two of the key: its place
        if len({ms[i].source_id for i in members}) == len(members):
            _join_all(union, members)
    for members in by_position.values():  # one place of two sources' lists, a word shared
        if len(members) > 1:
            _join_across(union, ms, members, [_words(ms[i].name) for i in members])
    for pair, members in ids:
        if pair[0] != "orcid":
            _join_all(union, members)
    people: dict[int, Person] = {}
    for i, m in enumerate(ms):
        people.setdefault(union.root(i), Person()).mentions.append(m)
    return sorted(people.values(), key=lambda p: (-len(p.papers), p.mentions[0].paper_id))


def _join_all(union: _Union, members: list[int]) -> None:
    for j in members[1:]:
        union.join(members[0], j)


def _join_across(union: _Union, ms: list[Mention], members: list[int],
                 words: list[set[str]]) -> None:
    """Join the members that two different sources name and that share a word."""
    for a, x in enumerate(members):
        for b in range(a + 1, len(members)):
            y = members[b]
            if ms[x].source_id != ms[y].source_id and words[a] & words[b]:
                union.join(x, y)


def _words(name: str) -> set[str]:
    """The words of a name of three letters or more, accents and case folded."""
    return {w for w in re.findall(r"[^\W\d_]+", fold(name)) if len(w) >= 3}
