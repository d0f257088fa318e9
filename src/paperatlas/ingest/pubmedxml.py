"""PubMed XML (``efetch.fcgi?db=pubmed&retmode=xml``): a ``<PubmedArticleSet>``.

Read as a stream like arXiv's XML (:mod:`.xmlstream`): each ``<PubmedArticle>`` (or
``<PubmedBookArticle>``) becomes a record once complete and is then dropped. A record has
the article title, the abstract (a structured abstract keeps its labels, one paragraph
per section: ``"BACKGROUND: ..."``), the authors (``ForeName LastName`` or the
``CollectiveName``; an ``<Identifier Source="ORCID">`` as the author's ORCID), the journal
as venue, the date (``ArticleDate``, else ``PubDate``, else ``MedlineDate``), the ids of
``PubmedData/ArticleIdList`` (PMID, DOI, PMCID; never those of the reference list) and the
MeSH descriptors as categories (keywords, MeSH qualifiers and publication types go to
``extra``).

An ``<eSearchResult>`` (what the PubMed source keeps for a day with no new article)
reads as no records; an answer that is an E-utilities ``<ERROR>`` fails the file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

from .. import ids as idmod
from ..author_ids import ids_for
from ..errors import ParseError
from ..records.papers import Record
from ..text import clean_space, parse_date
from .base import Parser
from .source import InputFile, Lines
from .xmlstream import (
    Shape,
    child,
    child_text,
    children,
    element_text,
    local_name,
    put_extra,
    stream,
    unique,
)

_ARTICLES = ("PubmedArticle", "PubmedBookArticle")
_MEDLINE_YEAR = re.compile(r"\b(\d{4})(?:\s+([A-Za-z]{3}))?")


class PubmedXmlParser(Parser):
    """An efetch answer of PubMed: one record per article."""

    name = "pubmed-xml"
    _shape = Shape("a PubMed XML answer (PubmedArticleSet)",
                    ("PubmedArticleSet", "eSearchResult", "eFetchResult"),
                    frozenset({*((a, "PubmedArticleSet") for a in _ARTICLES),
                               ("DeleteCitation", "PubmedArticleSet"),
                               ("ERROR", "eSearchResult"), ("ERROR", "eFetchResult"),
                               ("ErrorList", "eSearchResult")}))

    @classmethod
    def sniff(cls, file: InputFile) -> bool:
        head = file.head.lstrip()
        return head.startswith("<") and ("<PubmedArticleSet" in head
                                         or "<!DOCTYPE PubmedArticleSet" in head)

    def parse(self, file: InputFile, fh: Lines) -> Iterator[Record]:
        path = str(file.path)
        entry = 0
        for elem, line in stream(fh, path, self._shape):
            kind = local_name(elem.tag)
            if kind == "ERROR":
                raise ParseError(f"E-utilities answered with an error: {element_text(elem)}"[:400],
                                 path=path, line=line)
            if kind == "ErrorList":  # a search that found nothing says why: no records
                continue
            if kind == "DeleteCitation":
                continue
            entry += 1
            yield _record(elem, line, entry)


def _record(elem: ET.Element, line: int, entry: int) -> Record:
    citation = child(elem, "MedlineCitation")
    book = child(elem, "BookDocument")
    main = citation if citation is not None else book if book is not None else elem
    article = child(main, "Article") if citation is not None else main
    article = article if article is not None else main
    title = child_text(article, "ArticleTitle") or child_text(article, "VernacularTitle")
    if not title and book is not None:
        title = child_text(child(book, "Book") or book, "BookTitle")
    rec = Record(title=title, abstract=_abstract(child(article, "Abstract")),
                 line=line, entry=entry)
    affiliations: dict[str, list[str]] = {}
    author_list = child(article, "AuthorList")
    for author in children(author_list, "Author") if author_list is not None else []:
        if author.get("ValidYN") == "N":
            continue
        name = _author(author)
        if name:
            rec.authors.append(name)
            orcid = next((element_text(i) for i in children(author, "Identifier")
                          if i.get("Source", "").upper() == "ORCID"), None)
            if found := ids_for(name, orcid=orcid):
                rec.author_ids.append(found)
            if affs := [child_text(a, "Affiliation") for a in children(author, "AffiliationInfo")]:
                affiliations[name] = [a for a in affs if a]
    journal = child(article, "Journal")
    issue = child(journal, "JournalIssue") if journal is not None else None
    if journal is not None:
        rec.venue = child_text(journal, "Title") or child_text(journal, "ISOAbbreviation") or None
    rec.date = _date(article, issue)
    rec.categories = unique(child_text(h, "DescriptorName") for h in _mesh(main))
    _ids(rec, elem, main, article)
    if "pmid" in rec.ids:
        rec.links.append(f"https://pubmed.ncbi.nlm.nih.gov/{rec.ids['pmid']}/")
    keywords = [element_text(k) for kl in children(main, "KeywordList")
                for k in children(kl, "Keyword")]
    qualified = {name: q for h in _mesh(main)
                 if (name := child_text(h, "DescriptorName"))
                 and (q := [element_text(x) for x in children(h, "QualifierName")])}
    types = child(article, "PublicationTypeList")
    abstract = child(article, "Abstract")
    put_extra(rec.extra,
              journal_abbrev=child_text(journal, "ISOAbbreviation") if journal is not None
              else "", volume=child_text(issue, "Volume") if issue is not None else "",
              issue=child_text(issue, "Issue") if issue is not None else "",
              pages=child_text(child(article, "Pagination") or article, "MedlinePgn"),
              language=child_text(article, "Language"), status=main.get("Status", ""),
              keywords=unique(keywords), mesh_qualifiers=qualified,
              publication_types=unique(element_text(t)
                                       for t in children(types, "PublicationType"))
              if types is not None else [],
              copyright=child_text(abstract, "CopyrightInformation") if abstract is not None
              else "",
              affiliations={k: v for k, v in affiliations.items() if v})
    return rec


def _abstract(abstract: ET.Element | None) -> str:
    """The abstract's sections, each ``"LABEL: text"`` when labelled, a blank line apart."""
    if abstract is None:
        return ""
    parts = []
    for section in children(abstract, "AbstractText"):
        text = element_text(section)
        if not text:
            continue
        label = clean_space(section.get("Label", ""))
        parts.append(f"{label}: {text}" if label else text)
    return "\n\n".join(parts)


