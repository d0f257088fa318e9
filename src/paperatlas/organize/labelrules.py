"""What makes a phrase a topic label: the rules the labelers share (issue 20).

A label is a phrase as it occurs in the node's papers: its words contiguous there, in
their usual case ("DNA damage", "ER stress", "CXCR4"), with their letters ("Planlægning"),
shaped like a noun phrase (it does not end in a participle or function word: not "Genes
involved"; not a modifier that its papers always continue: "Central nervous" becomes
"Central nervous system"), with no stop word of the texts' languages, no markup ("span
class") and no literal escape ("u03b1"). A node's label is one phrase, never two
unrelated words glued with "and" (only a pair written so in the papers). :func:`scan`
reads how a phrase occurs in a sample of the node's texts; :func:`unique_labels` makes
the labels of a whole tree distinct.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ..records.trees import TOPIC, Tree
from .base import stop_words
from .phrases import clean
from .stopwords import function_words

#: Markup names that are never words of a label ("span class", "jats").
MARKUP = frozenset("""
span div jats href xmlns mml nbsp amp quot searchword sup sub class style html xml italic
bold strong font br
""".split())  # noqa: SIM905
#: Markup names that are also words ("class", "style", "bold"): a phrase only of markup
#: names is left out, one with other words is kept ("class imbalance").
_MARKUP_ONLY = frozenset(["span", "div", "jats", "href", "xmlns", "mml", "nbsp", "amp",
                          "quot", "searchword"])
#: Words a noun phrase does not end in (prepositions and participles not in the stop lists).
DANGLING = frozenset("""
using based via versus vs towards toward like regarding including involving
according due related associated dependent induced mediated driven aware free specific
smaller larger bigger better worse faster slower greater longer shorter stronger weaker
fewer deeper wider cheaper simpler easier harder richer broader narrower smallest largest
biggest best worst fastest greatest longest strongest deepest simplest
""".split())  # noqa: SIM905
#: Words after which a word is a verb or a predicate, not a noun ("to detect", "can
#: detect", "we detect", "were fed"): a phrase mostly written after one is no label.
VERB_CUES = frozenset("""
to can could may might will would should must cannot we they was were is are be been being
not also
""".split())  # noqa: SIM905
#: Verbs that open a title's clause, not a noun phrase ("Introducing ...", "Towards ...").
OPENERS = frozenset("""
introducing enhancing combining leveraging exploring improving investigating evaluating
rethinking revisiting boosting transforming unlocking empowering bridging towards toward
characterizing understanding benchmarking scaling making
""".split())  # noqa: SIM905
_ESCAPE_TOKEN = re.compile(r"u[0-9a-f]{4}")
#: A word of a text (any script; hyphens inside), as a label shows it.
WORD = re.compile(r"[^\W_](?:[^\W_]|-)*")
_BREAKS = ".,;:!?()[]{}\x00"
#: Share of a phrase's occurrences followed by a content word from which it is a modifier
#: (it is continued: "Central nervous ..."), and the share of one next word that extends it.
FRAGMENT = 0.7
EXTEND = 0.5
#: Share of a phrase's occurrences after a :data:`VERB_CUES` word from which it is a verb.
VERBAL = 0.5
MAX_WORDS = 5


def phrase_ok(phrase: str, *, ending: bool = True) -> bool:
    """Whether a lower-case phrase may be a label: no stop word of any listed language,
    markup or escape in it, no academic stop word or clause-opening verb first ("models"
    may end one: "language models"), and (with ``ending``) no dangling last word."""
    words = phrase.split()
    if not words or words[0] in stop_words() or words[0] in OPENERS or \
            words[0] in function_words():
        return False
    stops = function_words()
    if any(w in stops or w in _MARKUP_ONLY or _ESCAPE_TOKEN.fullmatch(w) for w in words):
        return False
    if all(w in MARKUP for w in words):
        return False
    return not (ending and dangling(words[-1]))


def dangling(word: str) -> bool:
    """Whether a phrase ending in ``word`` is cut off: a participle ("involved", "based"),
    an adjective in -ous ("nervous") or comparative ("smaller") or a preposition the stop
    lists do not hold."""
    if word in DANGLING:
        return True
    if len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        return True
    return len(word) > 5 and word.endswith("ous")


@dataclass
class Surface:
    """How a phrase occurs in some texts: in how many (``papers``, of ``texts``), its
    usual written form, and what follows it."""

    phrase: str
    papers: int = 0
    texts: int = 0
    form: str = ""
    following: Counter[str] = field(default_factory=Counter)  # next content word
    preceding: Counter[str] = field(default_factory=Counter)  # content word before
    occurrences: int = 0
    pairs: Counter[str] = field(default_factory=Counter)  # "and" + word: papers
    after_verb_cue: int = 0  # occurrences right after a VERB_CUES word

    @property
    def support(self) -> float:
        """The share of the texts the phrase occurs in."""
        return self.papers / self.texts if self.texts else 0.0

    def continued(self) -> bool:
        """Whether the phrase is mostly followed by another content word (a modifier)."""
        return self.occurrences > 0 and sum(self.following.values()) >= \
            FRAGMENT * self.occurrences

    def extension(self, words: Counter[str] | None = None) -> str | None:
        """The one word that follows the phrase (or of ``words``) in at least
        :data:`EXTEND` of its occurrences, if any."""
        words = self.following if words is None else words
        if not words:
            return None
        word, n = words.most_common(1)[0]
        return word if n >= EXTEND * self.occurrences else None

    def verbal(self) -> bool:
        """Whether the phrase is mostly written as a verb ("to detect", "were fed")."""
        return self.occurrences > 0 and self.after_verb_cue >= VERBAL * self.occurrences

    def led(self) -> bool:
        """Whether the phrase is mostly preceded by a content word ("nervous system"
        after "central")."""
        return self.occurrences > 0 and sum(self.preceding.values()) >= \
            FRAGMENT * self.occurrences


@lru_cache(maxsize=4096)
def pattern(phrase: str, ignore_case: bool = False) -> re.Pattern[str]:
    """A pattern of a lower-case phrase as the tokenizer reads it: its words in order,
    apart by anything but word characters, hyphens, phrase breaks and the NUL between
    texts (matched in lower-case text, else ``ignore_case``)."""
    gap = r"[^\w\-.,;:!?()\[\]{}\x00]+"
    words = gap.join(re.escape(w) for w in phrase.split())
    # It starts with a literal (fast to find); what precedes it is checked by the caller.
    return re.compile(rf"{words}(?![\w\-])", re.IGNORECASE if ignore_case else 0)


@dataclass(frozen=True)
class Sample:
    """Some papers' texts ready for :func:`scan`: markup and escapes cleaned, case kept,
    joined by NUL characters (one regular-expression pass reads them all), with a
    lower-case copy (None where lower-casing changes the length: then the search ignores
    case), where each text starts and where its title ends (a title's words are title-cased;
    0 where a text does not start with its title)."""

    text: str
    lower: str | None
    starts: list[int]
    title_ends: list[int]

    def __len__(self) -> int:
        return len(self.starts)


def prepared(titles: Sequence[str], texts: Sequence[str]) -> Sample:
    """A :class:`Sample` of these papers (titles and title + abstract texts)."""
    parts, starts, title_ends = [], [], []
    at = 0
    for title, text in zip(titles, texts, strict=True):
        body = clean(text).replace("\x00", " ")
        head = clean(title) if title else ""
        starts.append(at)
        title_ends.append(at + len(head) if head and body.startswith(head) else at)
        parts.append(body)
        at += len(body) + 1
    joined = "\x00".join(parts)
    lower = joined.lower()
    return Sample(joined, lower if len(lower) == len(joined) else None, starts, title_ends)


def scan(phrase: str, sample: Sample) -> Surface:
    """How ``phrase`` occurs in the texts of ``sample``."""
    found = Surface(phrase, texts=len(sample))
    forms: Counter[str] = Counter()
    weak: Counter[str] = Counter()  # in a title or first in a sentence
    stops = function_words()
    text = sample.text
    matches = pattern(phrase).finditer(sample.lower) if sample.lower is not None else \
        pattern(phrase, True).finditer(text)
    papers: set[int] = set()
    pairs: dict[str, set[int]] = {}
    for match in matches:
        start, end = match.span()
        if start and (text[start - 1].isalnum() or text[start - 1] in "-_"):
            continue  # inside a word
        paper = bisect_right(sample.starts, start) - 1
        papers.add(paper)
        found.occurrences += 1
        form = " ".join(text[start:end].split())
        i = start - 1
        while i >= 0 and text[i].isspace():
            i -= 1
        initial = i < 0 or text[i] in ".!?:\x00" or start < sample.title_ends[paper]
        (weak if initial else forms)[form] += 1
        before = _last_word(text, start)
        if before and before not in stops:
            found.preceding[before] += 1
        elif before in VERB_CUES:
            found.after_verb_cue += 1
        following = _next_words(text, end, 2)
        if following and following[0] not in stops:
            found.following[following[0]] += 1
        elif following[:1] == ["and"] and len(following) > 1:
            pairs.setdefault(following[1], set()).add(paper)
    found.papers = len(papers)
    found.pairs.update({word: len(where) for word, where in pairs.items()})
    found.form = display(forms, weak, phrase)
    return found


def extended(found: Surface, texts: Sample) -> Surface:
    """A phrase its papers mostly continue, extended by the word that follows it in most
    of its occurrences while there is one (up to :data:`MAX_WORDS` words): "central
    nervous" -> "central nervous system"; then the same on its left."""
    while found.continued():
        word = found.extension()
        longer = f"{found.phrase} {word}"
        if word is None or len(longer.split()) > MAX_WORDS or not phrase_ok(
                longer, ending=False):
            break
        found = scan(longer, texts)
    while found.led():  # and on the left: "nervous system" -> "central nervous system"
        word = found.extension(found.preceding)
        longer = f"{word} {found.phrase}"
        if word is None or len(longer.split()) > MAX_WORDS or not phrase_ok(longer):
            break
        found = scan(longer, texts)
    return found


