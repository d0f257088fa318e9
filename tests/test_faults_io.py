"""A full disk, a read-only library and servers that never answer (issue 21): each ends
the command with a clear error and a non-zero exit, and loses nothing: the library passes
``PRAGMA integrity_check`` and a re-run (with room, writable, an answering server) ends
with the library of an uninterrupted run.

The full disk is ``RLIMIT_FSIZE`` in the child (a write past the limit fails with EFBIG,
as ENOSPC on a full disk; no root or mount needed), and, where this process may mount
(root with CAP_SYS_ADMIN; else skipped with the reason), a real small tmpfs volume that
fills up (ENOSPC) and is then grown. Read-only: the file and its folder
lose their write bits; as root, whom permissions do not stop, the child runs without the
capability that overrides them (``setpriv``), else the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults import copy_library, integrity, library_state, run
from paperatlas import Library
from paperatlas.records.sources import SourceSpec
from standin import Reply, StandIn


def contents(db: Path) -> dict[str, object]:
    """The library's state but its job log (where a failed run is rightly recorded)."""
    return {k: v for k, v in library_state(db).items() if k != "jobs"}


def seed_files(seeds: Path, n: int) -> list[str]:
    return [str(p) for p in sorted(seeds.glob("*.txt"))[:n]]


@pytest.fixture
def started(tmp_path: Path, seeds: Path) -> Path:
    """A library of one seed page, closed."""
    db = tmp_path / "base" / "l.db"
    db.parent.mkdir()
    with Library(db, embedding_model=None) as lib:
        lib.ingest([sorted(seeds.glob("*.txt"))[0]])
    return db


def test_a_full_disk_stops_with_a_clear_error_and_loses_nothing(
        started: Path, seeds: Path, tmp_path: Path) -> None:
    """A file size limit (EFBIG) during an ingest; ``ingest --index`` meets a real full
    volume below (ENOSPC)."""
    args = ["ingest"]
    files = seed_files(seeds, 5)
    reference = copy_library(started, tmp_path / "ref" / "l.db")
    assert run(reference, [*args, *files]).returncode == 0
    db = copy_library(started, tmp_path / "full" / "l.db")
    before = library_state(db)
    full = run(db, [*args, *files], fsize=db.stat().st_size + 150_000)
    assert full.returncode == 1, full.err
    assert f"{db}: cannot write to the library: the disk is full" in full.err
    assert "Traceback" not in full.err
    assert integrity(db) == "ok"
    after = library_state(db)
    assert len(after["papers"]) >= len(before["papers"])  # what was committed is kept
    again = run(db, [*args, *files])  # with room again
    assert again.returncode == 0, again.err
    assert contents(db) == contents(reference)


def test_a_full_disk_while_indexing(started: Path, tmp_path: Path) -> None:
    reference = copy_library(started, tmp_path / "ref" / "l.db")
    assert run(reference, ["index"]).returncode == 0
    db = copy_library(started, tmp_path / "full" / "l.db")
    full = run(db, ["index"], fsize=60_000)  # the index's files outgrow it at once
    assert full.returncode == 1, full.err
    assert "disk is full" in full.err and "Traceback" not in full.err, full.err
    assert integrity(db) == "ok"
    assert run(db, ["index"]).returncode == 0
    assert contents(db) == contents(reference)


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs mounted at a fresh folder (:func:`resize` resizes it), unmounted at
    the end."""
    mount = shutil.which("mount")
    point = tmp_path / "volume"
    point.mkdir()
    done = subprocess.run([mount or "mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs",
                           str(point)], capture_output=True, text=True, check=False)
    if mount is None or done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or 'no mount'}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def resize(volume: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(volume)], check=True)


def test_a_full_tmpfs_volume(started: Path, seeds: Path, tmp_path: Path,
                             volume: Path) -> None:
    """A real full disk (ENOSPC, not a file-size limit) during ``ingest --index``: the
    same clear error; once the volume has room, the re-run completes the library of an
    uninterrupted run."""
    args = ["ingest", "--index"]
    files = seed_files(seeds, 12)
    reference = copy_library(started, tmp_path / "ref" / "l.db")
    assert run(reference, [*args, *files]).returncode == 0
    db = copy_library(started, volume / "l.db")
    used = sum(p.stat().st_size for p in volume.rglob("*") if p.is_file())
    resize(volume, f"{used // 1024 + 200}k")  # room for a few pages of the twelve
    before = library_state(db)
    full = run(db, [*args, *files])
    assert full.returncode == 1, full.err
    assert f"{db}: cannot write to the library: the disk is full" in full.err, full.err
    assert "Traceback" not in full.err
    assert integrity(db) == "ok"
    assert len(library_state(db)["papers"]) >= len(before["papers"])
    resize(volume, "64m")
    again = run(db, [*args, *files])
    assert again.returncode == 0, again.err
    assert contents(db) == contents(reference)


def _read_only_runner() -> list[str]:
    """The command prefix that makes permissions bind (empty when they already do)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot make a file "
                    "read-only for this process")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_a_read_only_library_says_so_and_loses_nothing(started: Path, seeds: Path,
                                                      tmp_path: Path) -> None:
    prefix = _read_only_runner()
    db = started
    before = library_state(db)
    folder = db.parent
    modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
    for p in modes:
        p.chmod(stat.S_IMODE(modes[p]) & ~0o222)
    try:
        done = subprocess.run([*prefix, *run_command(db, ["ingest", *seed_files(seeds, 2)])],
                              capture_output=True, text=True, timeout=120,
                              env=child_env())
    finally:
        for p, mode in modes.items():
            p.chmod(stat.S_IMODE(mode))
    assert done.returncode == 1, done.stderr
    assert f"{db}: the library is read-only" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert integrity(db) == "ok" and library_state(db) == before
    assert run(db, ["ingest", *seed_files(seeds, 2)]).returncode == 0  # writable again


