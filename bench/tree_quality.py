"""Topic-tree quality against human labels: paperatlas, k-means and BERTopic (issue 4).

Usage (2 cores, as on CI):

    OMP_NUM_THREADS=2 taskset -c 0,1 .venv/bin/python bench/tree_quality.py \
        [--datasets wos-210 hoc-dev] [--seeds 5] [--out tree_quality.json]

Datasets (``../shared/data/hierarchy``, or ``$PAPERATLAS_SHARED/data/hierarchy``):

- ``wos-210``: 210 Web of Science abstracts, 7 domains (field ``wos_level1``, 30 each).
- ``hoc-dev``: 926 PubMed abstracts with Hallmarks of Cancer paths ``A--B--C`` (field
  ``labels``). Gold is every path with ``--`` read as ``/``; the placeholder ``NULL`` is
  skipped; papers without labels stay in the corpus but are not in the gold.

For each dataset the corpus is ingested into a fresh library in a temporary folder
(BEIR-style lines: the key is ``_id``, an untitled paper gets its first 12 words as
title), indexed and embedded (all-MiniLM-L6-v2), and ``Library.tree_build`` runs with its
default settings (the tree chooses its own branching) for seeds 0..N-1, each scored by
``Library.tree_eval`` against a gold TSV (``key<TAB>path``). Reported per seed: NMI and
ARI per level, mean category F1, assigned share, number of first-level topics, label
fidelity, navigability, build seconds (``BuildReport.seconds``: corpus load, build,
save).

Peers run in the same process on the same stored embeddings (float16 in the library,
read back as float32 unit vectors) and the same texts (title + abstract, as the tree
builder sees them):

- k-means given the true number of gold classes at the level (sklearn, n_init=10, one run
  per seed);
- BERTopic with default settings (embeddings passed in; UMAP with BERTopic's defaults
  plus ``random_state=seed``; default HDBSCAN, min_cluster_size 10): its flat topics,
  outliers (-1) counted as one cluster;
- BERTopic's ``hierarchical_topics``: the merge tree cut to as many groups as paperatlas
  made at that level for the same seed (the K-1 highest merges undone); outliers stay
  one cluster, as BERTopic leaves them.

NMI/ARI at level L use the gold papers with exactly one distinct gold prefix of length L
(the rule of ``organize.evaluate``); sklearn's ``normalized_mutual_info_score``
(arithmetic mean). Mean category F1: per gold prefix, the best F1 against any candidate
group (k-means: clusters; BERTopic flat: topics; BERTopic hierarchical: every node of
its merge tree but the root; paperatlas: every node's subtree), averaged.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Mapping  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score  # noqa: E402

from paperatlas import Library  # noqa: E402
from paperatlas.embed.base import paper_text  # noqa: E402
from paperatlas.records.trees import TOPIC  # noqa: E402

warnings.filterwarnings("ignore")

LabelPath = tuple[str, ...]
Gold = dict[str, list[LabelPath]]


def shared_data() -> Path:
    root = os.environ.get("PAPERATLAS_SHARED")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "shared"
    return base / "data"


def wos_gold(row: dict[str, Any]) -> list[LabelPath]:
    return [(str(row["wos_level1"]),)]


def hoc_gold(row: dict[str, Any]) -> list[LabelPath]:
    paths: list[LabelPath] = []
    for label in row.get("labels") or []:
        if label == "NULL":
            continue
        path = tuple(p.strip() for p in label.split("--"))
        if path not in paths:
            paths.append(path)
    return paths


@dataclass(frozen=True)
class Dataset:
    name: str
    file: str
    gold: Callable[[dict[str, Any]], list[LabelPath]]
    levels: int


DATASETS = {
    "wos-210": Dataset("wos-210", "hierarchy/wos-210/corpus_with_level1_labels.jsonl",
                       wos_gold, 1),
    "hoc-dev": Dataset("hoc-dev", "hierarchy/hoc-dev/corpus_with_labels.jsonl", hoc_gold, 2),
}


# -- scoring shared by every method ----------------------------------------------------------
def single_labelled(gold: Gold, level: int) -> dict[str, str]:
    """``key -> its one gold prefix of length level`` for papers with exactly one."""
    out: dict[str, str] = {}
    for key, paths in gold.items():
        prefixes = {p[:level] for p in paths if len(p) >= level}
        if len(prefixes) == 1:
            out[key] = "/".join(next(iter(prefixes)))
    return out


def agreement(gold: Gold, pred: Mapping[str, str], level: int) -> tuple[float, float, int]:
    """NMI, ARI and the number of papers scored at ``level``."""
    truth = single_labelled(gold, level)
    keys = sorted(truth)
    t = [truth[k] for k in keys]
    p = [pred[k] for k in keys]
    return (float(normalized_mutual_info_score(t, p)), float(adjusted_rand_score(t, p)),
            len(keys))


def mean_category_f1(gold: Gold, groups: list[set[str]]) -> float:
    """Mean over gold prefixes of the best F1 against any group (restricted to gold papers)."""
    cats: dict[str, set[str]] = {}
    for key, paths in gold.items():
        for path in paths:
            for depth in range(1, len(path) + 1):
                cats.setdefault("/".join(path[:depth]), set()).add(key)
    members = [g & gold.keys() for g in groups]
    members = [g for g in members if g]
    scores = [max((2 * len(c & g) / (len(c) + len(g)) for g in members), default=0.0)
              for c in cats.values()]
    return float(np.mean(scores)) if scores else 0.0


def assigned_share(gold: Gold, pred: Mapping[str, str]) -> float:
    return sum(1 for k in gold if pred[k] != "-1") / len(gold)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of every numeric field over runs (and min of each NMI)."""
    out: dict[str, Any] = {"runs": len(runs)}
    for field in (f for f in runs[0] if f != "seed"):
        values = [r[field] for r in runs if isinstance(r.get(field), int | float)]
        if len(values) == len(runs):
            out[field] = statistics.fmean(values)
            if field.startswith("nmi"):
                out[field + "_min"] = min(values)
    return out


