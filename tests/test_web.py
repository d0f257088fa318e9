"""The web app and JSON API through FastAPI's test client, on a real SQLite library."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.records.papers import Paper
from paperatlas.records.serialize import to_json
from paperatlas.search import Snippet
from paperatlas.web import WebSettings, create_app
from paperatlas.web.present import Pager, by_day, segments
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

EVIL = "<script>alert(1)</script>"
SPECIAL = [
    {"id": "evil", "title": EVIL, "abstract": "An abstract with <b>tags</b> & ampersands "
     "about protein folding.", "date": "2024-05-02", "authors": ["Mallory <m@x>"],
     "links": ["javascript:alert(2)", "https://example.org/paper"]},
    {"id": "ids-paper", "title": "Protein folding with identifiers", "abstract":
     "Protein folding structure residue enzyme prediction.", "date": "2024-05-02",
     "doi": "10.1000/xyz.123", "arxiv": "2405.00001", "authors": ["Ada Lovelace"]},
    {"id": "older", "title": "An older protein paper", "abstract": "Protein binding ligand.",
     "date": "2024-05-01"},
]


@pytest.fixture(scope="module")
def wlib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """Three topics of 30 papers in "main" with a tree "t"; three dated papers in "extra"."""
    tmp = tmp_path_factory.mktemp("web")
    lib = Library(tmp / "w.db", embedding_model=HashingEmbedder("hash-256", 256))
    rows = papers_of("protein", 30) + papers_of("graph", 30) + papers_of("galaxy", 30)
    lib.ingest([write_csv(tmp / "in" / "main.csv", rows)], collection="main")
    extra = tmp / "in" / "extra.jsonl"
    extra.write_text("\n".join(json.dumps(r) for r in SPECIAL), encoding="utf-8")
    lib.ingest([extra], collection="extra")
    lib.trees.build("t", collection="main", min_size=4)
    yield lib
    lib.close()


@pytest.fixture(scope="module")
def client(wlib: Library) -> TestClient:
    return TestClient(create_app(wlib, WebSettings(page_size=10)))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_search_json(client: TestClient, wlib: Library) -> None:
    r = client.get("/api/search", params={"q": "protein folding", "mode": "lexical",
                                          "limit": 5})
    assert r.status_code == 200
    data = r.json()
    assert data["mode"] == "lexical" and data["total"] > 5 and len(data["results"]) == 5
    first = data["results"][0]
    assert {"key", "title", "score", "snippet", "highlights"} <= set(first)
    same = to_json(wlib.search("protein folding", mode="lexical", limit=5))
    assert data == json.loads(json.dumps(same))  # what `search --json` prints
    page2 = client.get("/api/search", params={"q": "protein folding", "mode": "lexical",
                                              "limit": 5, "offset": 5}).json()
    assert page2["results"][0]["rank"] == 6
    only = client.get("/api/search", params={"q": "protein", "collection": "extra"}).json()
    assert only["results"] and all(h["key"] in {"evil", "ids-paper", "older"}
                                   for h in only["results"])


def test_search_page(client: TestClient) -> None:
    r = client.get("/search", params={"q": "protein folding", "mode": "lexical"})
    assert r.status_code == 200
    assert "<mark>" in r.text and "results for" in r.text
    assert 'value="protein folding"' in r.text and '<option value="lexical" selected>' in r.text
    # pagination links keep the query, so the URL can be shared
    assert 'href="?q=protein+folding&amp;mode=lexical&amp;page=2"' in r.text
    page2 = client.get("/search?q=protein+folding&mode=lexical&page=2")
    assert page2.status_code == 200 and 'start="11"' in page2.text
    empty = client.get("/search")
    assert empty.status_code == 200 and "results for" not in empty.text
    blank_filters = client.get("/search?q=protein&mode=&collection=&year_from=&author=")
    assert blank_filters.status_code == 200


def test_bad_mode_is_400_listing_valid_ones(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "x", "mode": "fuzzy"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "InvalidOptionError"
    assert "hybrid, lexical, semantic" in error["message"]
    page = client.get("/search", params={"q": "x", "mode": "fuzzy"})
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert "hybrid, lexical, semantic" in page.text
    assert client.get("/search?q=x&year_from=soon").status_code == 400
    bad = client.get("/api/search", params={"q": "x", "limit": 0})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "InvalidParameter"


def test_paper_json_and_page(client: TestClient) -> None:
    data = client.get("/api/papers/ids-paper").json()
    assert data["title"] == "Protein folding with identifiers"
    assert data["ids"] == {"arxiv": "2405.00001", "doi": "10.1000/xyz.123"}
    assert data["similar"] and all(s["key"] != "ids-paper" for s in data["similar"])
    assert data["topics"] == []  # not in the tree's collection
    # any identifier finds the paper, DOIs with their slash included
    assert client.get("/api/papers/10.1000/xyz.123").json()["key"] == "ids-paper"
    page = client.get("/papers/ids-paper")
    assert page.status_code == 200
    assert 'href="https://arxiv.org/abs/2405.00001"' in page.text
    assert 'href="https://doi.org/10.1000/xyz.123"' in page.text
    assert "Ada Lovelace" in page.text and "extra.jsonl" in page.text
    similar = data["similar"][0]
    assert f'href="/papers/{similar["key"]}"' in page.text


def test_paper_topics(client: TestClient, wlib: Library) -> None:
    key = next(iter(wlib.papers(collection="main", limit=1))).key
    data = client.get(f"/api/papers/{key}").json()
    assert data["topics"] and data["topics"][0]["tree"] == "t"
    topic = data["topics"][0]
    page = client.get(f"/papers/{key}").text
    assert f'href="/trees/t/nodes/{topic["id"]}"' in page


def test_unknown_things_are_404(client: TestClient) -> None:
    for url in ("/api/papers/no-such-paper", "/api/trees/nope", "/api/trees/t/nodes/9999",
                "/api/papers?collection=nope", "/api/no-such-route"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert set(r.json()["error"]) == {"type", "message"}
    assert client.get("/api/papers/no-such-paper").json()["error"]["type"] == "NotFoundError"
    for url in ("/papers/no-such-paper", "/trees/nope", "/trees/t/nodes/9999", "/nowhere"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("text/html") and "Not Found" in r.text


def test_tree_json_is_the_export(client: TestClient, wlib: Library) -> None:
    r = client.get("/api/trees/t")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    cli = CliRunner().invoke(main, ["--db", str(wlib.path), "--model", "none", "tree",
                                    "export", "--name", "t", "--format", "json"])
    assert cli.exit_code == 0, cli.output
    assert r.text == cli.output
    listing = client.get("/api/trees").json()
    assert [t["name"] for t in listing] == ["t"] and listing[0]["papers"] == 90


def test_tree_explorer_and_node_page(client: TestClient, wlib: Library) -> None:
    tree = wlib.trees.get("t")
    top = max(tree.children(tree.root), key=lambda n: len(tree.subtree_papers(n.id)))
    explorer = client.get("/trees/t")
    assert explorer.status_code == 200
    assert f'id="n{top.id}"' in explorer.text and f'data-node="{top.id}"' in explorer.text
    assert "<details" in explorer.text and top.label in explorer.text
    data = client.get(f"/api/trees/t/nodes/{top.id}").json()
    assert data == json.loads(json.dumps(to_json(wlib.trees.node("t", top.id))))
    assert data["size"] == len(tree.subtree_papers(top.id))
    whole = client.get(f"/api/trees/t/nodes/{tree.root}").json()
    assert whole["page"] == 1 and whole["pages"] >= 2, "the 90 papers span pages"
    second = client.get(f"/api/trees/t/nodes/{tree.root}?page=2").json()
    assert second["page"] == 2 and second["papers"]
    assert second == json.loads(json.dumps(to_json(wlib.trees.node("t", tree.root, 2))))
    assert {p["key"] for p in second["papers"]}.isdisjoint(p["key"] for p in whole["papers"])
    assert client.get(f"/api/trees/t/nodes/{top.id}?page=0").status_code == 400
    page = client.get(f"/trees/t/nodes/{top.id}")
    assert page.status_code == 200 and top.label in page.text
    for kw in top.keywords[:3]:
        assert kw in _text(page.text)
    leaf = next(n for n in tree.nodes.values() if n.papers and tree.is_leaf(n.id))
    leaf_page = client.get(f"/trees/t/nodes/{leaf.id}").text
    assert all(f'href="/papers/{wlib.store.papers.key_of(p)}"' in leaf_page for p in leaf.papers)
    assert [s["id"] for s in client.get(f"/api/trees/t/nodes/{leaf.id}").json()["path"]] == [
        n.id for n in tree.path(leaf.id)[:-1]]
    assert client.get("/trees").status_code == 200


def test_titles_and_abstracts_are_escaped(client: TestClient) -> None:
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for url in ("/", "/?collection=extra", "/search?q=protein+ampersands&mode=lexical",
                "/papers/evil"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert EVIL not in r.text, url
        assert escaped in r.text, url
    paper = client.get("/papers/evil").text
    assert "An abstract with tags &amp; ampersands" in paper  # markup stripped at ingest
    assert "Mallory &lt;m@x&gt;" in paper
    assert "javascript:" not in paper and 'href="https://example.org/paper"' in paper


def test_home_groups_newest_papers_by_date(client: TestClient) -> None:
    r = client.get("/?collection=extra")
    assert r.status_code == 200
    text = _text(r.text)
    newer, older = text.index("Thu, May 2, 2024"), text.index("Wed, May 1, 2024")
    assert newer < older
    assert newer < text.index("Protein folding with identifiers") < older
    assert text.index("An older protein paper") > older
    home = client.get("/")
    assert "main" in home.text and "extra" in home.text and 'href="/trees/t"' in home.text
    assert 'href="?page=2"' in home.text  # 93 papers, 10 a page


def test_papers_and_collections_json(client: TestClient) -> None:
    data = client.get("/api/papers", params={"collection": "extra", "limit": 2}).json()
    assert data["total"] == 3 and [p["key"] for p in data["papers"]] == ["ids-paper", "evil"]
    rest = client.get("/api/papers", params={"collection": "extra", "offset": 2}).json()
    assert [p["key"] for p in rest["papers"]] == ["older"]
    assert client.get("/api/papers?order=random").status_code == 400
    collections = {c["name"]: c["papers"] for c in client.get("/api/collections").json()}
    assert collections == {"main": 90, "extra": 3}
    assert client.get("/docs").status_code == 200
    assert "/api/search" in client.get("/openapi.json").json()["paths"]


def test_unexpected_errors_are_500_without_details(wlib: Library,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(wlib, "collections", boom)
    client = TestClient(create_app(wlib), raise_server_exceptions=False)
    r = client.get("/api/collections")
    assert r.status_code == 500 and r.json()["error"]["type"] == "InternalError"
    assert "secret" not in r.text
    page = client.get("/")
    assert page.status_code == 500 and "secret" not in page.text
    assert client.post("/api/search").status_code == 405


def test_present_helpers() -> None:
    assert segments(Snippet("a <b> c", [(2, 5)])) == [("a ", False), ("<b>", True),
                                                      (" c", False)]
    pager = Pager(3, 10, 95, (("q", "x y"), ("mode", "")))
    assert (pager.pages, pager.first, pager.last) == (10, 21, 30)
    assert pager.url(4) == "?q=x+y&page=4" and pager.url(1) == "?q=x+y"
    assert pager.window() == [1, 2, 3, 4, 5, None, 10]

    def paper(key: str, date: str | None) -> Paper:
        return Paper(id=0, key=key, title=key, abstract="", authors=[], date=date, year=None,
                     venue=None, categories=[], links=[], created_at="2025-01-02T00:00:00Z")

    groups = by_day([paper("a", "2024-05-02"), paper("b", None), paper("c", "2024-05-02")])
    assert [(day, [p.key for p in ps]) for day, ps in groups] == [
        ("Thu, May 2, 2024", ["a", "c"]), ("Added 2025-01-02", ["b"])]


def test_serve_command_is_registered(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["--db", str(tmp_path / "x.db"), "serve", "--help"])
    assert r.exit_code == 0 and "--port" in r.output and "--host" in r.output


def test_serve_with_two_worker_processes(tmp_path: Path) -> None:
    """``paperatlas serve --workers 2``: uvicorn starts two processes, each with its own
    library connection; both answer, and a write through one is read through the other."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    db = tmp_path / "s.db"
    with Library(db, embedding_model=None) as lib:
        lib.ingest([write_csv(tmp_path / "in.csv", papers_of("protein", 6))], index=True)
        lib.people.add("alice", "correct horse battery")
        token = lib.people.token_create("alice", "test")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli = [sys.executable, "-c", "from paperatlas.cli import main; main()"]
    env = {**os.environ, "PAPERATLAS_SECRET_KEY": "test-key"}
    env.pop("PAPERATLAS_SMTP_HOST", None)
    server = subprocess.Popen([*cli, "--db", str(db), "--model", "none", "serve",
                               "--port", str(port), "--workers", "2", "--keep-alive", "2"],
                              env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/papers", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, \
                server.stderr.read().decode() if server.stderr else ""
            time.sleep(0.2)
        auth = {"Authorization": f"Bearer {token.token}"}
        made = httpx.post(f"{base}/api/collections", json={"name": "two"}, headers=auth)
        assert made.status_code == 201, made.text
        for _ in range(8):  # connections land on either process: all see the new one
            names = [c["name"] for c in httpx.get(f"{base}/api/collections").json()]
            assert "two" in names
        hits = httpx.get(f"{base}/api/search", params={"q": "protein"}).json()
        assert hits["mode"] == "lexical" and hits["total"] == 6 and hits["pending"] == 0
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:  # --keep-alive
            ask = f"GET /api/papers?limit=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
            for idle in (0.0, 1.0):  # within 2 s: the connection is kept
                time.sleep(idle)
                conn.sendall(ask.encode())
                assert _response(conn).startswith(b"HTTP/1.1 200")
            time.sleep(3.5)  # past it: the server has closed it
            assert conn.recv(65536) == b""
    finally:
        server.terminate()
        server.wait(timeout=30)
    said = server.stderr.read().decode() if server.stderr else ""
    assert "warning: no mail server is set up" in said  # PAPERATLAS_SMTP_HOST is not set


def _response(conn: socket.socket) -> bytes:
    """One whole HTTP/1.1 response (with a Content-Length) read from ``conn``."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += conn.recv(65536)
    return data


def test_api_docs_work_without_internet(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    scripts = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert scripts and all(url.startswith("/") for url in scripts), scripts  # no CDN
    for url in scripts:
        assert client.get(url).status_code == 200, url
    assert client.get("/openapi.json").json()["paths"]["/api/search"]


def test_worker_connections_do_not_wait_for_delayed_acks() -> None:
    """``serve --workers N`` listens on a socket with TCP_NODELAY, which accepted
    connections inherit (uvicorn's own leaves it off, and kept-alive clients then wait
    ~40 ms for the body of every large page)."""
    import socket

    import uvicorn

    from paperatlas.cli.web import listening_socket

    sock = listening_socket(uvicorn.Config("x:y", host="127.0.0.1", port=0))
    try:
        sock.listen()
        with socket.create_connection(sock.getsockname()) as client:
            accepted, _ = sock.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert client is not None
    finally:
        sock.close()
