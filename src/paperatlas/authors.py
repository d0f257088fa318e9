"""Author names: one key for the variants of a name (pure functions).

A paper's authors are plain names; the identifiers that some sources give them (ORCID,
Semantic Scholar, OpenAlex) are kept beside, and :mod:`paperatlas.author_ids` joins or
parts authors by them. Without identifiers, variants are resolved by the names alone. The
rule:

- accents and case are folded (``Karagöz`` = ``Karagoz``, ``ß`` = ``ss``);
- ``Last, First`` is read as ``First Last``; otherwise the last word is the surname, with
  the lower-case particles before it (``van der``, ``de la``, ``von``) and a trailing
  suffix (``Jr.``, ``III``) dropped from the name's end first;
- the key is the surname and the first initial: ``smith.j`` for ``John Smith``,
  ``J. Smith``, ``Smith, John`` and ``Smith, J.``; a one-word name keys on itself
  (``plato.``).

Limits: two people with the same surname and first initial are one author here (``Jane
Smith`` and ``John Smith``); a name written family-name first without a comma (``Wang
Wei``) keys on its given name; transliterations (``Tchaikovsky``/``Chaikovskii``) and
changed surnames are different authors.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

__all__ = ["author_key", "display_name", "fold", "is_key", "split_name"]

#: Words that belong to the surname that follows them (written in lower case).
PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "di", "da", "du",
                       "la", "le", "dos", "das", "ter", "ten", "bin", "al", "y", "st"})
#: Name suffixes left out of the key.
SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md"})
_KEY = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]?")
_WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")
#: Letters that do not decompose into a base letter and a mark.
_EXTRA = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d",
                        "þ": "th", "ł": "l", "\u0131": "i", "Æ": "AE", "Œ": "OE", "Ø": "O",
                        "Đ": "D", "Ł": "L"})


def fold(text: str) -> str:
    """``text`` without accents, in lower case (``Karagöz`` -> ``karagoz``)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def split_name(name: str) -> tuple[list[str], list[str]]:
    """``(given names, surname words)`` of a name as written (accents kept)."""
    head, comma, tail = name.partition(",")
    if comma and _WORD.search(tail) and fold(tail).strip(" .") not in SUFFIXES:
        given, family = _WORD.findall(tail), _WORD.findall(head)
    else:
        words = _WORD.findall(head)
        while len(words) > 1 and fold(words[-1]) in SUFFIXES:
            words.pop()
        if not words:
            return [], []
        cut = len(words) - 1
        while cut > 1 and words[cut - 1].islower() and fold(words[cut - 1]) in PARTICLES:
            cut -= 1
        given, family = words[:cut], words[cut:]
    family = [w for w in family if fold(w) not in SUFFIXES] or family
    return given, family


def author_key(name: str) -> str:
    """The key that a name's variants share: ``smith.j`` (see the module's rule); "" for
    a name with no letters or digits."""
    given, family = split_name(name)
    surname = "-".join(re.sub(r"[^a-z0-9]+", "-", fold(w)).strip("-") for w in family)
    surname = re.sub(r"-+", "-", surname).strip("-")
    if not surname:
        return ""
    initial = next((fold(w)[:1] for w in given if fold(w)[:1].isalnum()), "")
    return f"{surname}.{initial}"


def is_key(text: str) -> bool:
    """Whether ``text`` is written as an author key (``smith.j``, ``van-der-berg.a``)."""
    return bool(_KEY.fullmatch(text))


def display_name(names: Iterable[str]) -> str:
    """The name to show for an author from the variants met: one with at most one comma
    (``Kyriacos, Κυριάκος, Athanasiou, Αθανασίου`` is several names run together), then
    the fullest given names (most letters), then written given names first, then with
    accents (an ASCII copy is the likelier fallback), then the most frequent, then the
    first met."""
    counts = Counter(n.strip() for n in names if n.strip())
    if not counts:
        return ""
    order = {n: i for i, n in enumerate(counts)}

    def rank(n: str) -> tuple[bool, int, bool, bool, int, int]:
        given, _ = split_name(n)
        return (n.count(",") > 1, -sum(len(w) for w in given if len(w) > 1), "," in n,
                n.isascii(), -counts[n], order[n])

    return min(counts, key=rank)
