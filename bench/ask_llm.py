"""`ask` with a chat model on SciFact's claims (issue 19): citation precision and label
accuracy, run by ``bench/ask_evidence.py --llm-url URL --llm-model M [--limit N]``.

Each claim is asked of the SciFact library as it is (`lib.ask(claim, llm=...)`: the best
sentences, numbered, go to the model; its answer comes back checked). Measures:

- citation precision: valid citations over all citations, summed over the answers (and
  the share of answers with a mis-cited or an uncited sentence);
- cited-rationale precision: the share of valid citations that name one of the claim's
  SciFact rationale sentences (our sentences mapped to SciFact's as in ask_evidence.py);
- label accuracy: over the claims whose evidence abstracts all carry one label, the share
  whose verdict is that label (SUPPORT / CONTRADICT; an abstention or another verdict
  counts as wrong), with the confusion counts; over the claims without evidence, the
  share the answer abstains on (before the model, or by its NOT ENOUGH EVIDENCE);
- the model's time per call (p50, p90) and the calls that failed (LLMError; the run stops
  after 5 failures in a row).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from paperatlas import Library
from paperatlas.chat import LLMError, LLMSettings
from paperatlas.records.evidence import Answer

#: Consecutive failed calls that stop the run.
FAILURES = 5


class LabelledClaim(Protocol):
    """A SciFact claim (ask_evidence.Claim): its evidence and that evidence's labels."""

    id: str
    text: str
    gold: dict[str, set[int]]  # evidence abstract -> its rationale sentences
    labels: set[str]  # SciFact's labels of its evidence abstracts (none: no evidence)


def run_llm(lib: Library, claims: Sequence[LabelledClaim], llm: LLMSettings,
            gold_index: Any) -> dict[str, Any]:
    """Ask every claim with ``llm``; ``gold_index(key, our sentence index)`` gives the
    SciFact sentence index of one of our sentences."""
    valid = cited = on_rationale = flagged_answers = failures = in_a_row = 0
    confusion: Counter[tuple[str, str]] = Counter()
    nei_abstained = nei = 0
    times: list[float] = []
    for claim in claims:
        try:
            answer = lib.ask(claim.text, llm=llm)
        except LLMError as exc:
            failures, in_a_row = failures + 1, in_a_row + 1
            print(f"claim {claim.id}: {exc}", flush=True)
            if in_a_row >= FAILURES:
                break
            continue
        in_a_row = 0
        if "llm" in answer.timings:
            times.append(answer.timings["llm"])
        good = sum(len(s.citations) for s in answer.sentences)
        valid, cited = valid + good, cited + good + sum(len(s.invalid) for s in answer.sentences)
        flagged_answers += any(s.status != "cited" for s in answer.sentences)
        on_rationale += sum(1 for s in answer.sentences for n in s.citations
                            if _on_rationale(answer, n, claim, gold_index))
        predicted = "ABSTAIN" if answer.abstained else answer.verdict or "NONE"
        if not claim.labels:
            nei += 1
            nei_abstained += answer.abstained
        elif len(claim.labels) == 1:
            confusion[(next(iter(claim.labels)), predicted)] += 1
    labelled = sum(confusion.values())
    right = sum(n for (gold, got), n in confusion.items() if gold == got)
    asked = len(times)
    return {
        "model": llm.model, "claims": len(claims), "model_calls": asked,
        "failed_calls": failures,
        "citation_precision": valid / cited if cited else None,
        "citations": cited,
        "cited_rationale_precision": on_rationale / valid if valid else None,
        "answers_with_flagged_sentences": flagged_answers,
        "label_accuracy": right / labelled if labelled else None,
        "labelled_claims": labelled,
        "confusion": {f"{gold}->{got}": n for (gold, got), n in sorted(confusion.items())},
        "abstain_without_evidence": nei_abstained / nei if nei else None,
        "claims_without_evidence": nei,
        "llm_ms_p50": statistics.median(times) if times else None,
        "llm_ms_p90": sorted(times)[int(0.9 * (asked - 1))] if times else None,
    }


def _on_rationale(answer: Answer, n: int, claim: LabelledClaim, gold_index: Any) -> bool:
    e = answer.evidence[n - 1]
    return e.key in claim.gold and gold_index(e.key, e.sentence) in claim.gold[e.key]


def main_llm(lib: Library, claims: Sequence[LabelledClaim], smap: Any, url: str, model: str,
             key: str | None, timeout: float) -> dict[str, Any]:
    """The LLM half of ask_evidence.py: ``smap`` is its SentenceMap of ``lib``."""
    ids: dict[str, int] = {}

    def gold_index(key: str, sentence: int) -> int:
        if key not in ids:
            ids[key] = lib.papers.resolve(key)
        ours = lib.store.sentences.get_many([ids[key]])[0].sentences
        return int(smap.of(key, ours)[sentence])

    started = time.time()
    report = run_llm(lib, claims, LLMSettings(url, model, key, timeout), gold_index)
    report["seconds"] = time.time() - started
    return report
