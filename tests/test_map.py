"""The 2-D map: a stored projection reused and extended, its points, /api/map and /map."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.decomposition import PCA

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import InvalidOptionError, NotFoundError, PaperatlasError, PreconditionError
from paperatlas.mapview import projection
from paperatlas.mapview.service import first_level
from test_semantic import HashingEmbedder
from test_tree import papers_of, topic_of, write_csv


def _library(path: Path) -> Library:
    lib = Library(path / "m.db", embedding_model=HashingEmbedder("hash-256", 256))
    rows = papers_of("protein", 20) + papers_of("graph", 20) + papers_of("galaxy", 20)
    lib.ingest([write_csv(path / "in" / "main.csv", rows)], collection="main")
    lib.index()  # `map build` maps the vectors there are; it embeds nothing
    return lib


@pytest.fixture
def mlib(tmp_path: Path) -> Iterator[Library]:
    """Three topics of 20 papers in "main", embedded, without a map."""
    lib = _library(tmp_path)
    yield lib
    lib.close()


def points(lib: Library) -> dict[int, tuple[float, float, str, str]]:
    rows = lib.store.conn.execute("SELECT paper_id, x, y, method, model FROM map_points")
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def test_build_stores_the_projection_and_reuses_it(mlib: Library) -> None:
    assert mlib.map.info() is None
    first = mlib.map.build()
    assert (first.method, first.model, first.refitted, first.placed, first.points) == (
        "pca", "hash-256", True, 60, 60)
    stored = points(mlib)
    assert len(stored) == 60 and {v[2:] for v in stored.values()} == {("pca", "hash-256")}
    xy = np.array([v[:2] for v in stored.values()])
    assert xy.min() == pytest.approx(0) and xy.max() == pytest.approx(1)  # framed to [0, 1]
    info = mlib.map.info()
    assert info is not None and (info.fitted, info.points, info.unplaced) == (60, 60, 0)
    again = mlib.map.build()
    assert not again.refitted and again.placed == 0 and points(mlib) == stored
    reopened = Library(mlib.path, embedding_model=HashingEmbedder("hash-256", 256))
    try:  # another process finds the stored projection and keeps it
        assert not reopened.map.build().refitted and points(reopened) == stored
        assert reopened.map.info() == info
    finally:
        reopened.close()


def test_new_papers_are_placed_without_refitting(mlib: Library, tmp_path: Path) -> None:
    mlib.map.build()
    before = points(mlib)
    old_ids = sorted(before)
    old_vectors = mlib.vectors.get(old_ids)
    mlib.ingest([write_csv(tmp_path / "in" / "more.csv", papers_of("graph", 8, start=100))],
                collection="more")
    info = mlib.map.info()
    assert info is not None and info.unplaced == 0  # not embedded yet: `index` does that
    report = mlib.map.build()  # maps no paper without a vector, and says how many there are
    assert (report.refitted, report.placed, report.points, report.without_vectors) == (
        False, 0, 60, 8)
    mlib.index()
    report = mlib.map.build()
    assert not report.refitted and report.placed == 8 and report.points == 68
    assert report.without_vectors == 0
    after = points(mlib)
    assert {k: after[k] for k in before} == before  # old points did not move
    # the new points are what the first fit's PCA makes of them, framed the same way
    pca = PCA(n_components=2).fit(np.array([old_vectors[i] for i in old_ids]))
    raw_old = pca.transform(np.array([old_vectors[i] for i in old_ids]))
    offset, scale = projection.frame(raw_old)
    new_ids = sorted(set(after) - set(before))
    new_vectors = mlib.vectors.get(new_ids)
    expected = (pca.transform(np.array([new_vectors[i] for i in new_ids])) - offset) / scale
    got = np.array([after[i][:2] for i in new_ids])
    assert np.allclose(got, expected, atol=1e-5)
    info = mlib.map.info()
    assert info is not None and (info.fitted, info.points) == (60, 68)
    rebuilt = mlib.map.build(rebuild=True)
    assert rebuilt.refitted and rebuilt.placed == 68
    info = mlib.map.info()
    assert info is not None and info.fitted == 68


def test_new_graph_papers_land_among_graph_papers(mlib: Library, tmp_path: Path) -> None:
    mlib.map.build()
    mlib.ingest([write_csv(tmp_path / "in" / "more.csv", papers_of("graph", 5, start=100))])
    mlib.index()
    mlib.map.build()
    view = mlib.map.points()
    ids = {p.key: mlib.store.papers.id_for(p.key) for p in view.points()}
    by_topic: dict[str, list[np.ndarray]] = {}
    for p in view.points():
        by_topic.setdefault(topic_of(mlib, ids[p.key] or 0), []).append(np.array([p.x, p.y]))
    centres = {t: np.mean(v, axis=0) for t, v in by_topic.items()}
    for p in view.points():
        if p.title.endswith(("study 100", "study 101", "study 102")):
            here = np.array([p.x, p.y])
            assert min(centres, key=lambda t: np.linalg.norm(here - centres[t])) == "graph"


def test_bad_method_lists_the_valid_ones(mlib: Library) -> None:
    with pytest.raises(InvalidOptionError, match="valid values are: pca, umap"):
        mlib.map.build(method="tsne")
    assert mlib.map.info() is None
    r = CliRunner().invoke(main, ["--db", str(mlib.path), "--model", "none", "map", "build",
                                  "--method", "tsne"])
    assert r.exit_code == 2 and "'pca', 'umap'" in r.output


def test_umap_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(projection.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PaperatlasError, match="pip install umap-learn"):
        projection.check_method("umap")
    assert projection.check_method("pca") == "pca"


def test_a_map_without_a_linear_projection_places_by_neighbours() -> None:
    rng = np.random.default_rng(0)
    known = rng.normal(size=(40, 8)).astype(np.float32)
    xy = rng.random((40, 2))
    fitted = projection.Projection("umap", np.zeros(2), 1.0)
    again = projection.Projection.from_blob("umap", fitted.to_blob())
    assert again.mean is None and not again.linear
    placed = projection.place(again, known[:3] * 2, mapped=(known, xy))  # same directions
    assert np.allclose(placed, xy[:3])
    with pytest.raises(PaperatlasError, match="rebuild"):
        projection.place(again, known[:1])


def test_the_map_needs_vectors(tmp_path: Path) -> None:
    lib = Library(tmp_path / "plain.db", embedding_model=None)
    lib.ingest([write_csv(tmp_path / "in" / "a.csv", papers_of("ocean", 3))])
    with pytest.raises(PaperatlasError, match="paperatlas index"):
        lib.map.build()
    with pytest.raises(PreconditionError, match="map build"):
        lib.map.points()
    lib.close()


def test_first_level_topics_in_treemap_order() -> None:
    heads = {0: (None, "", "root"), 1: (0, "Small", "topic"), 2: (0, "Big", "topic"),
             3: (2, "Big leaf", "topic"), 4: (0, "", "unsorted"), 5: (0, "Empty", "topic")}
    links = [(10, 1, 0.9), (11, 3, 0.8), (12, 3, 0.7), (10, 3, 0.5), (13, 4, 0.1),
             (14, 4, 0.2), (15, 4, 0.3)]
    order, tops = first_level(heads, links)
    assert order == [2, 1, 4]  # by distinct papers, Unsorted last, empty topics left out
    assert tops == {10: 1, 11: 2, 12: 2, 13: 4, 14: 4, 15: 4}  # best link wins


# -- through the web app -------------------------------------------------------------------
fastapi = pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from paperatlas.web import WebSettings, create_app  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Library, TestClient]]:
    """A library with a tree "t" on "main", three papers in "extra", and its map."""
    tmp = tmp_path_factory.mktemp("mapweb")
    lib = _library(tmp)
    extra = tmp / "in" / "extra.jsonl"
    extra.write_text("\n".join(json.dumps(r) for r in [
        {"id": "evil", "title": "<script>alert(1)</script>", "abstract": "ocean tide wave"},
        {"id": "e2", "title": "Coral reef salinity", "abstract": "ocean coral reef"},
        {"id": "e3", "title": "Kelp and plankton", "abstract": "ocean kelp plankton"}]))
    lib.ingest([extra], collection="extra")
    lib.index()
    lib.trees.build("t", collection="main", min_size=4)
    lib.map.build()
    yield lib, TestClient(create_app(lib, WebSettings()))
    lib.close()


def test_map_points_are_coloured_by_first_level_topics(site: tuple[Library, TestClient]) -> None:
    lib, _ = site
    tree = lib.trees.get("t")
    view = lib.map.points(tree="t")
    assert len(view) == 63 == view.papers and view.tree == "t" and view.method == "pca"
    tops = [n.id for n in tree.children(tree.root) if tree.subtree_papers(n.id)]
    assert sorted(t.id for t in view.legend) == sorted(tops)
    sizes = [t.size for t in view.legend]
    assert sum(sizes) == 60 and sizes == sorted(sizes, reverse=True)
    for p in view.points():
        pid = lib.store.papers.id_for(p.key)
        if p.key in {"evil", "e2", "e3"}:
            assert p.topic is None  # not in the tree's collection
        else:
            assert p.topic is not None and pid in tree.subtree_papers(p.topic.id)
    plain = lib.map.points(collection="extra")
    assert sorted(plain.keys) == ["e2", "e3", "evil"] and plain.legend == []
    assert set(plain.topic.tolist()) == {-1}
    some = lib.map.points(collection="extra", tree="t")  # legend kept, colours stay put
    assert [t.id for t in some.legend] == [t.id for t in view.legend]
    assert {t.size for t in some.legend} == {0}
    with pytest.raises(NotFoundError, match="no tree named 'nope'; trees: t"):
        lib.map.points(tree="nope")
    with pytest.raises(NotFoundError):
        lib.map.points(collection="nope")


def test_api_map_is_columnar(site: tuple[Library, TestClient]) -> None:
    lib, client = site
    r = client.get("/api/map", params={"tree": "t"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    data = r.json()
    assert {"method", "model", "collection", "tree", "papers", "count", "topics", "keys",
            "titles", "x", "y", "topic"} <= set(data)
    n = data["count"]
    assert n == 63 and all(len(data[c]) == n for c in ("keys", "titles", "x", "y", "topic"))
    assert all(v == round(v, 4) for v in data["x"] + data["y"])
    assert set(data["topics"][0]) == {"id", "label", "kind", "size"}
    assert all(-1 <= t < len(data["topics"]) for t in data["topic"])
    view = lib.map.points(tree="t")
    assert data["keys"] == view.keys and data["topic"] == view.topic.tolist()
    assert data["titles"][data["keys"].index("evil")] == "<script>alert(1)</script>"
    only = client.get("/api/map", params={"collection": "extra", "tree": ""}).json()
    assert only["count"] == 3 and only["tree"] is None and only["topics"] == []
    for url in ("/api/map?tree=nope", "/api/map?collection=nope"):
        bad = client.get(url)
        assert bad.status_code == 404 and bad.json()["error"]["type"] == "NotFoundError"
    assert "/api/map" in client.get("/openapi.json").json()["paths"]
    packed = client.get("/api/map", params={"tree": "t"}, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.json() == data
    plain = client.get("/api/map", params={"tree": "t"}, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == data


def test_map_page(site: tuple[Library, TestClient]) -> None:
    _, client = site
    r = client.get("/map")
    assert r.status_code == 200
    assert '<a href="/map" aria-current="page">Map</a>' in r.text
    assert '<canvas' in r.text and 'src="/static/map.js' in r.text
    api = re.search(r'data-api="([^"]+)"', r.text)
    assert api and api.group(1) == "/api/map?collection=&amp;tree=t"  # the only tree
    assert '<option value="t" selected>t</option>' in r.text
    assert "<script>alert(1)</script>" not in r.text  # titles come as JSON, shown as text
    assert client.get(api.group(1).replace("&amp;", "&")).status_code == 200
    plain = client.get("/map", params={"collection": "extra", "tree": ""})
    assert 'data-api="/api/map?collection=extra&amp;tree="' in plain.text
    assert client.get("/static/map.js").status_code == 200
    assert 'data-points="/api/map/points?collection=&amp;tree=t"' in r.text
    assert "data-budget" not in r.text
    assert 'data-budget="5000"' in client.get("/map", params={"budget": 5000}).text
    assert client.get("/map", params={"budget": 0}).status_code == 400
    for url in ("/map?tree=nope", "/map?collection=nope"):
        bad = client.get(url)
        assert bad.status_code == 404 and bad.headers["content-type"].startswith("text/html")


def test_map_page_and_api_before_a_build(mlib: Library) -> None:
    client = TestClient(create_app(mlib))
    page = client.get("/map")
    assert page.status_code == 200 and "No map yet" in page.text and "<canvas" not in page.text
    r = client.get("/api/map")
    assert r.status_code == 409 and "map build" in r.json()["error"]["message"]


def test_cli_map_build_and_info(mlib: Library) -> None:
    run = CliRunner().invoke
    db = ["--db", str(mlib.path), "--model", "none"]  # the vectors are stored already
    mlib.index()
    r = run(main, [*db, "map", "info"])
    assert r.exit_code == 1 and "map build" in r.output
    r = run(main, [*db, "map", "build"])
    assert r.exit_code == 0 and "fitted on 60 papers, 60 on the map" in r.output, r.output
    r = run(main, [*db, "map", "build", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["refitted"] is False
    mlib.ingest([write_csv(mlib.path.parent / "in" / "new.csv", papers_of("ocean", 2))])
    r = run(main, [*db, "map", "build"])  # embeds nothing: says what `index` would add
    assert r.exit_code == 0 and "placed 0 papers" in r.output
    assert "2 papers have no vector yet" in r.output and "paperatlas index" in r.output
    r = run(main, [*db, "map", "info", "--json"])
    assert json.loads(r.output)["points"] == 60


def test_the_map_is_fitted_again_once_the_library_has_grown(mlib: Library,
                                                            tmp_path: Path) -> None:
    assert mlib.map.build().refitted  # fitted on 60 papers
    mlib.ingest([write_csv(tmp_path / "in" / "more.csv", papers_of("graph", 20, start=100))],
                collection="more")
    mlib.index()
    grown = mlib.map.build()  # 80 < 1.5 x 60: placed on the old fit
    assert not grown.refitted and grown.placed == 20 and grown.points == 80
    mlib.ingest([write_csv(tmp_path / "in" / "most.csv", papers_of("galaxy", 12, start=200))],
                collection="most")
    mlib.index()
    again = mlib.map.build()  # 92 >= 90: fitted again on every paper
    assert again.refitted and again.placed == 92 and again.points == 92
    info = mlib.map.info()
    assert info is not None and info.fitted == 92
    assert not mlib.map.build().refitted  # the next growth counts from 92
