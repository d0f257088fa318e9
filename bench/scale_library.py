"""The bench library at scale (issue 18, item 1): arXiv-snapshot lines from real texts,
with a vector for every paper, that anyone can rebuild.

Usage (2.5M papers; ``--papers 1000000`` gives the 1M variant, the first 1M lines of the
same stream):

    .venv/bin/python bench/scale_library.py --papers 2500000 --work /data/scale25 \
        [--steps generate,embed,ingest,vectors,fidelity]

What it makes, in ``--work``:

- ``snapshot.jsonl``: Kaggle arXiv-metadata lines. The texts come from the 13,919 real
  abstracts in ``../shared/data`` (SciFact, CSFCube, NFCorpus, WOS-210, HoC-dev): paper ``i``
  takes a base paper A (the pool shuffled, cycled) and a partner B (random); its title is
  A's title (its first 12 words when it has none) followed by ``": "`` and 2-4 consecutive
  words of B's; its abstract is A's sentences with one of them (A has >= 3) replaced by a
  sentence of B's, else with B's sentence appended. Authors (1-6 names), categories,
  comments and license come from the 49 real lines in
  ``formats/arxiv-kaggle-metadata-sample``; ids and submission dates run over the ``MONTHS``
  (120) months from January 2015, ``n / 120`` a month, so each year holds a tenth of the
  papers and year filters are not degenerate (libraries built before 2026-12-05 took the
  lines' 2022 dates: one year for all). 2% of lines are journal versions of an earlier
  line (same id and DOI, a ``journal-ref`` and a v9 version), which ingest merges.
- ``gold.tsv``: ``key, corpus, label`` of every paper: A's corpus, and for WOS and HoC
  bases the expert label (WOS level 1; HoC's first top-level hallmark), the gold set for
  tree NMI at scale.
- ``pool.npz``: the pool's vectors, embedded for real with the default model
  (all-MiniLM-L6-v2; text as the index embeds it: title, then abstract).
- ``library.db``: the snapshot ingested with ``paperatlas ingest``, then the vectors
  imported with ``paperatlas vectors import`` from ``vectors-*.npz`` (float16, 250,000
  rows a file). Paper ``i``'s vector is ``normalize((1 - w) vA + w vB + s g / sqrt(d))``:
  ``w`` is the share of B's words in the paper's text, ``g`` a standard normal vector
  (seeded per paper) and ``s`` = ``--noise`` (0.1); so near-copies of one base spread
  around it instead of sitting on one point, and the library keeps the real pool's
  structure at every scale.
- ``fidelity.json`` (the ``fidelity`` step): 1,000 generated papers embedded for real, and
  the cosine of each real vector with its synthetic one: how close the stand-in vectors are
  to what the model would give those texts.

Every step can be re-run alone; each one reuses what the steps before it left.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from snapshot_ingest import journal_version

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PAPERATLAS_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
KAGGLE = (DATA / "formats/arxiv-kaggle-metadata-sample"
          / "arxiv-metadata-oai-snapshot_sample49.jsonl")
PAPERATLAS = str(REPO / ".venv/bin/paperatlas")
STEPS = ("generate", "embed", "ingest", "vectors", "fidelity")
#: (corpus name, file under ../shared/data, field holding the gold label or "").
CORPORA = (("scifact", "scifact/corpus.jsonl", ""),
           ("csfcube", "csfcube/corpus.jsonl", ""),
           ("nfcorpus", "nfcorpus/corpus.jsonl", ""),
           ("wos", "hierarchy/wos-210/corpus_with_level1_labels.jsonl", "wos_level1"),
           ("hoc", "hierarchy/hoc-dev/corpus_with_labels.jsonl", "top_level_labels"))
PER_FILE = 250_000
DUPLICATES = 0.02
MONTHS = 120
FIDELITY = 1000
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")


@dataclass(frozen=True)
class Base:
    """One real paper of the pool."""

    corpus: str
    title: str
    sentences: list[str]
    label: str

    @property
    def text_title(self) -> str:
        return self.title or " ".join(" ".join(self.sentences).split()[:12])


def sentences_of(text: str) -> list[str]:
    """Sentences, or chunks of 25 words for texts without punctuation (NFCorpus)."""
    parts = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    if len(parts) > 1:
        return parts
    words = text.split()
    return [" ".join(words[i:i + 25]) for i in range(0, len(words), 25)] or [text]


def load_pool() -> list[Base]:
    """The real abstracts, in a fixed order."""
    pool: list[Base] = []
    for corpus, name, field in CORPORA:
        for line in (DATA / name).read_text().splitlines():
            row = json.loads(line)
            label = str(row.get(field, "")) if field else ""
            if label.startswith("["):  # HoC: a Python list written as a string
                label = label.strip("[]'\"").split("', '")[0]
            if row.get("text", "").strip():
                pool.append(Base(corpus, " ".join(row.get("title", "").split()),
                                 sentences_of(" ".join(row["text"].split())), label))
    return pool


def paper(rng: random.Random, a: Base, b: Base) -> tuple[str, str, float]:
    """Title, abstract and the share of B's words in them."""
    words_b = (b.title or " ".join(b.sentences)).split()
    start = rng.randrange(max(1, len(words_b) - 3))
    tail = words_b[start:start + rng.randint(2, 4)]
    title = f"{a.text_title}: {' '.join(tail)}"
    sentences = list(a.sentences)
    borrowed = rng.choice(b.sentences)
    if len(sentences) >= 3:
        sentences[rng.randrange(len(sentences))] = borrowed
    else:
        sentences.append(borrowed)
    abstract = " ".join(sentences)
    total = len(title.split()) + len(abstract.split())
    return title, abstract, (len(tail) + len(borrowed.split())) / max(1, total)


