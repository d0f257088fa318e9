"""Topic-tree speed on ~10,000 real abstracts: paperatlas build and update against BERTopic.

Usage (the CI machine has 2 cores; pin the run to two and cap the thread pools):

    OMP_NUM_THREADS=2 taskset -c 0,1 .venv/bin/python bench/tree_speed.py \
        [--papers 10000] [--repeat 3] [--bertopic-runs 2] [--profile] [--out tree_speed.json]

(The script also sets ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``
and ``NUMBA_NUM_THREADS`` to 2 before numpy loads, unless they are set.)

The library: the first ``--papers`` records of SciFact (5,183), then NFCorpus (3,395), then
CSFCube (4,205) corpus.jsonl, from ``../shared/data`` (or ``$PAPERATLAS_SHARED/data``),
written as two files: all but the last 100 (collection ``first``) and the last 100
(collection ``last``). It is ingested, indexed and embedded once (about two minutes on two
cores), in a child process so that the embedding's thread pools are gone before anything
is timed, and cached at ``--cache`` (default ``/tmp/paperatlas-bench-10k.db``, beside it a
``.json`` note with the counts); a later run reuses it when the counts match.

Timed, in one process, after a warm-up ``Library.index()`` that loads the embedding model:

- the index-time cost of the token cache (every paper's title and text tokenized and
  stored; ``index`` does it once per changed paper, and a build reads the tokens back),
  on a copy of the library whose cache is emptied first;
- ``Library.index()`` when everything is up to date (``tree_build`` calls it first);
- ``lib.trees.build`` of the whole library with default settings, a fresh tree each
  run, median of ``--repeat``; the wall time of the call (includes the no-op index) and
  ``BuildReport.seconds`` (load the corpus from SQLite, build, label, save);
- BERTopic (defaults; UMAP with BERTopic's defaults plus ``random_state``) fitted on the
  same stored embeddings and texts, after an untimed warm-up fit (numba compilation), and
  ``hierarchical_topics`` on top; the ratio paperatlas / BERTopic. Builds and fits take
  turns (build 0, fit 0, build 1, fit 1, ...; ``--bertopic-runs`` of them), so that a
  machine that slows down for a minute slows both; each build's ratio to the fit right
  after it is printed too;
- ``tree update``: on a copy of the cached library, a tree of collection ``first``, then
  the 100 papers of ``last`` are ingested into ``first`` (they already have vectors, so
  ``Library.index()`` has nothing to embed), and ``lib.trees.update`` is timed: new
  nodes, unsorted, where the papers went.

``--profile`` runs two more builds with a timer around each stage (corpus load, tokens,
word and phrase counts, features, kNN graph, Leiden, linking, labelling, saving): one in a
single process (``workers=1``: every stage seen, the tree is the same) and one with the
default workers (stages inside worker processes are then timed as one wall-time line);
``--cprofile`` one more under cProfile (which slows the numpy-heavy parts down a lot; use
it for the shape only).

Goals (issue 4): build <= 20 s on 2 cores and <= 1/3 of BERTopic's time; update <= 2 s.
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
import cProfile  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from paperatlas import Library  # noqa: E402
from paperatlas.embed.base import paper_text  # noqa: E402

warnings.filterwarnings("ignore")

SOURCES = ("scifact", "nfcorpus", "csfcube")
NEW = 100


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def shared_data() -> Path:
    root = os.environ.get("PAPERATLAS_SHARED")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "shared"
    return base / "data"


def files_dir(cache: Path) -> Path:
    return cache.with_name(cache.name + ".files")


def write_inputs(data: Path, cache: Path, papers: int) -> tuple[Path, Path]:
    """The first ``papers`` records, as ``first.jsonl`` (all but 100) and ``last.jsonl``."""
    lines: list[str] = []
    for name in SOURCES:
        with (data / name / "corpus.jsonl").open(encoding="utf-8") as fh:
            lines += [line if line.endswith("\n") else line + "\n"
                      for line in fh if line.strip()]
        if len(lines) >= papers:
            break
    if len(lines) < papers:
        raise SystemExit(f"only {len(lines)} records in {', '.join(SOURCES)}")
    lines = lines[:papers]
    folder = files_dir(cache)
    folder.mkdir(parents=True, exist_ok=True)
    first, last = folder / "first.jsonl", folder / "last.jsonl"
    first.write_text("".join(lines[:-NEW]), encoding="utf-8")
    last.write_text("".join(lines[-NEW:]), encoding="utf-8")
    return first, last


def remove_library(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
              path.with_name(path.name + ".json")):
        p.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".index"), ignore_errors=True)


def prepare_library(data: Path, cache: Path, papers: int) -> dict[str, Any]:
    """Make (or reuse) the cached, embedded library; its counts and how long it took."""
    first, last = write_inputs(data, cache, papers)
    note = cache.with_name(cache.name + ".json")
    if cache.exists() and note.exists():
        meta = json.loads(note.read_text(encoding="utf-8"))
        with Library(cache) as lib:
            count, vectors = lib.stats().papers, lib.vectors.count()
        if meta.get("records") == papers and meta.get("papers") == count == vectors:
            log(f"reusing {cache} ({count} papers)")
            return {**meta, "reused": True}
    remove_library(cache)
    log(f"building {cache}: ingest {papers} records, index and embed (minutes)")
    with Library(cache) as lib:
        t0 = time.perf_counter()
        a = lib.ingest([first], collection="first").files[0]
        b = lib.ingest([last], collection="last").files[0]
        ingest = time.perf_counter() - t0
        t0 = time.perf_counter()
        lib.index()
        meta = {"records": papers, "papers": lib.stats().papers,
                "added": a.added + b.added, "merged": a.merged + b.merged,
                "ingest_seconds": ingest, "index_seconds": time.perf_counter() - t0,
                "files": [str(first), str(last)]}
    note.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return {**meta, "reused": False}


def prepare_in_child(args: argparse.Namespace) -> dict[str, Any]:
    """Run :func:`prepare_library` in a child process, so that the thread pools of the bulk
    embedding (torch, OpenVINO) are not alive in the process that is timed."""
    cmd = [sys.executable, __file__, "--prepare-only", "--papers", str(args.papers),
           "--cache", str(args.cache), "--data", str(args.data)]
    subprocess.run(cmd, check=True)
    meta = json.loads(args.cache.with_name(args.cache.name + ".json").read_text("utf-8"))
    return dict(meta)


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def corpus(lib: Library) -> tuple[np.ndarray, list[str]]:
    ids: list[int] = []
    parts: list[np.ndarray] = []
    for batch in lib.vectors.iterate(titles=False):
        ids += batch.ids
        parts.append(batch.vectors)
    texts = lib.store.papers.texts(ids)
    return np.vstack(parts), [paper_text(texts[p][1], texts[p][2]) for p in ids]


def fresh_tree(lib: Library, name: str) -> None:
    if any(t.name == name for t in lib.trees.all()):
        lib.trees.delete(name)


def time_builds(lib: Library, repeat: int,
                after: Any = None) -> dict[str, Any]:
    """``repeat`` builds; ``after(r)``, when given, runs after build ``r`` (the peer's turn,
    so that builds and peer fits take turns and see the same machine)."""
    _, first_index = timed(lib.index)  # loads the model (and its OpenVINO conversion)
    _, noop_index = timed(lib.index)
    runs = []
    try:
        for r in range(repeat):
            if after is not None and r:
                after(r - 1)
            name = f"bench-speed-{r}"
            fresh_tree(lib, name)
            report, wall = timed(lib.trees.build, name)
            first_level = len(lib.trees.get(name).children(lib.trees.get(name).root))
            runs.append({"wall_seconds": wall, "build_seconds": report.seconds,
                         "papers": report.papers, "nodes": report.nodes,
                         "leaves": report.leaves, "depth": report.depth,
                         "first_level_topics": first_level})
            log(f"  paperatlas build {r}: {wall:.2f} s wall, {report.seconds:.2f} s in "
                f"the service, {report.nodes} nodes, {first_level} first-level topics")
        if after is not None:
            after(repeat - 1)
    finally:
        for r in range(repeat):
            fresh_tree(lib, f"bench-speed-{r}")
    return {"index_first_call_seconds": first_index, "index_noop_seconds": noop_index,
            "runs": runs,
            "median_wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
            "median_build_seconds": statistics.median(r["build_seconds"] for r in runs)}


def cprofile_build(lib: Library, top: int = 25) -> str:
    """One build under cProfile: the functions with the most time of their own."""
    name = "bench-speed-cprofile"
    fresh_tree(lib, name)
    prof = cProfile.Profile()
    try:
        prof.runcall(lib.trees.build, name)
    finally:
        fresh_tree(lib, name)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def stage_build(lib: Library, workers: int | None = None) -> dict[str, Any]:
    """One build with a timer around each stage (methods wrapped for this call only).

    With ``workers=1`` everything runs in this process and each stage is timed; with the
    default workers, stages that run in worker processes are not seen one by one, and the
    ``worker processes`` line is the wall time of those phases (subtrees, then names)."""
    from paperatlas.organize import base, builder, cluster, features, label, service
    from paperatlas.store import trees

    stages: dict[str, list[float]] = {}
    targets = [(service.TreeService, "corpus", "load corpus (vectors, texts, tokens)"),
               (service, "cached_tokens", "of which: read the token cache"),
               (base, "tokenize", "count: tokenize titles and texts"),
               (base.Corpus, "count", "count: words / 1-3 word phrases"),
               (label.KeywordLabeler, "fit", "labeler fit (idf, casing)"),
               (features.CombinedFeatures, "features", "split: features (TF-IDF + SVD)"),
               (cluster, "neighbor_graph", "split: kNN graph"),
               (cluster, "leiden", "split: Leiden runs"),
               (cluster, "merge_small", "split: merge small"),
               (builder, "fork_map", "worker processes (subtrees, names), wall"),
               (builder.TreeBuilder, "link", "link papers + refresh"),
               (label.KeywordLabeler, "label", "label nodes"),
               (trees.TreeRepo, "save", "save tree (SQLite)")]
    saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in targets]
    saved.append((builder, "default_workers", builder.default_workers))

    def wrap(fn: Any, key: str) -> Any:
        def timed_call(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                stages.setdefault(key, []).append(time.perf_counter() - t0)
        return timed_call

    name = "bench-speed-stages"
    fresh_tree(lib, name)
    try:
        for (owner, attr, key), (_, _, fn) in zip(targets, saved, strict=False):
            setattr(owner, attr, wrap(fn, key))
        if workers is not None:
            builder.default_workers = lambda cap=4: workers  # type: ignore[attr-defined]
        report, wall = timed(lib.trees.build, name)
    finally:
        for owner, attr, fn in saved:
            setattr(owner, attr, fn)
        fresh_tree(lib, name)
    return {"workers": workers, "wall_seconds": wall, "build_seconds": report.seconds,
            "stages": {k: {"seconds": sum(v), "calls": len(v)} for k, v in stages.items()}}


def bertopic_fit(vectors: np.ndarray, docs: list[str], seed: int,
                 hierarchy: bool) -> dict[str, Any]:
    from bertopic import BERTopic
    from umap import UMAP

    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                random_state=seed)
    model = BERTopic(umap_model=umap)
    (topics, _), fit = timed(model.fit_transform, docs, embeddings=vectors)
    out: dict[str, Any] = {"seed": seed, "fit_seconds": fit,
                           "topics": len({int(t) for t in topics} - {-1}),
                           "assigned_share": float(np.mean(np.asarray(topics) != -1))}
    if hierarchy:
        _, out["hierarchy_seconds"] = timed(model.hierarchical_topics, docs)
    return out


class BERTopicTurns:
    """BERTopic fits on the library's stored vectors and texts, one per call (seed = the
    call's number), after an untimed warm-up fit (numba compiles UMAP's code paths,
    including NN-descent for n >= 4096)."""

    def __init__(self, lib: Library, runs: int) -> None:
        self.vectors, self.docs = corpus(lib)
        self.runs = runs
        self.fits: list[dict[str, Any]] = []
        _, self.warm = timed(bertopic_fit, self.vectors[:5000], self.docs[:5000], 0, False)

    def __call__(self, turn: int) -> None:
        if turn >= self.runs:
            return
        self.fits.append(bertopic_fit(self.vectors, self.docs, turn, hierarchy=True))
        f = self.fits[-1]
        log(f"  BERTopic seed {turn}: fit {f['fit_seconds']:.1f} s, hierarchy "
            f"{f['hierarchy_seconds']:.1f} s, {f['topics']} topics, "
            f"{f['assigned_share']:.2f} assigned")

    def summary(self) -> dict[str, Any]:
        fits = self.fits
        return {"warm_up_seconds": self.warm, "runs": fits,
                "median_fit_seconds": statistics.median(f["fit_seconds"] for f in fits),
                "median_fit_hierarchy_seconds": statistics.median(
                    f["fit_seconds"] + f["hierarchy_seconds"] for f in fits)}


def copy_library(cache: Path, dest: Path) -> Path:
    """Copy the database and lexical index; the converted model is linked, not copied."""
    target = dest / cache.name
    shutil.copy2(cache, target)
    index = cache.with_name(cache.name + ".index")
    copy = target.with_name(target.name + ".index")
    shutil.copytree(index, copy, ignore=shutil.ignore_patterns("models"))
    if (index / "models").exists():
        (copy / "models").symlink_to(index / "models", target_is_directory=True)
    return target


def time_token_cache(cache: Path) -> dict[str, Any]:
    """The index-time cost of the token cache that builds read: on a copy of the library,
    the cache is emptied and filled again by the sync that ``index`` runs."""
    with tempfile.TemporaryDirectory(prefix="paperatlas-tree-speed-") as tmp, \
            Library(copy_library(cache, Path(tmp))) as lib:
        with lib.store.transaction():
            lib.store.tokens.clear()
            lib.store.conn.execute("DELETE FROM index_state WHERE name = 'tokens'")
        report, seconds = timed(lib.trees.service.sync_tokens)
        return {"papers": report.updated, "seconds": seconds}


def time_update(cache: Path, last: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="paperatlas-tree-speed-") as tmp, \
            Library(copy_library(cache, Path(tmp))) as lib:
        lib.index()
        built, build_wall = timed(lib.trees.build, "update-bench", collection="first")
        before = len(lib.trees.get("update-bench").nodes)
        ingest = lib.ingest([last], collection="first").files[0]
        _, index = timed(lib.index)
        report, wall = timed(lib.trees.update, "update-bench")
        tree = lib.trees.get("update-bench")
        return {"tree_papers_before": built.papers, "nodes_before": before,
                "build_seconds": built.seconds, "build_wall_seconds": build_wall,
                "linked": ingest.skipped + ingest.added,
                "index_before_update_seconds": index, "update_wall_seconds": wall,
                "update_seconds": report.seconds, "added": len(report.added),
                "new_nodes": len(report.new_nodes), "grown_nodes": len(report.grown_nodes),
                "split_nodes": len(report.split_nodes), "unsorted": report.unsorted,
                "nodes_after": len(tree.nodes), "papers_after": len(tree.all_papers())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="paperatlas builds (median)")
    parser.add_argument("--bertopic-runs", type=int, default=3,
                        help="BERTopic fits, each right after a build (at most --repeat)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/paperatlas-bench-10k.db"))
    parser.add_argument("--data", type=Path, default=shared_data())
    parser.add_argument("--profile", action="store_true",
                        help="one more build with a timer per stage")
    parser.add_argument("--cprofile", action="store_true",
                        help="one more build under cProfile (slows it down)")
    parser.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="write every figure as JSON here")
    args = parser.parse_args()

    if args.prepare_only:
        prepare_library(args.data, args.cache, args.papers)
        return
    library = prepare_in_child(args)
    result: dict[str, Any] = {"library": library}
    with Library(args.cache) as lib:
        lib.index()  # a cache made before the token cache existed gets it here, untimed
    result["token_cache"] = time_token_cache(args.cache)
    with Library(args.cache) as lib:
        turns = BERTopicTurns(lib, args.bertopic_runs) if args.bertopic_runs else None
        result["paperatlas_build"] = time_builds(lib, args.repeat, turns)
        if turns is not None:
            result["bertopic"] = turns.summary()
            result["paired_ratios"] = [
                b["wall_seconds"] / f["fit_seconds"] for b, f in
                zip(result["paperatlas_build"]["runs"], turns.fits, strict=False)]
        if args.profile:
            result["stages"] = stage_build(lib, workers=1)
            result["stages_parallel"] = stage_build(lib)
            for field in ("stages", "stages_parallel"):
                got = result[field]
                print(f"{field}: {got['wall_seconds']:.2f} s wall, workers "
                      f"{got['workers'] or 'default'}")
                for key, v in sorted(got["stages"].items(), key=lambda kv: -kv[1]["seconds"]):
                    print(f"| {key} | {v['seconds']:.2f} | {v['calls']} |")
        if args.cprofile:
            result["cprofile"] = cprofile_build(lib)
            print(result["cprofile"])
    result["update"] = time_update(args.cache, files_dir(args.cache) / "last.jsonl")

    pa = result["paperatlas_build"]
    rows = [(f"index time: token cache of {result['token_cache']['papers']} papers (once)",
             result["token_cache"]["seconds"]),
            ("paperatlas index(), up to date (inside tree_build)", pa["index_noop_seconds"]),
            ("paperatlas tree_build, median wall", pa["median_wall_seconds"]),
            ("paperatlas build (BuildReport.seconds), median", pa["median_build_seconds"])]
    if "bertopic" in result:
        bt = result["bertopic"]
        rows += [("BERTopic fit_transform, median", bt["median_fit_seconds"]),
                 ("BERTopic fit + hierarchical_topics, median",
                  bt["median_fit_hierarchy_seconds"])]
        result["ratio_build_to_bertopic_fit"] = pa["median_wall_seconds"] / bt[
            "median_fit_seconds"]
        result["ratio_build_to_bertopic_hierarchical"] = pa["median_wall_seconds"] / bt[
            "median_fit_hierarchy_seconds"]
    up = result["update"]
    rows += [("paperatlas tree_update, 100 new papers (wall)", up["update_wall_seconds"]),
             ("paperatlas update (UpdateReport.seconds)", up["update_seconds"])]
    print(f"papers: {library['papers']} (of {library['records']} records)")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} |")
    for key in ("ratio_build_to_bertopic_fit", "ratio_build_to_bertopic_hierarchical"):
        if key in result:
            print(f"{key}: {result[key]:.3f}")
    if "paired_ratios" in result:
        print("build / the BERTopic fit right after it: "
              + ", ".join(f"{r:.3f}" for r in result["paired_ratios"]))
    print(f"update: {up['added']} placed, {up['new_nodes']} new nodes, {up['split_nodes']} "
          f"split, {up['unsorted']} unsorted")
    if args.out:
        result["meta"] = {"python": platform.python_version(), "machine": platform.machine(),
                          "cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
                          "date": time.strftime("%Y-%m-%d")}
        args.out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
