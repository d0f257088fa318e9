"""Evaluate search on a BEIR-layout folder (corpus.jsonl, queries*.jsonl, qrels/*.tsv)."""

from __future__ import annotations

import csv
import json
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .embed.sbert import DEFAULT_MODEL
from .errors import NotFoundError, ParseError
from .metrics import mrr_at, ndcg_at, recall_at


@dataclass(frozen=True)
class BeirResult:
    """Quality and speed of one mode on one split."""

    dataset: str
    split: str
    mode: str
    fusion: str
    documents: int
    queries: int
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    queries_per_second: float
    p50_ms: float
    p99_ms: float


def read_queries(path: Path) -> Iterator[tuple[str, str]]:
    """``(_id, text)`` of each line of a BEIR-style queries (or questions) JSONL file, as
    read; a line that is not a JSON object with an ``_id`` and a ``text`` is a
    :class:`ParseError` naming the file and line."""
    with path.open(encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise ParseError(f"invalid JSON ({exc})", path=str(path), line=n) from exc
            if not isinstance(obj, dict):
                raise ParseError("a query line must be a JSON object", path=str(path),
                                 line=n)
            for name in ("_id", "text"):
                if not isinstance(obj.get(name), str | int) or obj.get(name) == "":
                    raise ParseError(f"field {name!r} is missing or not a string",
                                     path=str(path), line=n)
            yield str(obj["_id"]), str(obj["text"])


def load_queries(path: Path) -> list[tuple[str, str]]:
    """``(_id, text)`` pairs from a BEIR queries JSONL file (see :func:`read_queries`)."""
    return list(read_queries(path))


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query id -> {doc id: grade}`` from a BEIR qrels TSV (header optional)."""
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
            if not row or (n == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue
            try:
                qrels[row[0]][row[1]] = int(row[2])
            except (IndexError, ValueError) as exc:
                raise ParseError("expected query-id, corpus-id, score", path=str(path),
                                 line=n) from exc
    return dict(qrels)


def split_files(folder: Path, split: str) -> tuple[Path, Path, Path]:
    corpus = folder / "corpus.jsonl"
    qrels = folder / "qrels" / f"{split}.tsv"
    queries = next((p for p in (folder / f"queries-{split}.jsonl", folder / "queries.jsonl")
                    if p.exists()), folder / "queries.jsonl")
    for p in (corpus, qrels, queries):
        if not p.exists():
            raise NotFoundError(f"{p}: missing; a BEIR folder has corpus.jsonl, "
                                f"queries[-{split}].jsonl and qrels/{split}.tsv")
    return corpus, queries, qrels


def query_paper(qid: str) -> str:
    """The corpus id of a query-by-example query (CSFCube names them ``<paper id>_<facet>``)."""
    return qid.rsplit("_", 1)[0] if "_" in qid else qid


def evaluate(folder: Path, split: str = "test", modes: tuple[str, ...] = ("lexical",),
             embedding_model: str | None = None, *, fusions: tuple[str, ...] = ("convex",),
             by_example: bool = False) -> list[BeirResult]:
    """Ingest the corpus into a temporary library, run the judged queries in each mode.

    Hybrid runs once per fusion in ``fusions``. With ``by_example`` each query names a
    paper of the corpus and is answered by :meth:`Library.similar` (the query paper is
    left out of its own results).
    """
    from .library import Library  # the facade builds on this module's siblings

    corpus, queries_path, qrels_path = split_files(folder, split)
    qrels = load_qrels(qrels_path)
    queries = [(qid, text) for qid, text in load_queries(queries_path) if qid in qrels]
    needs_vectors = any(m != "lexical" for m in modes)
    runs = [(m, f) for m in modes for f in (fusions if m == "hybrid" else ("",))]
    results = []
    with tempfile.TemporaryDirectory() as tmp, Library(
            Path(tmp) / "bench.db",
            embedding_model=(embedding_model or DEFAULT_MODEL) if needs_vectors else None) as lib:
        lib.ingest([corpus])
        lib.index(embed=needs_vectors)
        docs = lib.stats().papers
        if by_example:
            missing = [qid for qid, _ in queries if not lib.papers.has(query_paper(qid))]
            if missing:
                raise NotFoundError(f"{len(missing)} query papers are not in the corpus "
                                    f"(e.g. {missing[0]!r})")
        for mode, fusion in runs:
            lib.search("warm up", mode=mode)
            ndcg, recall, mrr, lat = [], [], [], []
            for qid, text in queries:
                t0 = time.perf_counter()
                if by_example:
                    page = lib.search.similar([query_paper(qid)], mode=mode, limit=100)
                else:
                    page = lib.search(text, mode=mode, limit=100, snippets=False,
                                      fusion=fusion or "convex")
                lat.append(time.perf_counter() - t0)
                ranked = [h.key for h in page.hits]
                ndcg.append(ndcg_at(ranked, qrels[qid], 10))
                recall.append(recall_at(ranked, qrels[qid], 100))
                mrr.append(mrr_at(ranked, qrels[qid], 10))
            n = max(len(queries), 1)
            lat.sort()
            results.append(BeirResult(
                dataset=folder.name, split=split, mode=mode, fusion=fusion, documents=docs,
                queries=len(queries), ndcg_at_10=sum(ndcg) / n, recall_at_100=sum(recall) / n,
                mrr_at_10=sum(mrr) / n,
                queries_per_second=len(lat) / sum(lat) if lat else 0.0,
                p50_ms=statistics.median(lat) * 1000 if lat else 0.0,
                p99_ms=lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0))
    return results
