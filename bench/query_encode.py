"""Query embedding cost per query, one query at a time and in batches (one thread).

Usage: ``.venv/bin/python bench/query_encode.py [--queries 160]``

A hybrid search page must embed its query (a distinct query cannot come from the cache).
This measures the default encoder (all-MiniLM-L6-v2 through OpenVINO, one inference thread,
as each ``serve --workers`` process runs it) on SciFact train queries at batch sizes 1, 4,
8 and 16: whether batching the queries of concurrent requests would make each cheaper.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from paperatlas.embed.sbert import SentenceTransformerEmbedder
from search_latency import SHARED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=160)
    args = parser.parse_args()
    queries = [json.loads(x)["text"] for x in (SHARED / "queries-train.jsonl").open()]
    queries = queries[: args.queries]
    # A cache folder makes every call take the OpenVINO path, as a library's embedder does.
    embedder = SentenceTransformerEmbedder(threads=1, cache_dir=Path(tempfile.mkdtemp()))
    embedder.encode(["warm up"], kind="query")
    print("| batch | ms per query |\n|---:|---:|")
    for size in (1, 4, 8, 16):
        t0 = time.perf_counter()
        for start in range(0, len(queries), size):
            embedder.encode(queries[start:start + size], kind="query")
        print(f"| {size} | {(time.perf_counter() - t0) / len(queries) * 1000:.2f} |")


if __name__ == "__main__":
    main()
