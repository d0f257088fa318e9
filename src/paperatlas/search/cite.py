"""Answers written by a language model from numbered evidence, every citation checked
(pure functions: the prompt, the parse of the model's answer, the check).

The model sees only the question and the evidence sentences, numbered ``[1]`` to ``[n]``,
each with its paper's key; it must open with a verdict line (:data:`VERDICTS`), end every
sentence with the numbers it rests on (``[1]``, ``[1, 3]``, ``[1][2]``, ``[1-3]``), and
answer ``NOT ENOUGH EVIDENCE`` when the evidence does not answer the question.

Each sentence of its answer is then ``cited`` (it cites given evidence only),
``uncited`` or ``miscited`` (it cites a number that was not given: ``[9]`` of 5).
Uncited and mis-cited sentences are kept, flagged, never dropped: dropping one can turn
what is left into a claim the model did not make ("However, ..." after a cut), and the
reader should see that the model wrote it; :func:`render` with ``checked_only`` gives
the answer without them for those who want it so. Citation precision is the share of
all citations (a sentence's numbers counted once each) that name given evidence.

An answer abstains when its verdict is ``NOT ENOUGH EVIDENCE``, when it has no sentence,
or when it has no verdict, no valid citation and says "not enough evidence" (or
"insufficient evidence / information").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from ..records.evidence import Answer, AnswerSentence, Evidence, SentenceStatus
from .splitter import split_sentences

NOT_ENOUGH = "NOT ENOUGH EVIDENCE"
#: The verdicts a model may open with.
VERDICTS = ("SUPPORT", "CONTRADICT", "MIXED", "ANSWER", NOT_ENOUGH)
#: Evidence sentences given to the model by default.
EVIDENCE = 8
#: A range such as ``[1-300]`` counts its two ends only beyond this many numbers.
MAX_RANGE = 50

SYSTEM_PROMPT = f"""\
You answer questions about research papers from numbered evidence sentences, and from \
nothing else: never from your own knowledge.

Rules:
1. The first line is the verdict, exactly one of:
   VERDICT: SUPPORT (the evidence supports the claim, or answers the question yes)
   VERDICT: CONTRADICT (the evidence contradicts the claim, or answers it no)
   VERDICT: MIXED (some evidence supports it and some contradicts it)
   VERDICT: ANSWER (not a claim or yes/no question, and the evidence answers it)
   VERDICT: {NOT_ENOUGH} (the evidence does not answer it)