# -- the library and paperatlas -----------------------------------------------------------------
def corpus_from_library(lib: Library) -> tuple[list[str], np.ndarray, list[str]]:
    """Keys, embeddings and texts of every paper with a vector, in paper-id order."""
    ids: list[int] = []
    parts: list[np.ndarray] = []
    for batch in lib.vectors.iterate(titles=False):
        ids += batch.ids
        parts.append(batch.vectors)
    texts = lib.store.papers.texts(ids)
    keys = [texts[p][0] for p in ids]
    docs = [paper_text(texts[p][1], texts[p][2]) for p in ids]
    return keys, np.vstack(parts), docs


def level_counts(lib: Library, name: str) -> tuple[int, int]:
    """Topics at level 1, and predicted groups at level 2 (a first-level leaf counts as
    its own level-2 group, as in the evaluation)."""
    tree = lib.trees.get(name)
    kids = tree.child_ids()
    first = [c for c in kids[tree.root] if tree.nodes[c].kind == TOPIC]
    second = sum(max(1, sum(1 for g in kids[c] if tree.nodes[g].kind == TOPIC))
                 for c in first)
    return len(first), second


def run_paperatlas(lib: Library, gold_path: Path, seed: int, levels: int) -> dict[str, Any]:
    name = f"seed{seed}"
    t0 = time.perf_counter()
    built = lib.trees.build(name, seed=seed)
    wall = time.perf_counter() - t0
    report = lib.trees.evaluate(name, gold_path)
    first, second = level_counts(lib, name)
    row: dict[str, Any] = {
        "seed": seed, "build_seconds": built.seconds, "tree_build_wall_seconds": wall,
        "nodes": built.nodes, "leaves": built.leaves, "depth": built.depth,
        "first_level_topics": first, "second_level_groups": second,
        "assigned_share": report.assigned_share, "mean_f1": report.mean_f1,
        "label_fidelity": report.label_fidelity, "navigability": report.navigability,
        "unknown_keys": report.extra.get("unknown_keys"),
        "nmi_papers": report.extra.get("nmi_papers"),
    }
    for level in range(1, levels + 1):
        row[f"nmi_l{level}"] = report.nmi.get(level)
        row[f"ari_l{level}"] = report.ari.get(level)
    row["nmi_all_levels"] = report.nmi
    return row


