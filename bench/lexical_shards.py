"""The lexical index's query plan at scale (issue 18): why its time grows with the postings,
and what its shards buy.

Usage, on an indexed library (e.g. the 2.5M bench library of ``bench/scale_library.py``):

    .venv/bin/python bench/lexical_shards.py --db /data/scale25/library.db [--queries 200]

Queries are those of ``bench/scale_serving.py`` (SciFact train claims, NFCorpus dev
queries). It prints JSON:

- ``no_pruning``: p50 of the raw BM25 query for the top 1, 10, 1,000 and 10,000 (with
  block-max pruning the top 10 would cost far less than the top 10,000; tantivy's Python
  binding always collects through a ``MultiCollector``, which visits every match), and the
  time of single-word queries against their document frequency;
- ``side_by_side`` / ``one_after_another``: ``LexicalIndex.search`` p50 / p95 (top 10 with
  the exact total) with the shards searched on their own threads, and one after the other
  (rounds alternate, three each).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import tantivy

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from paperatlas.search.lexical import LexicalIndex  # noqa: E402
from paperatlas.search.query import terms  # noqa: E402
from scale_serving import load_queries  # noqa: E402

WORDS = ("cell", "model", "patient", "protein", "rare", "zebrafish")


def p50_p95(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2)}


def timed(run: Any, items: list[Any]) -> list[float]:
    out = []
    for item in items:
        start = time.perf_counter()
        run(item)
        out.append((time.perf_counter() - start) * 1000)
    return out


def no_pruning(index: LexicalIndex, queries: list[str]) -> dict[str, Any]:
    searcher = index.shards[0].searcher()
    schema = index.schema

    def query(text: str) -> Any:
        words = index.analyze(" ".join(terms(text)))
        return tantivy.Query.boolean_query([
            (tantivy.Occur.Should, tantivy.Query.term_query(schema, "all", w)) for w in words])

    built = [query(q) for q in queries]
    out: dict[str, Any] = {"shard": 0, "papers": int(searcher.num_docs)}
    for limit in (1, 10, 1_000, 10_000):
        out[f"top_{limit}_p50_ms"] = round(statistics.median(timed(
            lambda q, n=limit: searcher.search(q, n, count=False), built)), 2)
    single = {}
    for word in WORDS:
        term = index.analyze(word)[0]
        q = tantivy.Query.term_query(schema, "all", term)
        best = min(timed(lambda x: searcher.search(x, 10, count=False), [q] * 5))
        single[word] = {"doc_freq": int(searcher.doc_freq("all", term)), "ms": round(best, 2)}
    out["single_words"] = single
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    folder = args.db.parent / f"{args.db.name}.index" / "lexical"
    queries = load_queries(args.queries)
    side = LexicalIndex(folder)
    after = LexicalIndex(folder, parallel_min=1 << 62)
    for q in queries[:5]:
        side.search(q)
        after.search(q)
    rounds: dict[str, list[float]] = {"side_by_side": [], "one_after_another": []}
    for _ in range(3):
        rounds["side_by_side"] += timed(lambda q: side.search(q, limit=10), queries)
        rounds["one_after_another"] += timed(lambda q: after.search(q, limit=10), queries)
    result: dict[str, Any] = {"load_before": os.getloadavg()[0], "papers": len(side),
                              "shards": len(side.shards),
                              "segments": [s.searcher().num_segments for s in side.shards]}
    result.update({name: p50_p95(t) for name, t in rounds.items()})
    result["no_pruning"] = no_pruning(side, queries)
    result["load_after"] = os.getloadavg()[0]
    side.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
