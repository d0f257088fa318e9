"""Clean text at ingest: markup, LaTeX, escapes and mojibake out of a paper's fields.

Pure functions, one per kind of dirt, and :func:`clean_text` that runs them in order:

* :func:`decode_escapes`: literal ``\\u00e9`` (a JSON escape written twice) -> ``é``;
* :func:`strip_html`: HTML, JATS and MathML tags (``<span class="searchword">``, ``<i>``,
  ``<sub>``, ``<jats:p>``) dropped, their text kept, entities (``&amp;``) unescaped;
* :func:`fix_mojibake`: UTF-8 read as Latin-1 or cp1252 (``BetÃ¼l`` -> ``Betül``) repaired
  with ``ftfy``, only where such a pair of characters occurs;
* :func:`latex_to_unicode`: LaTeX accents (``{\\"u}``, ``\\'e``, ``\\c{c}``, ``\\ss``),
  quotes (````text''`` -> ``“text”``) and dashes (``--``, ``---``); math (``$x$``) is left;
* white space collapsed and the text NFC-normalized.

Each step is skipped when the text holds none of the characters it looks for, so clean
text (most of it) costs one scan. :func:`clean_record` returns a cleaned copy of a record:
the parser's record itself (what the paper's source row keeps) is not changed.
"""

from __future__ import annotations

import dataclasses
import html
import re
import unicodedata

import ftfy

from .records.papers import Record

# -- literal escapes -------------------------------------------------------------------------
_ESCAPE = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
                     r"|\\u([0-9a-fA-F]{4})")


def _unescape(m: re.Match[str]) -> str:
    if m.group(3):
        code = int(m.group(3), 16)
        return m.group() if 0xD800 <= code <= 0xDFFF else chr(code)  # a lone surrogate
    high, low = int(m.group(1), 16), int(m.group(2), 16)
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def decode_escapes(text: str) -> str:
    """Literal ``\\uXXXX`` escapes (a surrogate pair as one character) decoded."""
    return _ESCAPE.sub(_unescape, text) if "\\u" in text else text


# -- HTML, JATS, MathML ----------------------------------------------------------------------
#: Tags whose text runs on (no space where they open or close).
_INLINE_TAGS = (
    "a abbr b bdi bdo big cite code del dfn em font i ins kbd mark q s samp small span "
    "strike strong sub sup tt u var wbr sc scp italic bold underline monospace "
    "inline-formula tex-math named-content styled-content xref ext-link uri email "
    "math mi mo mn ms mtext mrow msub msup msubsup mfrac msqrt mroot mover munder "
    "munderover mstyle mspace semantics annotation")
_INLINE = frozenset(_INLINE_TAGS.split())
#: Tags that separate pieces of text (a space where they open or close).
_BLOCK_TAGS = (
    "p br div li ul ol h1 h2 h3 h4 h5 h6 blockquote pre table thead tbody tr td th hr "
    "title sec section abstract list list-item label caption fig dl dt dd body")
_BLOCK = frozenset(_BLOCK_TAGS.split())
_ATTRIBUTES = r"(?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'<>]+))*"
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*(?::[A-Za-z][\w.-]*)?)" + _ATTRIBUTES
                  + r"\s*(/?)>")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
#: A heading that only says "Abstract" (Crossref's JATS abstracts open with one).
_ABSTRACT_HEADING = re.compile(
    r"^\s*<(jats:)?title>\s*(abstract|summary)\s*</(jats:)?title>", re.IGNORECASE)
