"""Topic-tree build at scale (issue 18, item 4): time, CPU and peak memory, before and after.

Usage (2 cores, as on CI):

    .venv/bin/python bench/tree_scale.py [--before /tmp/before] [--sizes 100000 1000000] \
        [--stages] [--words 160] [--sample-max N] [--nmi-size 100000 [--exact-knn]] \
        [--topics 24] [--compact-texts] [--out tree_scale.json]

``--before`` is a checkout of the code to compare with (``git worktree add /tmp/before
<commit>``); its ``src`` goes first on ``PYTHONPATH`` of the "before" builds (up to
``--before-max`` papers). Each build runs in a fresh child process (this script with
``--child``), which generates its corpus, then times ``TreeBuilder.build`` with default
settings and default workers (two on two cores): wall time, CPU time (user + system, of the
process and its forked workers), and peak RSS (of the process, and of its largest forked
worker), beside the RSS of the corpus alone before the build. ``--stages`` samples memory
by stage (``bench/tree_stages.py``: tokenize, phrases, labeler and features fit, grow,
link, name), this process's RSS and the PSS of it and its workers together.
``--sample-max`` sets ``TreeBuilder``'s ``sample_max`` for the builds under test.

The corpus is synthetic and clustered, the same for a given size, ``--seed`` and
``--words``, drawn 20,000 papers at a time: 24 topics of 8 subtopics each; a paper's
subtopic is drawn uniformly; its 384-d vector is ``0.6 T + 0.5 S + N(0, 1)``, normalized
(``T``, ``S``: the topic's and subtopic's standard normal centres), so papers of a subtopic
have cosine ~0.38, of a topic ~0.22, else ~0. Its title is 8 words (4 of the subtopic's 40
words, 2 of the topic's 150, 2 general), its abstract ``--words`` words (160; 15% subtopic,
20% topic, 65% of 5,000 general words drawn by a Zipf law), with a full stop every 20 words;
the text is title + abstract. Words are letter strings. At 1M papers the texts alone hold
~1.1 GB (as a library's would); ``--compact-texts`` keeps them as word ids instead (0.34 GB
at 1M), each written when read, so the figures leave out what a library's str texts hold.
``--topics`` sets the number of topics (the NMI's gold set).

NMI (``--nmi-size``): the first-level topic of each paper (its best link's first-level
ancestor) in the build under test against this code's build without sampling
(``sample_max=0``; with ``--exact-knn`` also without the approximate kNN graph), and both
against the generating topics (the gold set), sklearn's ``normalized_mutual_info_score``.
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
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, cast  # noqa: E402

import numpy as np  # noqa: E402

from paperatlas.organize import base  # noqa: E402
from tree_stages import StageWatch, staged  # noqa: E402

#: An older checkout (``--before``) has no text views: its builds get no compact texts.
TextView: Any = getattr(base, "TextView", Sequence)
TOPICS, SUBTOPICS, DIMS = 24, 8, 384
GENERAL, TOPIC_WORDS, SUB_WORDS = 5000, 150, 40
BLOCK = 20_000


def word(i: int, prefix: str) -> str:
    letters = ""
    i += 26 * 26  # three letters at least
    while i:
        i, r = divmod(i, 26)
        letters += chr(97 + r)
    return prefix + letters


class Written(TextView):
    """Titles or texts kept as word ids (uint16, two bytes a word) and written out when
    read, as :func:`synthetic` writes them: about 0.34 KB a paper of 160 words instead of
    ~1.2 KB of ``str`` (``--compact-texts``)."""

    def __init__(self, vocab: list[str], head: np.ndarray, body: np.ndarray | None) -> None:
        self.vocab, self.head, self.body = vocab, head, body

    def __len__(self) -> int:
        return len(self.head)

    def text(self, i: int) -> str:
        vocab = self.vocab
        title = " ".join([vocab[k] for k in self.head[i].tolist()]).capitalize()
        if self.body is None:
            return title
        body = [vocab[k] for k in self.body[i].tolist()]
        return title + ". " + ". ".join([" ".join(body[j:j + 20])
                                         for j in range(0, len(body), 20)]) + "."


def synthetic(n: int, seed: int, words: int = 160, compact: bool = False,
              topics: int = TOPICS) -> tuple[np.ndarray, Sequence[str], Sequence[str], np.ndarray]:
    """Vectors, titles, texts and the true topic of ``n`` clustered papers (see above;
    ``words`` words of abstract, ``topics`` topics), drawn :data:`BLOCK` papers at a time;
    with ``compact`` the titles and texts are :class:`Written` (the same strings, written
    when read)."""
    rng = np.random.default_rng(seed)
    subs = rng.integers(0, topics * SUBTOPICS, n)
    topic = subs // SUBTOPICS
    t_cent = rng.standard_normal((topics, DIMS)).astype(np.float32)
    s_cent = rng.standard_normal((topics * SUBTOPICS, DIMS)).astype(np.float32)
    vectors = np.empty((n, DIMS), dtype=np.float32)
    for a in range(0, n, BLOCK):
        b = min(n, a + BLOCK)
        v = 0.6 * t_cent[topic[a:b]] + 0.5 * s_cent[subs[a:b]] \
            + rng.standard_normal((b - a, DIMS)).astype(np.float32)
        vectors[a:b] = v / np.linalg.norm(v, axis=1, keepdims=True)
    # One vocabulary: general words, then each topic's, then each subtopic's.
    vocab = np.array([word(i, "g") for i in range(GENERAL)]
                     + [word(i, "t") for i in range(topics * TOPIC_WORDS)]
                     + [word(i, "s") for i in range(topics * SUBTOPICS * SUB_WORDS)],
                     dtype=object)
    t_base, s_base = GENERAL, GENERAL + topics * TOPIC_WORDS
    zipf = 1.0 / np.arange(1, GENERAL + 1)
    zipf /= zipf.sum()
    titles: list[str] = []
    texts: list[str] = []
    heads = np.empty((n if compact else 0, 8), dtype=np.uint16)
    bodies = np.empty((n if compact else 0, words), dtype=np.uint16)
    for a in range(0, n, BLOCK):
        b = min(n, a + BLOCK)
        s, t = subs[a:b, None], topic[a:b, None]
        head = np.hstack([s_base + s * SUB_WORDS + rng.integers(0, SUB_WORDS, (b - a, 4)),
                          t_base + t * TOPIC_WORDS + rng.integers(0, TOPIC_WORDS, (b - a, 2)),
                          rng.choice(GENERAL, (b - a, 2), p=zipf)])
        kind = rng.random((b - a, words))
        body = np.where(kind < 0.15, s_base + s * SUB_WORDS
                        + rng.integers(0, SUB_WORDS, (b - a, words)),
                        np.where(kind < 0.35, t_base + t * TOPIC_WORDS
                                 + rng.integers(0, TOPIC_WORDS, (b - a, words)),
                                 rng.choice(GENERAL, (b - a, words), p=zipf)))
        if compact:
            heads[a:b], bodies[a:b] = head, body
            continue
        for title_ids, body_ids in zip(vocab[head].tolist(), vocab[body].tolist(), strict=True):
            title = " ".join(title_ids).capitalize()
            sentences = [" ".join(body_ids[j:j + 20]) for j in range(0, words, 20)]
            titles.append(title)
            texts.append(title + ". " + ". ".join(sentences) + ".")
    if compact:
        names = vocab.tolist()
        return vectors, Written(names, heads, None), Written(names, heads, bodies), topic
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
    from paperatlas.organize.parallel import using_threads
    from paperatlas.records.trees import TreeSettings

    watch = StageWatch() if args.stages else None
    if watch:
        watch.start()
        watch.enter("generate")
    vectors, titles, texts, topic = synthetic(args.child, args.seed, args.words,
                                              args.compact_texts, args.topics)
    # Written titles and texts read as lists do (indexed, iterated, measured).
    corpus = Corpus(list(range(1, args.child + 1)), vectors, cast("list[str]", titles),
                    cast("list[str]", texts))
    rss_corpus = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    options: dict[str, Any] = {}
    build_options: dict[str, Any] = {}
    if args.ann_min and "ann_min" in inspect.signature(LeidenClusterer).parameters:
        options["ann_min"] = args.ann_min
    if args.sample_max >= 0 and "sample_max" in inspect.signature(TreeBuilder).parameters:
        build_options["sample_max"] = args.sample_max
    builder = TreeBuilder(TreeSettings(), clusterer=LeidenClusterer(**options), **build_options)
    t0, c0 = time.perf_counter(), os.times()
    if watch:
        with using_threads(builder.workers):  # as inside build
            watch.enter("tokenize")
            _ = corpus.tokens
            watch.enter("phrases")
            _ = corpus.phrases
        for obj, name, stage in ((builder.labeler, "fit", "labeler fit"),
                                 (builder.features, "fit", "features fit"),
                                 (builder, "grow", "grow"), (builder, "link", "link"),
                                 (builder, "_name_tree", "name")):
            setattr(obj, name, staged(watch, stage, getattr(obj, name)))
    tree = builder.build("scale", corpus)
    wall, c1 = time.perf_counter() - t0, os.times()
    cpu = (c1.user + c1.system + c1.children_user + c1.children_system) - \
        (c0.user + c0.system + c0.children_user + c0.children_system)
    levels = first_level(tree, corpus.ids)
    json.dump({"papers": args.child, "wall_s": wall, "cpu_s": cpu,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
               "corpus_rss_mb": rss_corpus / 1024, "nodes": len(tree.nodes),
               "first_level": levels, "topic": topic.tolist(),
               "stages": watch.stop() if watch else {}}, sys.stdout)


def run(size: int, args: argparse.Namespace, src: Path | None, ann_min: int = 0,
        sample_max: int = -1) -> dict[str, Any]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, __file__, "--child", str(size), "--seed", str(args.seed),
           "--ann-min", str(ann_min), "--words", str(args.words),
           "--sample-max", str(sample_max)] + (["--stages"] if args.stages else []) \
        + (["--compact-texts"] if args.compact_texts else []) + ["--topics", str(args.topics)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(done.stdout)
    print(f"{'before' if src else 'after'} {size}: {out['wall_s']:.1f} s wall, "
          f"{out['cpu_s']:.1f} s CPU, {out['peak_rss_mb']:.0f} MB peak", file=sys.stderr,
          flush=True)
    for stage, fig in out.get("stages", {}).items():
        print(f"  {stage:>13}: {fig['seconds']:7.1f} s, peak RSS {fig['peak_rss_mb']:6.0f} MB, "
              f"peak PSS with workers {fig['peak_pss_mb']:6.0f} MB, "
              f"RSS after {fig['end_rss_mb']:6.0f} MB", file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 100_000])
    parser.add_argument("--before-max", type=int, default=200_000,
                        help="build the 'before' code only up to this size")
    parser.add_argument("--nmi-size", type=int, default=0,
                        help="compare the first level with the unsampled build at this size")
    parser.add_argument("--exact-knn", action="store_true",
                        help="the reference build uses the exact kNN graph too")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--stages", action="store_true",
                        help="sample memory by stage (bench/tree_stages.py)")
    parser.add_argument("--words", type=int, default=160, help="words of abstract per paper")
    parser.add_argument("--sample-max", type=int, default=-1,
                        help="TreeBuilder's sample_max for the 'after' builds (default: its own)")
    parser.add_argument("--compact-texts", action="store_true",
                        help="keep the corpus's titles and texts as word ids, written when "
                             "read (the same strings; the build's memory without ~1 KB a "
                             "paper of str that a library's texts would hold)")
    parser.add_argument("--topics", type=int, default=TOPICS,
                        help="topics of the corpus (the gold set of the NMI); default 24")
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
        before = run(size, args, src) if src and size <= args.before_max else None
        after = run(size, args, None, sample_max=args.sample_max)
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
    if args.nmi_size:
        # The build under test (the "after" one at that size) against this code's build
        # without sampling (and, with --exact-knn, without the approximate graph).
        test = next((a for s, _, a in rows if s == args.nmi_size), None) or \
            run(args.nmi_size, args, None, sample_max=args.sample_max)
        exact = run(args.nmi_size, args, None, sample_max=0,
                    ann_min=10**9 if args.exact_knn else 0)
        figures = {"nmi_vs_reference": nmi(exact["first_level"], test["first_level"]),
                   "nmi_reference_vs_truth": nmi(exact["topic"], exact["first_level"]),
                   "nmi_test_vs_truth": nmi(test["topic"], test["first_level"]),
                   "unassigned": sum(x < 0 for x in test["first_level"]),
                   "reference": {k: v for k, v in exact.items()
                                 if k not in ("first_level", "topic")}}
        lines.append("")
        lines.append(f"First-level NMI at {args.nmi_size} (sample_max {args.sample_max}) "
                     f"against the build without sampling"
                     f"{' or approximate graph' if args.exact_knn else ''}: "
                     f"{figures['nmi_vs_reference']:.3f}; vs the true topics: reference "
                     f"{figures['nmi_reference_vs_truth']:.3f}, tested "
                     f"{figures['nmi_test_vs_truth']:.3f}; papers without a topic: "
                     f"{figures['unassigned']}.")
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
