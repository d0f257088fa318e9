"""Exports of a collection, a search, a topic or papers by key: ``lib.export``, ``paperatlas
export``, ``GET /api/export``, the paper page's Cite box and the Export links."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import InvalidOptionError, NotFoundError
from paperatlas.web import WebSettings, create_app
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

RIS = Path("data") / "formats" / "zotero" / "slr-deepfake-collection" / "Exported Items.ris"


@pytest.fixture(scope="module")
def elib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """Two topics of 30 papers in "main" with a tree "t"; Zotero's deepfake RIS in "slr"."""
    from conftest import shared_dir

    tmp = tmp_path_factory.mktemp("export")
    lib = Library(tmp / "e.db", embedding_model=HashingEmbedder("hash-256", 256))
    rows = papers_of("protein", 30) + papers_of("galaxy", 30)
    lib.ingest([write_csv(tmp / "in" / "main.csv", rows)], collection="main")
    lib.ingest([shared_dir() / RIS], collection="slr")
    lib.trees.build("t", collection="main", min_size=4)
    yield lib
    lib.close()


@pytest.fixture(scope="module")
def client(elib: Library) -> TestClient:
    return TestClient(create_app(elib, WebSettings(page_size=10)))


def ris_titles(text: str) -> list[str]:
    return re.findall(r"^TI  - (.*)$", text, re.MULTILINE)


def a_topic(lib: Library) -> tuple[int, set[str]]:
    """A first-level topic of tree "t" and the titles of the papers under it."""
    tree = lib.trees.get("t")
    node = next(n for n in tree.children(tree.root) if n.kind == "topic")
    ids = {pid for nid in tree.subtree_ids(node.id) for pid in tree.nodes[nid].papers}
    texts = lib.store.papers.texts(sorted(ids))
    return node.id, {texts[pid][1] for pid in ids}


# -- the facade ------------------------------------------------------------------------------
def test_a_collection(elib: Library) -> None:
    out = io.StringIO()
    assert elib.export("ris", out, collection="slr") == elib.papers.count("slr") == 467
    assert out.getvalue().count("ER  - ") == 467 and "TY  - CONF" in out.getvalue()


def test_a_search_in_rank_order(elib: Library) -> None:
    page = elib.search("audio deepfake detection", mode="lexical", limit=7, snippets=False)
    text = elib.export.text("csljson", query="audio deepfake detection", mode="lexical",
                            limit=7)
    items = json.loads(text)
    assert [i["id"] for i in items] == [h.key for h in page.hits] and len(items) == 7
    inside = elib.export.text("ris", query="protein", collection="main", mode="lexical")
    assert ris_titles(inside) and all("study" in t for t in ris_titles(inside))


def test_a_topic_with_its_sub_topics(elib: Library) -> None:
    node, titles = a_topic(elib)
    text = elib.export.text("ris", node=f"t:{node}")
    assert set(ris_titles(text)) == titles and len(titles) >= 4
    everything = elib.export.text("ris", node=f"t:{elib.trees.get('t').root}")
    assert len(ris_titles(everything)) == 60


def test_papers_by_key_or_identifier(elib: Library) -> None:
    doi = "10.1007/s11468-024-02407-0"
    other = next(p.key for p in elib.papers(collection="main", limit=1))
    text = elib.export.text("bibtex", papers=[other, doi, other])
    assert text.count("\n@") == 1 and text.index(other) < text.index("Plasmonic")


def test_bad_scopes_fail_before_writing(elib: Library) -> None:
    out = io.StringIO()
    with pytest.raises(InvalidOptionError, match="one of collection, query, node, papers"):
        elib.export("ris", out, node="t:1", papers=["x"])
    with pytest.raises(InvalidOptionError, match="collection and node"):
        elib.export("ris", out, collection="main", node="t:1")
    with pytest.raises(InvalidOptionError, match="a mode with a query"):
        elib.export("ris", out, mode="lexical", collection="main")
    with pytest.raises(InvalidOptionError, match="TREE:ID"):
        elib.export("ris", out, node="t")
    with pytest.raises(InvalidOptionError, match="csljson"):
        elib.export("endnote", out, collection="main")
    with pytest.raises(NotFoundError):
        elib.export("ris", out, node="t:99999")
    with pytest.raises(NotFoundError):
        elib.export("ris", out, papers=["no-such-paper"])
    assert out.getvalue() == ""


