"""The map at scale: streamed PCA, the point file, windows by rank, /api/map/points and
/api/map/paper."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.decomposition import PCA

from paperatlas import Library
from paperatlas.errors import InvalidOptionError, PreconditionError
from paperatlas.mapview import build, colours, pointfile, projection, reader, service
from test_map import _library
from test_tree import papers_of, write_csv


def test_streamed_pca_is_sklearns() -> None:
    rng = np.random.default_rng(3)
    data = (rng.normal(size=(500, 32)) * np.linspace(3, 0.1, 32)).astype(np.float32)
    sums = projection.PcaSums()
    for start in range(0, 500, 64):  # batches of any size add up to the same sums
        sums.add(data[start:start + 64])
    mean, components = sums.axes()
    pca = PCA(n_components=2).fit(data)
    assert np.allclose(mean, pca.mean_, atol=1e-5)
    for mine, theirs in zip(components, pca.components_, strict=True):
        sign = np.sign(mine @ theirs)
        assert np.allclose(mine, sign * theirs, atol=1e-4)
    ours = projection.project(data, mean, components)
    theirs = pca.transform(data)
    assert np.allclose(np.abs(ours), np.abs(theirs), atol=1e-3)
    one = projection.PcaSums()
    one.add(data[:1])  # a single vector: no axis, no error
    assert not one.axes()[1].any()
    with pytest.raises(PreconditionError, match="paperatlas index"):
        projection.PcaSums().axes()


def _file(folder: Path, n: int = 40_000) -> pointfile.PointFile:
    rng = np.random.default_rng(1)
    ids = np.arange(1, n + 1, dtype=np.int64)
    xy = rng.random((n, 2))
    pointfile.write(folder, [(ids[: n // 2], xy[: n // 2]), (ids[n // 2:], xy[n // 2:])],
                    method="pca", model="m", built_at="t")
    found = pointfile.load(folder)
    assert found is not None and found.meta.rows == n
    return found


def test_windows_are_uniform_nested_samples(tmp_path: Path) -> None:
    points = _file(tmp_path)
    assert np.array_equal(pointfile.rank(np.arange(5)), pointfile.rank(np.arange(5)))
    assert not np.array_equal(pointfile.rank(np.arange(5)), pointfile.rank(np.arange(5), 1))
    rows, complete = pointfile.window(points, (0, 0, 1, 1), 4000)
    assert len(rows) == 4000 and not complete and list(rows) == list(range(4000))
    x, y = points.x[rows], points.y[rows]
    quarters = np.histogram2d(x, y, bins=2, range=[[0, 1], [0, 1]])[0].ravel()
    assert np.all(np.abs(quarters - 1000) < 120)  # a uniform sample: ~1/4 in each quarter
    ids = points.paper[rows]
    assert abs(float(np.median(ids)) - 20_000) < 2_000  # not the lowest ids: by rank
    box = (0.25, 0.25, 0.5, 0.5)
    inner, _ = pointfile.window(points, box, 4000)
    assert np.all((points.x[inner] >= 0.25) & (points.x[inner] <= 0.5))
    assert np.all((points.y[inner] >= 0.25) & (points.y[inner] <= 0.5))
    shown = {int(r) for r in rows if 0.25 <= points.x[r] <= 0.5 and 0.25 <= points.y[r] <= 0.5}
    assert shown <= set(inner.tolist())  # a zoom keeps every point shown there, adds more
    everything, complete = pointfile.window(points, box, 40_000)
    assert complete and len(everything) == np.sum(
        (points.x >= 0.25) & (points.x <= 0.5) & (points.y >= 0.25) & (points.y <= 0.5))
    again = _file(tmp_path)  # the same points, written again: the same order
    assert np.array_equal(again.paper, points.paper)
    assert len(list(tmp_path.glob("map-*"))) == 2  # the old version waits an hour


@pytest.fixture
def slib(tmp_path: Path) -> Iterator[Library]:
    lib = _library(tmp_path)
    lib.ingest([write_csv(tmp_path / "in" / "x.csv", papers_of("ocean", 3))], collection="x")
    lib.index()
    lib.trees.build("t", collection="main", min_size=4)
    lib.map.build()
    yield lib
    lib.close()


def test_build_writes_the_point_file(slib: Library, tmp_path: Path) -> None:
    folder = slib.map.service.folder
    assert folder is not None
    points = pointfile.load(folder)
    assert points is not None and points.meta.rows == 63 and points.meta.method == "pca"
    stored = {r[0]: (r[1], r[2]) for r in slib.store.conn.execute(
        "SELECT paper_id, x, y FROM map_points")}
    for pid, x, y in zip(points.paper.tolist(), points.x, points.y, strict=True):
        assert np.allclose((x, y), stored[pid], atol=1e-6)
    pointfile.remove(folder)  # lost: the next build writes it again, without a refit
    report = slib.map.build()
    assert not report.refitted and report.placed == 0
    assert pointfile.load(folder) is not None
    slib.ingest([write_csv(tmp_path / "in" / "more.csv", papers_of("graph", 4, start=100))])
    slib.index()
    slib.map.build()
    assert slib.map.window(budget=1000).count == 67  # placed papers are in the new file


def test_build_stores_each_tree_s_colours(slib: Library,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = slib.map.service.folder
    assert folder is not None
    expected = slib.map.window(tree="t", budget=1000)
    stem = pointfile.read_meta(folder).stem  # type: ignore[union-attr]
    tree_id = slib.store.trees.id_for("t")
    assert tree_id is not None and colours.path(folder, stem, tree_id).exists()
    computed: list[int] = []
    real = reader.tree_colours

    def counting(*args: Any) -> Any:
        computed.append(1)
        return real(*args)

    monkeypatch.setattr(reader, "tree_colours", counting)
    fresh = reader.MapReader(slib.store, folder)  # a new server process
    got = fresh.window(collection=None, tree="t", box=None, budget=1000)
    assert computed == [] and np.array_equal(got.topic, expected.topic)
    assert [(t.id, t.label, t.size) for t in got.legend] == [
        (t.id, t.label, t.size) for t in expected.legend]
    tree = slib.trees.get("t")
    first = tree.children(tree.root)[0]
    first.label = "Renamed"
    with slib.store.transaction():  # a new label only: the stored colours still hold
        slib.store.trees.save(tree)
        slib.store.trees.log("t", "edit", {})  # as every save of the tree service does
    got = reader.MapReader(slib.store, folder).window(collection=None, tree="t", box=None,
                                                      budget=1000)
    assert computed == [] and "Renamed" in [t.label for t in got.legend]

    def top_of(nid: int) -> int:
        while tree.nodes[nid].parent != tree.root:
            nid = tree.nodes[nid].parent  # type: ignore[assignment]
        return nid

    src = next(n for n in tree.nodes.values() if n.papers)
    dst = next(n for n in tree.nodes.values() if n.papers and top_of(n.id) != top_of(src.id))
    paper = next(iter(src.papers))
    del src.papers[paper]
    dst.papers[paper] = 10.0  # its best link now
    moved = tree.nodes[top_of(dst.id)]
    with slib.store.transaction():  # a paper moved: they do not
        slib.store.trees.save(tree)
        slib.store.trees.log("t", "edit", {})
    got = reader.MapReader(slib.store, folder).window(collection=None, tree="t", box=None,
                                                      budget=1000)
    assert computed == [1]
    assert got.topic[list(got.paper).index(paper)] == [t.id for t in got.legend].index(moved.id)
    slib.map.build()  # and the next build stores them again
    again = colours.read(folder, stem, tree_id)
    assert again is not None and again.version == slib.store.maps.tree_version(tree_id)
    assert np.array_equal(again.topic, got.topic)


def test_umap_fits_a_sample_and_places_the_rest(slib: Library,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    fitted: list[int] = []

    def fake_umap(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
        fitted.append(len(vectors))
        return np.asarray(vectors[:, :2], dtype=np.float64)  # stands in for UMAP

    monkeypatch.setattr(build, "fit_umap", fake_umap)
    monkeypatch.setattr(build, "SAMPLE", 20)
    monkeypatch.setattr(projection.importlib.util, "find_spec", lambda name: object())
    report = slib.map.build(method="umap")
    assert report.refitted and report.placed == 63 and fitted == [20]
    info = slib.map.info()
    assert info is not None and (info.method, info.fitted, info.points) == ("umap", 20, 63)
    ids = np.array(sorted(slib.vectors.ids()), dtype=np.int64)
    sample = np.sort(ids[np.argsort(pointfile.rank(ids), kind="stable")[:20]])
    vectors = slib.vectors.get(sample.tolist())
    raw = np.array([vectors[int(p)][:2] for p in sample], dtype=np.float64)
    offset, scale = projection.frame(raw)
    stored = slib.store.maps.xy_of(sample.tolist())
    assert np.allclose([stored[int(p)] for p in sample], (raw - offset) / scale, atol=1e-6)
    with slib.store.transaction():  # two points gone: placed among the sample, no refit
        slib.store.conn.execute(f"DELETE FROM map_points WHERE paper_id IN "
                                f"({int(ids[0])}, {int(ids[1])})")
    again = slib.map.build()
    assert not again.refitted and again.placed == 2 and fitted == [20]


def test_a_failed_refit_leaves_no_map(slib: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "WRITE", 20)
    calls = []

    def put(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(type(slib.store.maps), "put", put)
    with pytest.raises(RuntimeError):
        slib.map.build(rebuild=True)
    # Nothing claims to be a complete map: no point is shown, every paper waits, and the
    # old fit is marked as being replaced, so the next build or map_place job fits again
    # (a kill here once left no map at all; tests/test_faults_kills.py).
    info = slib.map.info()
    assert info is not None and info.points == 0 and info.unplaced == 63
    assert slib.store.maps.state()["version"] == 0  # type: ignore[index]
    monkeypatch.undo()
    assert slib.map.build().refitted and slib.map.info() is not None


def test_window_colours_and_scope(slib: Library) -> None:
    whole = slib.map.window(tree="t", budget=1000)
    view = slib.map.points(tree="t")
    assert whole.complete and whole.count == 63 == whole.points
    keys = {slib.store.papers.id_for(k): i for i, k in enumerate(view.keys)}
    assert [t.id for t in whole.legend] == [t.id for t in view.legend]
    assert [t.size for t in whole.legend] == [t.size for t in view.legend]
    for pid, t in zip(whole.paper.tolist(), whole.topic.tolist(), strict=True):
        assert t == view.topic[keys[pid]]
    x = slib.map.window(collection="x", tree="t", budget=1000)
    assert x.count == 3 == x.points == x.papers and set(x.topic.tolist()) == {-1}
    assert [t.size for t in x.legend] == [0] * len(view.legend)
    some = slib.map.window(budget=10)
    assert some.count == 10 and not some.complete
    with pytest.raises(InvalidOptionError, match="valid values are: 1 to"):
        slib.map.window(budget=0)
    with pytest.raises(InvalidOptionError, match="x0 <= x1"):
        slib.map.window(box=(1, 0, 0, 1))


def test_json_listing_has_a_limit(slib: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "JSON_LIMIT", 50)
    with pytest.raises(PreconditionError, match="/api/map/points"):
        slib.map.points()


# -- through the web app -------------------------------------------------------------------
pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from paperatlas.web import WebSettings, create_app, mapbin  # noqa: E402


def test_api_map_points_is_binary(slib: Library) -> None:
    client = TestClient(create_app(slib, WebSettings()))
    r = client.get("/api/map/points", params={"tree": "t", "budget": 1000})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    body = r.content
    assert body[:4] == b"PAM1"
    size = int.from_bytes(body[4:8], "little")
    assert (8 + size) % 8 == 0
    header, arrays = mapbin.unpack(body)
    n = header["count"]
    assert n == 63 and header["complete"] and header["tree"] == "t" and header["points"] == 63
    assert len(body) == 8 + size + n * (4 + 4 + 4 + 2)
    assert [c[0] for c in header["columns"]] == ["x", "y", "paper", "topic"]  # type: ignore[index]
    assert {"method", "model", "bounds", "box", "budget", "papers", "topics"} <= set(header)
    window = slib.map.window(tree="t", budget=1000)
    assert np.array_equal(arrays["x"], window.x) and np.array_equal(arrays["paper"],
                                                                    window.paper)
    assert np.array_equal(arrays["topic"], window.topic)
    x0, y0, x1, y1 = 0.0, 0.0, 0.5, 0.5
    part = mapbin.unpack(client.get("/api/map/points", params={
        "x0": x0, "y0": y0, "x1": x1, "y1": y1, "budget": 5}).content)
    assert part[0]["count"] <= 5
    assert np.all((part[1]["x"] <= x1) & (part[1]["y"] <= y1))
    main = mapbin.unpack(client.get("/api/map/points", params={"collection": "main"}).content)
    assert main[0]["count"] == 60 == main[0]["points"] == main[0]["papers"]
    for params, status, words in [
            ({"budget": 0}, 400, "budget"), ({"budget": 10**9}, 400, "budget"),
            ({"x0": 0}, 400, "x0, y0, x1, y1"), ({"x0": 1, "y0": 0, "x1": 0, "y1": 1}, 400,
                                                   "x0 <= x1"),
            ({"x0": "nan", "y0": 0, "x1": 1, "y1": 1}, 400, "x0"),
            ({"tree": "nope"}, 404, "no tree named 'nope'"),
            ({"collection": "nope"}, 404, "nope")]:
        bad = client.get("/api/map/points", params=params)
        assert bad.status_code == status and words in bad.json()["error"]["message"], params
    assert "/api/map/points" in client.get("/openapi.json").json()["paths"]


def test_api_map_paper(slib: Library) -> None:
    client = TestClient(create_app(slib, WebSettings()))
    window = slib.map.window(budget=1)
    pid = int(window.paper[0])
    r = client.get("/api/map/paper", params={"id": pid})
    assert r.status_code == 200
    got = r.json()
    assert set(got) == {"id", "key", "title", "year", "x", "y"} and got["id"] == pid
    assert got["key"] == slib.store.papers.key_of(pid)
    near = client.get("/api/map/paper", params={"x": float(window.x[0]),
                                                "y": float(window.y[0])}).json()
    assert near["id"] == pid
    assert client.get("/api/map/paper", params={"id": 10**6}).status_code == 404
    bad = client.get("/api/map/paper", params={"x": 0.5})
    assert bad.status_code == 400 and "x and y" in bad.json()["error"]["message"]
    assert client.get("/api/map/paper", params={"id": -1}).status_code == 400


def test_api_map_points_before_a_build(tmp_path: Path) -> None:
    lib = _library(tmp_path)
    try:
        client = TestClient(create_app(lib))
        r = client.get("/api/map/points")
        assert r.status_code == 409 and "map build" in r.json()["error"]["message"]
        assert json.loads(client.get("/api/map/paper", params={"x": 0, "y": 0}).text)[
            "error"]["type"] == "PreconditionError"
    finally:
        lib.close()
