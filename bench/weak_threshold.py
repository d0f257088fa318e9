"""The "no close match" thresholds of ``search.honest`` (issue 20, point 1): the strength
of the top result for queries that have an answer against queries that have none.

Usage::

    .venv/bin/python bench/weak_threshold.py --scifact LIB --nfcorpus LIB [--out FILE]

Each library is its corpus ingested and indexed with the default model (``paperatlas
--db L ingest ../shared/data/scifact/corpus.jsonl`` then ``index``; NFCorpus alike).
Per mode, every query is searched (top 10) and its page's ``strength`` kept:

- **answered**: SciFact train claims and NFCorpus dev queries whose top result is judged
  relevant (grade > 0) in their own corpus;
- **no answer**: the other corpus's queries (both are biomedical, so some have real
  answers: an upper bound on what a flag gets wrong), 300 CSFCube titles (computer
  science, out of domain), and 200 queries of 2-4 random letter strings.

The threshold is the one that best separates answered from no-answer queries (balanced
accuracy: the mean of the share of answered queries kept and of no-answer queries
flagged), chosen by 5-fold cross-validation over the pooled queries (the threshold of
the other four folds scores each fold), among values on a 0.01 grid; the figure
reported is the held-out balanced accuracy, and the threshold kept is the one chosen on
all queries (its folds' spread printed beside it). nDCG@10 of each mode is printed too
(the index now holds author names; these corpora have none, so it must not move).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from paperatlas import Library
from paperatlas.beir import load_qrels, load_queries
from paperatlas.metrics import ndcg_at

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MODES = ("lexical", "semantic", "hybrid")
GRID = [round(0.01 * i, 2) for i in range(0, 301)]


def gibberish(n: int, seed: int = 20) -> list[str]:
    rng = random.Random(seed)
    return [" ".join("".join(rng.choice(string.ascii_lowercase)
                             for _ in range(rng.randint(5, 9)))
                     for _ in range(rng.randint(2, 4))) for _ in range(n)]


def csfcube_titles(n: int, seed: int = 20) -> list[str]:
    with (DATA / "csfcube" / "corpus.jsonl").open(encoding="utf-8") as fh:
        titles = [json.loads(line)["title"] for line in fh if line.strip()]
    return random.Random(seed).sample(titles, n)


def judged(name: str, split: str) -> tuple[list[tuple[str, str]], dict[str, dict[str, int]]]:
    folder = DATA / name
    qrels = load_qrels(folder / "qrels" / f"{split}.tsv")
    queries = [(q, t) for q, t in load_queries(folder / f"queries-{split}.jsonl") if q in qrels]
    return queries, qrels


def balanced(answered: list[float], none: list[float], t: float) -> float:
    kept = sum(s >= t for s in answered) / max(len(answered), 1)
    flagged = sum(s < t for s in none) / max(len(none), 1)
    return (kept + flagged) / 2


def best_threshold(answered: list[float], none: list[float]) -> float:
    # Ties go to the lowest threshold (flags fewer pages).
    return max(GRID, key=lambda t: (round(balanced(answered, none, t), 6), -t))


def folds(items: list[float], k: int, seed: int) -> list[list[float]]:
    order = items[:]
    random.Random(seed).shuffle(order)
    return [order[i::k] for i in range(k)]


def cross_validate(answered: list[float], none: list[float], k: int = 5
                   ) -> tuple[float, list[float]]:
    """Held-out balanced accuracy, and each fold's chosen threshold."""
    a_folds, n_folds = folds(answered, k, 1), folds(none, k, 2)
    scores, chosen = [], []
    for i in range(k):
        train_a = [s for j, f in enumerate(a_folds) if j != i for s in f]
        train_n = [s for j, f in enumerate(n_folds) if j != i for s in f]
        t = best_threshold(train_a, train_n)
        chosen.append(t)
        scores.append(balanced(a_folds[i], n_folds[i], t))
    return statistics.mean(scores), chosen


def strengths(lib: Library, mode: str, queries: list[str]) -> Iterator[tuple[float, list[str]]]:
    for text in queries:
        page = lib.search(text, mode=mode, limit=10, snippets=False)
        yield page.strength or 0.0, [h.key for h in page.hits]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scifact", type=Path, required=True)
    parser.add_argument("--nfcorpus", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sets = {"scifact": judged("scifact", "train"), "nfcorpus": judged("nfcorpus", "dev")}
    libs = {"scifact": Library(args.scifact), "nfcorpus": Library(args.nfcorpus)}
    for lib in libs.values():
        lib.index(sentences=False)
    strangers = {"csfcube": csfcube_titles(300), "gibberish": gibberish(200)}
    report: dict[str, object] = {"when": datetime.now(UTC).isoformat(timespec="seconds")}
    for mode in MODES:
        answered: list[float] = []
        none: dict[str, list[float]] = {}
        missed: list[float] = []
        ndcg: dict[str, float] = {}
        for name, (queries, qrels) in sets.items():
            lib = libs[name]
            scores = []
            for (qid, _), (score, ranked) in zip(
                    queries, strengths(lib, mode, [t for _, t in queries]), strict=True):
                scores.append(ndcg_at(ranked, qrels[qid], 10))
                if ranked and qrels[qid].get(ranked[0], 0) > 0:
                    answered.append(score)
                else:
                    missed.append(score)
            ndcg[name] = round(statistics.mean(scores), 4)
            other = "nfcorpus" if name == "scifact" else "scifact"
            none[f"{other} queries on {name}"] = [
                s for s, _ in strengths(lib, mode, [t for _, t in sets[other][0]])]
            for kind, texts in strangers.items():
                none.setdefault(kind, []).extend(s for s, _ in strengths(lib, mode, texts))
        pooled = [s for v in none.values() for s in v]
        held_out, chosen = cross_validate(answered, pooled)
        t = best_threshold(answered, pooled)
        row = {
            "ndcg@10": ndcg, "answered": len(answered), "no_answer": len(pooled),
            "threshold": t, "fold_thresholds": chosen, "held_out_balanced_accuracy":
            round(held_out, 4),
            "answered_kept": round(sum(s >= t for s in answered) / len(answered), 4),
            "top1_not_relevant_flagged": round(sum(s < t for s in missed) / max(len(missed), 1),
                                               4),
            "flagged": {k: round(sum(s < t for s in v) / len(v), 4) for k, v in none.items()},
            "median": {"answered": round(statistics.median(answered), 3),
                       **{k: round(statistics.median(v), 3) for k, v in none.items()}},
        }
        report[mode] = row
        print(mode, json.dumps(row), flush=True)
    for lib in libs.values():
        lib.close()
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