2. Then answer in a few short sentences. End every sentence with the numbers of the \
evidence sentences it rests on, in square brackets: [1] or [2, 5]. Cite only numbers \
from the list. Do not write a sentence you cannot cite.
3. If the evidence does not answer the question, write "VERDICT: {NOT_ENOUGH}" and then \
only "Not enough evidence." Do not answer from what you know."""

_MARKER = re.compile(r"\[\s*\d+(?:\s*(?:,|;|-|\u2013|\u2014|and)\s*\d+)*\s*\]")
#: A sentence's end with markers after it ("rises. [1]"): the markers go before the end.
_MARKERS_AFTER_END = re.compile(rf"([.!?])((?:\s*{_MARKER.pattern})+)")
_BULLET = re.compile(r"^\s*(?:[-*\u2022>]|\d+[.)])\s+")
#: A reasoning model's thoughts before its answer (``<think>...</think>``, or cut short).
_THINKING = re.compile(r"<think>.*?(?:</think>|\Z)", re.S | re.I)
_ABSTAIN = re.compile(r"\b(?:not enough|insufficient)\s+(?:evidence|information)\b", re.I)
_VERDICT_LINE = re.compile(r"^verdict\s*[:\-]?\s*(.*)$", re.I)
_ALIASES = {"SUPPORTS": "SUPPORT", "SUPPORTED": "SUPPORT", "CONTRADICTS": "CONTRADICT",
            "CONTRADICTED": "CONTRADICT", "REFUTE": "CONTRADICT", "REFUTES": "CONTRADICT",
            "REFUTED": "CONTRADICT", "INSUFFICIENT EVIDENCE": NOT_ENOUGH,
            "NOT ENOUGH INFO": NOT_ENOUGH, "NOT ENOUGH INFORMATION": NOT_ENOUGH,
            "NEI": NOT_ENOUGH}


def evidence_lines(evidence: Sequence[Evidence]) -> str:
    """The numbered evidence as the model sees it: ``[n] (paper key) sentence``."""
    return "\n".join(f"[{n}] ({e.key}) {_unmarked(e.text)}"
                     for n, e in enumerate(evidence, start=1))


def _unmarked(text: str) -> str:
    """A sentence on one line, its own reference marks ("[12]") as "(12)": the model is
    not to take them for evidence numbers."""
    return " ".join(_MARKER.sub(lambda m: f"({m.group(0)[1:-1].strip()})", text).split())


def build_messages(question: str, evidence: Sequence[Evidence]) -> list[dict[str, str]]:
    """The chat messages: the rules, then the question and the numbered evidence only."""
    user = (f"Question: {' '.join(question.split())}\n\nEvidence:\n{evidence_lines(evidence)}"
            f"\n\nAnswer with the verdict line first, then sentences that each end with "
            f"their citations [n] (1 to {len(evidence)}).")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_verdict(line: str) -> str | None:
    """The verdict a line states: ``VERDICT: X`` with X one of :data:`VERDICTS` (or a
    common variant: SUPPORTED, REFUTES, INSUFFICIENT EVIDENCE), or such a word alone on
    the line; markdown marks and a closing point ignored."""
    text = line.strip().strip("*#_`>").strip()
    labelled = _VERDICT_LINE.match(text)
    if labelled:
        text = labelled.group(1)
    word = " ".join(re.sub(r"[^A-Za-z ]", " ", text).split()).upper()
    word = _ALIASES.get(word, word)
    return word if word in VERDICTS else None


def citation_numbers(marker: str) -> list[int]:
    """The numbers one marker cites: ``[1, 3]`` -> 1, 3; ``[2-4]`` -> 2, 3, 4 (a range
    wider than :data:`MAX_RANGE` numbers: its two ends)."""
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", marker.strip("[] ")):
        ends = [int(x) for x in re.split(r"\s*[-\u2013\u2014]\s*", part) if x.strip()]
        if len(ends) == 2 and 0 <= ends[1] - ends[0] < MAX_RANGE:
            out += range(ends[0], ends[1] + 1)
        else:
            out += ends
    return out


def parse_answer(text: str) -> tuple[str | None, list[tuple[str, list[int]]]]:
    """The model's verdict (its first non-blank line, if it states one) and its
    sentences: each as its text without citation markers and the numbers it cites (in
    order, once each). Markers written after a sentence's end ("rises. [1]") belong to
    that sentence; bullets and line breaks end sentences; a reasoning model's
    ``<think>...</think>`` is left out."""
    text = _THINKING.sub("", text)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    verdict = parse_verdict(lines[0]) if lines else None
    if verdict is not None:
        lines = lines[1:]
    sentences: list[tuple[str, list[int]]] = []
    for line in lines:
        line = _MARKERS_AFTER_END.sub(lambda m: f" {m.group(2).strip()}{m.group(1)}",
                                      _BULLET.sub("", line).replace("**", ""))
        for sentence in split_sentences(line):
            numbers = [n for m in _MARKER.findall(sentence) for n in citation_numbers(m)]
            bare = " ".join(_MARKER.sub(" ", sentence).split())
            bare = re.sub(r"\s+([.,;:!?])", r"\1", bare)
            if re.search(r"\w", bare):
                sentences.append((bare, list(dict.fromkeys(numbers))))
            elif sentences and numbers:  # markers alone: the sentence before cites them
                before, cited = sentences[-1]
                sentences[-1] = (before, list(dict.fromkeys(cited + numbers)))
    return verdict, sentences


def check(parsed: Sequence[tuple[str, list[int]]], given: int) -> list[AnswerSentence]:
    """Each sentence with its citations checked against the ``given`` evidence numbers
    (1 to ``given``)."""
    out = []
    for text, numbers in parsed:
        valid = [n for n in numbers if 1 <= n <= given]
        invalid = [n for n in numbers if not 1 <= n <= given]
        status: SentenceStatus = "miscited" if invalid else "cited" if valid else "uncited"
        out.append(AnswerSentence(text, valid, status, invalid))
    return out


def citation_precision(sentences: Sequence[AnswerSentence]) -> float | None:
    """Valid citations over all citations (``None`` when there is none)."""
    valid = sum(len(s.citations) for s in sentences)
    cited = valid + sum(len(s.invalid) for s in sentences)
    return valid / cited if cited else None


def abstains(verdict: str | None, sentences: Sequence[AnswerSentence]) -> bool:
    """Whether the answer declines (see the module's docstring)."""
    if verdict == NOT_ENOUGH or not sentences:
        return True
    if verdict is not None or any(s.citations for s in sentences):
        return False
    return any(_ABSTAIN.search(s.text) for s in sentences)


def render(sentences: Sequence[AnswerSentence], *, checked_only: bool = False) -> str:
    """The answer as text, each sentence's markers before its end ("rises [1, 3]."; a
    number not given as ``[9?]``);
    ``checked_only`` leaves out the uncited and mis-cited sentences."""
    parts = []
    for s in sentences:
        if checked_only and s.status != "cited":
            continue
        marks = [str(n) for n in s.citations] + [f"{n}?" for n in s.invalid]
        if not marks:
            parts.append(s.text)
            continue
        body, end = (s.text[:-1], s.text[-1]) if s.text[-1] in ".!?" else (s.text, "")
        parts.append(f"{body} [{', '.join(marks)}]{end}")
    return " ".join(parts)


def checked_answer(answer: Answer, text: str, model: str) -> Answer:
    """``answer`` (its ``evidence`` the numbered sentences the model was given) with the
    model's ``text`` parsed and checked: sentences, citation precision, verdict, and an
    abstention when the model declined."""
    verdict, parsed = parse_answer(text)
    sentences = check(parsed, len(answer.evidence))
    precision = citation_precision(sentences)
    papers = len({e.key for e in answer.evidence})
    given = f"{len(answer.evidence)} sentences from {papers} paper{'s' if papers != 1 else ''}"
    declined = abstains(verdict, sentences)
    if declined:
        message = f"Not enough evidence: {model} found no answer to {answer.question!r} " \
                  f"in {given}"
    else:
        flagged = sum(1 for s in sentences if s.status != "cited")
        message = f"{model} answered from {given}" + (
            f"; citation precision {precision:.2f}" if precision is not None else
            "; no citation") + (f"; {flagged} sentence{'s' if flagged != 1 else ''} "
                                f"flagged" if flagged else "")
    return replace(answer, abstained=declined, message=message, sentences=sentences,
                   citation_precision=precision, model=model, verdict=verdict)
