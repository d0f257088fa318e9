"""How a topic tree compares with a gold labelling.

The gold labelling (a TSV file read by :func:`read_gold`) gives each paper one or more
label paths such as ``("Vision", "Segmentation")``. :func:`evaluate` scores a tree against
it: clustering agreement per level (NMI, ARI), the best-matching node per gold category
(F1), and, given the callables, whether node labels find their own papers (label
fidelity) and whether a title walks down to its paper (navigability).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from paperatlas.errors import InvalidOptionError, ParseError
from paperatlas.records.trees import UNSORTED, EvalReport, Tree

#: Predicted cluster of a paper with no link to a topic node.
UNASSIGNED = "unassigned"

LabelPath = tuple[str, ...]


def read_gold(path: str | Path) -> dict[str, list[LabelPath]]:
    """Read a gold labelling: ``key<TAB>label/sub-label/...`` lines, several per key allowed.

    Blank lines and lines starting with ``#`` are skipped; label parts are stripped and a
    key's duplicate paths dropped, first occurrence kept. Raises :class:`ParseError` naming
    the file (and line) for a missing file, a malformed line or a file with no labels.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ParseError(f"cannot read gold file: {exc.strerror or exc}", path=name) from exc
    gold: dict[str, list[LabelPath]] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "\t" not in raw:
            raise ParseError("expected key<TAB>label path", path=name, line=lineno)
        key, _, labels = raw.partition("\t")
        key, labels = key.strip(), labels.strip()
        if not key:
            raise ParseError("empty key", path=name, line=lineno)
        if not labels:
            raise ParseError(f"empty label path for key {key!r}", path=name, line=lineno)
        parts = tuple(p.strip() for p in labels.split("/"))
        if not all(parts):
            raise ParseError(f"empty part in label path {labels!r}", path=name, line=lineno)
        paths = gold.setdefault(key, [])
        if parts not in paths:
            paths.append(parts)
    if not gold:
        raise ParseError("no gold labels found", path=name)
    return gold


