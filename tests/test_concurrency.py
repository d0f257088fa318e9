"""The server's concurrency: reads on per-thread read-only connections, one write path, no
process-wide lock (a slow request never stalls the others)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from paperatlas import Library
from paperatlas.store import Store
from paperatlas.web import WebSettings, create_app
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv


class SlowEmbedder(HashingEmbedder):
    """Encodes a query that says "slow" in ``delay`` seconds: a slow model or service."""

    def __init__(self, delay: float) -> None:
        super().__init__("hash-64", 64)
        self.delay = delay

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        if kind == "query" and any("slow" in t for t in texts):
            time.sleep(self.delay)
        return super().encode(texts, kind=kind)


@pytest.fixture(scope="module")
def clib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    tmp = tmp_path_factory.mktemp("conc")
    lib = Library(tmp / "c.db", embedding_model=SlowEmbedder(1.0))
    lib.ingest([write_csv(tmp / "in.csv", papers_of("protein", 12) + papers_of("galaxy", 12))],
               collection="main")
    lib.trees.build("t", min_size=3)
    lib.map.build()
    yield lib
    lib.close()


def test_reads_use_a_read_only_connection_of_their_thread(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    seen: list[sqlite3.Connection] = []

    def read() -> None:
        seen.append(store.connection())
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.connection().execute("INSERT INTO collections (name, created_at) VALUES ('x', 'now')")

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    read()
    assert len({id(c) for c in seen}) == 2 and store.conn not in seen  # one per thread
    papers = store.papers  # a repository kept in a variable follows its thread's transaction
    with store.transaction():
        assert store.connection() is store.conn
        papers.conn.execute("INSERT INTO collections (name, created_at) VALUES ('x', 'now')")
        assert store.collections.all()[0].name == "x"  # the transaction sees its own write
    assert [c.name for c in store.collections.all()] == ["x"]  # and readers see it committed
    store.close()


def test_a_get_never_touches_the_write_connection(clib: Library) -> None:
    client = TestClient(create_app(clib, WebSettings()))
    key = next(clib.papers(limit=1)).key
    written: list[str] = []
    clib.store.conn.set_trace_callback(written.append)
    try:
        for url in ("/", "/search?q=protein&mode=lexical", "/api/search?q=galaxy",
                    "/search?q=galaxy&mode=semantic", f"/papers/{key}", f"/api/papers/{key}",
                    "/trees", "/trees/t", "/trees/t/nodes/1", "/api/trees/t", "/map",
                    "/api/map", "/api/collections", "/api/papers", "/feeds/newest.atom",
                    "/feeds/trending.rss"):
            assert client.get(url).status_code == 200, url
    finally:
        clib.store.conn.set_trace_callback(None)
    assert written == []


def test_two_slow_requests_do_not_stall_the_others(clib: Library) -> None:
    client = TestClient(create_app(clib, WebSettings()))
    client.get("/api/search", params={"q": "protein", "mode": "lexical"})  # warm

    def get(query: str, mode: str) -> float:
        start = time.perf_counter()
        r = client.get("/api/search", params={"q": query, "mode": mode})
        assert r.status_code == 200
        return time.perf_counter() - start

    with ThreadPoolExecutor(8) as pool:
        slow = [pool.submit(get, f"slow protein {i}", "semantic") for i in range(2)]
        time.sleep(0.2)  # both slow requests are in their model call now
        started = time.perf_counter()
        fast = [pool.submit(get, "galaxy", "lexical") for _ in range(10)]
        fast_times = [f.result() for f in fast]
        fast_done = time.perf_counter() - started
        slow_times = [f.result() for f in slow]
    assert min(slow_times) >= 1.0
    assert fast_done < 0.8, (fast_done, fast_times)  # not behind the slow ones (1 s each)
    assert max(slow_times) < 1.9  # the two slow ones ran side by side, not one after another


def test_searches_answer_from_the_vectors_they_have_while_one_thread_reloads(
        tmp_path: Path) -> None:
    """Another process's index changed the vectors: the thread that reloads them works
    alone while the other threads' searches answer from the snapshot they have."""
    db = tmp_path / "r.db"
    lib = Library(db, embedding_model=HashingEmbedder("hash-64", 64))
    lib.ingest([write_csv(tmp_path / "a.csv", papers_of("protein", 8))], index=True)
    assert lib.search("protein", mode="semantic").total == 8  # loaded
    with Library(db, embedding_model=HashingEmbedder("hash-64", 64)) as other:
        other.ingest([write_csv(tmp_path / "b.csv", papers_of("galaxy", 8))], index=True)
    reloading = lib.vectors._loading  # as a reloading thread holds it
    done: list[int] = []
    with reloading:
        thread = threading.Thread(target=lambda: done.append(
            len(lib.search("protein", mode="semantic", limit=50).hits)))
        thread.start()
        thread.join(5)
        assert done == [8]  # answered at once, from the vectors it had
    assert len(lib.search("protein", mode="semantic", limit=50).hits) == 16  # then reloaded
    lib.close()