_SECTION_TITLE = re.compile(r"<((?:jats:)?title)>([^<>]{1,80})</\1>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def _tag(m: re.Match[str]) -> str:
    name = m.group(2).lower()
    local = name.partition(":")[2] or name
    if local in _BLOCK:
        return " "
    if local in _INLINE or ":" in name:  # any namespaced tag (jats:, mml:) is markup
        return ""
    return m.group()  # "<y and z>" in a formula is text


def unescape_entities(text: str) -> str:
    """HTML character references (``&amp;``, ``&#233;``, ``&#x3B1;``) as characters; a
    ``&`` that starts none (``AT&T``, ``R&D;``) stays."""
    if "&" not in text:
        return text
    return _ENTITY.sub(lambda m: html.unescape(m.group()), text)


def strip_html(text: str) -> str:
    """Markup out, its text kept: known HTML tags, JATS and MathML (any ``prefix:`` tag)
    and comments; a leading "Abstract" heading dropped, other section headings followed
    by ": "; character references unescaped (first, so ``&lt;i&gt;`` goes too). An
    unknown tag name (``a <x and y> b``) is taken for text and kept."""
    text = unescape_entities(text)
    if "<" not in text:
        return text
    text = _COMMENT.sub(" ", text)
    text = _ABSTRACT_HEADING.sub("", text)
    text = _SECTION_TITLE.sub(lambda m: f" {m.group(2).strip()}: ", text)
    return _TAG.sub(_tag, text)


# -- mojibake --------------------------------------------------------------------------------
#: A UTF-8 lead byte then a continuation byte, as Latin-1 or cp1252 shows them: the mark of
#: UTF-8 decoded with the wrong codec (``Ã¼`` for ``ü``, ``â€œ`` for a left double quote).
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac"
    "\u2122]")


def fix_mojibake(text: str) -> str:
    """UTF-8 decoded as Latin-1 or cp1252 (once or twice) decoded right, by ``ftfy``
    (which leaves text alone unless the repair is clearly better)."""
    if text.isascii() or not _MOJIBAKE.search(text):
        return text
    return ftfy.fix_encoding(text)


# -- LaTeX -----------------------------------------------------------------------------------
#: Accent commands and the combining mark each puts on its letter.
_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303",
            "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b",
            "c": "\u0327", "k": "\u0328", "r": "\u030a", "d": "\u0323", "b": "\u0331"}
#: Letters LaTeX writes as commands.
_LETTERS = {"ss": "ß", "o": "ø", "O": "Ø", "aa": "å", "AA": "Å", "ae": "æ", "AE": "Æ",
            "oe": "œ", "OE": "Œ", "l": "ł", "L": "Ł", "i": "\u0131", "j": "\u0237", "dh": "ð",
            "DH": "Ð", "th": "þ", "TH": "Þ"}
# \'e  \'{e}  \' e  \"{\i}  \c{c}  \c c ; a letter command's accent only on a word boundary.
_ACCENT = re.compile(
    r"\\(['`^\"~=.])\s*(?:\{\s*(\\?[A-Za-z])\s*\}|(\\[ij](?![A-Za-z])|[A-Za-z]))"
    r"|\\([uvHckrdb])(?:\s*\{\s*(\\?[A-Za-z])\s*\}|\s+([A-Za-z])(?![A-Za-z]))")
_LETTER = re.compile(r"\\(ss|aa|AA|ae|AE|oe|OE|dh|DH|th|TH|[oOlLij])(?![A-Za-z])(?:\{\})?")
#: A character braced alone once converted: ``{ü}`` -> ``ü`` (``{\"u}`` in BibTeX).
_BRACED = re.compile(r"\{([^\x00-\x7f])\}")
_ESCAPED_SYMBOL = re.compile(r"\\([&%#_])")
_QUOTED = re.compile(r"``(.+?)(?:''|\")", re.DOTALL)  # ``a'' or ``a"
_EM_DASH = re.compile(r"(?<!-)---(?!-)")
# "--" as a dash after a word ("12--15", "A--B") or before a space or digit ("a -- b"),
# not as an option ("use --fast") or in a longer run ("----").
_EN_DASH = re.compile(r"(?<!-)(?:(?<=[\w)\]])--|--(?=[\s\d]|$))(?!-)")


def _accent(m: re.Match[str]) -> str:
    mark = m.group(1) or m.group(4)
    base = m.group(2) or m.group(3) or m.group(5) or m.group(6)
    if base.startswith("\\"):  # \i and \j: the dotless letters, which take accents
        base = base[1:]
    return unicodedata.normalize("NFC", base + _ACCENTS[mark])


