"""Write papers out as JSON Lines, CSV (one row per paper, named by key), or as citations:
BibTeX (one entry per paper, its citation key the paper's key where BibTeX allows it), RIS
and CSL-JSON. Every citation format reads back with ``paperatlas ingest``."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from .author_ids import id_url, on_paper
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


def web_links(paper: Paper) -> list[str]:
    """The paper's links a citation may carry: http(s) ones (never ``javascript:``)."""
    return [u for u in paper.links if u.lower().startswith(("https://", "http://"))]


def _venue(paper: Paper) -> str | None:
    """The paper's venue, unless it only names a preprint server."""
    return paper.venue if paper.venue and not _NO_VENUE.fullmatch(paper.venue) else None


def bibtex_entry(paper: Paper, key: str) -> str:
    """One paper as a BibTeX entry: ``@article`` (a journal), ``@inproceedings`` (a
    conference's proceedings) or ``@misc`` (no venue, or a preprint server: arXiv papers
    with ``eprint`` and ``archivePrefix``), with authors joined by " and ", year and
    month, DOI, URL and abstract."""
    venue = _venue(paper)
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
    links = web_links(paper)
    url = links[0] if links else (f"https://arxiv.org/abs/{arxiv}" if arxiv else "")
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


# -- RIS and CSL-JSON -------------------------------------------------------------------------
#: Words that end a name without being its family name, and particles that start one.
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v"})
_PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "di", "da", "du",
                        "dos", "das", "la", "le", "ten", "ter", "zu", "af", "av"})


def name_parts(author: str) -> dict[str, str]:
    """One author string as a CSL name: ``{"family", "given"[, "suffix"]}``, the family
    name being the last word with the lower-case particles before it (``Ludwig van
    Beethoven`` -> ``van Beethoven``, ``Ludwig``) and ``Jr.``/``III`` a suffix. A single
    word (an organisation, a mononym) or a name with a comma in it (our names are in
    reading order: a comma is the source's) is ``{"literal"}``, kept whole.
    ``given + " " + family + " " + suffix`` gives the string back."""
    words = author.split()
    suffix = ""
    if len(words) > 2 and words[-1].lower().rstrip(".") in _SUFFIXES:
        suffix = words.pop()
        if words[-1].endswith(","):  # "John Smith, Jr."
            words[-1] = words[-1][:-1]
    if len(words) < 2 or any("," in w for w in words):
        return {"literal": " ".join(author.split())}
    cut = len(words) - 1
    while cut > 1 and words[cut - 1] in _PARTICLES:
        cut -= 1
    found = {"family": " ".join(words[cut:]), "given": " ".join(words[:cut])}
    return {**found, "suffix": suffix} if suffix else found


def _arxiv_url(paper: Paper) -> str:
    arxiv = paper.ids.get("arxiv")
    return f"https://arxiv.org/abs/{arxiv}" if arxiv else ""


def _date_parts(paper: Paper) -> list[int]:
    """``[year, month, day]`` as far as the paper's date (or year) says."""
    parts: list[int] = []
    for piece in (paper.date or "").split("-")[:3]:
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return parts or ([paper.year] if paper.year else [])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def ris_entry(paper: Paper) -> str:
    """One paper as an RIS record: ``TY`` (``JOUR`` for a journal, ``CONF`` for
    proceedings, ``UNPB`` for a preprint, ``GEN`` without a venue), ``ID`` (the key),
    ``AU`` per author (``Family, Given[, Suffix]``; a literal name as it is), ``TI``,
    ``PY`` and ``DA`` (``YYYY/MM/DD/``), the venue (``JO``; ``T2`` for proceedings),
    ``DO``, ``UR`` (the paper's links, after its arXiv page where none is that page: the
    importer reads the arXiv id off it), ``AB``, ``KW`` per category, ``ER``."""
    venue = _venue(paper)
    kind = ("UNPB" if venue is None and (paper.venue or paper.ids.get("arxiv"))
            else "GEN" if venue is None
            else "CONF" if _PROCEEDINGS.search(venue) else "JOUR")
    tags: list[tuple[str, str]] = [("TY", kind), ("ID", paper.key), ("TI", paper.title)]
    for author in paper.authors:
        name = name_parts(author)
        tags.append(("AU", name.get("literal") or ", ".join(
            v for v in (name["family"], name["given"], name.get("suffix", "")) if v)))
    date = _date_parts(paper)
    if date:
        tags.append(("PY", str(date[0])))
        tags.append(("DA", "/".join(f"{d:02d}" for d in date) + "/" * (4 - len(date))))
    if paper.venue:
        tags.append(("T2" if kind == "CONF" else "JO", paper.venue))
    if doi := paper.ids.get("doi"):
        tags.append(("DO", doi))
    links = web_links(paper)
    if (url := _arxiv_url(paper)) and not any(u.endswith(url[8:]) for u in links):
        links.insert(0, url)  # the arXiv id (with its version) as the first arXiv link
    tags += [("UR", u) for u in links]
    if paper.abstract:
        tags.append(("AB", paper.abstract))
    tags += [("KW", c) for c in paper.categories]
    lines = [f"{tag}  - {_one_line(value)}" for tag, value in tags if _one_line(value)]
    return "\n".join([*lines, "ER  - "]) + "\n"


