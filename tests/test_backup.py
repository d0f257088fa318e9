"""Backups and restores (``paperatlas backup`` / ``restore``): a restored library is the
library that was backed up, a backup taken during an ingest is consistent and a re-run
completes it, and a damaged backup is refused, naming the file."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.embed import Embedder
from paperatlas.errors import ConflictError, StoreError
from paperatlas.records.serialize import to_json

WORDS = ["graph", "protein", "galaxy", "language", "model", "neural", "quantum", "network",
         "learning", "vision", "robot", "speech", "memory", "search", "ranking", "retrieval",
         "cell", "gene", "climate", "energy"]
QUERIES = ["protein graph", "quantum network learning", "climate energy", "speech robot"]


class WordEmbedder(Embedder):
    """A deterministic embedder: a bag of hashed words."""

    name, dim = "words-32", 32

    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def jsonl(path: Path, start: int, count: int) -> Path:
    """``count`` generated papers, one JSON object a line."""
    rng = np.random.default_rng(start)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(start, start + count):
            words = " ".join(rng.choice(WORDS, 6))
            fh.write(json.dumps({"id": f"gen-{i}", "title": f"Paper {i} on {words}",
                                 "abstract": f"We study {words} and more {i}.",
                                 "year": 2000 + i % 20}) + "\n")
    return path


def papers_of(lib: Library) -> list[tuple[str, str, str]]:
    rows = lib.store.conn.execute("SELECT key, title, abstract FROM papers ORDER BY key")
    return [tuple(r) for r in rows]


def found(lib: Library, query: str, mode: str = "lexical") -> list[tuple[str, float]]:
    page = lib.search(query, mode=mode, limit=20)
    return [(h.key, round(h.score, 4)) for h in page.hits]


def matching(lib: Library, query: str) -> set[str]:
    """Every paper a lexical search finds, page after page."""
    keys: set[str] = set()
    while True:
        page = lib.search(query, mode="lexical", limit=1000, offset=len(keys))
        keys |= {h.key for h in page.hits}
        if not page.hits or len(keys) >= page.total:
            assert len(keys) == page.total
            return keys


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """A small indexed library with vectors, an ANN index, a tree and a map."""
    folder = tmp_path_factory.mktemp("source")
    lib = Library(folder / "a.db", embedding_model=WordEmbedder(), ann_min=50)
    lib.ingest([jsonl(folder / "p.jsonl", 0, 300)], collection="gen")
    lib.index()
    lib.trees.build("t")
    lib.map.build()
    uploads = folder / "a.db.uploads" / "u1"
    uploads.mkdir(parents=True)
    (uploads / "list.jsonl").write_text('{"title": "An uploaded paper"}\n', encoding="utf-8")
    yield lib
    lib.close()


def test_a_restored_library_is_the_library_backed_up(source: Library, tmp_path: Path) -> None:
    report = source.backup(tmp_path / "b")
    assert report.papers == 300 and report.lexical_index and report.index_seq > 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["schema_version"] == source.store.schema_version
    names = {f["path"] for f in manifest["files"]}
    assert report.files == len(names) and report.bytes == sum(f["size"] for f in manifest["files"])
    assert "library.db" in names and "uploads/u1/list.jsonl" in names
    assert any(n.startswith("index/lexical/") for n in names)
    assert any(n.startswith("index/") and not n.startswith("index/lexical/") for n in names)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]

    restored = Library.restore(tmp_path / "b", tmp_path / "r.db")
    assert (restored.papers, restored.replaced) == (300, False)
    assert integrity(tmp_path / "r.db") == "ok"
    assert (tmp_path / "r.db.uploads" / "u1" / "list.jsonl").is_file()
    with Library(tmp_path / "r.db", embedding_model=WordEmbedder(), ann_min=50) as lib:
        assert papers_of(lib) == papers_of(source)
        for query in QUERIES:  # served as restored: nothing re-indexed
            assert lib.search(query).pending == 0
            assert found(lib, query) == found(source, query)
            assert found(lib, query, "hybrid") == found(source, query, "hybrid")
        assert lib.trees.outline("t", show_papers=3) == source.trees.outline("t", show_papers=3)
        assert to_json(lib.map.points(tree="t")) == to_json(source.map.points(tree="t"))


def test_the_cli_backs_up_and_restores(source: Library, tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(main, ["--db", str(source.path), "--model", "none", "backup",
                                str(tmp_path / "b"), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["papers"] == 300
    again = runner.invoke(main, ["--db", str(source.path), "backup", str(tmp_path / "b")])
    assert again.exit_code == 1 and "exists already" in again.output
    target = tmp_path / "r.db"
    done = runner.invoke(main, ["--db", str(target), "restore", str(tmp_path / "b")])
    assert done.exit_code == 0 and "restored 300 papers" in done.output, done.output
    refused = runner.invoke(main, ["--db", str(target), "restore", str(tmp_path / "b")])
    assert refused.exit_code == 1 and "--force" in refused.output
    with Library(target, embedding_model=None) as lib:  # a library in use leaves a WAL
        lib.ingest([jsonl(tmp_path / "more.jsonl", 1000, 5)])
    assert Path(f"{target}-wal").exists() or Path(f"{target}").exists()
    if Path("/proc/self/fd").is_dir():  # another process has it open: refused, kept
        holder = subprocess.Popen([sys.executable, "-c", (
            "import sys, time; from paperatlas import Library; "
            f"lib = Library({str(target)!r}, embedding_model=None); lib.stats(); "
            "print('open', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "open\n"
            busy = runner.invoke(main, ["--db", str(target), "restore", "--force",
                                        str(tmp_path / "b")])
        finally:
            holder.kill()
            holder.wait()
        assert busy.exit_code == 1 and f"open in process {holder.pid}" in busy.output
        with Library(target, embedding_model=None) as lib:
            assert lib.stats().papers == 305
    done = runner.invoke(main, ["--db", str(target), "restore", "--force", str(tmp_path / "b")])
    assert done.exit_code == 0, done.output
    with Library(target, embedding_model=None) as lib:
        assert lib.stats().papers == 300
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".restoring")]


def _damaged(backup: Path, how: str) -> str:
    """Damage a backup one way; the name of the file that is damaged."""
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    lexical = next(f["path"] for f in manifest["files"] if f["path"].startswith("index/lex")
                   and f["size"] > 100)
    if how == "flip":
        data = bytearray((backup / "library.db").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (backup / "library.db").write_bytes(bytes(data))
        return "library.db"
    if how == "truncate":
        path = backup / lexical
        path.write_bytes(path.read_bytes()[:-7])
        return lexical
    if how == "missing":
        (backup / lexical).unlink()
        return lexical
    (backup / "manifest.json").unlink()
    return "manifest.json"


@pytest.mark.parametrize("how", ["flip", "truncate", "missing", "no-manifest"])
def test_a_damaged_backup_is_refused_naming_the_file(source: Library, tmp_path: Path,
                                                    how: str) -> None:
    source.backup(tmp_path / "b")
    name = _damaged(tmp_path / "b", how)
    with pytest.raises(StoreError) as caught:
        Library.restore(tmp_path / "b", tmp_path / "r.db")
    assert str(tmp_path / "b" / name) in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # nothing put in place
    done = CliRunner().invoke(main, ["--db", str(tmp_path / "r.db"), "restore",
                                     str(tmp_path / "b")])
    assert done.exit_code == 1 and name in done.output


def test_a_corrupt_library_file_with_a_matching_manifest_fails_its_integrity_check(
        source: Library, tmp_path: Path) -> None:
    source.backup(tmp_path / "b")
    db = tmp_path / "b" / "library.db"
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    hit = [at for at in range(page, len(data), page) if data[at] in (2, 5, 10, 13)][:8]
    for at in hit:  # b-tree pages of another type: unreadable
        data[at] = 0x07
    db.write_bytes(bytes(data))
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        if entry["path"] == "library.db":
            entry["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(StoreError, match="integrity_check"):
        Library.restore(tmp_path / "b", tmp_path / "r.db")
    assert not (tmp_path / "r.db").exists()


def test_a_failed_backup_leaves_nothing_that_looks_complete(
        source: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import paperatlas.backup as backup

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")  # after the library file was copied

    with monkeypatch.context() as patched:
        patched.setattr(backup, "write_manifest", full)
        with pytest.raises(OSError):
            source.backup(tmp_path / "b")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreError, match="does not exist"):
        Library.restore(tmp_path / "b", tmp_path / "r.db")
    source.backup(tmp_path / "b")
    with pytest.raises(ConflictError):  # the live library is never overwritten by mistake
        Library.restore(tmp_path / "b", source.path)


def test_a_busy_search_index_is_left_out_and_rebuilt(source: Library, tmp_path: Path) -> None:
    with Library(source.path, embedding_model=None) as other, \
            other.search.service.lexical.writing(1.0):
        report = source.backup(tmp_path / "b", wait=0.2)
    assert not report.lexical_index
    Library.restore(tmp_path / "b", tmp_path / "r.db")
    with Library(tmp_path / "r.db", embedding_model=None) as lib:
        assert lib.search("protein graph", mode="lexical").pending == 300
        lib.index(embed=False)
        assert found(lib, "protein graph") == found(source, "protein graph")


CHILD = """
import sys, time
import paperatlas.importer as importer
from paperatlas import Library
importer.BATCH_RECORDS = 100
take = importer.Importer._take
def slowly(*args, **kwargs):  # a slow ingest: the backup is taken while it runs
    time.sleep(0.001)
    return take(*args, **kwargs)
