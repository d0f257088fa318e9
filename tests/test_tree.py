"""Topic trees through the library: build, update, edits that last, exports, eval, CLI."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import InvalidOptionError, NotFoundError, PaperatlasError
from paperatlas.organize.edit_types import Delete, Lock, Merge, Move, Pin, Rename, Split, parse_edit
from paperatlas.records.trees import ROOT, UNSORTED, Tree, TreeSettings
from test_semantic import HashingEmbedder
from test_tree_llm import StandIn, server  # noqa: F401  (the stand-in LLM server fixture)

VOCAB = {
    "protein": "protein folding structure residue enzyme binding ligand sequence amino "
               "kinase receptor membrane peptide helix domain mutation assay cell",
    "graph": "graph node edge network vertex spectral clustering community random walk "
             "embedding neighbor adjacency laplacian subgraph motif message passing",
    "galaxy": "galaxy star telescope redshift cosmic dark matter halo supernova stellar "
              "orbit planet luminosity spectra quasar survey nebula cluster",
    "ocean": "ocean salinity current tide coral reef plankton marine sediment coastal "
             "wave temperature upwelling estuary fishery algae kelp sonar",
}
COMMON = "analysis results study method data approach"


def papers_of(topic: str, n: int, start: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(f"{topic}-{start}")
    words = VOCAB[topic].split()
    out = []
    for i in range(start, start + n):
        title = " ".join(rng.sample(words, 4)) + f" {topic} study {i}"
        abstract = " ".join(rng.choices(words, k=40)) + " " + COMMON
        out.append((title.capitalize(), abstract))
    return out


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["title", "abstract"])
        w.writerows(rows)
    return path


def topic_of(lib: Library, pid: int) -> str:
    title = lib.store.papers.texts([pid])[pid][1]
    return next(t for t in VOCAB if f" {t} study" in title)


@pytest.fixture
def tlib(tmp_path: Path) -> Iterator[Library]:
    """Three clear topics of 40 papers each, in collection "main"."""
    lib = Library(tmp_path / "t.db", embedding_model=HashingEmbedder("hash-256", 256))
    rows = papers_of("protein", 40) + papers_of("graph", 40) + papers_of("galaxy", 40)
    lib.ingest([write_csv(tmp_path / "in" / "base.csv", rows)], collection="main")
    yield lib
    lib.close()


def first_level_purity(lib: Library, tree: Tree) -> float:
    hits = total = 0
    for node in tree.children(tree.root):
        if node.kind == UNSORTED:
            continue
        topics = [topic_of(lib, p) for p in tree.subtree_papers(node.id)]
        hits += max(topics.count(t) for t in set(topics))
        total += len(topics)
    return hits / total


def test_build_assigns_every_paper_and_separates_topics(tlib: Library) -> None:
    report = tlib.trees.build("t", collection="main", min_size=4)
    tree = tlib.trees.get("t")
    assert report.papers == 120 == len(tree.all_papers())
    assert all(tree.nodes[n].kind != UNSORTED for v in tree.paper_nodes().values() for n in v)
    assert 2 <= len(tree.children(tree.root)) <= 10
    assert first_level_purity(tlib, tree) > 0.95
    for node, depth in tree.walk():
        if node.kind == ROOT:
            continue
        assert 1 <= len(node.label.split()) <= 7 and node.keywords
        siblings = [c.label.lower() for c in tree.children(node.parent or 0)]
        assert siblings.count(node.label.lower()) == 1
        assert node.representative and depth <= 3


def test_build_is_deterministic(tlib: Library) -> None:
    tlib.trees.build("a", min_size=4)
    tlib.trees.build("b", min_size=4)
    a, b = tlib.trees.get("a"), tlib.trees.get("b")
    shape = [(n.id, n.parent, n.label, sorted(n.papers)) for n in
             sorted(a.nodes.values(), key=lambda n: n.id)]
    assert shape[1:] == [(n.id, n.parent, n.label, sorted(n.papers)) for n in
                         sorted(b.nodes.values(), key=lambda n: n.id)][1:]


def test_update_places_new_papers_and_keeps_ids(tlib: Library, tmp_path: Path) -> None:
    tlib.trees.build("t", collection="main", min_size=4)
    before = tlib.trees.get("t")
    old = {n.id: (n.parent, n.label) for n in before.nodes.values()}
    tlib.ingest([write_csv(tmp_path / "in" / "more.csv", papers_of("graph", 6, start=100))],
                collection="main")
    report = tlib.trees.update("t")
    after = tlib.trees.get("t")
    assert len(report.added) == 6 and report.removed == 0
    graph_branch = {n.id for n in after.children(after.root)
                    if topic_of(tlib, next(iter(after.subtree_papers(n.id)))) == "graph"}
    for pid, nodes in report.added.items():
        assert {after.path(nodes[0])[0].id} <= graph_branch, pid
    for node_id, (parent, label) in old.items():  # untouched ids, parents, labels stay
        assert after.nodes[node_id].parent == parent and after.nodes[node_id].label == label
    history = tlib.trees.history("t")
    assert history[0]["kind"] == "update" and len(history[0]["added"]) == 6
    assert tlib.trees.update("t").added == {}  # idempotent


def test_unfamiliar_papers_go_to_unsorted_then_become_topics(tlib: Library,
                                                             tmp_path: Path) -> None:
    tlib.trees.build("t", collection="main", min_size=4)
    ids = set(tlib.trees.get("t").nodes)
    tlib.ingest([write_csv(tmp_path / "in" / "o1.csv", papers_of("ocean", 5))], collection="main")
    first = tlib.trees.update("t")
    tree = tlib.trees.get("t")
    box = next(n for n in tree.nodes.values() if n.kind == UNSORTED)
    assert first.unsorted == 5 and set(box.papers) == set(first.added)
    tlib.ingest([write_csv(tmp_path / "in" / "o2.csv", papers_of("ocean", 30, start=50))],
                collection="main")
    second = tlib.trees.update("t")
    tree = tlib.trees.get("t")
    assert second.new_nodes and ids <= set(tree.nodes)
    new_top = [tree.nodes[n] for n in second.new_nodes if tree.nodes[n].parent == tree.root]
    assert new_top and all(topic_of(tlib, p) == "ocean"
                           for n in new_top for p in tree.subtree_papers(n.id))


def test_a_leaf_that_grows_too_large_is_split(tlib: Library, tmp_path: Path) -> None:
    svc = tlib.trees.service
    tlib.index()
    svc.build("t", TreeSettings(max_depth=1, min_size=4, split_size=45, collection="main"))
    before = tlib.trees.get("t")
    tlib.ingest([write_csv(tmp_path / "in" / "g.csv", papers_of("graph", 12, start=200))],
                collection="main")
    report = tlib.trees.update("t")
    tree = tlib.trees.get("t")
    assert report.split_nodes and set(before.nodes) <= set(tree.nodes)
    for node_id in report.split_nodes:
        kids = tree.children(node_id)
        assert len(kids) >= 2 and all(k.id in report.new_nodes for k in kids)


def test_edits_survive_update_and_rebuild(tlib: Library, tmp_path: Path) -> None:
    tlib.trees.build("t", collection="main", min_size=4)
    tree = tlib.trees.get("t")
    tops = sorted(tree.children(tree.root), key=lambda n: n.id)
    leaf = next(n for n, _ in tree.walk() if tree.is_leaf(n.id) and n.parent != tops[0].id
                and n.id not in {t.id for t in tops})
    paper_key = tlib.store.papers.key_of(next(iter(tops[0].papers or
                                                   tree.subtree_papers(tops[0].id))))
    tlib.trees.edit("t", Rename(node=tops[0].id, label="My favourite topic"))
    tlib.trees.edit("t", Pin(paper=paper_key, node=leaf.id))
    tlib.trees.edit("t", Lock(node=tops[1].id))
    locked_label = tlib.trees.get("t").nodes[tops[1].id].label

    def check() -> None:
        t = tlib.trees.get("t")
        assert t.nodes[tops[0].id].label == "My favourite topic"
        assert t.nodes[tops[0].id].label_locked
        assert t.nodes[tops[1].id].label == locked_label
        pid = tlib.store.papers.id_for(paper_key)
        # A leaf re-cut by a rebuild is named through the node that took most of its
        # papers; the edit log follows it.
        pin = next(e for e in tlib.trees.service.edits("t") if e.op == "pin")
        target = pin.args["node"]
        assert t.paper_nodes()[pid] == [target] and pid in t.nodes[target].pinned
        assert topic_of(tlib, next(iter(set(t.nodes[target].papers) - {pid}))) == \
            topic_of(tlib, next(iter(leaf.papers)))

    check()
    tlib.ingest([write_csv(tmp_path / "in" / "x.csv", papers_of("protein", 5, start=300))],
                collection="main")
    tlib.trees.update("t")
    check()
    report = tlib.trees.build("t", collection="main", min_size=4)  # full rebuild
    assert report.edits_applied == 3 and not report.edits_skipped
    check()
    assert [e.op for e in tlib.trees.service.edits("t")] == ["rename", "pin", "lock"]


def test_structural_edits(tlib: Library) -> None:
    tlib.trees.build("t", min_size=4)
    tree = tlib.trees.get("t")
    a, b, c = sorted((n for n in tree.children(tree.root)), key=lambda n: -len(
        tree.subtree_papers(n.id)))[:3]
    b_papers = tree.subtree_papers(b.id)
    tlib.trees.edit("t", Move(node=c.id, parent=a.id))
    assert tlib.trees.get("t").nodes[c.id].parent == a.id
    with pytest.raises(PaperatlasError, match="cannot move"):
        tlib.trees.edit("t", Move(node=a.id, parent=c.id))  # under its own child
    tlib.trees.edit("t", Merge(nodes=(b.id,), into=a.id))
    tree = tlib.trees.get("t")
    assert b.id not in tree.nodes and b_papers <= tree.subtree_papers(a.id)
    leaf = next(n for n, _ in tree.walk() if tree.is_leaf(n.id) and n.parent not in
                (None, tree.root))
    parent, papers = leaf.parent, set(leaf.papers)
    tlib.trees.edit("t", Delete(node=leaf.id))
    tree = tlib.trees.get("t")
    assert leaf.id not in tree.nodes and papers <= set(tree.nodes[parent or 0].papers)
    assert len(tlib.trees.service.edits("t")) == 3  # the failed move is not logged
    tlib.trees.build("flat", min_size=4, max_depth=1)  # leaves of 40: big enough to split
    flat = tlib.trees.get("flat")
    big = max((n for n in flat.nodes.values() if flat.is_leaf(n.id)), key=lambda n: len(n.papers))
    message = tlib.trees.edit("flat", Split(node=big.id))
    assert "split" in message and len(tlib.trees.get("flat").children(big.id)) >= 2
    tlib.trees.build("t", min_size=4)  # rebuild replays what still fits
    tree = tlib.trees.get("t")
    assert b.id not in tree.nodes


def test_bad_edits_change_nothing(tlib: Library) -> None:
    from conftest import dump

    tlib.trees.build("t", min_size=4)
    before = dump(tlib)
    with pytest.raises(NotFoundError, match="no node 999"):
        tlib.trees.edit("t", Rename(node=999, label="x"))
    with pytest.raises(InvalidOptionError, match="rename"):
        tlib.trees.edit("t", parse_edit("explode", {"node": 1}))
    with pytest.raises(PaperatlasError, match="root"):
        tlib.trees.edit("t", Rename(node=tlib.trees.get("t").root, label="x"))
    with pytest.raises(NotFoundError):
        tlib.trees.edit("t", Pin(paper="no-such-paper", node=2))
    with pytest.raises(NotFoundError, match="no tree named 'nope'"):
        tlib.trees.edit("nope", Rename(node=1, label="x"))
    assert dump(tlib) == before


@pytest.mark.parametrize("fmt", ["json", "markdown", "opml", "html", "csv"])
def test_exports_name_every_paper(tlib: Library, fmt: str) -> None:
    tlib.trees.build("t", min_size=4)
    out = io.StringIO()
    tlib.trees.export("t", fmt, out)
    keys = {p.key for p in tlib.papers()}
    text = out.getvalue()
    assert all(k in text for k in keys)
    if fmt == "json":
        data = json.loads(text)
        assert {k for n in data["nodes"] for k in n["papers"]} == keys


def test_eval_against_gold(tlib: Library, tmp_path: Path) -> None:
    tlib.trees.build("t", min_size=4)
    gold = tmp_path / "gold.tsv"
    lines = [f"{p.key}\t{topic_of(tlib, p.id)}/x" for p in tlib.papers()]
    gold.write_text("# key\tlabel\n" + "\n".join(lines) + "\n", encoding="utf-8")
    report = tlib.trees.evaluate("t", gold)
    assert report.assigned_share == 1.0 and report.nmi[1] > 0.8
    assert report.label_fidelity is not None and report.navigability is not None
    gold.write_text("k1 without tab\n", encoding="utf-8")
    with pytest.raises(PaperatlasError, match=r"gold\.tsv:1"):
        tlib.trees.evaluate("t", gold)


def test_llm_labels_through_a_stand_in_server(tlib: Library, server: StandIn) -> None:  # noqa: F811
    tlib.trees.build("t", min_size=4, llm_url=server.base, llm_model="stand-in")
    tree = tlib.trees.get("t")
    assert server.requests and server.requests[0]["model"] == "stand-in"
    tops = tree.children(tree.root)
    assert all(n.label.startswith("Topic ") and n.description for n in tops)
    with pytest.raises(InvalidOptionError, match="llm"):
        tlib.trees.build("t", llm_url=server.base)


def test_cli_tree_commands(tlib: Library, tmp_path: Path) -> None:
    db = str(tlib.path)
    tlib.index()
    run = CliRunner().invoke
    base = ["--db", db, "--model", "none"]
    bare = ["--db", str(tmp_path / "bare.db"), "--model", "none"]
    csv_file = write_csv(tmp_path / "in" / "b.csv", papers_of("ocean", 3))
    assert run(main, [*bare, "ingest", str(csv_file)]).exit_code == 0
    r = run(main, [*bare, "tree", "build"])
    assert r.exit_code == 1 and "no papers with embeddings" in r.output
    r = run(main, [*base, "tree", "build", "--min-size", "4"])  # from the stored vectors
    assert r.exit_code == 0 and "120 papers" in r.output
    r = run(main, [*base, "tree", "show", "--depth", "1"])
    assert r.exit_code == 0 and "(120 papers" in r.output and "├──" in r.output
    node = tlib.trees.get().children(tlib.trees.get().root)[0].id
    r = run(main, [*base, "tree", "edit", "rename", str(node), "Renamed", "topic"])
    assert r.exit_code == 0 and tlib.trees.get().nodes[node].label == "Renamed topic"
    r = run(main, [*base, "tree", "edit", "move", "x", "1"])
    assert r.exit_code == 2 and "node id" in r.output and "NODE PARENT" in r.output
    out = tmp_path / "t.html"
    r = run(main, [*base, "tree", "export", "--format", "html", "-o", str(out)])
    assert r.exit_code == 0 and "<svg" in out.read_text(encoding="utf-8")
    r = run(main, [*base, "tree", "list"])
    assert r.exit_code == 0 and r.output.startswith("default\t120 papers")
    r = run(main, [*base, "tree", "show", "--name", "nope"])
    assert r.exit_code == 1 and "no tree named 'nope'" in r.output


def test_seed_tree_with_the_default_model(seeds: Path, tmp_path: Path) -> None:
    lib = Library(tmp_path / "s.db")
    lib.ingest(sorted(seeds.glob("*.txt")))
    report = lib.trees.build("seeds")
    tree = lib.trees.get("seeds")
    assert report.papers == lib.stats().papers == 334 and report.depth >= 2
    labels = [n.label for n in tree.children(tree.root)]
    assert len(set(labels)) == len(labels) >= 3
    lib.close()