def _last_word(text: str, at: int) -> str:
    """The word (lower case) just before ``at``, with only spaces between; else ""."""
    end = at
    while end > 0 and text[end - 1].isspace():
        end -= 1
    if end == at:
        return ""
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "-"):
        start -= 1
    return text[start:end].lower() if start < end and text[start].isalpha() else ""


def _next_words(text: str, at: int, count: int) -> list[str]:
    """The next ``count`` words (lower case) after ``at``, up to a phrase break."""
    out: list[str] = []
    while len(out) < count:
        rest = text[at:at + 80]
        stripped = rest.lstrip()
        if not stripped or stripped[0] in _BREAKS:
            break
        match = WORD.match(stripped)
        if match is None:
            break
        out.append(match.group().lower())
        at += len(rest) - len(stripped) + match.end()
    return out


def display(forms: Counter[str], weak: Counter[str], phrase: str) -> str:
    """The usual written form of a phrase, first letter capitalized where its first word
    is lower case: the most frequent form in running text; else in titles and first in
    sentences, where a capital is only kept inside a word or in a word of capitals
    ("LoRA", "DNA", "CXCR4")."""
    if forms:
        text = forms.most_common(1)[0][0]
    elif weak:
        text = " ".join(w if shaped(w) else w.lower() for w in weak.most_common(1)[0][0].split())
    else:
        text = phrase
    return text[:1].upper() + text[1:] if text[:1].islower() and not shaped(
        text.split()[0]) else text


