"""A literature review (:class:`~paperatlas.records.review.Review`) as a document:
Markdown or standalone HTML (escaped, styles inline, no external assets), with the same
content: the topic, an outline, one heading per section with its paragraph (when a
language model wrote one; flagged sentences marked), its papers and their key sentences
quoted with ``[key]`` citations, and the references list."""

from __future__ import annotations

import html
import re

from ..records.evidence import AnswerSentence
from ..records.review import Reference, Review, Section

#: Authors named in a reference before "et al.".
AUTHORS = 3
#: What a section says when the model found its evidence not enough for a paragraph.
DECLINED = "The model found this evidence not enough for a paragraph."
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def md(text: str) -> str:
    """Text for Markdown: characters that would start markup (or HTML) escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def authors_short(authors: list[str]) -> str:
    shown = ", ".join(authors[:AUTHORS])
    return shown + (" et al." if len(authors) > AUTHORS else "")


def summary(review: Review) -> str:
    """The review's subtitle: tree, topic, size and keywords."""
    words = f" · keywords: {', '.join(review.keywords)}" if review.keywords else ""
    return f"Tree {review.tree}, topic {review.node} · {review.size} papers{words}"


def section_line(section: Section) -> str:
    words = f" · keywords: {', '.join(section.keywords)}" if section.keywords else ""
    return f"{section.size} papers{words}"


def sentence_marks(section: Section, sentence: AnswerSentence) -> tuple[list[str], str]:
    """The keys of the papers a paragraph's sentence cites (its valid citations), and
    what is wrong with it ("" when nothing is)."""
    keys = list(dict.fromkeys(section.evidence[n - 1].key for n in sentence.citations))
    if sentence.status == "uncited":
        return keys, "cites no evidence"
    if sentence.status == "miscited":
        given = ", ".join(str(n) for n in sentence.invalid)
        return keys, f"cites [{given}], which the model was not given"
    return keys, ""


def reference_parts(ref: Reference) -> tuple[str, str, str]:
    """A reference as (authors and year, title, venue and identifiers)."""
    year = f" ({ref.year})" if ref.year else ""
    tail = [ref.venue] if ref.venue else []
    tail += [f"doi:{ref.ids['doi']}"] if ref.ids.get("doi") else []
    tail += [f"arXiv:{ref.ids['arxiv']}"] if ref.ids.get("arxiv") else []
    return authors_short(ref.authors) + year, ref.title, ". ".join(tail)


def to_markdown(review: Review) -> str:
    """The review as Markdown."""
    out = [f"# {md(review.label)}", "", md(summary(review))]
    if review.path:
        out.append(f"Under: {md(' / '.join(review.path))}")
    if review.description:
        out += ["", md(review.description)]
    out += [""] + [f"> {md(note)}" for note in review.notes]
    out += ["", "## Outline", ""]
    out += [f"{i}. {md(s.label)} ({section_line(s)})" for i, s in enumerate(review.sections, 1)]
    if review.omitted:
        out.append(f"\n({review.omitted} smaller sub-topics not shown)")
    for i, section in enumerate(review.sections, 1):
        out += ["", f"## {i}. {md(section.label)}", "", f"*{md(section_line(section))}*", ""]
        if section.paragraph:
            out += [_md_paragraph(section), ""]
        elif section.declined:
            out += [f"*{DECLINED}*", ""]
        if section.precision is not None:
            out += [f"Citation precision: {section.precision:.2f}", ""]
        for paper in section.papers:
            year = f" ({paper.year})" if paper.year else ""
            out.append(f"- **{md(paper.title)}**{year} [{md(paper.key)}]")
            out += [f"  - \u201c{md(e.text)}\u201d [{md(e.key)}]" for e in paper.evidence]
    if review.precision is not None:
        out += ["", f"Overall citation precision: {review.precision:.2f} "
                    f"(paragraphs by {md(review.model or '')})"]
    out += ["", "## References", ""]
    for ref in review.references:
        who, title, tail = reference_parts(ref)
        link = f" <{ref.url}>" if ref.url and not re.search(r"[\s<>]", ref.url) else ""
        out.append(f"- [{md(ref.bibkey)}] {md(who)}. *{md(title)}*."
                   + (f" {md(tail)}." if tail else "") + link)
    return "\n".join(out) + "\n"