# -- peers ------------------------------------------------------------------------------------
def run_kmeans(keys: list[str], vectors: np.ndarray, gold: Gold, seed: int,
               levels: int) -> dict[str, Any]:
    from sklearn.cluster import KMeans

    row: dict[str, Any] = {"seed": seed}
    groups: list[set[str]] = []
    for level in range(1, levels + 1):
        k = len(set(single_labelled(gold, level).values()))
        t0 = time.perf_counter()
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vectors)
        row[f"seconds_l{level}"] = time.perf_counter() - t0
        pred = {key: str(c) for key, c in zip(keys, labels, strict=True)}
        row[f"k_l{level}"] = k
        row[f"nmi_l{level}"], row[f"ari_l{level}"], _ = agreement(gold, pred, level)
        groups += [{key for key, c in pred.items() if c == g} for g in set(pred.values())]
    row["mean_f1"] = mean_category_f1(gold, groups)
    row["assigned_share"] = 1.0
    return row


def hierarchy_cut(hier: Any, n_topics: int, groups: int) -> dict[int, int]:
    """``topic -> group`` after undoing the ``groups - 1`` highest merges of BERTopic's
    hierarchy (ward on c-TF-IDF; heights are monotone, so this is a cut at one height)."""
    merges = {int(r.Parent_ID): (int(r.Child_Left_ID), int(r.Child_Right_ID),
                                 float(r.Distance), [int(t) for t in r.Topics])
              for r in hier.itertuples()}
    if not merges:
        return {t: t for t in range(n_topics)}
    opened = sorted(merges, key=lambda m: -merges[m][2])[:max(groups - 1, 0)]
    if not opened:
        return {t: 0 for t in range(n_topics)}
    opened_set = set(opened)
    out: dict[int, int] = {}
    children = [c for m in opened for c in merges[m][:2] if c not in opened_set]
    for g, child in enumerate(children):
        for t in ([child] if child < n_topics else merges[child][3]):
            out[t] = g
    return out


def hierarchy_groups(hier: Any, n_topics: int, topic_keys: dict[int, set[str]]) -> list[set[str]]:
    """Papers under every node of the merge tree but the root (leaves included)."""
    out = [set(v) for v in topic_keys.values()]
    root = max((int(p) for p in hier.Parent_ID), default=None)
    for r in hier.itertuples():
        if int(r.Parent_ID) != root:
            out.append(set().union(*(topic_keys.get(int(t), set()) for t in r.Topics)))
    return out


def warm_up_bertopic() -> None:
    """Fit once on random data so numba's compilation is not in the first timing."""
    from bertopic import BERTopic
    from umap import UMAP

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa"]
    docs = [" ".join(rng.choice(words, 12)) for _ in range(300)]
    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=0)
    BERTopic(umap_model=umap).fit_transform(docs, embeddings=vectors)


