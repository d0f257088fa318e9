"""Abstracts split into sentences (pure functions).

A sentence ends at ``.``, ``!`` or ``?`` (with any closing quotes or brackets after it)
followed by white space and a word that may start a sentence (a capital, a digit, an
opening bracket or quote, or a lower-case name with a capital or digit in it: "mRNA",
"p16"). Not at an abbreviation ("et al.", "e.g.", "i.e.", "Fig.",
"vs.", "approx.", "Dr.", ...), an initial ("J. Smith"), or before a lower-case word;
decimals ("1.5") never end one, as no space follows their point. Sentences are the
abstract's own text, white space at their ends stripped (and the literal ``\\n`` that
BEIR corpora keep of a line break counts as white space).
"""

from __future__ import annotations

import re

#: Bumped when the split of a text can change (stored sentences are split again).
SPLITTER_VERSION = "1"

#: Lower-cased words that end with a point without ending a sentence.
ABBREVIATIONS = frozenset({
    "al", "e.g", "eg", "i.e", "ie", "fig", "figs", "vs", "cf", "approx", "ca", "dr", "mr",
    "mrs", "ms", "prof", "no", "nos", "eq", "eqs", "ref", "refs", "resp", "sect", "sec",
    "vol", "pp", "jr", "sr", "inc", "ltd", "corp", "dept", "univ", "viz", "suppl",
    "chap", "subsp", "u.s", "u.k", "e.u", "a.k.a", "incl", "ph.d", "m.sc",
    "b.sc", "jan", "feb", "apr", "jun", "jul", "aug", "sept", "oct", "nov", "dec",
})

#: A possible end: the point and closing marks, the space after, the next character.
_CLOSE = "\"')\\]\u201d\u2019"  # quotes (straight and curly) and brackets
_OPEN = "\"'(\\[\u201c\u2018"
_END = re.compile(rf"[.!?]+[{_CLOSE}]*((?:\s|\\n)+)(?=[{_OPEN}]?(?:[A-Z0-9]|[a-z]+[A-Z0-9]))")
#: White space at a sentence's ends, with the literal ``\n`` some corpora keep (BEIR's).
_EDGE = re.compile(r"^(?:\s|\\n)+|(?:\s|\\n)+$")
#: The word before a point (letters, digits and inner points: "e.g", "U.S").
_LAST_WORD = re.compile(r"([\w.]+)\.$")


def _ends_sentence(text: str, point: int) -> bool:
    """Whether the mark at ``text[point]`` (a ``.``, ``!`` or ``?``) ends a sentence."""
    if text[point] != ".":
        return True
    word = _LAST_WORD.search(text[max(0, point - 40):point + 1])
    if word is None:
        return True
    token = word.group(1)
    if token.lower() in ABBREVIATIONS:
        return False
    if len(token) == 1 and token.isalpha() and token.isupper():
        return False  # an initial: "J. Smith"
    return not re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", token)  # "U.S.", "i.v."


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, in order (none for blank text)."""
    out: list[str] = []
    start = 0
    for match in _END.finditer(text):
        point = match.start()
        if _ends_sentence(text, point):
            sentence = _EDGE.sub("", text[start:match.start(1)])
            if sentence:
                out.append(sentence)
            start = match.end(1)
    tail = _EDGE.sub("", text[start:])
    if tail:
        out.append(tail)
    return out


def sentence_spans(text: str, sentences: list[str]) -> list[tuple[int, int]]:
    """Where each of ``sentences`` (in order, as :func:`split_sentences` made them from
    ``text``) starts and ends in ``text``."""
    spans: list[tuple[int, int]] = []
    at = 0
    for sentence in sentences:
        start = text.find(sentence, at)
        if start < 0:
            raise ValueError(f"sentence not in the text after offset {at}: {sentence[:40]!r}")
        spans.append((start, start + len(sentence)))
        at = start + len(sentence)
    return spans