def generate(work: Path, n: int, seed: int = 18) -> dict[str, Any]:
    """Write the snapshot, the gold labels, the plan of each paper's vector and the texts
    of the fidelity sample."""
    pool = load_pool()
    templates = [json.loads(line) for line in KAGGLE.read_text().splitlines()]
    people = sorted({tuple(p) for t in templates for p in t["authors_parsed"]})
    rng = random.Random(seed)
    order = list(range(len(pool)))
    rng.shuffle(order)
    every = max(1, n // FIDELITY)
    plan_a, plan_b, plan_w, keys = [], [], [], []
    made: list[tuple[str, str, str]] = []  # earlier papers, for journal versions
    sample: list[dict[str, Any]] = []
    dups = 0
    monthly = min(99_999, -(-n // MONTHS))  # submissions a month: n papers over MONTHS
    with (work / "snapshot.jsonl").open("w") as out, (work / "gold.tsv").open("w") as gold:
        gold.write("key\tcorpus\tlabel\n")
        for i in range(n):
            row: dict[str, Any] = dict(templates[i % len(templates)])
            if made and rng.random() < DUPLICATES:
                journal_version(row, *made[rng.randrange(len(made))])
                dups += 1
            else:
                block = i // monthly  # ids of months from 1501 on, spread over 10 years
                year, month = 2015 + block // 12, block % 12 + 1
                ident = f"{year % 100:02d}{month:02d}.{i % monthly + 1:05d}"
                row["versions"] = [{"version": "v1", "created": format_datetime(
                    datetime(year, month, 1 + i % 28, 12, tzinfo=UTC), usegmt=True)}]
                row["update_date"] = f"{year}-{month:02d}-{1 + i % 28:02d}"
                a = order[len(keys) % len(pool)]
                b = rng.randrange(len(pool))
                title, abstract, share = paper(rng, pool[a], pool[b])
                authors = rng.sample(people, min(len(people), rng.randint(1, 6)))
                row.update(id=ident, title=title, abstract=abstract,
                           doi=f"10.5555/arxiv.{ident}", authors_parsed=[list(p) for p in authors],
                           authors=", ".join(f"{p[1]} {p[0]}".strip() for p in authors))
                if len(keys) % every == 0 and len(sample) < FIDELITY:
                    sample.append({"row": len(keys), "title": title, "abstract": abstract})
                keys.append(ident)
                plan_a.append(a)
                plan_b.append(b)
                plan_w.append(share)
                gold.write(f"{ident}\t{pool[a].corpus}\t{pool[a].label}\n")
                if len(made) < 50_000:
                    made.append((ident, title, abstract))
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
    np.savez(work / "plan.npz", keys=np.array(keys), a=np.array(plan_a, np.int32),
             b=np.array(plan_b, np.int32), w=np.array(plan_w, np.float32))
    (work / "fidelity-texts.json").write_text(json.dumps(sample))
    return {"lines": n, "papers": len(keys), "journal_versions": dups, "pool": len(pool)}


def embed_texts(texts: list[str]) -> np.ndarray:
    """Vectors of ``texts`` from the default model, as the index makes them."""
    sys.path.insert(0, str(REPO / "src"))
    from paperatlas.embed.sbert import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    parts = [embedder.encode(texts[i:i + 512]) for i in range(0, len(texts), 512)]
    return np.vstack(parts).astype(np.float32)


def embed_pool(work: Path) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "src"))
    from paperatlas.embed import paper_text

    pool = load_pool()
    start = time.perf_counter()
    vectors = embed_texts([paper_text(b.text_title if b.title else "", " ".join(b.sentences))
                           for b in pool])
    np.savez(work / "pool.npz", vectors=vectors)
    return {"pool": len(pool), "seconds": round(time.perf_counter() - start, 1)}


def synthetic(pool: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray,
              rows: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """The vectors of papers ``rows`` (unit length, float32)."""
    dim = pool.shape[1]
    out = (1 - w[rows, None]) * pool[a[rows]] + w[rows, None] * pool[b[rows]]
    for j, row in enumerate(rows):  # each paper's own noise, whichever batch it is in
        g = np.random.default_rng((seed, int(row))).standard_normal(dim, dtype=np.float32)
        out[j] += noise * g / math.sqrt(dim)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def write_vectors(work: Path, noise: float, seed: int = 18) -> list[Path]:
    pool = np.load(work / "pool.npz")["vectors"]
    plan = np.load(work / "plan.npz")
    keys, a, b, w = plan["keys"], plan["a"], plan["b"], plan["w"]
    files = []
    for start in range(0, len(keys), PER_FILE):
        rows = np.arange(start, min(len(keys), start + PER_FILE))
        path = work / f"vectors-{start // PER_FILE:03d}.npz"
        np.savez(path, keys=keys[rows], model=np.array("all-MiniLM-L6-v2"),
                 vectors=synthetic(pool, a, b, w, rows, noise, seed).astype(np.float16))
        files.append(path)
    return files


def cli(db: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([PAPERATLAS, "--db", str(db), *args], check=True,
                   env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return time.perf_counter() - start


def fidelity(work: Path, noise: float, seed: int = 18) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "src"))
    from paperatlas.embed import paper_text

    sample = json.loads((work / "fidelity-texts.json").read_text())
    real = embed_texts([paper_text(s["title"], s["abstract"]) for s in sample])
    pool = np.load(work / "pool.npz")["vectors"]
    plan = np.load(work / "plan.npz")
    rows = np.array([s["row"] for s in sample])
    fake = synthetic(pool, plan["a"], plan["b"], plan["w"], rows, noise, seed)
    base = pool[plan["a"][rows]]
    cos = np.sum(real * fake, axis=1)

    def q(x: np.ndarray) -> list[float]:
        return [round(float(v), 3) for v in np.percentile(x, [5, 50, 95])]

    return {"sample": len(rows), "cos_real_synthetic_p5_p50_p95": q(cos),
            "cos_real_base_p5_p50_p95": q(np.sum(real * base, axis=1)),
            "cos_synthetic_base_p5_p50_p95": q(np.sum(fake * base, axis=1))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=2_500_000, help="snapshot lines")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated, of {', '.join(STEPS)}")
    parser.add_argument("--noise", type=float, default=0.1)
    args = parser.parse_args()
    steps = args.steps.split(",")
    if bad := [s for s in steps if s not in STEPS]:
        parser.error(f"unknown step {', '.join(bad)}; valid: {', '.join(STEPS)}")
    args.work.mkdir(parents=True, exist_ok=True)
    db = args.work / "library.db"
    summary_path = args.work / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for step in steps:
        start = time.perf_counter()
        if step == "generate":
            summary["generate"] = generate(args.work, args.papers)
        elif step == "embed":
            summary["embed"] = embed_pool(args.work)
        elif step == "ingest":
            summary["ingest"] = {"seconds": round(cli(db, "ingest",
                                                      str(args.work / "snapshot.jsonl")), 1)}
        elif step == "vectors":
            files = write_vectors(args.work, args.noise)
            imported = sum(cli(db, "vectors", "import", str(f)) for f in files)
            summary["vectors"] = {"files": len(files), "import_seconds": round(imported, 1),
                                  "noise": args.noise}
        else:
            summary["fidelity"] = fidelity(args.work, args.noise)
        summary.setdefault("seconds", {})[step] = round(time.perf_counter() - start, 1)
        summary_path.write_text(json.dumps(summary, indent=2))
        print(step, json.dumps(summary.get(step)), flush=True)


if __name__ == "__main__":
    main()
