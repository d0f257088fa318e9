"""Topic label quality (issue 20, point 5): are labels real phrases of their nodes' papers?

Usage (2 cores; under the shared heavy-run lock):

    flock /work/scratch/heavy.lock .venv/bin/python bench/labels.py --out after.json
    # the code before a change, from a worktree of it:
    PYTHONPATH=/tmp/labels-before/src .venv/bin/python bench/labels.py --out before.json
    .venv/bin/python bench/labels.py --compare before.json after.json   # markdown table

Datasets: ``wos-210`` and ``hoc-dev`` (``../shared/data/hierarchy``; gold as in
``bench/tree_quality.py``) and the seed pages (``../shared/seeds``, ingested as ``make
demo`` does; no gold, so every paper gets one gold class "all": NMI is not reported for
them, label fidelity and navigability are). For each dataset a fresh library is ingested
and indexed in a temporary folder, and a tree is built with the default settings for
seeds 0..N-1. Per tree:

- ``phrase_share``: the share of topic labels that occur as a phrase in at least 20% of
  their node's papers (the node's subtree; title + abstract; both sides case-folded, runs
  of non-word characters read as one space, matched on word boundaries). A label glued
  from two words ("Legal and behavior") counts only where those words occur so.
- ``duplicates``: topic labels (case-folded) minus distinct ones in the tree.
- ``label_fidelity``, ``navigability``, ``nmi_l1`` from ``Library.trees.evaluate``
  (``paperatlas tree eval``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from paperatlas import Library  # noqa: E402
from paperatlas.records.trees import TOPIC, Tree  # noqa: E402

SHARED = Path(os.environ.get("PAPERATLAS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
#: A label counts as a phrase of its node when at least this share of its papers has it.
MIN_SHARE = 0.2
_NON_WORD = re.compile(r"[\W_]+")


def norm(text: str) -> str:
    """Case-folded, runs of non-word characters as one space, padded with spaces."""
    return f" {' '.join(_NON_WORD.sub(' ', text.casefold()).split())} "


def gold_wos(row: dict[str, Any]) -> list[str]:
    return [str(row["wos_level1"])]


def gold_hoc(row: dict[str, Any]) -> list[str]:
    return [label.replace("--", "/") for label in row.get("labels") or [] if label != "NULL"]


DATASETS: dict[str, tuple[str, Any]] = {
    "wos-210": ("data/hierarchy/wos-210/corpus_with_level1_labels.jsonl", gold_wos),
    "hoc-dev": ("data/hierarchy/hoc-dev/corpus_with_labels.jsonl", gold_hoc),
    "seeds": ("seeds", None),
}


def label_measures(tree: Tree, texts: dict[int, str]) -> dict[str, Any]:
    """Phrase share and duplicates of one tree's topic labels (see the module doc)."""
    kids = tree.child_ids()
    under: dict[int, set[int]] = {}

    def papers(node_id: int) -> set[int]:
        if node_id not in under:
            found = set(tree.nodes[node_id].papers)
            for child in kids.get(node_id, []):
                found |= papers(child)
            under[node_id] = found
        return under[node_id]

    topics = [n for n in tree.nodes.values() if n.kind == TOPIC and n.id != tree.root]
    shares = []
    for node in topics:
        members = papers(node.id)
        label = norm(node.label)
        hits = sum(1 for p in members if label in texts.get(p, ""))
        shares.append(hits / max(len(members), 1))
    labels = [n.label.casefold() for n in topics]
    return {"labels": len(topics), "phrase_share": sum(s >= MIN_SHARE for s in shares)
            / max(len(shares), 1), "mean_label_coverage": statistics.fmean(shares or [0.0]),
            "duplicates": len(labels) - len(set(labels)),
            "sample_labels": [n.label for n in topics[:40]]}


def run_dataset(name: str, seeds: list[int]) -> dict[str, Any]:
    path, gold_of = DATASETS[name]
    source = SHARED / path
    out: dict[str, Any] = {"dataset": name, "runs": []}
    with tempfile.TemporaryDirectory(prefix="paperatlas-labels-") as tmp, \
            Library(Path(tmp) / "lib.db") as lib:
        lib.ingest([source], collection=name)
        lib.index()
        ids = [b for batch in lib.vectors.iterate(titles=False) for b in batch.ids]
        raw = lib.store.papers.texts(ids)
        texts = {p: norm(f"{t} {a}") for p, (_, t, a) in raw.items()}
        gold_path = Path(tmp) / "gold.tsv"
        if gold_of is None:
            lines = [f"{k}\tall\n" for k, _, _ in raw.values()]
        else:
            rows = [json.loads(x) for x in source.open(encoding="utf-8") if x.strip()]
            lines = [f"{r['_id']}\t{g}\n" for r in rows for g in gold_of(r)]
        gold_path.write_text("".join(lines), encoding="utf-8")
        out["papers"] = len(ids)
        for seed in seeds:
            t0 = time.perf_counter()
            lib.trees.build(f"s{seed}", seed=seed)
            seconds = time.perf_counter() - t0
            report = lib.trees.evaluate(f"s{seed}", gold_path)
            row = {"seed": seed, "build_seconds": seconds,
                   "label_fidelity": report.label_fidelity,
                   "navigability": report.navigability,
                   "nmi_l1": report.nmi.get(1) if gold_of is not None else None,
                   **label_measures(lib.trees.get(f"s{seed}"), texts)}
            out["runs"].append(row)
            shown = {k: v for k, v in row.items() if k != "sample_labels"}
            print(f"{name} seed {seed}: {json.dumps(shown)}", file=sys.stderr, flush=True)
    fields = ("labels", "phrase_share", "mean_label_coverage", "duplicates", "label_fidelity",
              "navigability", "nmi_l1", "build_seconds")
    out["mean"] = {f: statistics.fmean(r[f] for r in out["runs"]) for f in fields
                   if all(r[f] is not None for r in out["runs"])}
    return out


ROWS = [("labels", "labels per tree", 1), ("phrase_share", "labels a phrase of >= 20% of "
        "their node's papers", 3), ("mean_label_coverage", "mean share of a node's papers "
        "with its label", 3), ("duplicates", "duplicate labels per tree", 2),
        ("label_fidelity", "label fidelity", 3), ("navigability", "navigability", 3),
        ("nmi_l1", "first-level NMI", 3), ("build_seconds", "build seconds", 2)]


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    """A markdown table: before, after and after/before per dataset and measure."""
    lines = ["| dataset | measure (mean over seeds) | before | after | after/before |",
             "|---|---|---:|---:|---:|"]
    for name, b in before["datasets"].items():
        a = after["datasets"].get(name)
        if a is None:
            continue
        for field, title, digits in ROWS:
            x, y = b["mean"].get(field), a["mean"].get(field)
            if x is None or y is None:
                continue
            ratio = f"{y / x:.2f}" if x else ("=" if y == x else "n/a")
            lines.append(f"| {name} ({a['papers']} papers) | {title} | {x:.{digits}f} | "
                         f"{y:.{digits}f} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--out", type=Path, help="write the results here (JSON)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                        help="print the markdown table of two results files")
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text(encoding="utf-8")) for p in args.compare)
        print(compare(before, after))
        return
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                         f"Python {platform.python_version()}",
              "date": time.strftime("%Y-%m-%d"), "datasets": {}}
    for name in args.datasets:
        result["datasets"][name] = run_dataset(name, list(range(args.seeds)))
    text = json.dumps(result, indent=1, ensure_ascii=False)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
