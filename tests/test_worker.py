"""The job queue and the worker: jobs claimed once, resumed after a kill and finished once,
an upload that reaches the tree and the map with no command, the CLI's foreground jobs,
``paperatlas worker --once`` and the worker ``serve`` starts (real SQLite, real processes,
bounded waits)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import InvalidOptionError, StoreError
from paperatlas.jobs import JobService, merge_params
from paperatlas.worker import Worker
from test_semantic import HashingEmbedder
from test_tree import papers_of, write_csv

CLI = [sys.executable, "-m", "paperatlas"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PAPERATLAS_SECRET_KEY": "test-key"}


def _until(check: Callable[[], bool], seconds: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)


def _queue_file(lib: Library, path: Path, collection: str) -> int:
    """An upload's ingest job, as the web queues it."""
    return lib.jobs.enqueue(
        "ingest", {"file": path.name, "collection": collection, "format": None},
        created_by="alice", payload={"path": str(path)}).id


def _sources(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM sources").fetchone()[0])


def _dead_pid() -> int:
    """The id of a process that has exited (and was reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- the queue ------------------------------------------------------------------------------
def test_an_ingest_killed_before_queueing_its_index_job_is_mended_by_a_rerun(
        lib: Library, write) -> None:  # type: ignore[no-untyped-def]
    """Found by bench/fault_kills.py: a kill after the last batch committed and before the
    index job was queued left the papers unindexed, and the re-run (all skipped) queued
    nothing. The re-run now queues the job when papers wait for the index."""
    data = write("a.csv", "title,abstract\nProtein folding,Deep networks fold proteins.\n")
    lib.ingest([data])
    with lib.store.transaction():  # stands for the kill: the job was never queued
        lib.store.conn.execute("DELETE FROM jobs")
    assert lib.jobs.recent(10) == [] and lib.search.pending() == 1
    again = lib.ingest([data])
    assert again.added == 0 and again.skipped == 1
    assert [(j.kind, j.params) for j in lib.jobs.recent(10)] == [("index", {"collections": ["a"]})]
    lib.index()
    assert lib.search.pending() == 0
    assert lib.ingest([data]).skipped == 1 and len(lib.jobs.recent(10)) == 1  # nothing waits


def test_coalesced_kinds_are_queued_once(lib: Library) -> None:
    jobs = lib.jobs
    first = jobs.enqueue("index", {"collections": ["a"]})
    again = jobs.enqueue("index", {"collections": ["b"]})
    assert again.id == first.id and again.params == {"collections": ["a", "b"]}
    assert jobs.enqueue("index", {"collections": None}).params == {"collections": None}
    assert jobs.enqueue("map_place", {}).id != first.id
    one = jobs.enqueue("ingest", {"file": "x.csv"})
    assert jobs.enqueue("ingest", {"file": "x.csv"}).id != one.id  # uploads never merge
    assert [j.kind for j in jobs.unfinished()] == ["index", "map_place", "ingest", "ingest"]
    with pytest.raises(InvalidOptionError, match="tree_update"):
        jobs.enqueue("reindex", {})
    assert merge_params({"embed": False, "x": 1}, {"embed": True}) == {"embed": True, "x": 1}


def test_one_running_job_per_kind_and_each_claimed_once(tmp_path: Path) -> None:
    """Two libraries (two connections, as two workers) race for 12 jobs: each is claimed by
    one, and a kind never runs twice at once."""
    path = tmp_path / "q.db"
    with Library(path, embedding_model=None) as a, Library(path, embedding_model=None) as b:
        held = a.jobs.claim()
        assert held is None
        for i in range(6):
            a.jobs.create("ingest", {"n": i})
        for kind in ("index", "tree_update", "map_place"):
            a.jobs.enqueue(kind, {})
        first = a.jobs.claim(("ingest",))
        assert first is not None and b.jobs.claim(("ingest",)) is None  # kind busy
        assert a.jobs.finish(first, first.job) is not None
        claimed: dict[str, list[int]] = {"a": [], "b": []}
        running: set[str] = set()
        overlap: list[str] = []
        lock = threading.Lock()

        def drain(name: str, service: JobService) -> None:
            while (claim := service.claim()) is not None:
                with lock:
                    if claim.job.kind in running:
                        overlap.append(claim.job.kind)
                    running.add(claim.job.kind)
                claimed[name].append(claim.job.id)
                time.sleep(0.01)
                with lock:
                    running.discard(claim.job.kind)
                done = service.finish(claim, claim.job)
                assert done is not None and done.status == "done"

        threads = [threading.Thread(target=drain, args=(n, lib.jobs))
                   for n, lib in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        ids = sorted(claimed["a"] + claimed["b"])
        assert ids == sorted(set(ids)) and len(ids) == 8 and not overlap
        assert all(j.status == "done" and j.attempts == 1 for j in a.jobs.recent(20))
        assert a.jobs.finish(first, first.job) is None  # finished once


def test_a_foreground_job_waits_for_its_kind(lib: Library) -> None:
    held = lib.jobs.start_foreground("index", {})
    start = time.monotonic()
    with pytest.raises(StoreError, match="running a job of kind 'index'"):
        lib.jobs.start_foreground("index", {}, wait=0.3)
    assert 0.3 <= time.monotonic() - start < 5
    lib.jobs.finish(held, held.job)
    assert lib.index().documents == 0 and lib.jobs.recent(1)[0].status == "done"


def test_a_job_of_another_host_is_taken_again_after_its_heartbeat(lib: Library) -> None:
    now = [1000.0]
    jobs = JobService(lib.store, stale_after=60, max_attempts=2, clock=lambda: now[0])
    job = jobs.enqueue("map_place", {})
    claim = jobs.claim()
    assert claim is not None and claim.job.id == job.id
    lib.store.conn.execute("UPDATE jobs SET owner = ? WHERE id = ?",
                           ('{"host": "elsewhere", "pid": 1, "start": null}', job.id))
    now[0] += 30
    assert jobs.reclaim() == 0 and jobs.beat(claim)  # alive: its heartbeat is recent
    lib.store.conn.execute("UPDATE jobs SET owner = ? WHERE id = ?",
                           ('{"host": "elsewhere", "pid": 1, "start": null}', job.id))
    now[0] += 61
    assert jobs.reclaim() == 1 and jobs.get(job.id).status == "queued"
    assert jobs.finish(claim, claim.job) is None  # the first claim can no longer end it
    again = jobs.claim()
    assert again is not None and again.job.attempts == 2
    lib.store.conn.execute("UPDATE jobs SET owner = ? WHERE id = ?",
                           (f'{{"host": "{socket.gethostname()}", "pid": {_dead_pid()}}}',
                            job.id))
    assert jobs.reclaim() == 1  # a dead process on this host: at once; no third attempt
    failed = jobs.get(job.id)
    assert failed.status == "failed" and "stopped 2 times" in (failed.message or "")


# -- resumed and finished exactly once ----------------------------------------------------
def test_a_job_taken_again_after_its_work_committed_adds_nothing_twice(tmp_path: Path,
                                                                       lib: Library) -> None:
    """The process died after the ingest committed but before the job ended: the next
    worker ingests the same file again, which adds nothing, and ends the job once."""
    path = write_csv(tmp_path / "up" / "five.csv", papers_of("protein", 5))
    job_id = _queue_file(lib, path, "up")
    claim = lib.jobs.claim()
    assert claim is not None
    lib.ingest([path], collection="up")  # the work, committed
    lib.store.conn.execute("UPDATE jobs SET owner = ? WHERE id = ?", (
        f'{{"host": "{socket.gethostname()}", "pid": {_dead_pid()}}}', job_id))
    assert Worker(lib).run_once() == 2  # the ingest again, then one index
    job = lib.jobs.get(job_id)
    assert (job.status, job.attempts, job.result["added"], job.result["skipped"]) == (
        "done", 2, 0, 5)
    assert lib.papers.count() == 5 and _sources(tmp_path / "lib.db") == 5
    assert lib.jobs.finish(claim, claim.job) is None
    assert lib.jobs.get(job_id).result["skipped"] == 5 and Worker(lib).run_once() == 0


def test_a_worker_killed_mid_job_is_finished_once(tmp_path: Path) -> None:
    """A worker process is SIGKILLed while its ingest reads the file (a FIFO that never
    gets a writer); a new worker takes the job again and finishes it exactly once."""
    db = tmp_path / "k.db"
    rows = papers_of("galaxy", 8)
    fifo = tmp_path / "up" / "list.csv"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    with Library(db, embedding_model=None) as lib:
        job_id = _queue_file(lib, fifo, "up")
    worker = subprocess.Popen([*CLI, "--db", str(db), "--model", "none", "worker", "--once"],
                              env=ENV, stderr=subprocess.PIPE)
    try:
        with Library(db, embedding_model=None) as lib:
            _until(lambda: lib.jobs.get(job_id).status == "running", what="the job to start")
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            job = lib.jobs.get(job_id)
            assert (job.status, job.attempts, job.finished_at) == ("running", 1, None)
            fifo.unlink()
            write_csv(fifo, rows)  # the upload, readable now
            again = subprocess.run([*CLI, "--db", str(db), "--model", "none", "worker",
                                    "--once"], env=ENV, capture_output=True, text=True,
                                   timeout=60)
            assert again.returncode == 0, again.stderr
            assert f"job {job_id} ingest: done" in again.stderr and "ran 2 jobs" in again.stderr
            job = lib.jobs.get(job_id)
            assert (job.status, job.attempts, job.result["added"]) == ("done", 2, 8)
            assert lib.papers.count() == 8 and _sources(db) == 8
            assert [(j.kind, j.status) for j in lib.jobs.recent(5)] == [("index", "done"),
                                                                 ("ingest", "done")]
            assert lib.search("galaxy", mode="lexical").total == 8
            assert Worker(lib).run_once() == 0  # nothing left, nothing run twice
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)


def test_two_worker_processes_run_each_job_once(tmp_path: Path) -> None:
    db = tmp_path / "two.db"
    with Library(db, embedding_model=None) as lib:
        ids = [_queue_file(lib, write_csv(tmp_path / "up" / f"f{i}.csv",
                                          papers_of("protein", 3, start=10 * i)), f"c{i}")
               for i in range(4)]
    procs = [subprocess.Popen([*CLI, "--db", str(db), "--model", "none", "worker", "--once"],
                              env=ENV, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    with Library(db, embedding_model=None) as lib:
        Worker(lib).run_once()  # whatever the two left when they found a kind busy
        jobs = {j.id: j for j in lib.jobs.recent(20)}
        assert all(jobs[i].status == "done" and jobs[i].attempts == 1 for i in ids)
        assert sum(f"job {i} ingest: done" in out for out in outs for i in ids) <= 4
        assert lib.papers.count() == 12 and _sources(db) == 12
        assert [j.kind for j in jobs.values()].count("index") >= 1
        assert lib.search("protein", mode="lexical").pending == 0


# -- uploads reach the tree and the map ------------------------------------------------------
@pytest.fixture
def mapped(tmp_path: Path) -> Iterator[Library]:
    """40 papers of two topics with a tree of the whole library and a map."""
    lib = Library(tmp_path / "m.db", embedding_model=HashingEmbedder("hash-64", 64))
    rows = papers_of("protein", 20) + papers_of("galaxy", 20)
    lib.ingest([write_csv(tmp_path / "in" / "main.csv", rows)], collection="main")
    lib.trees.build("t", min_size=4)
    lib.map.build()
    Worker(lib).run_once()  # what building queued
    lib.people.add("alice", "correct horse battery")
    yield lib
    lib.close()


def test_an_upload_reaches_the_tree_and_the_map_with_no_command(mapped: Library) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from paperatlas.web import WebSettings, create_app

    client = TestClient(create_app(mapped, WebSettings(secret_key="k")))
    auth = {"Authorization": f"Bearer {mapped.people.token_create('alice', 't').token}"}
    csv = "title,abstract\n" + "".join(f"{t},{a}\n" for t, a in papers_of("protein", 3, 50))
    made = client.post("/api/uploads", headers=auth, data={"collection": "new"},
                       files={"file": ("new.csv", csv.encode())}).json()
    assert made["job"]["status"] == "queued" and client.get("/api/map").json()["count"] == 40
    assert "1 job waiting or running" in client.get("/").text
    assert Worker(mapped, kinds=("ingest",)).run_once() == 1
    home = client.get("/").text  # reads say how fresh they are
    assert "3 not indexed yet" in home and "1 job waiting or running" in home
    assert client.get("/api/search", params={"q": "protein"}).json()["pending"] == 3
    assert Worker(mapped).run_once() == 3
    home = client.get("/").text
    assert "not indexed yet" not in home and "waiting or running" not in home
    chain = [(j["kind"], j["status"], j["parent"]) for j in client.get("/api/jobs").json()]
    ingest, index, tree = (made["job"]["id"], made["job"]["id"] + 1, made["job"]["id"] + 2)
    assert chain[:4] == [("map_place", "done", tree), ("tree_update", "done", index),
                         ("index", "done", ingest), ("ingest", "done", None)]
    assert client.get(f"/api/jobs/{tree}").json()["result"]["trees"]["t"]["added"] == 3
    assert client.get("/api/map").json()["count"] == 43
    key = next(mapped.papers(collection="new")).key
    topics = client.get(f"/api/papers/{key}", params={"similar": 0}).json()["topics"]
    assert topics and topics[0]["tree"] == "t"
    page = client.get(f"/papers/{key}").text
    assert "In no topic tree yet" not in page
    assert "not indexed yet" not in client.get("/uploads").text


def test_a_tree_edit_recolours_the_map_in_a_job(mapped: Library) -> None:
    from paperatlas.mapview import colours, pointfile
    from paperatlas.organize.edit_types import MovePaper

    tree = mapped.trees.get("t")
    first = tree.children(tree.root)
    paper = next(mapped.papers(collection="main")).key
    mapped.trees.edit("t", MovePaper(paper=paper, node=first[-1].id))
    assert [(j.kind, j.status) for j in mapped.jobs.recent(1)] == [("map_place", "queued")]
    assert Worker(mapped).run_once() == 1
    folder = mapped.map.service.folder
    assert folder is not None
    meta = pointfile.read_meta(folder)
    tree_id = mapped.store.trees.id_for("t")
    assert meta is not None and tree_id is not None
    stored = colours.read(folder, meta.stem, tree_id)
    assert stored is not None and stored.version == mapped.store.maps.tree_version(tree_id)


# -- the CLI ---------------------------------------------------------------------------------
def test_cli_runs_jobs_in_the_foreground_and_worker_once(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run = CliRunner().invoke
    base = ["--db", str(db), "--model", "none"]
    made = write_csv(tmp_path / "in" / "a.csv", papers_of("protein", 4))
    assert run(main, [*base, "ingest", str(made)]).exit_code == 0
    with Library(db, embedding_model=None) as lib:
        assert [(j.kind, j.status) for j in lib.jobs.recent()] == [("index", "queued")]
        queued = lib.jobs.recent()[0].id
    r = run(main, [*base, "index"])  # takes the queued index over
    assert r.exit_code == 0 and "indexed 4 papers" in r.output, r.output
    with Library(db, embedding_model=None) as lib:
        job = lib.jobs.get(queued)
        assert (job.status, job.result["updated"], len(lib.jobs.recent())) == ("done", 4, 1)
    more = write_csv(tmp_path / "in" / "b.csv", papers_of("galaxy", 3))
    assert run(main, [*base, "ingest", "--index", str(more)]).exit_code == 0
    with Library(db, embedding_model=None) as lib:
        assert [(j.kind, j.status, j.result["updated"]) for j in lib.jobs.recent()] == [
            ("index", "done", 3), ("index", "done", 4)]
        lib.jobs.enqueue("map_place", {})
    r = run(main, [*base, "worker", "--once"])
    assert r.exit_code == 0 and "map_place: done" in r.output and "ran 1 job" in r.output
    r = run(main, [*base, "worker", "--once"])
    assert r.exit_code == 0 and "ran 0 jobs" in r.output
    missing = run(main, ["--db", str(tmp_path / "none.db"), "worker", "--once"])
    assert missing.exit_code == 1 and "no library" in missing.output
    assert not (tmp_path / "none.db").exists()


def test_tree_update_runs_as_a_foreground_job(mapped: Library, tmp_path: Path) -> None:
    """What ``paperatlas tree update`` calls: an index job, then its own tree update job
    (the update the index queued stays for the worker, and then finds nothing new)."""
    mapped.ingest([write_csv(tmp_path / "in" / "b.csv", papers_of("galaxy", 3, 50))])
    report = mapped.trees.update("t")
    assert len(report.added) == 3
    jobs = [(j.kind, j.status) for j in mapped.jobs.recent(4)]
    # The tree changed: the map is coloured again by a job (not by the next server).
    assert jobs == [("map_place", "queued"), ("tree_update", "done"),
                    ("tree_update", "queued"), ("index", "done")]
    assert mapped.jobs.recent(2)[1].result == {"trees": {"t": {"added": 3, "removed": 0,
                                                           "unsorted": report.unsorted}}}
    queued = mapped.jobs.recent(4)[2].id
    assert Worker(mapped).run_once() == 2
    assert mapped.jobs.get(queued).result["trees"]["t"]["added"] == 0


def test_serve_starts_and_stops_its_worker(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    import httpx

    db = tmp_path / "s.db"
    with Library(db, embedding_model=None) as lib:
        lib.ingest([write_csv(tmp_path / "in.csv", papers_of("protein", 3))], index=True)
        lib.people.add("alice", "correct horse battery")
        token = lib.people.token_create("alice", "t").token
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([*CLI, "--db", str(db), "--model", "none", "serve", "--port",
                               str(port)], env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    worker_pid = None
    try:
        def up() -> bool:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                return httpx.get(f"{base}/api/jobs", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        _until(up, 60, "the server")
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        workers = [p for p in pids if b"worker" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 1
        worker_pid = workers[0]
        made = httpx.post(f"{base}/api/uploads", headers={"Authorization": f"Bearer {token}"},
                          files={"file": ("more.csv", b"title\nA served upload\n")}).json()
        _until(lambda: httpx.get(f"{base}{made['url']}").json()["status"] == "done", 30,
               "the worker to run the upload")
        hits = httpx.get(f"{base}/api/search", params={"q": "served upload", "mode": "lexical"})
        _until(lambda: httpx.get(f"{base}/api/search", params={
            "q": "served upload", "mode": "lexical"}).json()["total"] == 1, 30, "the index")
        assert hits.status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert server.returncode == 0
    if worker_pid is not None:
        assert not Path(f"/proc/{worker_pid}").exists()  # stopped and reaped by serve

