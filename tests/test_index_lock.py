"""Index writes beside another writer (another process), and searches that only read."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import PaperatlasError
from paperatlas.records.serialize import to_json
from paperatlas.search.lexical import IndexBusyError
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

from conftest import dump

#: A process that holds the lexical index's writer until a line arrives on its stdin.
HOLDER = """
import sys
from pathlib import Path
from paperatlas.search.lexical import LexicalIndex
with LexicalIndex(Path(sys.argv[1])).writing():
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the writer of ``tmp_path/lib.db.index/lexical``."""
    folder = tmp_path / "lib.db.index" / "lexical"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


def _ingest(lib: Library, tmp_path: Path, topic: str, n: int, *, index: bool = False) -> None:
    lib.ingest([write_csv(tmp_path / "in" / f"{topic}.csv", papers_of(topic, n))],
               index=index)


def test_index_waits_for_another_writer(tmp_path: Path, lib: Library,
                                        holder: subprocess.Popen[str]) -> None:
    _ingest(lib, tmp_path, "protein", 5)

    def release() -> None:
        time.sleep(0.6)
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.flush()

    threading.Thread(target=release, daemon=True).start()
    start = time.monotonic()
    report = lib.index()  # no LockBusy traceback: it waits for the other writer
    assert time.monotonic() - start >= 0.5
    assert report.updated == 5 and report.documents == 5
    assert lib.search("protein", mode="lexical").total == 5


def test_index_gives_up_with_a_typed_error(tmp_path: Path, lib: Library,
                                           holder: subprocess.Popen[str]) -> None:
    _ingest(lib, tmp_path, "protein", 3)
    lib.search.service.lock_wait = 0.4
    start = time.monotonic()
    with pytest.raises(IndexBusyError, match="another process is writing the search index"):
        lib.index()
    assert 0.4 <= time.monotonic() - start < 5
    assert issubclass(IndexBusyError, PaperatlasError)
    # the papers stay pending, and searches still answer meanwhile
    page = lib.search("protein", mode="lexical")
    assert page.total == 0 and page.pending == 3


def test_cli_index_busy_is_a_message_not_a_traceback(tmp_path: Path, lib: Library,
                                                     holder: subprocess.Popen[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    csv = write_csv(tmp_path / "in" / "p.csv", papers_of("protein", 2))
    monkeypatch.setattr("paperatlas.search.service.LOCK_WAIT", 0.3)
    result = CliRunner().invoke(main, ["--db", str(lib.path), "--model", "none", "ingest", str(csv), "--index"])
    assert result.exit_code != 0
    assert "another process is writing the search index" in result.output
    assert "Traceback" not in result.output and "LockBusy" not in result.output


def test_readers_see_what_another_library_committed(tmp_path: Path, lib: Library) -> None:
    _ingest(lib, tmp_path, "protein", 4, index=True)
    assert lib.search("graph", mode="lexical").total == 0  # the reader is open now
    other = Library(lib.path, embedding_model=None)  # as another process would
    try:
        _ingest(other, tmp_path, "graph", 6, index=True)
    finally:
        other.close()
    page = lib.search("graph", mode="lexical")
    assert page.total == 6 and page.pending == 0


def test_search_with_pending_papers_writes_nothing(tmp_path: Path) -> None:
    embedder = HashingEmbedder("hash-64")
    lib = Library(tmp_path / "lib.db", embedding_model=embedder)
    try:
        _ingest(lib, tmp_path, "protein", 6, index=True)
        _ingest(lib, tmp_path, "graph", 12)  # committed, not indexed
        before, calls = dump(lib), embedder.calls
        docs = len(lib.search.service.lexical)
        for mode in ("lexical", "semantic", "hybrid"):
            page = lib.search("graph network", mode=mode)
            assert page.pending == 12 and to_json(page)["pending"] == 12
            assert all("graph study" not in hit.title for hit in page.hits)
        key = next(lib.papers()).key
        similar = lib.search.similar([key], mode="hybrid")
        assert similar.pending == 12
        assert dump(lib) == before  # no sync state, no vectors, no tokens written
        assert embedder.calls - calls <= 3  # the query texts only, never a paper
        assert len(lib.search.service.lexical) == docs
        lib.index()
        page = lib.search("graph network", mode="hybrid")
        assert page.pending == 0 and "graph study" in page.hits[0].title
    finally:
        lib.close()


def test_cli_search_notes_pending_papers(tmp_path: Path, lib: Library) -> None:
    _ingest(lib, tmp_path, "protein", 2, index=True)
    _ingest(lib, tmp_path, "graph", 3)
    result = CliRunner().invoke(main, ["--db", str(lib.path), "--model", "none", "search", "protein",
                                       "--mode", "lexical"])
    assert result.exit_code == 0, result.output
    assert "3 papers not indexed yet" in result.stderr
    assert "not indexed" not in result.stdout


def test_web_search_says_how_many_papers_wait(tmp_path: Path, lib: Library) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from paperatlas.web import WebSettings, create_app

    _ingest(lib, tmp_path, "protein", 4, index=True)
    _ingest(lib, tmp_path, "graph", 12)
    client = TestClient(create_app(lib, WebSettings(secret_key="test-key")))
    before = dump(lib)
    data = client.get("/api/search", params={"q": "graph protein", "mode": "lexical"}).json()
    assert data["pending"] == 12 and data["total"] == 4
    page = client.get("/search", params={"q": "graph protein"})
    assert page.status_code == 200 and "12 papers not indexed yet" in page.text
    key = next(lib.papers()).key
    assert client.get(f"/api/papers/{key}").status_code == 200  # with similar papers
    assert dump(lib) == before


def _collection_client(lib: Library) -> tuple[TestClient, dict[str, str]]:
    from paperatlas.web import WebSettings, create_app
    lib.people.add("ed", "correct horse battery")
    token = lib.people.token_create("ed", "tests").token
    client = TestClient(create_app(lib, WebSettings(secret_key="k")))
    return client, {"Authorization": f"Bearer {token}"}


def test_a_collection_edit_reaches_the_search_filter(tmp_path: Path, lib: Library) -> None:
    """Searches never sync, so a web write queues an index job for what it changed, which
    the job worker runs."""
    from paperatlas.worker import Worker
    _ingest(lib, tmp_path, "protein", 4, index=True)
    client, auth = _collection_client(lib)
    key = lib.search("protein", mode="lexical").hits[0].key
    assert client.post("/api/collections", json={"name": "picked"}, headers=auth).is_success
    assert client.post("/api/collections/picked/papers", json={"keys": [key]},
                       headers=auth).is_success
    assert lib.search("protein", mode="lexical").pending == 1  # queued, not indexed
    assert [(j.kind, j.status, j.params) for j in lib.jobs.recent(1)] == [
        ("index", "queued", {"collections": ["picked"]})]
    assert Worker(lib).run_once() == 1
    page = client.get("/api/search", params={"q": "protein", "mode": "lexical",
                                              "collection": "picked"}).json()
    assert [h["key"] for h in page["results"]] == [key] and page["pending"] == 0
    assert client.request("DELETE", "/api/collections/picked/papers", json={"keys": [key]},
                          headers=auth).is_success
    assert Worker(lib).run_once() == 1
    assert lib.search("protein", mode="lexical", collection="picked").total == 0


def test_a_collection_edit_answers_beside_a_busy_writer(tmp_path: Path, lib: Library) -> None:
    """With another process writing the index, the edit answers at once (it only queues an
    index job) and its paper waits for the worker, counted as pending."""
    _ingest(lib, tmp_path, "protein", 3, index=True)
    client, auth = _collection_client(lib)
    key = lib.search("protein", mode="lexical").hits[0].key
    client.post("/api/collections", json={"name": "busy"}, headers=auth)
    again = subprocess.Popen([sys.executable, "-c", HOLDER,
                              str(tmp_path / "lib.db.index" / "lexical")], text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        assert again.stdout is not None and again.stdout.readline().strip() == "held"
        start = time.monotonic()
        answer = client.post("/api/collections/busy/papers", json={"keys": [key]},
                             headers=auth)
        assert answer.is_success and time.monotonic() - start < 2
        assert lib.search("protein", mode="lexical").pending == 1
    finally:
        again.kill()
        again.wait(10)
    lib.index()
    assert lib.search("protein", mode="lexical", collection="busy").total == 1


def test_a_paper_ingested_into_a_second_collection_is_found_there(tmp_path: Path,
                                                                  lib: Library) -> None:
    """The change log sees a known paper's new collection (the trigger's OR REPLACE was
    overridden by the store's OR IGNORE, so the filter never learnt it)."""
    rows = papers_of("protein", 3)
    lib.ingest([write_csv(tmp_path / "in" / "first.csv", rows)], collection="first",
               index=True)
    lib.ingest([write_csv(tmp_path / "in" / "second.csv", rows)], collection="second",
               index=True)
    assert lib.search("protein", mode="lexical", collection="second").total == 3


