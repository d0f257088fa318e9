"""Lexical engine comparison on SciFact train: quality, query latency, update cost.

Usage: .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/lexical_engines.py

Engines, each with English stemming and stop words over title + abstract:
- paperatlas (tantivy, through paperatlas.search.lexical.LexicalIndex, what the library uses);
- bm25s (Snowball stemmer, k1=0.9, b=0.4), which has no incremental updates;
- SQLite FTS5 (porter tokenizer, bm25() with the title column weighted 1.2);
- rank_bm25 (BM25Okapi over the same stemmed tokens).
"Update" is the cost of making 100 new documents searchable in an index of 5,083.
"""

from __future__ import annotations

import json
import math
import platform
import re
import sqlite3
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import bm25s
import Stemmer
from rank_bm25 import BM25Okapi

from paperatlas.metrics import ndcg_at, recall_at
from paperatlas.search.lexical import LexicalIndex
from paperatlas.search.query import terms

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
STEM = Stemmer.Stemmer("english")
STOP = set(bm25s.stopwords.STOPWORDS_EN)


def tokens(text: str) -> list[str]:
    """Every word (repeats kept: documents need their term frequencies), stemmed."""
    return STEM.stemWords([w for w in re.findall(r"\w+", text.lower()) if w not in STOP])


def load() -> tuple[list[dict[str, str]], list[tuple[str, str]], dict[str, dict[str, int]]]:
    corpus = [json.loads(x) for x in (SHARED / "corpus.jsonl").open(encoding="utf-8")]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in (SHARED / "qrels" / "train.tsv").read_text().splitlines()[1:]:
        q, d, s = line.split("\t")
        qrels[q][d] = int(s)
    lines = (SHARED / "queries-train.jsonl").open(encoding="utf-8")
    queries = [(o["_id"], o["text"]) for o in map(json.loads, lines) if o["_id"] in qrels]
    return corpus, queries, qrels


class Tantivy:
    name = "paperatlas (tantivy)"

    def build(self, docs: list[dict[str, str]]) -> None:
        self.ids = [d["_id"] for d in docs]
        self.ix = LexicalIndex(Path(tempfile.mkdtemp()) / "lex")
        self.ix.update(self._rows(docs, 0), [])

    def _rows(self, docs: list[dict[str, str]], start: int) -> list[dict[str, object]]:
        return [{"id": start + i, "title": d["title"], "abstract": d["text"], "authors": [],
                 "year": None, "categories": [], "collections": []} for i, d in enumerate(docs)]

    def add(self, docs: list[dict[str, str]]) -> None:
        start = len(self.ids)
        self.ids += [d["_id"] for d in docs]
        self.ix.update(self._rows(docs, start), [])

    def search(self, q: str, k: int) -> list[str]:
        return [self.ids[pid] for pid, _ in self.ix.search(q, limit=k).hits]


class Bm25s:
    name = "bm25s (k1=0.9, b=0.4)"

    def build(self, docs: list[dict[str, str]]) -> None:
        self.docs = list(docs)
        self.ret = bm25s.BM25(k1=0.9, b=0.4)
        self.ret.index([tokens(d["title"] + " " + d["text"]) for d in self.docs],
                       show_progress=False)

    def add(self, docs: list[dict[str, str]]) -> None:
        self.build(self.docs + docs)  # no incremental updates: rebuild

    def search(self, q: str, k: int) -> list[str]:
        toks = tokens(q)
        if not toks:
            return []
        res, _ = self.ret.retrieve([toks], k=min(k, len(self.docs)), show_progress=False)
        return [self.docs[i]["_id"] for i in res[0]]


class Fts5:
    name = "SQLite FTS5 (porter)"

    def build(self, docs: list[dict[str, str]]) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE d USING fts5(id UNINDEXED, title, body,"
                        " tokenize='porter unicode61')")
        self.add(docs)

    def add(self, docs: list[dict[str, str]]) -> None:
        with self.db:
            self.db.executemany("INSERT INTO d VALUES (?,?,?)",
                                [(d["_id"], d["title"], d["text"]) for d in docs])

    def search(self, q: str, k: int) -> list[str]:
        words = [w for w in terms(q) if w not in STOP]
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
        rows = self.db.execute("SELECT id FROM d WHERE d MATCH ? ORDER BY bm25(d, 0, 1.2, 1.0)"
                               " LIMIT ?", (match, k))
        return [r[0] for r in rows]


class RankBm25:
    name = "rank_bm25 (BM25Okapi)"

    def build(self, docs: list[dict[str, str]]) -> None:
        self.docs = list(docs)
        self.bm = BM25Okapi([tokens(d["title"] + " " + d["text"]) for d in self.docs])

    def add(self, docs: list[dict[str, str]]) -> None:
        self.build(self.docs + docs)

    def search(self, q: str, k: int) -> list[str]:
        toks = tokens(q)
        if not toks:
            return []
        scores = self.bm.get_scores(toks)
        top = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        return [self.docs[i]["_id"] for i in top]


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    corpus, queries, qrels = load()
    head, tail = corpus[:-100], corpus[-100:]
    print(f"Machine: {platform.machine()}, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {datetime.now(UTC):%Y-%m-%d}; SciFact train, "
          f"{len(corpus)} docs, {len(queries)} queries\n")
    print("| engine | nDCG@10 | Recall@100 | p50 ms (top 10) | p99 ms | build s |"
          " update 100 docs, ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for engine in (Tantivy(), Bm25s(), Fts5(), RankBm25()):
        engine.build(head)
        update = timed(lambda e=engine: e.add(tail)) * 1000  # type: ignore[misc]
        build = timed(lambda e=engine: e.build(corpus))  # type: ignore[misc]
        nd, rc, lat = [], [], []
        for qid, text in queries:
            ranked = engine.search(text, 100)
            nd.append(ndcg_at(ranked, qrels[qid], 10))
            rc.append(recall_at(ranked, qrels[qid], 100))
            t0 = time.perf_counter()
            engine.search(text, 10)
            lat.append((time.perf_counter() - t0) * 1000)
        lat.sort()
        p99 = lat[min(len(lat) - 1, math.ceil(0.99 * len(lat)) - 1)]
        print(f"| {engine.name} | {statistics.mean(nd):.3f} | {statistics.mean(rc):.3f} | "
              f"{statistics.median(lat):.2f} | {p99:.2f} | {build:.2f} | {update:.0f} |")


if __name__ == "__main__":
    main()