def run_bertopic(keys: list[str], vectors: np.ndarray, docs: list[str], gold: Gold, seed: int,
                 levels: int, cut: dict[int, int]) -> dict[str, Any]:
    from bertopic import BERTopic
    from umap import UMAP

    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                random_state=seed)
    model = BERTopic(umap_model=umap)
    t0 = time.perf_counter()
    topics, _ = model.fit_transform(docs, embeddings=vectors)
    fit = time.perf_counter() - t0
    topics = [int(t) for t in topics]
    flat = {key: str(t) for key, t in zip(keys, topics, strict=True)}
    n_topics = len({t for t in topics if t != -1})
    topic_keys: dict[int, set[str]] = {}
    for key, t in zip(keys, topics, strict=True):
        if t != -1:
            topic_keys.setdefault(t, set()).add(key)
    row: dict[str, Any] = {"seed": seed, "fit_seconds": fit, "topics": n_topics,
                           "assigned_share": assigned_share(gold, flat),
                           "assigned_share_all": sum(t != -1 for t in topics) / len(topics),
                           "mean_f1": mean_category_f1(gold, list(topic_keys.values()))}
    for level in range(1, levels + 1):
        row[f"nmi_l{level}"], row[f"ari_l{level}"], _ = agreement(gold, flat, level)
    hrow: dict[str, Any] = {"seed": seed, "assigned_share": row["assigned_share"]}
    if n_topics < 2:
        hrow["error"] = f"{n_topics} topic(s): no hierarchy"
        return {"flat": row, "hierarchical": hrow}
    t0 = time.perf_counter()
    hier = model.hierarchical_topics(docs)
    hrow["hierarchy_seconds"] = time.perf_counter() - t0
    hrow["mean_f1"] = mean_category_f1(gold, hierarchy_groups(hier, n_topics, topic_keys))
    for level in range(1, levels + 1):
        mapping = hierarchy_cut(hier, n_topics, cut[level])
        pred = {key: ("-1" if t == -1 else f"g{mapping[t]}")
                for key, t in zip(keys, topics, strict=True)}
        hrow[f"groups_l{level}"] = len(set(mapping.values()))
        hrow[f"nmi_l{level}"], hrow[f"ari_l{level}"], _ = agreement(gold, pred, level)
    return {"flat": row, "hierarchical": hrow}


# -- driver -------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_dataset(ds: Dataset, data: Path, seeds: list[int], bertopic: bool) -> dict[str, Any]:
    source = data / ds.file
    rows = [json.loads(line) for line in source.open(encoding="utf-8") if line.strip()]
    gold: Gold = {str(r["_id"]): paths for r in rows if (paths := ds.gold(r))}
    result: dict[str, Any] = {"dataset": ds.name, "file": str(source), "documents": len(rows),
                              "gold_papers": len(gold)}
    with tempfile.TemporaryDirectory(prefix="paperatlas-tree-quality-") as tmp:
        gold_path = Path(tmp) / "gold.tsv"
        gold_path.write_text("".join(f"{k}\t{'/'.join(p)}\n" for k, paths in gold.items()
                                     for p in paths), encoding="utf-8")
        with Library(Path(tmp) / "lib.db") as lib:
            t0 = time.perf_counter()
            ingest = lib.ingest([source], collection=ds.name).files[0]
            result["ingest"] = {"format": ingest.format, "added": ingest.added,
                                "merged": ingest.merged, "rejected": ingest.rejected,
                                "seconds": time.perf_counter() - t0}
            missing = [k for k in gold if lib.store.papers.id_for(k) is None]
            if missing:
                raise SystemExit(f"{ds.name}: {len(missing)} gold keys are not paper keys "
                                 f"(e.g. {missing[0]!r})")
            t0 = time.perf_counter()
            lib.index()
            result["index_seconds"] = time.perf_counter() - t0
            log(f"{ds.name}: {ingest.added} papers ingested, indexed in "
                f"{result['index_seconds']:.1f} s")
            pa = []
            for seed in seeds:
                pa.append(run_paperatlas(lib, gold_path, seed, ds.levels))
                log(f"  paperatlas seed {seed}: NMI L1 {pa[-1]['nmi_l1']:.3f}, "
                    f"{pa[-1]['first_level_topics']} first-level topics, "
                    f"{pa[-1]['build_seconds']:.2f} s")
            keys, vectors, docs = corpus_from_library(lib)
    result["papers"] = len(keys)
    for level in range(1, ds.levels + 1):
        result[f"nmi_papers_l{level}"] = len(single_labelled(gold, level))
    result["paperatlas"] = {"summary": summarize(pa), "seeds": pa}
    km = [run_kmeans(keys, vectors, gold, seed, ds.levels) for seed in seeds]
    result["kmeans_true_k"] = {"summary": summarize(km), "seeds": km}
    log(f"  k-means (true k): mean NMI L1 {result['kmeans_true_k']['summary']['nmi_l1']:.3f}")
    if bertopic:
        warm_up_bertopic()
        flat, hier = [], []
        for seed, row in zip(seeds, pa, strict=True):
            cut = {1: row["first_level_topics"], 2: row["second_level_groups"]}
            out = run_bertopic(keys, vectors, docs, gold, seed, ds.levels, cut)
            flat.append(out["flat"])
            hier.append(out["hierarchical"])
            log(f"  BERTopic seed {seed}: {out['flat']['topics']} topics, "
                f"NMI L1 flat {out['flat']['nmi_l1']:.3f}, "
                f"hierarchical {out['hierarchical'].get('nmi_l1', float('nan')):.3f}, "
                f"assigned {out['flat']['assigned_share']:.2f}")
        result["bertopic_flat"] = {"summary": summarize(flat), "seeds": flat}
        ok = [h for h in hier if "error" not in h]
        result["bertopic_hierarchical"] = {"summary": summarize(ok) if ok else {},
                                           "seeds": hier}
    return result


