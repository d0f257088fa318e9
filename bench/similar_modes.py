"""Which "similar papers" ranking to default to (issue 20, item 3): CSFCube's dev queries
by example, every convex weight of the lexical half and every MoreLikeThis term count,
chosen by leave-one-out over the queries.

Usage: .venv/bin/python bench/similar_modes.py --db CSFCUBE_LIBRARY [--out FILE]

The library is CSFCube's 4,205 papers ingested and indexed with the default model
(`paperatlas --db L ingest ../shared/data/csfcube/corpus.jsonl` then `index`). For each
dev query (a paper and a facet) the query paper's semantic list (its vector's nearest
papers, cosine) and lexical list (BM25 of its ``terms`` best tf-idf terms, MoreLikeThis)
are read once, the query paper left out, then fused as ``similar`` fuses them,
``(1 - w) * cosine / cosine_max + w * bm25 / bm25_max``, for ``w`` in 0, 0.1, ..., 1
(``w = 0``: semantic alone, ``w = 1``: lexical alone) and terms in 10, 25, 50.
nDCG@10 against the graded judgements (0-3). Leave-one-out: each query is scored with
the setting that is best on the other queries (ties and near-ties, within one standard
error, go to the simplest: semantic alone, then fewer terms). The query set is small
(24 queries, 12 papers), so the per-setting spread is printed beside the means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from paperatlas import Library
from paperatlas.beir import load_qrels, load_queries, query_paper
from paperatlas.metrics import ndcg_at
from paperatlas.search.fusion import convex
from paperatlas.search.lexical import Filters

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "csfcube"
WEIGHTS = [round(0.1 * i, 1) for i in range(11)]
TERMS = [10, 25, 50]
DEPTH = 200


Lists = tuple[list[tuple[int, float]], dict[int, list[tuple[int, float]]], dict[int, float]]


def lists(lib: Library, key: str, terms: list[int]) -> Lists:
    """The query paper's semantic list, its lexical lists per term count, and the cosine
    of every paper in any of them."""
    service = lib.search.service
    pid = lib.papers.resolve(key)
    vector = service.vectors.get([pid])[pid]
    semantic, _ = service._semantic(vector, DEPTH, Filters(), {pid}, titles=False)
    paper = lib.store.papers.get_many([pid])[0]
    text = f"{paper.title} {paper.abstract}"
    lexical = {}
    for k in terms:
        found = service._reader().more_like(text, limit=DEPTH + 1, max_terms=k)
        lexical[k] = [(p, s) for p, s in found.hits if p != pid][:DEPTH]
    cosines = dict(semantic)
    missing = sorted({p for hits in lexical.values() for p, _ in hits} - set(cosines))
    exact = service.vectors.cosines(vector, missing, titles=False)
    cosines.update({p: exact.get(p) or 0.0 for p in missing})
    return semantic, lexical, cosines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    qrels = load_qrels(DATA / "qrels" / "dev.tsv")
    queries = [qid for qid, _ in load_queries(DATA / "queries-dev.jsonl") if qid in qrels]
    lib = Library(args.db)
    keys = {p.id: p.key for p in lib.store.papers.get_many(
        [pid for batch in lib.store.papers.iter_ids() for pid in batch])}
    scores: dict[tuple[float, int], list[float]] = {}
    for qid in queries:
        semantic, lexical, cosines = lists(lib, query_paper(qid), TERMS)
        for k in TERMS:
            for w in WEIGHTS:
                fused = convex(lexical[k], cosines, alpha=1 - w) if w else semantic
                ranked = [keys[p] for p, _ in fused[:10]]
                scores.setdefault((w, k), []).append(ndcg_at(ranked, qrels[qid], 10))
    lib.close()

    def simplicity(cfg: tuple[float, int]) -> tuple[float, int]:
        return cfg[0], cfg[1]

    held = []
    for i in range(len(queries)):
        means = {cfg: statistics.mean(v[:i] + v[i + 1:]) for cfg, v in scores.items()}
        best = max(means.values())
        se = {cfg: statistics.stdev(v[:i] + v[i + 1:]) / (len(v) - 1) ** 0.5
              for cfg, v in scores.items()}
        top = max(means, key=lambda c: means[c])
        near = [c for c in means if means[c] >= best - se[top]]
        chosen = min(near, key=simplicity)
        held.append((chosen, scores[chosen][i]))
    report = {
        "queries": len(queries),
        "mean_ndcg10": {f"w={w} terms={k}": round(statistics.mean(v), 4)
                        for (w, k), v in sorted(scores.items())},
        "loo_ndcg10": round(statistics.mean(s for _, s in held), 4),
        "loo_chosen": sorted({f"w={c[0]} terms={c[1]}" for c, _ in held}),
        "semantic_alone_ndcg10": round(statistics.mean(scores[(0.0, TERMS[0])]), 4),
        "meta": {"date": f"{datetime.now(UTC):%Y-%m-%d}", "machine": platform.machine(),
                 "cores": os.cpu_count(), "load": os.getloadavg()},
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