def run_command(db: Path, args: list[str]) -> list[str]:
    from faults import CHILD

    return [*CHILD, "--db", str(db), "--model", "none", *args]


def child_env() -> dict[str, str]:
    from faults import child_env as env

    return env(FAULTS_KILL_AT="0")


# -- servers that never answer ------------------------------------------------------------
@pytest.fixture
def silent() -> Iterator[int]:
    """A TCP server on loopback that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_an_smtp_server_that_never_answers_is_cut_off(tmp_path: Path, silent: int) -> None:
    from paperatlas.follow.settings import MailSettings
    from test_subscriptions import items_from, settings

    db = tmp_path / "l.db"
    with Library(db, embedding_model=None) as lib:
        lib.ingest([_csv(tmp_path)], collection="old")
        lib.index()
        for n in range(2):
            lib.follow.subscribe(f"h{n}@example.org", items_from(collections=["old"]),
                                 settings(), MailSettings(), confirmed=True)
    conf = tmp_path / "settings.toml"
    conf.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {silent}\ntimeout = 1.5\n'
                    'from = "P <p@example.org>"\n', encoding="utf-8")
    start = time.monotonic()
    done = run(db, ["digest", "run", "--since", "2000-01-01"], settings=conf, timeout=60)
    took = time.monotonic() - start
    assert took < 15, f"digest run waited {took:.1f} s on a silent SMTP server"
    assert done.returncode == 1, done.err
    assert "timed out" in (done.out + done.err), done.out + done.err
    with Library(db, embedding_model=None) as lib:  # kept for the next run, none lost
        assert sorted(m.state for m in lib.follow.outbox()) == ["pending", "pending"]


def test_a_source_that_never_answers_is_cut_off(tmp_path: Path, server: StandIn) -> None:
    server.route("/api/query", Reply(b"", delay=30))
    db = tmp_path / "l.db"
    with Library(db, embedding_model=None) as lib:
        lib.sources.add(SourceSpec(name="slow", kind="arxiv", query="testing",
                                   since="2026-11-01", base_url=server.base_url))
    conf = tmp_path / "settings.toml"
    conf.write_text("[sources]\ntimeout = 1.5\nretries = 1\npace = 0.01\n", encoding="utf-8")
    start = time.monotonic()
    done = run(db, ["sync", "slow"], settings=conf, timeout=60)
    took = time.monotonic() - start
    assert took < 15, f"sync waited {took:.1f} s on a silent server"
    assert done.returncode == 1, done.err
    assert "timed out" in (done.out + done.err).lower(), done.out + done.err
    assert integrity(db) == "ok"
    with Library(db, embedding_model=None) as lib:
        assert lib.sources["slow"].cursor == {} and lib.papers.count() == 0


def _csv(tmp_path: Path) -> Path:
    from test_tree import papers_of, write_csv

    return write_csv(tmp_path / "in" / "old.csv", papers_of("protein", 4) + papers_of("galaxy", 4))
