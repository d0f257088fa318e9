"""Query latency per search mode at 5k papers (SciFact) and at 100k papers.

Usage: .venv/bin/python bench/search_latency.py [--scale 100000] [--queries 300]

The 100k library repeats SciFact's 5,183 papers with a numbered title suffix
("... (copy 7)"), so dedup keeps every copy apart. Embedding 100k papers would take
most of an hour on 2 cores and says nothing about query speed, so each copy gets the
vectors of its original (computed once, stored under the copy's own text hash, so
`index` sees them as current). Latency is one `Library.search` call (top 10 with
snippets, as the CLI and web show them) over the SciFact train queries, on a warm
library; the query embedding is included. Peers in the same run: the plain query
embedding alone (`SentenceTransformer.encode` of one query) and a brute-force numpy
matrix product over all vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

from paperatlas import Library  # noqa: E402
from paperatlas.embed.base import paper_text  # noqa: E402
from paperatlas.search.semantic import text_hash  # noqa: E402
from paperatlas.vectors import VectorRecord  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def write_corpus(path: Path, docs: list[dict[str, str]], copies: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for c in range(copies):
            for d in docs:
                title = d["title"] if c == 0 else f"{d['title']} (copy {c})"
                out.write(json.dumps({"_id": f"{d['_id']}-{c}", "title": title,
                                      "text": d["text"]}) + "\n")


#: How far a copy's vectors move from its original's (norm of the added noise, before the
#: vector is normalized again: cosine to the original about 0.97). Identical copies would
#: make 19 coincident points per paper, which no real library has and which defeats an
#: approximate (graph) index; nearby, distinct points keep the copies realistic neighbours.
COPY_NOISE = 0.25


def _nudged(vector: np.ndarray, seed: int) -> np.ndarray:
    """``vector`` moved by a deterministic random step of length ``COPY_NOISE``."""
    v = np.asarray(vector, dtype=np.float32)
    step = np.random.default_rng(seed).standard_normal(len(v)).astype(np.float32)
    v = v + COPY_NOISE * step / np.linalg.norm(step)
    return np.asarray(v / np.linalg.norm(v), dtype=np.float32)


def copy_vectors(lib: Library, docs: list[dict[str, str]]) -> None:
    """Give every copy its original's vectors, each nudged by a little noise of its own
    (:data:`COPY_NOISE`); the originals are embedded already."""
    store = lib.store
    by_key = {p.key: p for p in lib.papers()}
    originals = lib.vectors.get([by_key[f"{d['_id']}-0"].id for d in docs])
    model = lib.vectors.models()[0]
    rows = store.conn.execute("SELECT paper_id, title_vector FROM embeddings").fetchall()
    title_blobs = {pid: blob for pid, blob in rows}
    return_rows = []
    for key, paper in by_key.items():
        base = by_key[key.rsplit("-", 1)[0] + "-0"]
        if paper.id == base.id:
            continue
        blob = title_blobs.get(base.id)
        title = None if blob is None else np.frombuffer(blob, dtype=np.float16)
        return_rows.append(VectorRecord(
            paper.id, _nudged(originals[base.id], 2 * paper.id),
            None if title is None else _nudged(title, 2 * paper.id + 1),
            text_hash(paper_text(paper.title, paper.abstract))))
    with store.transaction():
        lib.vectors.upsert(model, return_rows)


def measure(lib: Library, queries: list[str], mode: str) -> tuple[float, float]:
    for q in ("warm up one", "warm up two", "warm up three"):
        lib.search(q, mode=mode)
    # The library caches query vectors (pagination, shared links); every mode and scale
    # here runs the same queries, so each measurement starts with an empty cache.
    lib.search.service._query_vector.cache_clear()
    times = []
    for q in queries:
        t0 = time.perf_counter()
        lib.search(q, mode=mode, limit=10)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def peers(lib: Library, queries: list[str]) -> list[tuple[str, float, float]]:
    from sentence_transformers import SentenceTransformer

    from paperatlas.embed.sbert import resolve_model

    st = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    st.max_seq_length = 256
    matrix = np.vstack([b.vectors for b in lib.vectors.iterate(titles=False)])
    out = []
    qv = st.encode([queries[0]], normalize_embeddings=True)[0]
    for name, fn in (("plain `encode` of the query", lambda q: st.encode([q])),
                     ("numpy brute force over all paper vectors",
                      lambda q: np.argpartition(-(matrix @ qv), 10)[:10])):
        fn(queries[0])
        times = []
        for q in queries:
            t0 = time.perf_counter()
            fn(q)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        out.append((name, statistics.median(times),
                    times[min(len(times) - 1, int(len(times) * 0.99))]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    docs = [json.loads(x) for x in (SHARED / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(x)["text"] for x in (SHARED / "queries-train.jsonl").open()]
    queries = queries[:args.queries]
    print(f"# {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores\n")
    print("| papers | what | p50 ms | p99 ms |")
    print("|---:|---|---:|---:|")
    copies = max(1, round(args.scale / len(docs)))
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Path(tmp) / "lib.db")
        for n in sorted({1, copies}):
            corpus = Path(tmp) / f"corpus{n}.jsonl"
            write_corpus(corpus, docs, n)
            t0 = time.perf_counter()
            lib.ingest([corpus])
            if n > 1:
                copy_vectors(lib, docs)
            report = lib.index()
            assert report.embedding is None or report.embedding.embedded <= len(docs)
            print(f"<!-- built {lib.stats().papers} papers in {time.perf_counter() - t0:.0f} s"
                  " -->", flush=True)
            size = lib.stats().papers
            for mode in ("lexical", "semantic", "hybrid"):
                p50, p99 = measure(lib, queries, mode)
                print(f"| {size:,} | paperatlas {mode} (top 10, snippets) | {p50:.1f} | "
                      f"{p99:.1f} |", flush=True)
            for name, p50, p99 in peers(lib, queries):
                print(f"| {size:,} | peer: {name} | {p50:.1f} | {p99:.1f} |", flush=True)
        lib.close()


if __name__ == "__main__":
    main()