def _author(author: ET.Element) -> str:
    collective = child_text(author, "CollectiveName")
    if collective:
        return collective
    first = child_text(author, "ForeName") or child_text(author, "Initials")
    return clean_space(" ".join(p for p in (first, child_text(author, "LastName"),
                                            child_text(author, "Suffix")) if p))


def _mesh(main: ET.Element) -> list[ET.Element]:
    heading_list = child(main, "MeshHeadingList")
    return children(heading_list, "MeshHeading") if heading_list is not None else []


def _ymd(node: ET.Element | None) -> str | None:
    """``<Year>``/``<Month>`` (number or name)/``<Day>``, as far as they go."""
    if node is None:
        return None
    year, month, day = child_text(node, "Year"), child_text(node, "Month"), child_text(node, "Day")
    if not year:
        medline = _MEDLINE_YEAR.search(child_text(node, "MedlineDate"))
        if medline is None:
            return None
        year, month, day = medline.group(1), medline.group(2) or "", ""
    if month and not month.isdigit():
        return parse_date(f"{month[:3]} {day + ' ' if day else ''}{year}") or parse_date(year)
    return parse_date("-".join(p.zfill(2) for p in (year, month, day) if p))


def _date(article: ET.Element, issue: ET.Element | None) -> str | None:
    """The electronic publication date, else the issue's date, else the book's."""
    for node in children(article, "ArticleDate"):
        if found := _ymd(node):
            return found
    pub = child(issue, "PubDate") if issue is not None else child(article, "PubDate")
    return _ymd(pub)


def _ids(rec: Record, elem: ET.Element, main: ET.Element, article: ET.Element) -> None:
    """PMID, DOI and PMCID from the article's own id list (not its references')."""
    data = child(elem, "PubmedData")
    listed = child(data, "ArticleIdList") if data is not None else child(main, "ArticleIdList")
    found = {a.get("IdType", ""): element_text(a) for a in
             (children(listed, "ArticleId") if listed is not None else [])}
    pmid = child_text(main, "PMID") or found.get("pubmed", "")
    dois = [found.get("doi", "")] + [element_text(e) for e in children(article, "ELocationID")
                                      if e.get("EIdType") == "doi"]
    for scheme, raw in (("pmid", pmid), ("doi", next((d for d in dois if d), "")),
                        ("pmcid", found.get("pmc", ""))):
        if raw and (pair := idmod.normalize(scheme, raw)):
            rec.ids[scheme] = pair[1]
    rec.source_key = rec.ids.get("pmid")
