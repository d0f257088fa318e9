"""search/cite.py: the prompt, the parse of a model's answer and the check of every
citation (pure functions)."""

from __future__ import annotations

import pytest

from paperatlas.records.evidence import Answer, AnswerSentence, Evidence
from paperatlas.search.cite import (
    NOT_ENOUGH,
    abstains,
    build_messages,
    check,
    checked_answer,
    citation_numbers,
    citation_precision,
    parse_answer,
    parse_verdict,
    render,
)

EVIDENCE = [Evidence(f"p{i}", i, f"Sentence number {i}.", 0.5, 0.5, 0.5) for i in range(1, 6)]


def checked(text: str, given: int = 5) -> tuple[str | None, list[AnswerSentence]]:
    verdict, parsed = parse_answer(text)
    return verdict, check(parsed, given)


def test_prompt_holds_only_the_question_and_the_numbered_evidence() -> None:
    system, user = build_messages("  Does   X cause Y? ", EVIDENCE[:2])
    assert system["role"] == "system" and "VERDICT: NOT ENOUGH EVIDENCE" in system["content"]
    assert "[n]" not in system["content"] and "own knowledge" in system["content"]
    assert user["content"] == (
        "Question: Does X cause Y?\n\nEvidence:\n[1] (p1) Sentence number 1.\n"
        "[2] (p2) Sentence number 2.\n\nAnswer with the verdict line first, then sentences "
        "that each end with their citations [n] (1 to 2).")


def test_the_evidence_own_reference_marks_are_not_numbers() -> None:
    marked = Evidence("p9", 0, "As shown before [12], [3-4] it rises.", 0.5, 0.5, 0.5)
    user = build_messages("q", [marked])[1]["content"]
    assert "[1] (p9) As shown before (12), (3-4) it rises." in user


def test_a_reasoning_model_thoughts_are_left_out() -> None:
    verdict, sentences = checked("<think>Maybe [7]?\nVERDICT: MIXED</think>\n"
                                 "VERDICT: SUPPORT\nX [1].")
    assert verdict == "SUPPORT" and [s.text for s in sentences] == ["X."]
    assert checked("<think>still thinking [9] when cut")[1] == []


def test_a_correct_cited_answer() -> None:
    verdict, sentences = checked("VERDICT: SUPPORT\nX raises Y [1]. It does so in mice [2, 3].")
    assert verdict == "SUPPORT"
    assert sentences == [AnswerSentence("X raises Y.", [1], "cited"),
                         AnswerSentence("It does so in mice.", [2, 3], "cited")]
    assert citation_precision(sentences) == 1.0 and not abstains(verdict, sentences)
    assert render(sentences) == "X raises Y [1]. It does so in mice [2, 3]."


def test_a_fabricated_citation_is_caught() -> None:
    _, sentences = checked("VERDICT: SUPPORT\nX raises Y [1]. Also Z [9].")
    assert sentences[1] == AnswerSentence("Also Z.", [], "miscited", [9])
    assert citation_precision(sentences) == 0.5
    _, zero = checked("VERDICT: SUPPORT\nX [0]. Y [1, 6].")
    assert [s.status for s in zero] == ["miscited", "miscited"]
    assert zero[1].citations == [1] and zero[1].invalid == [6]
    assert citation_precision(zero) == pytest.approx(1 / 3)
    assert render(zero) == "X [0?]. Y [1, 6?]."
    assert render(zero, checked_only=True) == ""


def test_marker_forms_and_ranges() -> None:
    assert citation_numbers("[1-3]") == [1, 2, 3]
    assert citation_numbers("[2 \u2013 4]") == [2, 3, 4]
    assert citation_numbers("[1, 3; 5]") == [1, 3, 5]
    assert citation_numbers("[1-3, 5]") == [1, 2, 3, 5]
    assert citation_numbers("[4-2]") == [4, 2]  # backwards: its ends only
    assert citation_numbers("[1-400]") == [1, 400]  # too wide: its ends only
    _, sentences = checked("VERDICT: ANSWER\nA holds [1][2]. B holds [1-3]. C holds [2, 2].")
    assert [s.citations for s in sentences] == [[1, 2], [1, 2, 3], [2]]
    _, wide = checked("VERDICT: ANSWER\nAll of it [1-400].")
    assert wide[0].citations == [1] and wide[0].invalid == [400]