def shaped(word: str) -> bool:
    """Whether a word's case is part of it: a part of it (between hyphens) has capitals
    after its first letter ("LoRA", "mRNA", "DNA", "GPT-4", "IL-6") or is a capital and
    digits ("CXCR4", "T5"); a capital after a hyphen is title case ("Low-Rank")."""
    return any(any(c.isupper() for c in part[1:]) or (part[:1].isupper() and any(
        c.isdigit() for c in part)) for part in word.split("-"))


def unique_labels(tree: Tree, alternatives: Callable[[int], Iterable[str]],
                  changeable: set[int] | None = None) -> int:
    """Make the topic labels of ``tree`` distinct (case-folded): walking it breadth first,
    a node whose label was taken gets its first ``alternatives`` not taken, else its label
    qualified by its parent's ("Language modeling (Recommendation systems)"). Locked
    labels, and with ``changeable`` the nodes not in it, are never changed (they take their
    label first). Returns how many labels changed."""
    walked = sorted(tree.walk(), key=lambda pair: pair[1])  # by depth, in tree order
    order = [n for n, _ in walked if n.id != tree.root and n.kind == TOPIC]
    fixed = [n for n in order if n.label_locked or (changeable is not None and
                                                    n.id not in changeable)]
    taken = {n.label.casefold() for n in fixed}
    changed = 0
    for node in order:
        if node in fixed:
            continue
        key = node.label.casefold()
        if key not in taken:
            taken.add(key)
            continue
        label = next((a for a in alternatives(node.id) if a.casefold() not in taken), None)
        if label is None:
            parent = tree.nodes[node.parent] if node.parent is not None else None
            label = f"{node.label} ({parent.label})" if parent is not None and \
                parent.id != tree.root else f"{node.label} ({node.id})"
            if label.casefold() in taken:
                label = f"{node.label} ({node.id})"
        node.label = label
        taken.add(label.casefold())
        changed += 1
    return changed
