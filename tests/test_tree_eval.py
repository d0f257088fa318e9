"""Tree evaluation against a gold labelling: reading the gold file and every score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from paperatlas.errors import InvalidOptionError, ParseError
from paperatlas.organize.evaluate import evaluate, read_gold
from paperatlas.records.trees import ROOT, UNSORTED, Node, Tree

NodeSpec = tuple[int, int, str, dict[int, float]]


def make_tree(*specs: NodeSpec, unsorted: tuple[int, ...] = ()) -> Tree:
    """A tree with root 0 and one node per ``(id, parent, label, papers)``."""
    nodes = {0: Node(id=0, parent=None, kind=ROOT)}
    for nid, parent, label, papers in specs:
        kind = UNSORTED if nid in unsorted else "topic"
        nodes[nid] = Node(id=nid, parent=parent, label=label, papers=dict(papers), kind=kind)
    return Tree(name="t", nodes=nodes, root=0, next_id=max(nodes))


def links(*pids: int, score: float = 0.5) -> dict[int, float]:
    return dict.fromkeys(pids, score)


# --- read_gold -------------------------------------------------------------------------

def test_read_gold_multi_line_keys_comments_and_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "gold.tsv"
    path.write_text(
        "# key<TAB>label path\n"
        "\n"
        "p1\tVision / Segmentation\n"
        "  p2 \t NLP\n"
        "p1\tNLP/Parsing\n"
        "   # indented comment\n"
        "p1\tVision/Segmentation\n"  # duplicate: dropped
        "p3\tVision\n",
        encoding="utf-8",
    )
    gold = read_gold(path)
    assert gold == {
        "p1": [("Vision", "Segmentation"), ("NLP", "Parsing")],
        "p2": [("NLP",)],
        "p3": [("Vision",)],
    }
    assert list(gold) == ["p1", "p2", "p3"]
    assert read_gold(str(path)) == gold


@pytest.mark.parametrize("bad", ["p2 NLP", "\tNLP", "p2\t  ", "p2\tNLP//Parsing", "p2\tNLP/"])
def test_read_gold_malformed_line_names_file_and_line(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "gold.tsv"
    path.write_text(f"# header\np1\tVision\n{bad}\np3\tNLP\n", encoding="utf-8")
    with pytest.raises(ParseError) as info:
        read_gold(path)
    assert info.value.path == str(path)
    assert info.value.line == 3
    assert f"{path}:3" in str(info.value)


def test_read_gold_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.tsv"
    with pytest.raises(ParseError) as info:
        read_gold(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)


def test_read_gold_without_labels(tmp_path: Path) -> None:
    path = tmp_path / "gold.tsv"
    path.write_text("# only a comment\n\n", encoding="utf-8")
    with pytest.raises(ParseError, match="no gold labels") as info:
        read_gold(path)
    assert info.value.path == str(path)


# --- clustering agreement --------------------------------------------------------------

TWO_LEVEL_GOLD = {
    1: [("A", "A1")], 2: [("A", "A1")], 3: [("A", "A2")], 4: [("A", "A2")],
    5: [("B", "B1")], 6: [("B", "B1")], 7: [("B", "B2")], 8: [("B", "B2")],
}


def test_perfect_tree_scores_one() -> None:
    tree = make_tree(
        (1, 0, "A", {}), (2, 0, "B", {}),
        (3, 1, "A1", links(1, 2)), (4, 1, "A2", links(3, 4)),
        (5, 2, "B1", links(5, 6)), (6, 2, "B2", links(7, 8)),
    )
    report = evaluate(tree, TWO_LEVEL_GOLD)
    assert report.papers == report.gold_papers == 8
    assert report.assigned_share == 1.0
    assert report.nmi == pytest.approx({1: 1.0, 2: 1.0})
    assert report.ari == pytest.approx({1: 1.0, 2: 1.0})
    assert set(report.category_f1) == {"A", "B", "A/A1", "A/A2", "B/B1", "B/B2"}
    assert report.mean_f1 == pytest.approx(1.0)
    assert report.extra["clusters_level1"] == 2
    assert report.label_fidelity is None and report.navigability is None


def test_everything_in_one_node_has_zero_nmi() -> None:
    tree = make_tree((1, 0, "all", links(*TWO_LEVEL_GOLD)))
    report = evaluate(tree, TWO_LEVEL_GOLD)
    assert report.assigned_share == 1.0
    assert report.nmi == pytest.approx({1: 0.0, 2: 0.0})
    assert report.ari == pytest.approx({1: 0.0, 2: 0.0})
    assert report.extra["clusters_level1"] == 1
    # "A" (4 papers) against the node's 8: F1 = 2*4/12; "A/A1" (2): 2*2/10.
    assert report.category_f1["A"] == pytest.approx(2 / 3)
    assert report.category_f1["A/A1"] == pytest.approx(0.4)
    assert report.mean_f1 == pytest.approx((2 * (2 / 3) + 4 * 0.4) / 6)


def test_unassigned_papers_lower_assigned_share_and_form_one_cluster() -> None:
    gold = {pid: [("A",)] for pid in (1, 2, 3)} | {pid: [("B",)] for pid in (4, 5, 6, 7, 8)}
    tree = make_tree(
        (1, 0, "A", links(1, 2)),
        (2, 0, "B", links(4, 5)),
        (9, 0, "unsorted", links(3, 6)),
        unsorted=(9,),
    )
    tree.nodes[0].papers = links(8)  # linked to the root only: not assigned
    # paper 7 is not in the tree at all
    report = evaluate(tree, gold)
    assert report.papers == 8
    assert report.assigned_share == pytest.approx(4 / 8)
    assert report.extra["clusters_level1"] == 3
    truth = ["A", "A", "A", "B", "B", "B", "B", "B"]
    pred = ["1", "1", "u", "2", "2", "u", "u", "u"]
    assert report.nmi[1] == pytest.approx(normalized_mutual_info_score(truth, pred))
    assert report.ari[1] == pytest.approx(adjusted_rand_score(truth, pred))
    assert report.nmi[1] < 1.0


def test_best_topic_link_decides_the_predicted_cluster() -> None:
    gold = {1: [("A",)], 2: [("A",)], 3: [("B",)], 4: [("B",)]}
    tree = make_tree(
        (1, 0, "A", {1: 0.9, 2: 0.9, 3: 0.2}),
        (2, 0, "B", {3: 0.8, 4: 0.9}),
        (9, 0, "unsorted", {1: 0.99}),  # better than its topic link, but not a topic
        unsorted=(9,),
    )
    report = evaluate(tree, gold)
    assert report.nmi[1] == pytest.approx(1.0)
    assert report.extra["clusters_level1"] == 2


def test_multi_label_papers_leave_nmi_but_count_in_f1() -> None:
    gold = {1: [("A",)], 2: [("A",)], 3: [("B",)], 4: [("B",)], 5: [("A",), ("B",)]}
    tree = make_tree(
        (1, 0, "A", {1: 0.9, 2: 0.9, 5: 0.9}),
        (2, 0, "B", {3: 0.9, 4: 0.9, 5: 0.1}),
    )
    report = evaluate(tree, gold)
    assert report.extra["nmi_papers"] == {1: 4}
    assert report.nmi[1] == pytest.approx(1.0)
    assert report.category_f1 == pytest.approx({"A": 1.0, "B": 1.0})


def test_multi_label_at_level_two_only() -> None:
    gold = {
        1: [("A", "X")], 2: [("A", "X")], 3: [("A", "Y")], 4: [("B", "Z")],
        5: [("B", "Z")], 6: [("A", "X"), ("A", "Y")],
    }
    tree = make_tree(
        (1, 0, "A", {}), (2, 0, "B", links(4, 5)),
        (3, 1, "X", links(1, 2, 6)), (4, 1, "Y", links(3)),
    )
    report = evaluate(tree, gold)
    assert report.extra["nmi_papers"] == {1: 6, 2: 5}
    assert report.nmi[1] == pytest.approx(1.0)
    assert report.nmi[2] == pytest.approx(1.0)
    assert report.category_f1["A/X"] == pytest.approx(2 * 3 / (3 + 3))
    assert report.category_f1["A/Y"] == pytest.approx(2 * 1 / (2 + 1))


def test_level_two_nmi_with_a_shallow_branch() -> None:
    tree = make_tree(
        (1, 0, "A", {}), (2, 0, "B", links(5, 6, 7, 8)),  # B is not split
        (3, 1, "A1", links(1, 2, 3)), (4, 1, "A2", links(4)),  # paper 3 is misplaced
    )
    report = evaluate(tree, TWO_LEVEL_GOLD)
    assert report.nmi[1] == pytest.approx(1.0)
    truth = ["A/A1", "A/A1", "A/A2", "A/A2", "B/B1", "B/B1", "B/B2", "B/B2"]
    pred = ["3", "3", "3", "4", "2", "2", "2", "2"]
    assert report.nmi[2] == pytest.approx(normalized_mutual_info_score(truth, pred))
    assert report.ari[2] == pytest.approx(adjusted_rand_score(truth, pred))
    assert 0.0 < report.nmi[2] < 1.0


def test_level_with_fewer_than_two_papers_is_skipped() -> None:
    gold = {1: [("A",)], 2: [("B", "B1")], 3: [("B",)]}
    tree = make_tree((1, 0, "A", links(1)), (2, 0, "B", links(2, 3)))
    report = evaluate(tree, gold)
    assert set(report.nmi) == {1}
    assert report.extra["nmi_papers"] == {1: 3, 2: 1}


def test_f1_counts_only_gold_papers_in_a_subtree() -> None:
    gold = {1: [("A",)], 2: [("A",)], 3: [("B",)]}
    tree = make_tree((1, 0, "A", links(1, 2, 100, 101)), (2, 0, "B", links(3, 102)))
    report = evaluate(tree, gold)  # papers 100-102 are outside the evaluated collection
    assert report.category_f1 == pytest.approx({"A": 1.0, "B": 1.0})
    assert report.papers == 3

# --- label fidelity --------------------------------------------------------------------

FIDELITY_TREE = make_tree(
    (1, 0, "alpha", links(1)),
    (3, 1, "alpha sub", links(2, 3)),
    (2, 0, "beta", links(4, 5)),
    (4, 0, "", links(7)),  # no label: skipped
    (5, 0, "gamma", {}),  # no papers: skipped
    (9, 0, "unsorted", links(6)),  # unsorted: skipped
    unsorted=(9,),
)
RANKINGS = {"alpha": [1, 9, 2, 3], "alpha sub": [2, 8, 3], "beta": [4, 1, 5]}


def test_label_fidelity_with_a_fixed_ranking() -> None:
    calls: list[tuple[str, int]] = []

    def search(query: str, k: int) -> list[int]:
        calls.append((query, k))
        return RANKINGS.get(query, [])  # deliberately ignores k

    gold = {pid: [("X",)] for pid in range(1, 8)}
    report = evaluate(FIDELITY_TREE, gold, search=search)
    assert sorted(calls) == [("alpha", 3), ("alpha sub", 2), ("beta", 2)]
    # alpha: {1, 2} of [1, 9, 2]; alpha sub: {2} of [2, 8]; beta: {4} of [4, 1]
    assert report.label_fidelity == pytest.approx((2 / 3 + 1 / 2 + 1 / 2) / 3)
    assert report.extra["label_fidelity_by_level"] == pytest.approx(
        {1: (2 / 3 + 1 / 2) / 2, 2: 1 / 2})


def test_label_fidelity_k_caps_the_search() -> None:
    def search(query: str, k: int) -> list[int]:
        return RANKINGS[query][:k]

    gold = {pid: [("X",)] for pid in range(1, 8)}
    assert evaluate(FIDELITY_TREE, gold, search=search, fidelity_k=1).label_fidelity == 1.0
    with pytest.raises(InvalidOptionError):
        evaluate(FIDELITY_TREE, gold, search=search, fidelity_k=0)


# --- navigability ----------------------------------------------------------------------

LABEL_VECTORS = {
    "left": (1.0, 0.0), "right": (0.0, 1.0), "left-up": (0.8, 0.6), "left-down": (0.8, -0.6),
    "misc": (-1.0, 0.0), "right-misc": (0.0, 1.0),
}


def test_navigability_with_two_d_vectors() -> None:
    tree = make_tree(
        (1, 0, "left", links(4)),
        (2, 0, "right", links(3)),
        (3, 1, "left-up", links(1, 2)),
        (4, 1, "left-down", {}),
        (5, 0, "misc", links(5, 8)),  # unsorted: never walked into
        (6, 2, "right-misc", links(9)),  # right's only child is unsorted: walks stop at right
        unsorted=(5, 6),
    )
    calls: list[list[str]] = []

    def embed(labels: list[str]) -> np.ndarray:
        calls.append(list(labels))
        return np.array([LABEL_VECTORS[label] for label in labels])

    titles = {
        1: np.array([0.9, 0.3]),  # left -> left-up: linked there, success
        2: np.array([0.9, -0.3]),  # left -> left-down: linked to left-up, failure
        3: np.array([0.1, 0.99]),  # right (stops): success
        4: np.array([0.99, 0.1]),  # left -> left-up: linked to left itself, failure
        5: np.array([-1.0, 0.0]),  # right, not "misc": failure
        9: np.array([0.0, 1.0]),  # right, not its unsorted child: failure
        6: np.array([1.0, 0.0]),  # in gold, not in the tree: not walked
        8: np.array([-1.0, 0.0]),  # in the tree, not in gold: not walked
    }
    gold = {pid: [("X",)] for pid in (1, 2, 3, 4, 5, 6, 7, 9)}  # 7: no title vector
    report = evaluate(tree, gold, embed=embed, title_vectors=titles)
    assert len(calls) == 1 and sorted(calls[0]) == sorted(LABEL_VECTORS)
    assert report.extra["navigability_papers"] == 6
    assert report.navigability == pytest.approx(2 / 6)


def test_navigability_needs_both_embed_and_vectors() -> None:
    tree = make_tree((1, 0, "left", links(1)))
    gold = {1: [("X",)]}

    def embed(labels: list[str]) -> np.ndarray:
        return np.array([LABEL_VECTORS[label] for label in labels])

    report = evaluate(tree, gold, embed=embed)
    assert report.navigability is None and "navigability_papers" not in report.extra
    report = evaluate(tree, gold, embed=embed, title_vectors={1: np.array([1.0, 0.0])})
    assert report.navigability == 1.0
