"""Accounts and writes in the web app: sign-in, CSRF, tokens, private mode, tree edits,
collections and uploads, through FastAPI's test client on a real SQLite library."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("argon2")
pytest.importorskip("multipart")

from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.web import WebSettings, create_app
from paperatlas.web.writes import safe_name
from paperatlas.worker import Worker
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

PASSWORD = "correct horse battery"
CSV = "title,abstract,doi\nUploaded paper one,About graphs.,10.5555/u1\n,A record without a title.,\nUploaded paper two,About stars.,10.5555/u2\n"


@pytest.fixture(scope="module")
def alib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """Two topics of 20 papers with a tree "t", and a user "alice" with a token."""
    tmp = tmp_path_factory.mktemp("accounts")
    lib = Library(tmp / "a.db", embedding_model=HashingEmbedder("hash-128", 128))
    rows = papers_of("protein", 20) + papers_of("galaxy", 20)
    lib.ingest([write_csv(tmp / "in" / "main.csv", rows)], collection="main")
    lib.trees.build("t", collection="main", min_size=4)
    lib.people.add("alice", PASSWORD)
    yield lib
    lib.close()


@pytest.fixture(scope="module")
def token(alib: Library) -> str:
    return alib.people.token_create("alice", "tests").token


def _app(lib: Library, **settings: Any) -> TestClient:
    return TestClient(create_app(lib, WebSettings(secret_key="test-key", **settings)))


@pytest.fixture
def client(alib: Library) -> TestClient:
    return _app(alib)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, name: str = "alice", password: str = PASSWORD) -> str:
    """Sign in through the form; returns the new session's CSRF token."""
    csrf = csrf_of(client.get("/signin").text)
    r = client.post("/signin", data={"name": name, "password": password, "csrf": csrf,
                                     "next": "/collections"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/collections", r.text
    return csrf_of(client.get("/collections").text)


def a_topic(lib: Library, tree: str = "t") -> int:
    t = lib.trees.get(tree)
    return next(n.id for n in t.nodes.values() if n.kind == "topic" and n.parent == t.root)


def test_sign_in_and_out(client: TestClient) -> None:
    page = client.get("/signin?next=/trees")
    assert page.status_code == 200 and 'type="password"' in page.text
    assert 'name="next" value="/trees"' in page.text
    cookie = page.headers["set-cookie"].lower()  # the CSRF token lives in the session
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    csrf = csrf_of(page.text)
    wrong = client.post("/signin", data={"name": "alice", "password": "not it", "csrf": csrf})
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    assert ">Sign in</a>" not in wrong.text or "Sign out" not in wrong.text
    r = client.post("/signin", data={"name": "ALICE", "password": PASSWORD, "csrf": csrf,
                                     "next": "/trees"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/trees"
    home = client.get("/")
    assert "alice" in home.text and "Sign out" in home.text
    assert csrf_of(home.text) != csrf  # a fresh session on sign-in
    out = client.post("/signout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert "Sign out" not in client.get("/").text and 'href="/signin?next=/"' in client.get("/").text


def test_sign_in_never_redirects_off_site(client: TestClient) -> None:
    csrf = csrf_of(client.get("/signin").text)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = client.post("/signin", data={"name": "alice", "password": PASSWORD, "csrf": csrf,
                                         "next": target}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/", target
        csrf = csrf_of(client.get("/collections").text)


def test_session_cookie_is_secure_over_https(alib: Library) -> None:
    client = TestClient(create_app(alib, WebSettings(secret_key="k")),
                        base_url="https://testserver")
    cookie = client.get("/signin").headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    sign_in(client)  # and the secure cookie works
    assert "Sign out" in client.get("/").text


def test_forms_without_csrf_token_are_refused(client: TestClient, alib: Library) -> None:
    assert client.post("/signin", data={"name": "alice", "password": PASSWORD}).status_code == 403
    csrf = sign_in(client)
    node = a_topic(alib)
    for url, data in (("/collections", {"name": "sneaky"}),
                      ("/trees/t/edits", {"op": "rename", "node": str(node), "label": "Hacked"}),
                      ("/collections/add", {"collection": "main", "key": "x"})):
        r = client.post(url, data=data)
        assert r.status_code == 403 and "CSRF" in r.text, url
        assert client.post(url, data={**data, "csrf": csrf + "x"}).status_code == 403
    assert "sneaky" not in {c.name for c in alib.collections.all()}
    assert alib.trees.get("t").nodes[node].label != "Hacked"
    upload = client.post("/uploads", files={"file": ("x.csv", CSV.encode())})
    assert upload.status_code == 403
    assert client.post("/signout").status_code == 403


def test_rename_a_node_as_signed_in_user(client: TestClient, alib: Library) -> None:
    node = a_topic(alib)
    assert "Edit this topic" not in client.get(f"/trees/t/nodes/{node}").text  # anonymous
    csrf = sign_in(client)
    page = client.get(f"/trees/t/nodes/{node}")
    assert "Edit this topic" in page.text and 'name="parent"' in page.text
    r = client.post("/trees/t/edits", data={"op": "rename", "node": str(node),
                                            "label": "Renamed <b>topic</b>", "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/trees/t/nodes/{node}"
    after = client.get(f"/trees/t/nodes/{node}")
    assert "Renamed &lt;b&gt;topic&lt;/b&gt;" in after.text and "(locked)" in after.text  # flash
    assert "Renamed &lt;b&gt;topic&lt;/b&gt;" in client.get("/trees/t").text
    saved = alib.trees.get("t").nodes[node]
    assert saved.label == "Renamed <b>topic</b>" and saved.label_locked
    history = client.get("/api/trees/t/history").json()
    assert history[0]["kind"] == "edit"
    assert history[0]["op"] == "rename"
    assert history[0]["args"] == {"node": node, "label": "Renamed <b>topic</b>"}
    assert alib.trees.service.edits("t")[-1].args == {"node": node, "label": "Renamed <b>topic</b>"}


def test_anonymous_writes_are_refused(client: TestClient, alib: Library) -> None:
    node = a_topic(alib)
    for url in ("/collections", "/trees/t/edits", "/collections/add", "/uploads"):
        r = client.post(url, data={"op": "rename", "node": str(node), "label": "X",
                                   "name": "x"}, headers={"referer": "http://testserver/trees"},
                        follow_redirects=False)
        assert r.status_code == 303, url
        assert r.headers["location"].startswith("/signin?next=/"), url
    for method, url, body in (("POST", "/api/collections", {"name": "x"}),
                              ("POST", "/api/trees/t/edits", {"op": "rename", "node": node,
                                                              "label": "X"}),
                              ("POST", "/api/collections/main/papers", {"keys": ["x"]}),
                              ("DELETE", "/api/collections/main/papers", {"keys": ["x"]}),
                              ("POST", "/api/uploads", None)):
        r = client.request(method, url, json=body)
        assert r.status_code == 401, url
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["type"] == "SignInRequired"
    # a session cookie is not enough for the API: it needs a token
    sign_in(client)
    assert client.post("/api/collections", json={"name": "x"}).status_code == 401
    assert "x" not in {c.name for c in alib.collections.all()}
    assert alib.trees.get("t").nodes[node].label != "X"


def test_api_token(client: TestClient, alib: Library, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/collections", json={"name": "api made"}, headers=auth)
    assert r.status_code == 201 and r.json()["name"] == "api made"
    assert client.post("/api/collections", json={"name": "api made"},
                       headers=auth).status_code == 409
    for bad in ("Bearer pa_wrong", "Bearer ", f"Bearer {token}x"):
        r = client.post("/api/collections", json={"name": "y"}, headers={"Authorization": bad})
        assert r.status_code == 401, bad
    bad_read = client.get("/api/search?q=x", headers={"Authorization": "Bearer pa_wrong"})
    assert bad_read.status_code == 401 and bad_read.json()["error"]["type"] == "AuthError"
    assert client.get("/api/search?q=x", headers=auth).status_code == 200
    tree = alib.trees.get("t")
    a, b = [n.id for n in tree.children(tree.root) if n.kind == "topic"][:2]
    r = client.post("/api/trees/t/edits", json={"op": "move", "node": b, "parent": a},
                    headers=auth)
    assert r.status_code == 200 and r.json()["message"] == f"node {b} moved under {a}"
    assert alib.trees.get("t").nodes[b].parent == a
    key = alib.store.papers.key_of(min(tree.subtree_papers(a)))
    r = client.post("/api/trees/t/edits", json={"op": "pin", "paper": key, "node": b},
                    headers=auth)
    assert r.status_code == 200 and "pinned" in r.json()["message"]
    assert key in {p["key"] for p in client.get(f"/api/trees/t/nodes/{b}").json()["papers"]
                   if p["pinned"]}
    for body, text in (({"op": "explode", "node": a}, "rename, lock"),
                       ({"op": "rename", "node": a, "label": "x", "color": "red"}, "color"),
                       ({"op": "rename", "node": "one", "label": "x"}, "node id"),
                       ({"node": a}, "'op'"), ({"op": "rename", "node": a}, "needs label")):
        r = client.post("/api/trees/t/edits", json=body, headers=auth)
        assert r.status_code == 400 and text in r.json()["error"]["message"], body
    assert client.post("/api/trees/t/edits", json={"op": "rename", "node": 9999, "label": "x"},
                       headers=auth).status_code == 404
    assert client.post("/api/trees/nope/edits", json={"op": "unpin", "paper": key},
                       headers=auth).status_code == 404
    assert alib.people.tokens("alice")[0].last_used_at is not None


def test_private_mode(alib: Library, token: str) -> None:
    client = _app(alib, private=True)
    r = client.get("/trees?x=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=/trees%3Fx%3D1"
    for url in ("/", "/papers/x", "/collections", "/uploads", "/jobs/1"):
        assert client.get(url, follow_redirects=False).status_code == 303, url
    for url in ("/api/search?q=protein", "/api/collections", "/api/trees/t", "/api/jobs"):
        r = client.get(url)
        assert r.status_code == 401 and r.json()["error"]["type"] == "SignInRequired", url
    signin = client.get("/signin")
    assert signin.status_code == 200 and "private" in signin.text
    assert client.get("/static/style.css").status_code == 200
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/collections", headers=auth).status_code == 200
    sign_in(client)
    assert client.get("/").status_code == 200
    assert client.get("/api/collections").status_code == 200  # the session reads the API too
    open_client = _app(alib)
    assert open_client.get("/").status_code == 200 and open_client.get(
        "/api/collections").status_code == 200


def test_a_removed_user_is_signed_out(alib: Library) -> None:
    alib.people.add("temp", PASSWORD)
    client = _app(alib)
    csrf = sign_in(client, "temp")
    alib.people.remove("temp")
    r = client.post("/collections", data={"name": "by temp", "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    assert "by temp" not in {c.name for c in alib.collections.all()}


def test_collections_pages_and_api(client: TestClient, alib: Library, token: str) -> None:
    keys = [p.key for p in alib.papers(collection="main", limit=3)]
    csrf = sign_in(client)
    r = client.post("/collections", data={"name": "reading", "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/collections/reading"
    page = client.get("/collections/reading")
    assert page.status_code == 200 and "Collection &#39;reading&#39; created." in page.text
    r = client.post("/collections/add", data={"collection": "reading", "key": keys[0],
                                              "csrf": csrf, "back": "/collections/reading"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/collections/reading"
    page = client.get("/collections/reading").text
    assert f'href="/papers/{keys[0]}"' in page and 'action="/collections/remove"' in page
    paper = client.get(f"/papers/{keys[1]}").text  # add from the paper page
    assert '<option value="reading">' in paper
    client.post("/collections/add", data={"collection": "reading", "key": keys[1],
                                          "csrf": csrf, "back": f"/papers/{keys[1]}"})
    assert alib.papers.get(keys[1]).collections == ["main", "reading"]
    r = client.post("/collections/remove", data={"collection": "reading", "key": keys[0],
                                                 "csrf": csrf, "back": "/collections/reading"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert [p.key for p in alib.papers(collection="reading")] == [keys[1]]
    assert client.post("/collections", data={"name": "reading", "csrf": csrf}).status_code == 409
    missing = client.post("/collections/add", data={"collection": "reading", "key": "nope",
                                                    "csrf": csrf})
    assert missing.status_code == 404
    listing = client.get("/collections").text
    assert 'href="/collections/reading"' in listing and 'name="name"' in listing
    # the API twins
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/collections/reading/papers", json={"keys": keys}, headers=auth)
    assert r.status_code == 200 and r.json() == {"collection": "reading", "added": 2, "papers": 3}
    r = client.request("DELETE", "/api/collections/reading/papers",
                       json={"keys": keys[:2]}, headers=auth)
    assert r.json() == {"collection": "reading", "removed": 2, "papers": 1}
    assert client.post("/api/collections/nope/papers", json={"keys": keys},
                       headers=auth).status_code == 404
    assert client.post("/api/collections/reading/papers", json={"keys": "x"},
                       headers=auth).status_code == 400
    assert client.get("/collections/nope").status_code == 404


def test_upload_with_a_bad_record(client: TestClient, alib: Library, token: str) -> None:
    Worker(alib).run_once()  # what earlier tests queued
    csrf = sign_in(client)
    form = client.get("/uploads")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    r = client.post("/uploads", data={"csrf": csrf, "collection": "", "format": ""},
                    files={"file": ("../My list.csv", CSV.encode())}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job_id = int(r.headers["location"].rsplit("/", 1)[1])
    queued = client.get(f"/jobs/{job_id}")  # the server only queued it
    assert "status-queued" in queued.text and "Waiting for the job worker" in queued.text
    assert alib.papers.count() == 40 and client.get(f"/api/jobs/{job_id}").json()["attempts"] == 0
    assert Worker(alib).run_once() == 2  # the ingest, then the index it queued
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert "status-done" in page.text and "no title" in page.text and "refresh" not in page.text
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "done" and job["finished"] and job["created_by"] == "alice"
    assert job["params"]["file"] == "My_list.csv" and job["params"]["collection"] == "My_list"
    assert job["result"]["added"] == 2 and job["result"]["rejected"] == 1
    assert job["errors"] == [{"file": "My_list.csv", "line": 3, "entry": 2, "reason": "no title"}]
    assert job["done"] == job["total"] == len(CSV.encode())
    assert alib.papers.count("My_list") == 2 and alib.papers.has("10.5555/u1")
    assert alib.jobs.get(job_id).status == "done"  # recorded in the library too
    # the worker indexed its papers (searches never index)
    found = client.get("/api/search", params={"q": "uploaded paper one", "mode": "lexical",
                                              "collection": "My_list"}).json()
    assert found["results"][0]["title"] == "Uploaded paper one" and found["pending"] == 0
    assert f'href="/jobs/{job_id}"' in client.get("/uploads").text
    # the API twin, into a named collection, indexed afterwards
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/uploads", headers=auth, data={"collection": "api-up", "index": "true"},
                    files={"file": ("more.jsonl", b'{"title": "Graph upload via api"}\n')})
    assert r.status_code == 202
    made = r.json()
    assert made["url"] == f"/api/jobs/{made['job']['id']}" and made["job"]["status"] == "queued"
    assert "path" not in made["job"]["params"]  # where the server keeps it is not shown
    assert Worker(alib).run_once() == 2
    done = client.get(made["url"]).json()
    assert done["status"] == "done" and done["result"]["added"] == 1 and done["params"]["index"]
    hits = client.get("/api/search", params={"q": "graph upload", "collection": "api-up"}).json()
    assert hits["results"][0]["title"] == "Graph upload via api" and hits["pending"] == 0
    listed = client.get("/api/jobs").json()
    assert [(j["kind"], j["parent"]) for j in listed[:2]] == [("index", made["job"]["id"]),
                                                            ("ingest", None)]
    assert listed[1]["id"] == made["job"]["id"] and job_id in [j["id"] for j in listed]
    bad = client.post("/api/uploads", headers=auth, data={"format": "xml"},
                      files={"file": ("a.xml", b"<x/>")})
    assert bad.status_code == 400 and "csv" in bad.json()["error"]["message"]
    assert client.post("/api/uploads", headers=auth, data={"x": "1"}).status_code == 400


def test_failed_upload_fails_the_job(client: TestClient, alib: Library, token: str) -> None:
    r = client.post("/api/uploads", headers={"Authorization": f"Bearer {token}"},
                    data={"format": "jsonl"},
                    files={"file": ("broken.jsonl", b'{"title": \n{"title": "fine"}\n')})
    assert Worker(alib).run_once() == 1  # nothing added: no index queued
    job = client.get(r.json()["url"]).json()
    assert job["status"] == "failed" and job["message"].startswith("broken.jsonl:1: invalid JSON")
    page = client.get(r.json()["page"]).text
    assert "status-failed" in page and "broken.jsonl:1: invalid JSON" in page


def test_oversize_upload_is_413(alib: Library, token: str, tmp_path: Path) -> None:
    client = _app(alib, max_upload_bytes=1000, upload_dir=str(tmp_path / "up"))
    auth = {"Authorization": f"Bearer {token}"}
    jobs = len(alib.jobs.recent(100))
    for size in (1001, 200_000):  # caught while saving, and by Content-Length up front
        r = client.post("/api/uploads", headers=auth,
                        files={"file": ("big.csv", b"title\n" + b"x" * size)})
        assert r.status_code == 413, size
        assert "1,000 bytes" in r.json()["error"]["message"]
    assert len(alib.jobs.recent(100)) == jobs
    assert not any(p.is_file() for p in (tmp_path / "up").rglob("*"))
    csrf = sign_in(client)
    page = client.post("/uploads", data={"csrf": csrf},
                       files={"file": ("big.csv", b"x" * 5000)})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    ok = client.post("/api/uploads", headers=auth, files={"file": ("small.csv", b"title\nA\n")})
    assert ok.status_code == 202
    assert [p.name for p in (tmp_path / "up").rglob("*.csv")] == ["small.csv"]


def test_queued_jobs_wait_for_the_worker_when_the_app_starts(alib: Library) -> None:
    """The app no longer fails what it finds queued: the job worker runs it."""
    job = alib.jobs.enqueue("map_place", {})
    client = _app(alib)
    data = client.get(f"/api/jobs/{job.id}").json()
    assert data["status"] == "queued" and data["message"] is None
    assert Worker(alib, kinds=("map_place",)).run_once() == 1
    data = client.get(f"/api/jobs/{job.id}").json()
    assert data["status"] == "done" and data["result"]["placed"] == 0  # no map yet


def test_safe_names() -> None:
    assert safe_name("C:\\Users\\me\\list (1).csv") == "list_1_.csv"
    assert safe_name("../../etc/passwd") == "passwd" and safe_name("...") == "upload"


def test_serve_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.delenv("PAPERATLAS_SECRET_KEY", raising=False)
    db = tmp_path / "s.db"
    r = CliRunner().invoke(main, ["--db", str(db), "--model", "none", "serve", "--private",
                                  "--max-upload-mb", "2"])
    assert r.exit_code == 0, r.output
    settings = seen["app"].state.paperatlas.settings
    assert settings.private and settings.max_upload_bytes == 2 * 1024 * 1024
    secret = tmp_path / "s.db.secret"
    assert settings.secret_key == secret.read_text().strip() and len(settings.secret_key) > 30
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    CliRunner().invoke(main, ["--db", str(db), "--model", "none", "serve"])
    assert seen["app"].state.paperatlas.settings.secret_key == settings.secret_key  # kept
    monkeypatch.setenv("PAPERATLAS_SECRET_KEY", "from-env")
    CliRunner().invoke(main, ["--db", str(db), "--model", "none", "serve"])
    assert seen["app"].state.paperatlas.settings.secret_key == "from-env"
    assert not seen["app"].state.paperatlas.settings.private
    assert json.loads(json.dumps(seen["port"])) == 8000