def test_markers_after_the_point_belong_to_the_sentence_before() -> None:
    _, sentences = checked("VERDICT: SUPPORT\nX rises. [1] Y falls.[2] Z holds. [3]\n[4]")
    assert [(s.text, s.citations) for s in sentences] == [
        ("X rises.", [1]), ("Y falls.", [2]), ("Z holds.", [3, 4])]


def test_an_uncited_sentence_is_flagged_and_kept() -> None:
    _, sentences = checked("VERDICT: SUPPORT\nX raises Y [1]. This is well known.")
    assert sentences[1] == AnswerSentence("This is well known.", [], "uncited")
    assert citation_precision(sentences) == 1.0  # uncited sentences cite nothing wrong
    assert render(sentences) == "X raises Y [1]. This is well known."
    assert render(sentences, checked_only=True) == "X raises Y [1]."
    assert citation_precision(checked("VERDICT: ANSWER\nNo marks at all.")[1]) is None


def test_bullets_bold_and_lines() -> None:
    verdict, sentences = checked("**Verdict: supported**\n\n- **X** raises Y [1]\n"
                                 "2. Mice too [2]")
    assert verdict == "SUPPORT"
    assert [(s.text, s.citations) for s in sentences] == [("X raises Y", [1]),
                                                          ("Mice too", [2])]


def test_verdicts() -> None:
    assert parse_verdict("VERDICT: CONTRADICT") == "CONTRADICT"
    assert parse_verdict("Verdict - refuted.") == "CONTRADICT"
    assert parse_verdict("## NOT ENOUGH EVIDENCE") == NOT_ENOUGH
    assert parse_verdict("verdict: insufficient evidence") == NOT_ENOUGH
    assert parse_verdict("MIXED") == "MIXED"
    assert parse_verdict("Support for X is weak [1].") is None  # a sentence, not a verdict
    assert parse_verdict("VERDICT: maybe") is None
    verdict, sentences = checked("Support for X is weak [1].")
    assert verdict is None and sentences[0].citations == [1]


@pytest.mark.parametrize("text", [
    "VERDICT: NOT ENOUGH EVIDENCE\nNot enough evidence.",
    "VERDICT: NOT ENOUGH EVIDENCE\nThe sentences discuss bees [1], not wasps.",
    "There is not enough evidence in these sentences to answer.",
    "Insufficient information.",
    "", "   \n ", "VERDICT: SUPPORT",
])
def test_abstentions(text: str) -> None:
    assert abstains(*checked(text))


@pytest.mark.parametrize("text", [
    "VERDICT: SUPPORT\nThere is not enough evidence for wasps, but bees decline [1].",
    "Bees decline [1]. Not enough evidence on wasps.",
])
def test_not_abstentions(text: str) -> None:
    assert not abstains(*checked(text))


def test_checked_answer_fills_the_answer() -> None:
    base = Answer("does X?", False, "5 sentences", EVIDENCE, [])
    answer = checked_answer(base, "VERDICT: SUPPORT\nX [1]. Y [9]. Z.", "m-7b")
    assert (answer.model, answer.verdict, answer.abstained) == ("m-7b", "SUPPORT", False)
    assert answer.citation_precision == 0.5 and answer.evidence == EVIDENCE
    assert [s.status for s in answer.sentences] == ["cited", "miscited", "uncited"]
    assert answer.message == ("m-7b answered from 5 sentences from 5 papers; "
                              "citation precision 0.50; 2 sentences flagged")
    declined = checked_answer(base, "VERDICT: NOT ENOUGH EVIDENCE\nNot enough evidence.", "m")
    assert declined.abstained and declined.evidence == EVIDENCE
    assert declined.message.startswith("Not enough evidence: m found no answer to 'does X?'")
    empty = checked_answer(base, "", "m")
    assert empty.abstained and empty.sentences == [] and empty.citation_precision is None
