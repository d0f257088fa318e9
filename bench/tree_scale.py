"""Topic-tree build at scale (issue 18, item 4): time, CPU and peak memory, before and after.

Usage (2 cores, as on CI):

    .venv/bin/python bench/tree_scale.py --before /tmp/before [--sizes 50000 100000 200000] \
        [--nmi-size 50000] [--out tree_scale.json]

``--before`` is a checkout of the code to compare with (``git worktree add /tmp/before
<commit>``); its ``src`` goes first on ``PYTHONPATH`` of the "before" builds. Each build runs
in a fresh child process (this script with ``--child``), which generates its corpus,
then times ``TreeBuilder.build`` with default settings and default workers (two on two
cores): wall time, CPU time (user + system, of the process and its forked workers), and
peak RSS (of the process, and of its largest forked worker), beside the RSS of the corpus
alone before the build. Before and after take turns at each size.

The corpus is synthetic and clustered, the same for a given size and ``--seed``: 24 topics
of 8 subtopics each; a paper's subtopic is drawn uniformly; its 384-d vector is
``0.6 T + 0.5 S + N(0, 1)``, normalized (``T``, ``S``: the topic's and subtopic's standard
normal centres), so papers of a subtopic have cosine ~0.38, of a topic ~0.22, else ~0. Its
title is 8 words (4 of the subtopic's 40 words, 2 of the topic's 150, 2 general), its
abstract 160 words (15% subtopic, 20% topic, 65% of 5,000 general words drawn by a Zipf law),
with a full stop every 20 words; the text is title + abstract. Words are letter strings.

NMI: the first-level topic of each paper (its best link's first-level ancestor) in the
approximate build against the exact build at ``--nmi-size`` (the "before" build is the
exact one), sklearn's ``normalized_mutual_info_score``; the agreement of both with the true
topics is printed too.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

TOPICS, SUBTOPICS, DIMS = 24, 8, 384
GENERAL, TOPIC_WORDS, SUB_WORDS = 5000, 150, 40


def word(i: int, prefix: str) -> str:
    letters = ""
    i += 26 * 26  # three letters at least
    while i:
        i, r = divmod(i, 26)
        letters += chr(97 + r)
    return prefix + letters


def synthetic(n: int, seed: int) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
    """Vectors, titles, texts and the true topic of ``n`` clustered papers (see above)."""
    rng = np.random.default_rng(seed)
    subs = rng.integers(0, TOPICS * SUBTOPICS, n)
    topic = subs // SUBTOPICS
    t_cent = rng.standard_normal((TOPICS, DIMS)).astype(np.float32)
    s_cent = rng.standard_normal((TOPICS * SUBTOPICS, DIMS)).astype(np.float32)
    vectors = np.empty((n, DIMS), dtype=np.float32)
    for a in range(0, n, 50_000):
        b = min(n, a + 50_000)
        v = 0.6 * t_cent[topic[a:b]] + 0.5 * s_cent[subs[a:b]] \
            + rng.standard_normal((b - a, DIMS)).astype(np.float32)
        vectors[a:b] = v / np.linalg.norm(v, axis=1, keepdims=True)
    general = [word(i, "g") for i in range(GENERAL)]
    t_words = [[word(t * TOPIC_WORDS + i, "t") for i in range(TOPIC_WORDS)] for t in range(TOPICS)]
    s_words = [[word(s * SUB_WORDS + i, "s") for i in range(SUB_WORDS)]
               for s in range(TOPICS * SUBTOPICS)]
    zipf = 1.0 / np.arange(1, GENERAL + 1)
    zipf /= zipf.sum()
    titles, texts = [], []
    for i in range(n):
        s, t = int(subs[i]), int(topic[i])
        own_s, own_t = s_words[s], t_words[t]
        title = [own_s[j] for j in rng.integers(0, SUB_WORDS, 4)] + \
            [own_t[j] for j in rng.integers(0, TOPIC_WORDS, 2)] + \
            [general[j] for j in rng.choice(GENERAL, 2, p=zipf)]
        kind = rng.random(160)
        gen = rng.choice(GENERAL, 160, p=zipf)
        ts, ss = rng.integers(0, TOPIC_WORDS, 160), rng.integers(0, SUB_WORDS, 160)
        words = [own_s[ss[j]] if k < 0.15 else own_t[ts[j]] if k < 0.35 else general[gen[j]]
                 for j, k in enumerate(kind.tolist())]
        sentences = [" ".join(words[j:j + 20]) for j in range(0, 160, 20)]
        head = " ".join(title).capitalize()
        titles.append(head)
        texts.append(head + ". " + ". ".join(sentences) + ".")
    return vectors, titles, texts, topic


def first_level(tree: Any, ids: list[int]) -> list[int]:
    """Each paper's first-level topic (index among the root's children) by its best link."""
    kids = tree.child_ids()
    top = {c: i for i, c in enumerate(kids[tree.root])}
    best: dict[int, tuple[float, int]] = {}
    for node in tree.nodes.values():
        if kids.get(node.id) or node.id == tree.root:
            continue
        path = tree.path(node.id)
        level1 = next((top[p.id] for p in path if p.id in top), -1)
        for pid, score in node.papers.items():
            if pid not in best or score > best[pid][0]:
                best[pid] = (score, level1)
    return [best[p][1] if p in best else -1 for p in ids]


def child(args: argparse.Namespace) -> None:
    """One build, in this process; its figures as JSON on stdout."""
    import inspect

    from paperatlas.organize.base import Corpus
    from paperatlas.organize.builder import TreeBuilder
    from paperatlas.organize.cluster import LeidenClusterer
    from paperatlas.records.trees import TreeSettings

    vectors, titles, texts, topic = synthetic(args.child, args.seed)
    corpus = Corpus(list(range(1, args.child + 1)), vectors, titles, texts)
    rss_corpus = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    options: dict[str, Any] = {}
    if args.ann_min and "ann_min" in inspect.signature(LeidenClusterer).parameters:
        options["ann_min"] = args.ann_min
    builder = TreeBuilder(TreeSettings(), clusterer=LeidenClusterer(**options))
    t0, c0 = time.perf_counter(), os.times()
    tree = builder.build("scale", corpus)
    wall, c1 = time.perf_counter() - t0, os.times()
    cpu = (c1.user + c1.system + c1.children_user + c1.children_system) - \
        (c0.user + c0.system + c0.children_user + c0.children_system)
    levels = first_level(tree, corpus.ids)
    json.dump({"papers": args.child, "wall_s": wall, "cpu_s": cpu,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
               "corpus_rss_mb": rss_corpus / 1024, "nodes": len(tree.nodes),
               "first_level": levels, "topic": topic.tolist()}, sys.stdout)


def run(size: int, seed: int, src: Path | None, ann_min: int = 0) -> dict[str, Any]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, __file__, "--child", str(size), "--seed", str(seed),
           "--ann-min", str(ann_min)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(done.stdout)
    print(f"{'before' if src else 'after'} {size}: {out['wall_s']:.1f} s wall, "
          f"{out['cpu_s']:.1f} s CPU, {out['peak_rss_mb']:.0f} MB peak", file=sys.stderr,
          flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 100_000])
    parser.add_argument("--before-max", type=int, default=200_000,
                        help="build the 'before' code only up to this size")
    parser.add_argument("--nmi-size", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ann-min", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    from sklearn.metrics import normalized_mutual_info_score as nmi

    src = args.before / "src" if args.before else None
    rows = []
    for size in args.sizes:
        before = run(size, args.seed, src) if src and size <= args.before_max else None
        after = run(size, args.seed, None)
        rows.append((size, before, after))
    lines = ["| papers | wall s before | wall s after | ratio | CPU s before | CPU s after "
             "| ratio | peak RSS MB before | after | ratio | workers' peak MB before | after |",
             "|---:|" + "---:|" * 12]
    for size, b, a in rows:
        def cell(key: str, b: dict[str, Any] | None = b, a: dict[str, Any] = a) -> str:
            if b is None:
                return f" | {a[key]:.0f} | "
            return f"{b[key]:.0f} | {a[key]:.0f} | {a[key] / b[key]:.2f}"
        lines.append(f"| {size} | {cell('wall_s')} | {cell('cpu_s')} | {cell('peak_rss_mb')} | "
                     + ("" if b is None else f"{b['worker_peak_rss_mb']:.0f}") + " | "
                     + f"{a['worker_peak_rss_mb']:.0f} |")
    figures: dict[str, Any] = {}
    exact = next((b for s, b, _ in rows if s == args.nmi_size and b), None)
    ann = next((a for s, _, a in rows if s == args.nmi_size), None)
    if exact is None and ann is not None:  # no "before": the exact build of this code
        exact = run(args.nmi_size, args.seed, None, ann_min=10**9)
    if exact and ann:
        figures = {"nmi_ann_vs_exact": nmi(exact["first_level"], ann["first_level"]),
                   "nmi_exact_vs_truth": nmi(exact["topic"], exact["first_level"]),
                   "nmi_ann_vs_truth": nmi(ann["topic"], ann["first_level"]),
                   "unassigned_ann": sum(x < 0 for x in ann["first_level"])}
        lines.append("")
        lines.append(f"First-level NMI at {args.nmi_size}: approximate vs exact "
                     f"{figures['nmi_ann_vs_exact']:.3f}; vs the true topics: exact "
                     f"{figures['nmi_exact_vs_truth']:.3f}, approximate "
                     f"{figures['nmi_ann_vs_truth']:.3f}; papers without a topic: "
                     f"{figures['unassigned_ann']}.")
    print("\n".join(lines))
    if args.out:
        meta = {"python": platform.python_version(), "cpus": os.cpu_count(),
                "date": time.strftime("%Y-%m-%d"), "seed": args.seed}
        slim = [(s, {k: v for k, v in (b or {}).items() if k not in ("first_level", "topic")},
                 {k: v for k, v in a.items() if k not in ("first_level", "topic")})
                for s, b, a in rows]
        args.out.write_text(json.dumps({"meta": meta, "rows": slim, "nmi": figures},
                                       indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