def _f1(a: set[int], b: set[int]) -> float:
    """F1 of two sets (harmonic mean of precision and recall); 0 when either is empty."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def _prefixes(paths: list[LabelPath], level: int) -> set[LabelPath]:
    """The distinct length-``level`` prefixes of the paths at least that deep."""
    return {p[:level] for p in paths if len(p) >= level}


def _assigned_nodes(tree: Tree) -> set[int]:
    """Ids of the nodes a paper counts as assigned to: not the root, not unsorted."""
    return {n.id for n in tree.nodes.values() if n.id != tree.root and n.kind != UNSORTED}


def _predicted_paths(tree: Tree, papers: set[int]) -> dict[int, list[int]]:
    """``paper id -> node ids from the first level down to its best topic link``.

    The best link is the first of :meth:`Tree.paper_nodes` that is a topic node; papers
    with none (or not in the tree) get an empty path.
    """
    topic = _assigned_nodes(tree)
    links = tree.paper_nodes()
    out: dict[int, list[int]] = {}
    for pid in papers:
        best = next((nid for nid in links.get(pid, []) if nid in topic), None)
        out[pid] = [] if best is None else [n.id for n in tree.path(best)]
    return out


def _level_label(path: list[int], level: int) -> str:
    """The predicted cluster at ``level`` (1-based): the path's node there, else its
    deepest node; ``"unassigned"`` for an empty path."""
    if not path:
        return UNASSIGNED
    return str(path[min(level, len(path)) - 1])


def _level_labels(gold: Mapping[int, list[LabelPath]], predicted: Mapping[int, list[int]],
                  level: int) -> tuple[list[str], list[str]]:
    """Gold and predicted labels at ``level`` of the papers single-labelled there.

    A paper counts when its paths at least ``level`` deep share exactly one prefix of that
    length. Papers are taken in id order, so the result does not depend on dict order.
    """
    truth: list[str] = []
    pred: list[str] = []
    for pid in sorted(gold):
        prefixes = _prefixes(gold[pid], level)
        if len(prefixes) == 1:
            truth.append("/".join(next(iter(prefixes))))
            pred.append(_level_label(predicted[pid], level))
    return truth, pred


def _ancestors(tree: Tree) -> dict[int, list[int]]:
    """``node id -> the node and its non-root ancestors`` (empty for the root)."""
    return {nid: [n.id for n in tree.path(nid)] for nid in tree.nodes}


def _subtree_members(tree: Tree, papers: set[int] | None = None) -> dict[int, set[int]]:
    """``non-root node id -> papers in its subtree``, restricted to ``papers`` if given.

    Computed in one pass over the links (each paper added to its nodes' ancestors)
    instead of one subtree walk per node.
    """
    up = _ancestors(tree)
    out: dict[int, set[int]] = {nid: set() for nid in tree.nodes if nid != tree.root}
    for node in tree.nodes.values():
        members = node.papers.keys() if papers is None else node.papers.keys() & papers
        for nid in up[node.id]:
            out[nid].update(members)
    return out


def _category_papers(gold: Mapping[int, list[LabelPath]]) -> dict[str, set[int]]:
    """``"A/B" -> papers with a gold path starting with A/B`` for every gold prefix."""
    out: dict[str, set[int]] = {}
    for pid, paths in gold.items():
        for path in paths:
            for depth in range(1, len(path) + 1):
                out.setdefault("/".join(path[:depth]), set()).add(pid)
    return out


def _category_f1(categories: Mapping[str, set[int]],
                 subtrees: Mapping[int, set[int]]) -> dict[str, float]:
    """Best F1 of each category against any node's subtree (0 if no node overlaps it)."""
    containing: dict[int, list[int]] = {}
    for nid, members in subtrees.items():
        for pid in members:
            containing.setdefault(pid, []).append(nid)
    out: dict[str, float] = {}
    for name, cat in categories.items():
        overlap = Counter(nid for pid in cat for nid in containing.get(pid, []))
        out[name] = max((2 * inter / (len(cat) + len(subtrees[nid]))
                         for nid, inter in overlap.items()), default=0.0)
    return out


def _label_fidelity(tree: Tree, search: Callable[[str, int], list[int]],
                    k_max: int) -> tuple[float | None, dict[int, float]]:
    """Mean share of a node's top-k search hits (its label as query) inside its subtree.

    Over topic nodes with a label and papers, k = min(``k_max``, subtree size); also the
    mean per level (root = 0). ``None`` when no node qualifies.
    """
    subtrees = _subtree_members(tree)
    topic = _assigned_nodes(tree)
    by_level: dict[int, list[float]] = {}
    for node, depth in tree.walk():
        members = subtrees.get(node.id, set())
        if node.id not in topic or not node.label.strip() or not members:
            continue
        k = min(k_max, len(members))
        hits = set(search(node.label, k)[:k])
        by_level.setdefault(depth, []).append(len(hits & members) / k)
    scores = [s for level in by_level.values() for s in level]
    mean = float(np.mean(scores)) if scores else None
    return mean, {level: float(np.mean(v)) for level, v in sorted(by_level.items())}


def _navigability(tree: Tree, papers: list[int], embed: Callable[[list[str]], np.ndarray],
                  title_vectors: Mapping[int, np.ndarray]) -> tuple[float | None, int]:
    """Share of papers whose title, walked greedily down the labels, ends at a node the
    paper is linked to; and how many papers were walked.

    From the root, each step moves to the topic child whose label vector has the highest
    dot product with the title vector, until a node has no topic children.
    """
    ids = sorted(nid for nid in tree.nodes if nid != tree.root)
    vectors = np.asarray(embed([tree.nodes[nid].label for nid in ids]), dtype=float)
    row = {nid: i for i, nid in enumerate(ids)}
    kids = {nid: [c for c in cs if tree.nodes[c].kind != UNSORTED]
            for nid, cs in tree.child_ids().items()}
    walked = [pid for pid in papers if pid in title_vectors]
    if not walked:
        return None, 0
    titles = np.vstack([np.asarray(title_vectors[pid], dtype=float) for pid in walked])
    successes = 0
    frontier: dict[int, np.ndarray] = {tree.root: np.arange(len(walked))}
    while frontier:
        step: dict[int, list[np.ndarray]] = {}
        for nid, rows in frontier.items():
            children = kids[nid]
            if not children:
                linked = tree.nodes[nid].papers
                successes += sum(1 for r in rows if walked[int(r)] in linked)
                continue
            scores = titles[rows] @ vectors[[row[c] for c in children]].T
            choice = np.argmax(scores, axis=1)
            for i, child in enumerate(children):
                picked = rows[choice == i]
                if picked.size:
                    step.setdefault(child, []).append(picked)
        frontier = {nid: np.concatenate(parts) for nid, parts in step.items()}
    return successes / len(walked), len(walked)


def evaluate(tree: Tree, gold: Mapping[int, list[LabelPath]], *,
             search: Callable[[str, int], list[int]] | None = None,
             embed: Callable[[list[str]], np.ndarray] | None = None,
             title_vectors: Mapping[int, np.ndarray] | None = None,
             fidelity_k: int = 100) -> EvalReport:
    """Compare ``tree`` with ``gold`` (paper id -> label paths); the gold papers are the
    collection evaluated.

    - ``assigned_share``: gold papers linked to a topic node (not the root, not unsorted).
    - ``nmi``/``ari`` per level 1..max gold depth, over papers single-labelled at that
      level (levels with fewer than 2 such papers are skipped). A paper's predicted
      cluster is the node at that level on the path to its best topic link (the deepest
      node if the path is shorter); papers with no topic link form one cluster.
    - ``category_f1``: per gold prefix ("A", "A/B"), the best F1 against the gold papers
      in any non-root node's subtree; ``mean_f1`` is their plain mean.
    - ``label_fidelity`` (with ``search``) and ``navigability`` (with ``embed`` and
      ``title_vectors``): see :func:`_label_fidelity` and :func:`_navigability`.
    """
    if fidelity_k < 1:
        raise InvalidOptionError("fidelity_k", fidelity_k, ["a positive integer"])
    papers = set(gold)
    topic = _assigned_nodes(tree)
    assigned = {pid for nid in topic for pid in tree.nodes[nid].papers} & papers
    predicted = _predicted_paths(tree, papers)
    report = EvalReport(papers=len(gold), gold_papers=len(gold),
                        assigned_share=len(assigned) / len(gold) if gold else 0.0)

    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    depth = max((len(p) for paths in gold.values() for p in paths), default=0)
    used: dict[int, int] = {}
    for level in range(1, depth + 1):
        truth, pred = _level_labels(gold, predicted, level)
        used[level] = len(truth)
        if len(truth) < 2:
            continue
        report.nmi[level] = float(normalized_mutual_info_score(truth, pred))
        report.ari[level] = float(adjusted_rand_score(truth, pred))
    report.extra["nmi_papers"] = used
    report.extra["clusters_level1"] = len({_level_label(p, 1) for p in predicted.values()})

    report.category_f1 = _category_f1(_category_papers(gold), _subtree_members(tree, papers))
    f1s = list(report.category_f1.values())
    report.mean_f1 = float(np.mean(f1s)) if f1s else 0.0

    if search is not None:
        report.label_fidelity, by_level = _label_fidelity(tree, search, fidelity_k)
        report.extra["label_fidelity_by_level"] = by_level
    if embed is not None and title_vectors is not None:
        in_tree = sorted(papers & tree.all_papers())
        report.navigability, walked = _navigability(tree, in_tree, embed, title_vectors)
        report.extra["navigability_papers"] = walked
    return report