# -- the CLI ---------------------------------------------------------------------------------
def test_cli_export_of_a_paper_and_a_topic(elib: Library, tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(elib.path)
    done = runner.invoke(main, ["--db", db, "--model", "none", "export", "--format", "csljson",
                                "--paper", "10.1007/s11468-024-02407-0"])
    assert done.exit_code == 0, done.output
    [item] = json.loads(done.output)
    assert item["DOI"] == "10.1007/s11468-024-02407-0" and item["type"] == "article-journal"
    node, titles = a_topic(elib)
    out = tmp_path / "topic.ris"
    done = runner.invoke(main, ["--db", db, "--model", "none", "export", "--format", "ris",
                                "--node", f"t:{node}", "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert set(ris_titles(out.read_text(encoding="utf-8"))) == titles
    bad = runner.invoke(main, ["--db", db, "--model", "none", "export", "--node", "t:1",
                               "--collection", "main", "-o", str(tmp_path / "bad.ris")])
    assert bad.exit_code == 1 and "export scope" in bad.output
    assert not (tmp_path / "bad.ris").exists() and not (tmp_path / "bad.ris.part").exists()


# -- the web ---------------------------------------------------------------------------------
def test_api_export_downloads(client: TestClient, elib: Library) -> None:
    r = client.get("/api/export", params={"format": "ris", "collection": "slr"})
    assert r.status_code == 200 and r.text.count("ER  - ") == 467
    assert r.headers["content-type"].startswith("application/x-research-info-systems")
    assert r.headers["content-disposition"] == 'attachment; filename="paperatlas-slr.ris"'
    node, titles = a_topic(elib)
    r = client.get("/api/export", params={"format": "csljson", "node": f"t:{node}"})
    assert r.status_code == 200 and {i["title"] for i in r.json()} == titles
    assert r.headers["content-disposition"].endswith(f'paperatlas-t-{node}.json"')
    r = client.get("/api/export", params=[("format", "bibtex"), ("paper", "10.1007/s11468-024-02407-0")])
    assert r.status_code == 200 and r.text.startswith("@article{")
    r = client.get("/api/export", params={"format": "bibtex", "q": "galaxy",
                                          "mode": "lexical", "limit": 3})
    assert r.status_code == 200 and r.text.count("\n@") == 2


@pytest.mark.parametrize("params", [{"format": "ris"}, {"format": "word", "collection": "slr"},
                                    {"format": "ris", "collection": "slr", "node": "t:1"},
                                    {"format": "ris", "node": "nonsense"}])
def test_api_export_refuses_bad_options(client: TestClient, params: dict[str, str]) -> None:
    r = client.get("/api/export", params=params)
    assert r.status_code == 400 and r.json()["error"]["message"]


def test_api_export_of_a_missing_topic_is_404(client: TestClient) -> None:
    assert client.get("/api/export", params={"node": "t:99999"}).status_code == 404
    assert client.get("/api/export", params={"collection": "nope"}).status_code == 404


def test_paper_page_cite_box(client: TestClient, elib: Library) -> None:
    paper = elib.papers["10.1007/s11468-024-02407-0"]
    html = client.get(f"/papers/{paper.key}").text
    box = html[html.index('<details class="cite"'):html.index("</details>")]
    assert "<summary" in box and ">Cite</summary>" in box
    entry = re.search(r"<pre[^>]*>(.*?)</pre>", box, re.DOTALL)
    assert entry is not None and entry.group(1).startswith("@article{")
    assert "doi = {10.1007/s11468-024-02407-0}" in entry.group(1)
    links = re.findall(r'href="([^"]+)"', box)
    for fmt in ("bibtex", "ris", "csljson"):
        link = next(u for u in links if f"format={fmt}" in u).replace("&amp;", "&")
        assert client.get(link).status_code == 200


def test_collection_and_topic_pages_link_their_exports(client: TestClient, elib: Library) -> None:
    html = client.get("/collections/slr").text
    assert "/api/export?format=ris&amp;collection=slr" in html
    node, _ = a_topic(elib)
    html = client.get(f"/trees/t/nodes/{node}").text
    link = f"/api/export?format=bibtex&amp;node=t%3A{node}"
    assert link in html
    assert client.get(link.replace("&amp;", "&")).text.count("@misc{") >= 4
