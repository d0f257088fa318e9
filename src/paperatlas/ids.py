"""Recognize and normalize paper identifiers (pure functions).

Each ``normalize_*`` function takes whatever a source wrote (a bare id, a
prefixed id, a URL) and returns ``(match_value, raw_value)`` or ``None`` when
the text is not such an identifier. ``match_value`` is what dedup compares;
``raw_value`` keeps detail such as the arXiv version.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_ARXIV_NEW = re.compile(r"^(\d{4}\.\d{4,5})(v\d+)?$")
_ARXIV_OLD = re.compile(r"^([a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(v\d+)?$")
_ARXIV_PREFIX = re.compile(
    r"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)", re.IGNORECASE
)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)
_PMID_PREFIX = re.compile(
    r"^(?:pmid:\s*|https?://(?:www\.)?(?:ncbi\.nlm\.nih\.gov/pubmed|pubmed\.ncbi\.nlm\.nih\.gov)/)",
    re.IGNORECASE,
)
_PMCID = re.compile(r"^(?:pmcid:\s*)?(PMC\d+)$", re.IGNORECASE)
_S2 = re.compile(r"^(?:https?://(?:www\.)?semanticscholar\.org/paper/(?:[^/]+/)?)?([0-9a-f]{40})$")
_S2_CORPUS = re.compile(r"^corpusid:\s*(\d+)$", re.IGNORECASE)
_OPENALEX = re.compile(r"^(?:https?://openalex\.org/)?(W\d+)$", re.IGNORECASE)

IdPair = tuple[str, str]


def normalize_arxiv(text: str) -> IdPair | None:
    """``'arXiv:2104.12255v1'`` -> ``('2104.12255', '2104.12255v1')``."""
    s = _ARXIV_PREFIX.sub("", text.strip()).removesuffix(".pdf").strip("/")
    doi = _ARXIV_DOI.match(s)
    if doi:
        s = doi.group(1)
    m = _ARXIV_NEW.match(s) or _ARXIV_OLD.match(s)
    if not m:
        return None
    base = m.group(1)
    return base, base + (m.group(2) or "")


def normalize_doi(text: str) -> IdPair | None:
    """DOIs compare case-insensitively; arXiv's own DOIs are arXiv ids, not DOIs."""
    s = _DOI_PREFIX.sub("", text.strip()).rstrip(".")
    if not _DOI.match(s) or _ARXIV_DOI.match(s):
        return None
    return s.lower(), s


def normalize_pmid(text: str) -> IdPair | None:
    s = _PMID_PREFIX.sub("", text.strip()).strip("/")
    if not s.isdigit() or len(s) > 9:
        return None
    return s.lstrip("0") or "0", s


def normalize_pmcid(text: str) -> IdPair | None:
    m = _PMCID.match(text.strip())
    return (m.group(1).upper(), m.group(1).upper()) if m else None


def normalize_s2(text: str) -> IdPair | None:
    s = text.strip()
    corpus = _S2_CORPUS.match(s)
    if corpus:
        return f"corpusid:{corpus.group(1)}", s
    m = _S2.match(s)
    return (m.group(1), m.group(1)) if m else None


def normalize_openalex(text: str) -> IdPair | None:
    m = _OPENALEX.match(text.strip())
    return (m.group(1).upper(), m.group(1).upper()) if m else None


NORMALIZERS: dict[str, Callable[[str], IdPair | None]] = {
    "arxiv": normalize_arxiv,
    "doi": normalize_doi,
    "pmid": normalize_pmid,
    "pmcid": normalize_pmcid,
    "s2": normalize_s2,
    "openalex": normalize_openalex,
}

#: Schemes that identify one paper exactly: two different values never merge.
CONFLICTING_SCHEMES: tuple[str, ...] = ("arxiv", "doi")


def normalize(scheme: str, text: str) -> IdPair | None:
    """Normalize ``text`` as an identifier of ``scheme``; None if it is not one."""
    fn = NORMALIZERS.get(scheme)
    return fn(str(text)) if fn else None


def recognize(text: str) -> tuple[str, str, str] | None:
    """Guess the scheme of a bare identifier: ``(scheme, match_value, raw)``.

    Only unambiguous shapes are recognized (arXiv, DOI, PMC, S2 sha, OpenAlex);
    a bare number is not guessed to be a PMID.
    """
    for scheme in ("arxiv", "doi", "pmcid", "s2", "openalex"):
        pair = NORMALIZERS[scheme](text)
        if pair:
            return scheme, pair[0], pair[1]
    return None


def ids_from_links(links: list[str]) -> dict[str, str]:
    """Identifiers that can be read off links (arXiv abs/pdf URLs, doi.org URLs)."""
    found: dict[str, str] = {}
    for link in links:
        hit = recognize(link)
        if hit and hit[0] not in found:
            found[hit[0]] = hit[2]
    return found
