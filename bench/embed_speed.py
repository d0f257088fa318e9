"""Embedding throughput: paperatlas against plain ``SentenceTransformer.encode``.

Usage: .venv/bin/python bench/embed_speed.py [--docs 1000] [--ndcg]

Every variant embeds the same SciFact title + abstract texts (the first ``--docs``)
with all-MiniLM-L6-v2 at max length 256, after a warm-up, in one process, one after
another. The reference is the plain call the issue names: ``encode(batch_size=64)``
in float32. For each variant: papers/s, the ratio to the reference, and the mean and
minimum cosine between its vectors and the reference's. "paperatlas index" is the
whole command path (read the changed papers, hash texts, encode, write float16 vectors
in SQLite) on a library holding those papers.

``--ndcg`` also embeds the whole corpus with the reference and with paperatlas's
default, and compares semantic nDCG@10 on the SciFact train queries.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

from paperatlas import Library  # noqa: E402
from paperatlas.embed.base import paper_text  # noqa: E402
from paperatlas.embed.openvino import OpenVINOEncoder  # noqa: E402
from paperatlas.embed.sbert import SentenceTransformerEmbedder, resolve_model  # noqa: E402
from paperatlas.metrics import ndcg_at  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"
MODEL = resolve_model("all-MiniLM-L6-v2")


def load_corpus() -> list[dict[str, str]]:
    return [json.loads(x) for x in (SHARED / "corpus.jsonl").open(encoding="utf-8")]


def st(**kwargs: Any) -> SentenceTransformer:
    model = SentenceTransformer(MODEL, device="cpu", **kwargs)
    model.max_seq_length = 256
    return model


def plain(model: SentenceTransformer, batch: int) -> Callable[[list[str]], np.ndarray]:
    return lambda texts: model.encode(texts, batch_size=batch, normalize_embeddings=True)


def autocast(model: SentenceTransformer) -> Callable[[list[str]], np.ndarray]:
    def run(texts: list[str]) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model.encode(texts, batch_size=16, normalize_embeddings=True)
    return run


def int8_dynamic() -> Callable[[list[str]], np.ndarray]:
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    model = st()
    model[0].model = quantize_dynamic(model[0].model,
                                      {torch.nn.Linear: per_channel_dynamic_qconfig})
    return plain(model, 16)


def openvino(precision: str) -> Callable[[list[str]], np.ndarray]:
    return OpenVINOEncoder(st(), precision=precision, batch_size=16).encode


def timed(fn: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[np.ndarray, float]:
    fn(texts[:32])  # warm-up (first-call allocations, OpenVINO's first compile)
    t0 = time.perf_counter()
    vectors = np.asarray(fn(texts), dtype=np.float32)
    return vectors, time.perf_counter() - t0


def index_rate(docs: list[dict[str, str]]) -> float:
    """Papers/s of ``Library.index()`` (embedding only; the lexical index is built first)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
        with Library(Path(tmp) / "lib.db", embedding_model=None) as lib:
            lib.ingest([path])
            lib.index(embed=False)
        with Library(Path(tmp) / "lib.db") as lib:
            # Load the model (and its OpenVINO conversion) outside the timing.
            lib.search.service.embedder.encode(["warm up"] * 64)
            t0 = time.perf_counter()
            report = lib.index()
            seconds = time.perf_counter() - t0
        assert report.embedding is not None
    return report.embedding.embedded / seconds


def semantic_ndcg(vectors: np.ndarray, ids: list[str], queries: np.ndarray,
                  qids: list[str], qrels: dict[str, dict[str, int]]) -> float:
    scores = queries @ vectors.T
    top = np.argsort(-scores, axis=1)[:, :10]
    return float(np.mean([ndcg_at([ids[j] for j in row], qrels[q], 10)
                          for q, row in zip(qids, top, strict=True)]))


def ndcg_check(corpus: list[dict[str, str]]) -> list[str]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in (SHARED / "qrels" / "train.tsv").read_text().splitlines()[1:]:
        q, d, s = line.split("\t")
        qrels[q][d] = int(s)
    queries = [json.loads(x) for x in (SHARED / "queries-train.jsonl").open()]
    queries = [q for q in queries if q["_id"] in qrels]
    texts = [paper_text(d.get("title", ""), d.get("text", "")) for d in corpus]
    ids = [d["_id"] for d in corpus]
    ref = st()
    qv = ref.encode([q["text"] for q in queries], normalize_embeddings=True)
    qids = [q["_id"] for q in queries]
    out = []
    for name, fn in (("plain encode (fp32)", plain(ref, 64)),
                     ("paperatlas default", SentenceTransformerEmbedder().encode)):
        vectors, seconds = timed(fn, texts)
        out.append(f"| {name} | {len(texts)} | {len(texts) / seconds:.1f} | "
                   f"{semantic_ndcg(vectors, ids, qv, qids, qrels):.4f} |")
        print(out[-1], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--ndcg", action="store_true")
    parser.add_argument("--skip-variants", action="store_true",
                        help="Only the reference and `paperatlas index`.")
    args = parser.parse_args()
    corpus = load_corpus()
    docs = corpus[:args.docs]
    texts = [paper_text(d.get("title", ""), d.get("text", "")) for d in docs]
    print(f"# {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(texts)} docs\n")
    print("| variant | papers/s | ratio to plain | mean cosine | min cosine |")
    print("|---|---:|---:|---:|---:|")
    reference = st()
    ref, seconds = timed(plain(reference, 64), texts)
    base_rate = len(texts) / seconds
    print(f"| plain `encode` fp32, batch 64 (reference) | {base_rate:.1f} | 1.00 | 1 | 1 |")
    variants: list[tuple[str, Callable[[], Callable[[list[str]], np.ndarray]]]] = [
        ("plain `encode` fp32, batch 16", lambda: plain(reference, 16)),
        ("torch bf16 autocast, batch 16", lambda: autocast(reference)),
        ("torch bf16 weights, batch 16",
         lambda: plain(st(model_kwargs={"torch_dtype": torch.bfloat16}), 16)),
        ("torch dynamic int8 (per-channel), batch 16", int8_dynamic),
        ("OpenVINO fp32, batch 16", lambda: openvino("fp32")),
        ("OpenVINO bf16, batch 16 (paperatlas default)", lambda: openvino("bf16")),
    ]
    for name, make in [] if args.skip_variants else variants:
        vectors, seconds = timed(make(), texts)
        cos = np.sum(ref * vectors, axis=1) / np.linalg.norm(vectors, axis=1)
        print(f"| {name} | {len(texts) / seconds:.1f} | {len(texts) / seconds / base_rate:.2f} "
              f"| {cos.mean():.5f} | {cos.min():.5f} |", flush=True)
    rate = index_rate(docs)
    print(f"| `paperatlas index` (read, encode paper + title, write float16) | {rate:.1f} | "
          f"{rate / base_rate:.2f} | | |")
    if args.ndcg:
        print("\n| vectors | docs | papers/s | semantic nDCG@10 (SciFact train) |")
        print("|---|---:|---:|---:|")
        ndcg_check(corpus)


if __name__ == "__main__":
    main()