importer.Importer._take = slowly
with Library(sys.argv[1], embedding_model=None) as lib:
    assert not lib.ingest([sys.argv[2]]).failed
"""


def test_a_backup_during_an_ingest_is_consistent_and_a_rerun_completes_it(
        tmp_path: Path) -> None:
    db, big = tmp_path / "live.db", jsonl(tmp_path / "big.jsonl", 0, 3000)
    lib = Library(db, embedding_model=None)
    lib.ingest([jsonl(tmp_path / "first.jsonl", 5000, 50)])
    lib.index(embed=False)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(big)],
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.monotonic() + 60
        while lib.stats().papers < 1400 and time.monotonic() < deadline:
            time.sleep(0.02)
        report = lib.backup(tmp_path / "b")
        assert child.poll() is None, "the ingest ended before the backup: make it slower"
    finally:
        assert child.wait(120) == 0
    assert 1400 <= report.papers < 3050
    lib.index(embed=False)
    whole = papers_of(lib)  # the uninterrupted run
    assert len(whole) == 3050

    Library.restore(tmp_path / "b", tmp_path / "r.db")
    assert integrity(tmp_path / "r.db") == "ok"
    with Library(tmp_path / "r.db", embedding_model=None) as back:
        assert back.stats().papers == report.papers
        assert back.search("protein").pending > 0  # what the copied index lacks
        back.index(embed=False)
        assert back.search("protein").pending == 0
        assert len(back.search.service.lexical) == report.papers
        assert back.ingest([big]).failed == []  # resumes after the last committed batch
        back.index(embed=False)
        assert papers_of(back) == whole
        assert back.stats().sources == lib.stats().sources
        for query in QUERIES[:2]:  # (ranks differ in ties: deleted documents count)
            assert matching(back, query) == matching(lib, query)
    lib.close()


def test_an_upload_queued_before_a_backup_is_ingested_where_it_is_restored(
        tmp_path: Path) -> None:
    """The job names its upload beside the library, not by the old absolute path: a
    library restored to another place (the old one gone) still ingests it."""
    pytest.importorskip("fastapi")
    import shutil

    from fastapi.testclient import TestClient

    from paperatlas.web import WebSettings, create_app
    from paperatlas.worker import Worker

    old = tmp_path / "old" / "l.db"
    old.parent.mkdir()
    with Library(old, embedding_model=None) as lib:
        lib.ingest([jsonl(tmp_path / "first.jsonl", 0, 5)])
        lib.people.add("alice", "correct horse battery")
        auth = {"Authorization": f"Bearer {lib.people.token_create('alice', 't').token}"}
        client = TestClient(create_app(lib, WebSettings(secret_key="k")))
        rows = jsonl(tmp_path / "up.jsonl", 100, 4).read_bytes()
        made = client.post("/api/uploads", headers=auth, files={"file": ("up.jsonl", rows)})
        assert made.status_code == 202, made.text
        lib.backup(tmp_path / "b")
    shutil.rmtree(old.parent)
    new = tmp_path / "elsewhere" / "r.db"
    new.parent.mkdir()
    Library.restore(tmp_path / "b", new)
    with Library(new, embedding_model=None) as lib:
        assert Worker(lib, kinds=("ingest",)).run_once() == 1
        job = lib.jobs.get(made.json()["job"]["id"])
        assert job.status == "done", job.message
        assert lib.stats().papers == 9