def write_ris(papers: Iterable[Paper], out: TextIO) -> int:
    """Every paper as an RIS record (see :func:`ris_entry`), a blank line between them;
    the file reads back with ``paperatlas ingest``."""
    n = 0
    for paper in papers:
        out.write(("\n" if n else "") + ris_entry(paper))
        n += 1
    return n


def csl_item(paper: Paper) -> dict[str, Any]:
    """One paper as a CSL-JSON item (the citeproc-js schema, as Zotero writes it): ``id``
    (the key), ``type`` (``article-journal``, ``paper-conference``, or ``article`` for a
    preprint or a paper without a venue), ``title``, ``author`` (see :func:`name_parts`),
    ``ORCID`` of an author where its sources give one (as Crossref writes it), ``issued``
    date parts, ``container-title`` (a preprint server is the ``publisher``),
    ``DOI``, ``URL``, ``abstract``, ``keyword``, PubMed ids, and for arXiv papers
    ``number`` and ``note`` (``arXiv:ID``)."""
    venue = _venue(paper)
    kind = ("article" if venue is None else
            "paper-conference" if _PROCEEDINGS.search(venue) else "article-journal")
    item: dict[str, Any] = {"id": paper.key, "type": kind, "title": paper.title}
    if paper.authors:
        item["author"] = [name_parts(a) for a in paper.authors]
        for name, ids in zip(item["author"], on_paper(paper), strict=True):
            if orcid := ids.get("orcid"):
                name["ORCID"] = id_url("orcid", orcid)
    if date := _date_parts(paper):
        item["issued"] = {"date-parts": [date]}
    if venue:
        item["container-title"] = venue
    elif paper.venue:
        item["publisher"] = paper.venue
    for scheme, field in (("doi", "DOI"), ("pmid", "PMID"), ("pmcid", "PMCID")):
        if value := paper.ids.get(scheme):
            item[field] = value
    if url := next(iter(web_links(paper)), _arxiv_url(paper)):
        item["URL"] = url
    if paper.abstract:
        item["abstract"] = paper.abstract
    if paper.categories:
        item["keyword"] = ", ".join(paper.categories)
    if arxiv := paper.ids.get("arxiv"):
        item["number"] = item["note"] = f"arXiv:{arxiv}"
    return item


def write_csljson(papers: Iterable[Paper], out: TextIO) -> int:
    """The papers as a CSL-JSON array (see :func:`csl_item`), one item a line group;
    citation managers (Zotero, Pandoc, citeproc) and ``paperatlas ingest`` read it."""
    out.write("[")
    n = 0
    for paper in papers:
        body = json.dumps(csl_item(paper), ensure_ascii=False, indent=2)
        out.write(("," if n else "") + "\n" + body)
        n += 1
    out.write("\n]\n")
    return n


WRITERS: dict[str, Callable[[Iterable[Paper], TextIO], int]] = {
    "jsonl": write_jsonl,
    "csv": write_csv,
    "bibtex": write_bibtex,
    "ris": write_ris,
    "csljson": write_csljson,
}
#: Each format's file suffix and media type (downloads).
MEDIA: dict[str, tuple[str, str]] = {
    "jsonl": ("jsonl", "application/jsonl; charset=utf-8"),
    "csv": ("csv", "text/csv; charset=utf-8"),
    "bibtex": ("bib", "application/x-bibtex; charset=utf-8"),
    "ris": ("ris", "application/x-research-info-systems; charset=utf-8"),
    "csljson": ("json", "application/vnd.citationstyles.csl+json; charset=utf-8"),
}


def writer_for(fmt: str) -> Callable[[Iterable[Paper], TextIO], int]:
    try:
        return WRITERS[fmt]
    except KeyError:
        raise InvalidOptionError("export format", fmt, tuple(WRITERS)) from None