def fmt(value: Any, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def table(result: dict[str, Any]) -> list[str]:
    """Markdown rows for one dataset (means over seeds; NMI as mean (min))."""
    levels = 2 if "nmi_papers_l2" in result else 1
    per_level = " | ".join(f"NMI L{lv} mean (min) | ARI L{lv}" for lv in range(1, levels + 1))
    lines = [f"| dataset | method | {per_level} | mean F1 | assigned | first-level topics | "
             "label fidelity | navigability | seconds |",
             "|---|---|" + "---:|" * (2 * levels + 6)]
    methods = [("paperatlas (default)", "paperatlas"), ("k-means, true k", "kmeans_true_k"),
               ("BERTopic flat (-1 = one cluster)", "bertopic_flat"),
               ("BERTopic hierarchical, cut", "bertopic_hierarchical")]
    for label, field in methods:
        s = result.get(field, {}).get("summary")
        if not s:
            continue
        nmi = " | ".join(f"{fmt(s.get(f'nmi_l{lv}'))} ({fmt(s.get(f'nmi_l{lv}_min'))})"
                         f" | {fmt(s.get(f'ari_l{lv}'))}" for lv in range(1, levels + 1))
        first = (s.get("first_level_topics") or s.get("k_l1") or s.get("topics")
                 or s.get("groups_l1"))
        lines.append(f"| {result['dataset']} | {label} | {nmi} | {fmt(s.get('mean_f1'))} | "
                     f"{fmt(s.get('assigned_share'), 2)} | {fmt(first, 1)} | "
                     f"{fmt(s.get('label_fidelity'))} | {fmt(s.get('navigability'))} | "
                     f"{fmt(s.get('build_seconds') or s.get('fit_seconds'), 2)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--data", type=Path, default=shared_data(),
                        help="the shared data folder (default ../shared/data)")
    parser.add_argument("--skip-bertopic", action="store_true")
    parser.add_argument("--out", type=Path, help="write every figure as JSON here")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    results = [run_dataset(DATASETS[name], args.data, seeds, not args.skip_bertopic)
               for name in args.datasets]
    for result in results:
        print("\n".join(table(result)) + "\n")
    if args.out:
        meta = {"python": platform.python_version(), "machine": platform.machine(),
                "cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
                "date": time.strftime("%Y-%m-%d"), "seeds": seeds}
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2,
                                       default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
