"""Unit tests of the tree stages' maths: phrase counting, the kNN graph, Leiden, labels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperatlas.organize.base import Corpus, Group, stop_words
from paperatlas.organize.builder import TreeBuilder
from paperatlas.organize.cluster import LeidenClusterer, knn_graph
from paperatlas.organize.features import CombinedFeatures, normalize_rows
from paperatlas.organize.label import KeywordLabeler
from paperatlas.organize.parallel import using_threads
from paperatlas.organize.phrases import count_phrases
from paperatlas.records.trees import Tree, TreeSettings


def counts_of(titles: list[str], texts: list[str], **kw: object) -> dict[str, list[float]]:
    pc = count_phrases(titles, texts, stop_words=stop_words(), **kw)  # type: ignore[arg-type]
    dense = pc.matrix.toarray()
    return {str(p): dense[:, i].tolist() for i, p in enumerate(pc.vocab)}


def test_phrases_stop_at_stop_words_punctuation_and_field_ends() -> None:
    got = counts_of(["Graph neural networks"],
                    ["Graph neural networks, message passing of the graph. Networks"],
                    min_df=1)
    assert got["graph neural networks"] == [3.0]  # title twice + once in the text
    assert got["message passing"] == [1.0]
    assert "networks message" not in got  # a comma breaks a phrase
    assert "passing graph" not in got  # so does a stop word
    assert "graph networks" not in got  # the title's end and the text's start
    assert got["graph"] == [4.0] and got["networks"] == [4.0]
    assert "the" not in got and "of" not in got
    tokens = counts_of([""], ["Trained on 100B tokens in 3D"], min_df=1)
    assert "100b tokens" in tokens and "3d" in tokens and "0b" not in tokens


def test_phrase_document_frequency_and_lengths() -> None:
    texts = ["protein folding kinetics", "protein folding", "galaxy clusters"]
    pc = count_phrases(["", "", ""], texts, stop_words=frozenset(), min_df=2)
    assert sorted(pc.vocab.tolist()) == ["folding", "protein", "protein folding"]
    assert dict(zip(pc.vocab.tolist(), pc.words.tolist(), strict=True))["protein folding"] == 2
    assert pc.unigrams().vocab.tolist() == ["protein", "folding"]
    with pytest.raises(ValueError, match="differ in length"):
        count_phrases(["a"], [], stop_words=frozenset())


def test_knn_graph_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    feats = normalize_rows(rng.standard_normal((300, 16)))
    edges, weights = knn_graph(feats, 7, block=64)  # several blocks
    sims = feats @ feats.T
    np.fill_diagonal(sims, -np.inf)
    expected = set()
    for i in range(len(feats)):
        for j in np.argsort(-sims[i])[:7]:
            expected.add((min(i, int(j)), max(i, int(j))))
    assert set(edges) == expected
    got = dict(zip(edges, weights.tolist(), strict=True))
    a, b = edges[0]
    assert got[(a, b)] == pytest.approx(max(float(sims[a, b]), 0.0), abs=1e-6)


def blobs(k: int, per: int, dims: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, dims)) * 3
    points = np.vstack([c + rng.standard_normal((per, dims)) for c in centers])
    return normalize_rows(points), np.repeat(np.arange(k), per)


def test_leiden_finds_the_blobs_and_is_deterministic() -> None:
    feats, truth = blobs(4, 40)
    clusterer = LeidenClusterer()
    labels = clusterer.split(feats, max_children=10, min_size=5, seed=1)
    assert len(set(labels.tolist())) == 4
    for c in range(4):  # every found cluster is one blob
        assert len(set(truth[labels == c].tolist())) == 1
    assert (clusterer.split(feats, max_children=10, min_size=5, seed=1) == labels).all()
    fewer = clusterer.split(feats, max_children=2, min_size=5, seed=1)
    assert len(set(fewer.tolist())) == 2


def test_word_view_fit_once_equals_fit_per_node() -> None:
    feats, _ = blobs(2, 15, dims=8)
    words = ["protein folding kinase", "galaxy cluster redshift", "graph walk vertex"]
    texts = [f"{words[i % 3]} {words[(i + 1) % 3].split()[0]} sample{i % 4}" for i in range(30)]
    corpus = Corpus(list(range(30)), feats, ["t"] * 30, texts)
    fitted = CombinedFeatures(text_weight=1.0, dims=4, min_docs=5)
    fitted.fit(corpus)
    rows = list(range(5, 25))
    a = fitted.features(feats[rows], [texts[r] for r in rows], rows=rows)
    b = CombinedFeatures(text_weight=1.0, dims=4, min_docs=5).features(
        feats[rows], [texts[r] for r in rows])
    assert a.shape == b.shape and np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    # Same words counted either way (corpus-wide min_df aside): the same similarities.
    assert np.allclose(a @ a.T, b @ b.T, atol=1e-3)


def test_labeler_phrase_vectors_option() -> None:
    with pytest.raises(ValueError, match="papers, model"):
        KeywordLabeler(phrase_vectors="words")
    with pytest.raises(ValueError, match="needs an embed"):
        KeywordLabeler(phrase_vectors="model")
    feats, _ = blobs(2, 10, dims=8)
    texts = ["protein folding kinetics"] * 10 + ["galaxy cluster redshift"] * 10
    corpus = Corpus(list(range(20)), feats, texts, texts)
    labeler = KeywordLabeler()
    labeler.fit(corpus)
    cents = [normalize_rows(feats[r].mean(axis=0, keepdims=True))[0]
             for r in (range(10), range(10, 20))]
    groups = [Group(node_id=i + 1, titles=[], texts=[], rows=list(r), centroid=c)
              for i, (r, c) in enumerate(zip((range(10), range(10, 20)), cents, strict=True))]
    names = labeler.label(groups)
    assert names[0].label.lower().startswith("protein folding")
    assert names[1].label.lower().startswith("galaxy cluster")
    assert "galaxy" not in " ".join(names[0].keywords).lower()


def test_paper_text_skips_a_title_that_is_the_abstracts_opening() -> None:
    from paperatlas.embed.base import paper_text, title_in_abstract

    assert paper_text("Graph networks", "We study graphs.") == "Graph networks. We study graphs."
    opening = "We  study graphs"
    assert title_in_abstract(opening, "we study graphs and walks")
    assert paper_text(opening, "We study graphs and walks.") == "We study graphs and walks."
    assert not title_in_abstract("", "anything") and paper_text("T", "") == "T"


def topic_corpus(papers_per_topic: int = 120, seed: int = 0) -> Corpus:
    """Papers of four topics, each with its own words, and embeddings near its centre."""
    rng = np.random.default_rng(seed)
    topics = [["protein", "folding", "kinase", "binding", "enzyme", "residue"],
              ["galaxy", "cluster", "redshift", "dark", "matter", "halo"],
              ["graph", "neural", "network", "vertex", "message", "passing"],
              ["soil", "carbon", "nitrogen", "crop", "yield", "drought"]]
    feats, truth = blobs(len(topics), papers_per_topic, dims=24, seed=seed)
    texts = []
    for t in truth.tolist():
        words = rng.choice(topics[t], 12).tolist() + rng.choice(topics[(t + 1) % 4], 2).tolist()
        texts.append(f"{' '.join(words[:6])}, {' '.join(words[6:])}. Sample {rng.integers(9)}")
    ids = list(range(100, 100 + len(texts)))
    return Corpus(ids, feats, [t.split(",")[0] for t in texts], texts)


def tree_shape(tree: Tree) -> list[tuple[int, int | None, str, list[str], list[int]]]:
    return [(n.id, n.parent, n.label, n.keywords, sorted(n.papers))
            for n in sorted(tree.nodes.values(), key=lambda n: n.id)]


def test_parallel_build_is_the_serial_build(monkeypatch: pytest.MonkeyPatch) -> None:
    from paperatlas.organize import phrases

    corpus = topic_corpus()
    serial = TreeBuilder(TreeSettings(min_size=5), workers=1).build("t", corpus)
    monkeypatch.setattr(phrases, "PARALLEL_CHARS", 100)  # tokenize in parts, too
    again = topic_corpus()  # a fresh corpus: nothing counted yet
    parallel = TreeBuilder(TreeSettings(min_size=5), workers=3, parallel_min=50).build(
        "t", again)
    assert len(serial.nodes) > 5
    assert tree_shape(parallel) == tree_shape(serial)
    assert (again.phrases.matrix != corpus.phrases.matrix).nnz == 0


def test_tokens_read_in_parts_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from paperatlas.organize import phrases

    texts = ["Graph neural networks, message passing.", "", "Protein folding kinetics",
             "3D graph networks of 100B tokens"] * 5
    with_nul = [*texts, "Protein folding\x00kinetics"]  # read one text at a time
    whole = [count_phrases(t, t, stop_words=stop_words(), min_df=1) for t in (texts, with_nul)]
    monkeypatch.setattr(phrases, "PARALLEL_CHARS", 10)
    with using_threads(3):
        parts = [count_phrases(t, t, stop_words=stop_words(), min_df=1)
                 for t in (texts, with_nul)]
    for a, b in zip(parts, whole, strict=True):
        assert (a.vocab == b.vocab).all() and (a.matrix != b.matrix).nnz == 0
    assert "passing protein" not in whole[0].vocab.tolist()  # texts do not run together
    assert whole[1].matrix[-1].sum() == whole[1].matrix[2].sum()  # NUL: a space


def test_knn_graph_on_threads_is_the_same() -> None:
    rng = np.random.default_rng(5)
    feats = normalize_rows(rng.standard_normal((500, 16)))
    serial = knn_graph(feats, 9, block=128)
    with using_threads(3):
        threaded = knn_graph(feats, 9, block=128)
    assert serial[0] == threaded[0] and (serial[1] == threaded[1]).all()


@pytest.mark.parametrize("max_children", [2, 3, 10])
def test_leiden_runs_in_processes_choose_what_serial_runs_choose(max_children: int) -> None:
    rng = np.random.default_rng(7)
    centers = normalize_rows(rng.standard_normal((12, 24)))
    feats = normalize_rows(np.repeat(centers, 40, axis=0)
                           + 0.35 * rng.standard_normal((480, 24)))
    serial = LeidenClusterer(parallel_min=10**9).split(feats, max_children=max_children,
                                                       min_size=5, seed=3)
    for workers in (2, 3):
        with using_threads(workers):
            forked = LeidenClusterer(parallel_min=0).split(feats, max_children=max_children,
                                                           min_size=5, seed=3)
        assert (forked == serial).all()
    assert serial.max() + 1 <= max_children and (max_children < 10 or serial.max() >= 1)


def _square_plus(shared: int, item: int) -> tuple[int, int]:
    import os

    return item * item + shared, os.getpid()


def test_fork_map_keeps_order_and_uses_workers() -> None:
    import gc
    import os

    from paperatlas.organize.parallel import fork_map

    items = list(range(7))
    got = fork_map(_square_plus, 10, items, 3, sizes=[1, 5, 2, 8, 1, 1, 3])
    assert [v for v, _ in got] == [i * i + 10 for i in items]
    pids = {p for _, p in got}
    assert os.getpid() in pids and len(pids) > 1  # this process takes a share
    assert [v for v, _ in fork_map(_square_plus, 0, items, 1)] == [i * i for i in items]
    assert gc.get_freeze_count() == 0
    gc.freeze()  # a caller's freeze is left as it was
    try:
        frozen = gc.get_freeze_count()
        fork_map(_square_plus, 0, items, 2)
        assert gc.get_freeze_count() > frozen // 2  # (some frozen objects may be freed)
    finally:
        gc.unfreeze()


def _reference_counts(titles: list[str], texts: list[str], stop: frozenset[str],
                      min_df: int, title_weight: int = 2) -> dict[str, dict[int, float]]:
    """Phrase -> {paper: count}, by brute force over every span of 1-3 words."""
    from paperatlas.organize.phrases import tokens_of

    found: dict[str, dict[int, float]] = {}
    for weight, segs in ((title_weight, titles), (1, texts)):
        for paper, seg in enumerate(segs):
            toks = tokens_of(seg)
            for i in range(len(toks)):
                for j in range(i + 1, min(i + 3, len(toks)) + 1):
                    span = toks[i:j]
                    if any(t in stop or not t[0].isalnum() for t in span):
                        break
                    per = found.setdefault(" ".join(span), {})
                    per[paper] = per.get(paper, 0.0) + weight
    return {p: d for p, d in found.items() if len(d) >= min_df}


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(st.lists(st.sampled_from(["graph", "neural", "net", "the", "of", ",",
                                               "protein", "fold", "3d", "."]), max_size=12),
                     min_size=1, max_size=8),
       min_df=st.integers(1, 3))
def test_phrase_counts_are_the_brute_force_counts(docs: list[list[str]], min_df: int) -> None:
    texts = [" ".join(d) for d in docs]
    titles = [" ".join(d[:3]) for d in docs]
    stop = frozenset({"the", "of"})
    got = count_phrases(titles, texts, stop_words=stop, min_df=min_df)
    want = _reference_counts(titles, texts, stop, min_df)
    assert sorted(got.vocab.tolist()) == sorted(want)
    dense = got.matrix.toarray()
    for col, phrase in enumerate(got.vocab.tolist()):
        assert {p: v for p, v in enumerate(dense[:, col]) if v} == want[phrase]


def _fail_on_three(shared: int, item: int) -> int:
    if item == 3:
        raise ValueError(f"item {item} failed")
    return item


def test_fork_map_raises_a_worker_error_here() -> None:
    from paperatlas.organize.parallel import fork_map

    with pytest.raises(ValueError, match="item 3 failed"):
        fork_map(_fail_on_three, 0, list(range(6)), 2, sizes=[9, 1, 1, 1, 1, 1])  # 3: forked
    with pytest.raises(ValueError, match="item 3 failed"):
        fork_map(_fail_on_three, 0, list(range(6)), 2, sizes=[1, 1, 1, 9, 1, 1])  # 3: here


def test_phrase_counts_by_small_chunks_and_key_ranges_are_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from paperatlas.organize import phrases

    rng = np.random.default_rng(11)
    words = [f"w{i}x" for i in range(12)] + ["the", "of", ",", "."]
    docs = [rng.choice(words, int(rng.integers(0, 30))).tolist() for _ in range(300)]
    texts = [" ".join(d) for d in docs]
    titles = [" ".join(d[:4]) for d in docs]
    stop = frozenset({"the", "of"})
    whole = count_phrases(titles, texts, stop_words=stop, min_df=3)
    monkeypatch.setattr(phrases, "CHUNK_PAPERS", 7)  # 43 chunks
    monkeypatch.setattr(phrases, "RANGE_POSITIONS", 40)  # hundreds of key ranges
    monkeypatch.setattr(phrases, "MAX_RANGES", 10**6)
    with using_threads(2):
        parts = count_phrases(titles, texts, stop_words=stop, min_df=3)
    monkeypatch.setattr(phrases, "MAX_RANGES", 3)  # ranges of more positions
    with using_threads(2):
        wide = count_phrases(titles, texts, stop_words=stop, min_df=3)
    for got in (parts, wide):
        assert (got.vocab == whole.vocab).all() and (got.words == whole.words).all()
        for name in ("data", "indices", "indptr"):
            assert np.array_equal(getattr(got.matrix, name), getattr(whole.matrix, name))
    want = _reference_counts(titles, texts, stop, 3)
    assert sorted(parts.vocab.tolist()) == sorted(want) and max(parts.words) == 3
    dense = parts.matrix.toarray()
    for col, phrase in enumerate(parts.vocab.tolist()):
        assert {p: v for p, v in enumerate(dense[:, col]) if v} == want[phrase]


def test_key_ranges_cover_every_prefix_once() -> None:
    from itertools import pairwise

    from paperatlas.organize.ngrams import key_ranges

    weights = np.array([5, 0, 1, 30, 2, 2, 0, 7])
    ranges = key_ranges(weights, 6)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(weights)
    assert all(a < b for a, b in ranges)
    assert all(b == c for (_, b), (c, _) in pairwise(ranges))
    assert all(weights[a:b].sum() <= 6 or b == a + 1 for a, b in ranges)
    assert (3, 4) in ranges and len(ranges) == 4  # a heavy prefix alone, never cut
    assert key_ranges(np.zeros(4, dtype=np.int64), 6) == [] == key_ranges(weights[:0], 6)
