"""Write papers out as JSON Lines, CSV (one row per paper, named by key) or BibTeX (one
entry per paper, its citation key the paper's key where BibTeX allows it)."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TextIO

from .errors import InvalidOptionError
from .records.papers import Paper
from .records.serialize import to_json

CSV_COLUMNS = ("key", "title", "abstract", "authors", "date", "year", "venue", "categories",
               "links", "ids", "collections", "sources")


def write_jsonl(papers: Iterable[Paper], out: TextIO) -> int:
    n = 0
    for paper in papers:
        out.write(json.dumps(to_json(paper), ensure_ascii=False) + "\n")
        n += 1
    return n


def write_csv(papers: Iterable[Paper], out: TextIO) -> int:
    """Lists are joined with ``"; "``; ids as ``scheme:value``; sources as ``path:line``."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    n = 0
    for p in papers:
        writer.writerow([
            p.key, p.title, p.abstract, "; ".join(p.authors), p.date or "", p.year or "",
            p.venue or "", "; ".join(p.categories), "; ".join(p.links),
            "; ".join(f"{s}:{v}" for s, v in p.ids.items()), "; ".join(p.collections),
            "; ".join(f"{s.path}:{s.line}" for s in p.sources),
        ])
        n += 1
    return n


#: Characters of a citation key kept as they are (others become ``-``).
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_:.+/-]")
#: Venues that name no venue (a preprint server), and those of proceedings.
_NO_VENUE = re.compile(r"\s*(arxiv|biorxiv|medrxiv|preprint)\b.*", re.IGNORECASE)
_PROCEEDINGS = re.compile(r"proceedings|conference|workshop|symposium|\bproc\b|\bconf\b",
                          re.IGNORECASE)
_ARXIV_CLASS = re.compile(r"[a-z-]+\.[A-Za-z-]+")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
#: LaTeX for the characters BibTeX and LaTeX treat specially (braces as math so that an
#: unbalanced one cannot break the entry).
_LATEX = {"\\": r"\textbackslash{}", "{": r"$\lbrace$", "}": r"$\rbrace$", "%": r"\%",
          "&": r"\&", "#": r"\#", "_": r"\_", "$": r"\$", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}"}
_SPECIAL = re.compile("[" + re.escape("".join(_LATEX)) + "]")


def bibtex_keys(keys: Iterable[str]) -> dict[str, str]:
    """``paper key -> citation key``: the paper's key, its characters that BibTeX or
    LaTeX would trip on replaced by ``-``, numbered (``-2``, ``-3``) where two collide."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for key in keys:
        if key in out:
            continue
        base = _KEY_UNSAFE.sub("-", key).strip("-") or "paper"
        cite, n = base, 1
        while cite.lower() in taken:
            n += 1
            cite = f"{base}-{n}"
        taken.add(cite.lower())
        out[key] = cite
    return out


def latex_text(text: str) -> str:
    """Plain text as a BibTeX field's LaTeX: special characters escaped, spaces folded."""
    return _SPECIAL.sub(lambda m: _LATEX[m.group()], " ".join(text.split()))


def _verbatim(text: str) -> str:
    """A URL or DOI for a BibTeX field: no white space, braces percent-encoded."""
    return "".join(text.split()).replace("{", "%7B").replace("}", "%7D")


def _name(author: str) -> str:
    """One author for ``author``: braced whole when a comma or an "and" would split it."""
    text = latex_text(author)
    return f"{{{text}}}" if "," in text or re.search(r"\sand\s", text, re.I) else text


def bibtex_entry(paper: Paper, key: str) -> str:
    """One paper as a BibTeX entry: ``@article`` (a journal), ``@inproceedings`` (a
    conference's proceedings) or ``@misc`` (no venue, or a preprint server: arXiv papers
    with ``eprint`` and ``archivePrefix``), with authors joined by " and ", year and
    month, DOI, URL and abstract."""
    venue = paper.venue if paper.venue and not _NO_VENUE.fullmatch(paper.venue) else None
    kind = ("misc" if venue is None else
            "inproceedings" if _PROCEEDINGS.search(venue) else "article")
    fields: list[tuple[str, str]] = [("title", f"{{{latex_text(paper.title)}}}")]
    if paper.authors:
        fields.append(("author", " and ".join(_name(a) for a in paper.authors)))
    if paper.year:
        fields.append(("year", str(paper.year)))
    month = (paper.date or "")[5:7]
    if month.isdigit() and 1 <= int(month) <= 12:
        fields.append(("month", _MONTHS[int(month) - 1]))
    if venue:
        fields.append(("booktitle" if kind == "inproceedings" else "journal", latex_text(venue)))
    if doi := paper.ids.get("doi"):
        fields.append(("doi", _verbatim(doi)))
    if arxiv := paper.ids.get("arxiv"):
        fields += [("eprint", _verbatim(arxiv)), ("archivePrefix", "arXiv")]
        if paper.categories and _ARXIV_CLASS.fullmatch(paper.categories[0]):
            fields.append(("primaryClass", paper.categories[0]))
    if pmid := paper.ids.get("pmid"):
        fields.append(("pmid", _verbatim(pmid)))
    url = paper.links[0] if paper.links else (f"https://arxiv.org/abs/{arxiv}" if arxiv else "")
    if url:
        fields.append(("url", _verbatim(url)))
    if paper.abstract:
        fields.append(("abstract", latex_text(paper.abstract)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{kind}{{{key},\n{body}\n}}\n"


def write_bibtex(papers: Iterable[Paper], out: TextIO, *,
                 keys: Mapping[str, str] | None = None) -> int:
    """Every paper as a BibTeX entry (see :func:`bibtex_entry`), with unique citation keys
    (``keys``: paper key -> citation key, else :func:`bibtex_keys`); the file reads back
    with ``paperatlas ingest``."""
    listed = list(papers)
    keys = keys or bibtex_keys(p.key for p in listed)
    for i, paper in enumerate(listed):
        out.write(("\n" if i else "") + bibtex_entry(paper, keys[paper.key]))
    return len(listed)


WRITERS: dict[str, Callable[[Iterable[Paper], TextIO], int]] = {
    "jsonl": write_jsonl,
    "csv": write_csv,
    "bibtex": write_bibtex,
}


def writer_for(fmt: str) -> Callable[[Iterable[Paper], TextIO], int]:
    try:
        return WRITERS[fmt]
    except KeyError:
        raise InvalidOptionError("export format", fmt, tuple(WRITERS)) from None