def _md_paragraph(section: Section) -> str:
    parts = []
    for sentence in section.paragraph:
        keys, problem = sentence_marks(section, sentence)
        cites = "".join(f" [{md(k)}]" for k in keys)
        flag = f" **(unverified: {md(problem)})**" if problem else ""
        parts.append(md(sentence.text) + cites + flag)
    return " ".join(parts)


_CSS = """body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
color:#222}h1{margin-bottom:.2rem}.meta{color:#666}blockquote{margin:.3rem 0 .3rem 1.2rem;
padding-left:.6rem;border-left:3px solid #ccc}.cite{color:#36c;font-size:.9em}
.flag{color:#b00;font-weight:bold}li{margin:.3rem 0}"""


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _cite(key: str) -> str:
    return f'<a class="cite" href="#ref-{_h(key)}">[{_h(key)}]</a>'


def to_html(review: Review) -> str:
    """The review as one standalone HTML page (every text escaped)."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{_h(review.label)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{_h(review.label)}</h1>", f'<p class="meta">{_h(summary(review))}</p>']
    if review.path:
        out.append(f'<p class="meta">Under: {_h(" / ".join(review.path))}</p>')
    if review.description:
        out.append(f"<p>{_h(review.description)}</p>")
    out += [f'<p class="flag">{_h(note)}</p>' for note in review.notes]
    out += ["<h2>Outline</h2>", "<ol>"]
    out += [f'<li><a href="#s{s.id}">{_h(s.label)}</a> ({_h(section_line(s))})</li>'
            for s in review.sections]
    out.append("</ol>")
    if review.omitted:
        out.append(f"<p>({review.omitted} smaller sub-topics not shown)</p>")
    for i, section in enumerate(review.sections, 1):
        out += [f'<section id="s{section.id}"><h2>{i}. {_h(section.label)}</h2>',
                f'<p class="meta">{_h(section_line(section))}</p>']
        if section.paragraph:
            out.append(f"<p>{_html_paragraph(section)}</p>")
        elif section.declined:
            out.append(f'<p class="meta">{DECLINED}</p>')
        if section.precision is not None:
            out.append(f'<p class="meta">Citation precision: {section.precision:.2f}</p>')
        out.append("<ul>")
        for paper in section.papers:
            year = f" ({paper.year})" if paper.year else ""
            out.append(f"<li><strong>{_h(paper.title)}</strong>{year} {_cite(paper.key)}")
            out += [f"<blockquote>\u201c{_h(e.text)}\u201d {_cite(e.key)}</blockquote>"
                    for e in paper.evidence]
            out.append("</li>")
        out.append("</ul></section>")
    if review.precision is not None:
        out.append(f'<p class="meta">Overall citation precision: {review.precision:.2f} '
                   f"(paragraphs by {_h(review.model or '')})</p>")
    out += ["<h2>References</h2>", "<ul>"]
    for ref in review.references:
        who, title, tail = reference_parts(ref)
        link = (f' <a href="{_h(ref.url)}">{_h(ref.url)}</a>'
                if ref.url and ref.url.startswith(("http://", "https://")) else "")
        out.append(f'<li id="ref-{_h(ref.key)}">[{_h(ref.bibkey)}] {_h(who)}. '
                   f"<em>{_h(title)}</em>." + (f" {_h(tail)}." if tail else "") + link
                   + "</li>")
    out += ["</ul>", "</body></html>"]
    return "\n".join(out) + "\n"


def _html_paragraph(section: Section) -> str:
    parts = []
    for sentence in section.paragraph:
        keys, problem = sentence_marks(section, sentence)
        flag = f' <span class="flag">(unverified: {_h(problem)})</span>' if problem else ""
        parts.append(_h(sentence.text) + "".join(f" {_cite(k)}" for k in keys) + flag)
    return " ".join(parts)