def latex_to_unicode(text: str) -> str:
    """LaTeX text markup as Unicode: accents (``{\\"u}``, ``\\'e``, ``\\c{c}``, ``\\v s``),
    letters (``\\ss``, ``{\\o}``), ``\\&``/``\\%``/``\\#``/``\\_``, quotes (````a''``
    -> curly quotes) and dashes (``---`` -> em dash, ``--`` -> en dash). Anything else (math,
    ``\\alpha``, ``$x^2$``) is left as written."""
    if "\\" in text:
        text = _ACCENT.sub(_accent, text)
        text = _LETTER.sub(lambda m: _LETTERS[m.group(1)], text)
        text = _BRACED.sub(r"\1", text)
        text = _ESCAPED_SYMBOL.sub(r"\1", text)
    if "``" in text:
        text = _QUOTED.sub("\u201c\\1\u201d", text)
    if "--" in text:
        text = _EN_DASH.sub("\u2013", _EM_DASH.sub("\u2014", text))
    return text


# -- all of it -------------------------------------------------------------------------------
#: Invisible characters dropped (zero-width space, direction marks, word joiner, soft hyphen,
#: a stray byte order mark); the joiners that shape scripts and emoji (U+200C/D) stay.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200e\u200f\u2060\u00ad\ufeff"))


#: A blank line: where an abstract's paragraphs (PubMed's labelled sections) part.
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*")


def _has_markup(text: str) -> bool:
    """Whether ASCII text holds what a cleaner acts on (markup, entities, LaTeX, quotes,
    dashes); without it, only its white space needs collapsing. Substring tests: several
    times faster than a regular expression on an abstract."""
    return ("<" in text or "&" in text or "\\" in text or "`" in text or "--" in text
            or "''" in text)


def _loose_space(text: str) -> bool:
    """Whether ASCII text has white space to collapse (a run, a line break, an end)."""
    return ("  " in text or "\n" in text or "\t" in text or "\r" in text or "\f" in text
            or "\v" in text or text[:1].isspace() or text[-1:].isspace())


def clean_text(text: str, *, paragraphs: bool = False) -> str:
    """``text`` with every cleaner applied, invisible characters dropped, white space
    collapsed and NFC-normalized; with ``paragraphs``, blank lines stay (as one)."""
    ascii_plain = text.isascii() and not _has_markup(text)
    if paragraphs and "\n" in text:
        if ascii_plain:  # the common case (wrapped arXiv abstracts): white space only
            parts = (" ".join(p.split()) for p in _PARAGRAPH.split(text))
            return "\n\n".join(p for p in parts if p)
        return "\n\n".join(p for p in map(clean_text, _PARAGRAPH.split(text)) if p)
    if ascii_plain:
        return " ".join(text.split()) if _loose_space(text) else text
    text = fix_mojibake(strip_html(decode_escapes(text)))
    text = latex_to_unicode(text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text.translate(_INVISIBLE))
    return " ".join(text.split())


def clean_record(rec: Record) -> Record:
    """A copy of ``rec`` with its title, abstract (its paragraphs kept), authors, venue and
    categories cleaned (a name or keyword that cleans to nothing is dropped); ``extra`` is
    the same dict."""
    def every(values: list[str]) -> list[str]:
        return [c for c in map(clean_text, values) if c]

    abstract = clean_text(rec.abstract, paragraphs=True)
    if _plain_fields(rec):  # the common case: one check instead of one per name
        return rec if abstract == rec.abstract else dataclasses.replace(rec, abstract=abstract)
    return dataclasses.replace(
        rec, title=clean_text(rec.title), abstract=abstract,
        authors=every(rec.authors), categories=every(rec.categories),
        venue=clean_text(rec.venue) or None if rec.venue else rec.venue)


#: White space a short field needs collapsed, in fields joined by NUL (which is not white
#: space: an empty field shows as NUL at an end or two NULs).
_FIELD_SPACE = re.compile(r"\s\s|[\t\n\r\f\v]|^\s|\s$|\s\0|\0\s|\0\0|^\0|\0$")


def _plain_fields(rec: Record) -> bool:
    """Whether the title, authors, categories and venue are clean as they are: ASCII,
    without markup (:func:`_has_markup`) or white space to collapse."""
    joined = "\0".join([rec.title, *rec.authors, *rec.categories, rec.venue or "-"])
    return (joined.isascii() and not _has_markup(joined)
            and _FIELD_SPACE.search(joined) is None)