def test_migration_12_re_reads_collected_papers(tmp_path: Path) -> None:
    """A library made before the fix logs its collected papers as changed once, so the
    next index corrects their collection filter."""
    import sqlite3

    from paperatlas.store.migrations import MIGRATIONS
    path = tmp_path / "old.db"
    with Library(path, embedding_model=None) as lib:
        lib.ingest([write_csv(tmp_path / "in" / "a.csv", papers_of("protein", 3))],
                   collection="a", index=True)
        lib.store.conn.execute("PRAGMA user_version=11")
    conn = sqlite3.connect(path)
    # the stale state of an old library: a membership the change log never saw
    conn.execute("INSERT INTO collections (name, created_at) VALUES ('b', 'x')")
    conn.execute("DROP TRIGGER collections_changed_insert")
    conn.execute("INSERT INTO collection_papers (collection_id, paper_id, added_at)"
                 " SELECT c.id, p.id, 'x' FROM collections c, papers p WHERE c.name = 'b'")
    conn.commit()
    conn.close()
    with Library(path, embedding_model=None) as lib:
        assert lib.store.schema_version == len(MIGRATIONS)
        assert lib.search("protein", mode="lexical").pending == 3
        lib.index()
        assert lib.search("protein", mode="lexical", collection="b").total == 3
