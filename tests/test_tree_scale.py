"""Trees at scale: the approximate kNN graph, and a build that uses it against the exact one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from paperatlas import Library
from paperatlas.organize.base import Corpus
from paperatlas.organize.builder import TreeBuilder
from paperatlas.organize.cluster import LeidenClusterer
from paperatlas.organize.features import normalize_rows
from paperatlas.organize.knn import ann_graph, knn_graph
from paperatlas.organize.parallel import using_threads
from paperatlas.records.trees import TOPIC, Tree, TreeSettings
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv


def clustered(n: int, k: int, dims: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, dims))
    return normalize_rows(centers[rng.integers(0, k, n)] + 1.5 * rng.standard_normal((n, dims)))


def test_ann_graph_finds_nearly_every_exact_edge() -> None:
    feats = clustered(3000, 12)
    exact, exact_w = knn_graph(feats, 10)
    approx, approx_w = ann_graph(feats, 10, probes=8)
    found = set(approx)
    recall = sum(e in found for e in exact) / len(exact)
    assert recall >= 0.9, recall
    assert all(a < b for a, b in approx) and len(found) == len(approx)  # undirected, once
    weights = dict(zip(approx, approx_w.tolist(), strict=True))
    for (a, b), w in list(zip(exact, exact_w.tolist(), strict=True))[:200]:
        if (a, b) in weights:
            assert weights[(a, b)] == np.float32(w) or abs(weights[(a, b)] - w) < 1e-5


def test_ann_graph_is_the_same_on_any_number_of_threads() -> None:
    feats = clustered(2500, 8, seed=1)
    serial = ann_graph(feats, 12, seed=3)
    with using_threads(2):
        threaded = ann_graph(feats, 12, seed=3)
    assert serial[0] == threaded[0] and (serial[1] == threaded[1]).all()


def first_level(tree: Tree) -> dict[int, int]:
    """Each paper's first-level topic: the one under which its best link lies."""
    kids = tree.child_ids()
    best: dict[int, tuple[float, int]] = {}
    for top in kids[tree.root]:
        if tree.nodes[top].kind != TOPIC:
            continue
        stack = [top]
        while stack:
            node = tree.nodes[stack.pop()]
            stack.extend(kids.get(node.id, []))
            for pid, score in node.papers.items():
                if pid not in best or score > best[pid][0]:
                    best[pid] = (score, top)
    return {pid: top for pid, (_, top) in best.items()}


def test_a_build_on_the_approximate_graph_agrees_with_the_exact_build(tmp_path: Path) -> None:
    rows = [p for t in ("protein", "graph", "galaxy", "ocean") for p in papers_of(t, 600)]
    with Library(tmp_path / "s.db", embedding_model=HashingEmbedder("hash-256", 256)) as lib:
        lib.ingest([write_csv(tmp_path / "in.csv", rows)])
        lib.index()
        settings = TreeSettings(max_depth=2)
        lib.trees.service.build("exact", settings, clusterer=LeidenClusterer())
        lib.trees.service.build("ann", TreeSettings(max_depth=2),
                                clusterer=LeidenClusterer(ann_min=500))
        exact, ann = lib.trees.get("exact"), lib.trees.get("ann")
        papers = set(lib.store.papers.texts(list(range(1, len(rows) + 1))))
    assert len(papers) == len(rows) == len(ann.all_papers())  # every paper has a topic
    a, b = first_level(exact), first_level(ann)
    assert set(a) == set(b) == papers
    keys = sorted(papers)
    agreement = normalized_mutual_info_score([a[p] for p in keys], [b[p] for p in keys])
    assert agreement >= 0.9, agreement


def toy_corpus(n: int, k: int, seed: int = 0) -> tuple[Corpus, np.ndarray]:
    """``n`` papers of ``k`` topics: clustered vectors, and texts of each topic's words."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    centers = rng.standard_normal((k, 48))
    vectors = normalize_rows(centers[truth] + 2.2 * rng.standard_normal((n, 48)))
    own = [[f"{chr(97 + t)}{w}word" for w in "abcdefghijkl"] for t in range(k)]
    common = [f"common{w}" for w in "abcdefghijklmnopqrst"]
    texts = [" ".join(rng.choice(own[t], 12).tolist() + rng.choice(common, 20).tolist())
             for t in truth.tolist()]
    titles = [" ".join(rng.choice(own[t], 4).tolist()) for t in truth.tolist()]
    return Corpus(list(range(1, n + 1)), vectors, titles, texts), truth


def test_a_sampled_root_split_places_every_paper_and_agrees_with_the_exact_split() -> None:
    corpus, truth = toy_corpus(3000, 6)
    settings = TreeSettings(max_depth=1)
    exact = TreeBuilder(settings, sample_max=0).build("exact", corpus)
    sampled = TreeBuilder(TreeSettings(max_depth=1), sample_max=600).build("sampled", corpus)
    again = TreeBuilder(TreeSettings(max_depth=1), sample_max=600).build("sampled", corpus)
    assert sampled.all_papers() == set(corpus.ids)  # every paper has a topic
    assert {i: (n.parent, n.papers, n.label) for i, n in sampled.nodes.items()} == \
        {i: (n.parent, n.papers, n.label) for i, n in again.nodes.items()}  # one seed, one tree
    a, b = first_level(exact), first_level(sampled)
    assert set(a) == set(b) == set(corpus.ids)
    agreement = normalized_mutual_info_score([a[p] for p in corpus.ids],
                                             [b[p] for p in corpus.ids])
    assert agreement >= 0.9, agreement
    truth_of = dict(zip(corpus.ids, truth.tolist(), strict=True))
    gold = [truth_of[p] for p in corpus.ids]
    exact_nmi = normalized_mutual_info_score(gold, [a[p] for p in corpus.ids])
    sampled_nmi = normalized_mutual_info_score(gold, [b[p] for p in corpus.ids])
    assert sampled_nmi >= exact_nmi - 0.02, (sampled_nmi, exact_nmi)


def test_sample_max_is_checked() -> None:
    with pytest.raises(ValueError, match=r"sample_max must be 0 .* at least 100"):
        TreeBuilder(TreeSettings(), sample_max=50)


def test_a_sampled_split_places_the_rest_by_words_where_embeddings_say_nothing() -> None:
    from paperatlas.organize.features import CombinedFeatures
    from paperatlas.organize.sampled import attach, centroids, sample

    corpus, truth = toy_corpus(1500, 3, seed=2)
    corpus.vectors = normalize_rows(np.random.default_rng(9).standard_normal((1500, 48)))
    features = CombinedFeatures()
    features.fit(corpus)
    rows = list(range(1500))
    split, rest = sample(rows, 300, seed=0)
    feats, project = features.sampled(corpus.vectors[split],
                                      [corpus.texts[r] for r in split], split)
    assert project is not None
    near = project(corpus.vectors[split], split) @ feats.T  # the sample maps onto itself
    assert (np.argmax(near, axis=1) == np.arange(300)).mean() > 0.95
    labels = truth[split]  # the sample's groups: the true topics
    by_words = attach(corpus.vectors, rows, rest, labels, centroids(feats, labels), project)
    by_embedding = attach(corpus.vectors, rows, rest, labels)
    assert normalized_mutual_info_score(truth[rest], by_words[rest]) > 0.9
    assert normalized_mutual_info_score(truth[rest], by_embedding[rest]) < 0.1
    assert (by_words[~rest] == labels).all()
