"""``paperatlas serve --workers 2`` spreads connections over its web processes: each has
a listening socket of its own (``SO_REUSEPORT``), so a burst of kept-alive connections no
longer lands on whichever process woke first (issue 21's load bench: half the throughput)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")

from paperatlas import Library
from test_tree import papers_of, write_csv

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc; SO_REUSEPORT balances on Linux")


def web_processes(server: int) -> list[int]:
    """The web processes uvicorn started under ``server`` (multiprocessing's spawned
    children; not its resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == server and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return sorted(found)


def peers_by_process(pids: list[int], port: int) -> dict[int, set[int]]:
    """For each of ``pids``: the remote ports of its accepted TCP connections on ``port``
    (the sockets its file descriptors name, looked up in /proc/net/tcp)."""
    by_inode: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as fh:
            for line in list(fh)[1:]:
                fields = line.split()
                local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
                if int(local.rsplit(":", 1)[1], 16) == port and state == "01":  # ESTABLISHED
                    by_inode[inode] = int(remote.rsplit(":", 1)[1], 16)
    out: dict[int, set[int]] = {}
    for pid in pids:
        out[pid] = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with_link = os.readlink(fd) if fd.is_symlink() else ""
            if with_link.startswith("socket:["):
                peer = by_inode.get(with_link[len("socket:["):-1])
                if peer is not None:
                    out[pid].add(peer)
    return out


def listening(port: int) -> int:
    """How many sockets listen on ``port`` (/proc/net/tcp)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as fh:
            count += sum(1 for line in list(fh)[1:]
                         if int(line.split()[1].rsplit(":", 1)[1], 16) == port
                         and line.split()[3] == "0A")
    return count


def burst(port: int, count: int, busy: int) -> list[socket.socket]:
    """``count`` connections opened at once while web process ``busy`` cannot accept
    (stopped, as a process is while it computes an answer), then one request answered on
    each; the connections stay open (kept alive)."""
    os.kill(busy, signal.SIGSTOP)
    try:
        conns = [socket.create_connection(("127.0.0.1", port), timeout=10)
                 for _ in range(count)]
        for conn in conns:
            conn.sendall(b"GET /api/papers?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.3)  # a process that can accept does: with one shared socket, all
    finally:
        os.kill(busy, signal.SIGCONT)
    for conn in conns:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(65536)
            assert chunk, "the server closed a connection"
            head += chunk
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return conns


def started(log: Path, count: int, server: subprocess.Popen[bytes], seconds: float) -> None:
    """Wait until ``count`` web processes have said their app started (and listen)."""
    deadline = time.monotonic() + seconds
    while log.read_text().count("Application startup complete.") < count:
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    time.sleep(0.5)  # from its startup to its listen()


def start_serve(tmp_path: Path, *extra: str
                ) -> tuple[subprocess.Popen[bytes], int, Path, Path]:
    """``serve --workers 2 EXTRA`` of a small new library, its stderr in a log: the
    server, its port, the log and the library."""
    db = tmp_path / "w.db"
    with Library(db, embedding_model=None) as lib:
        lib.ingest([write_csv(tmp_path / "in.csv", papers_of("protein", 4))])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "serve.log"
    env = {**os.environ, "PAPERATLAS_SECRET_KEY": "test-key"}
    env.pop("PAPERATLAS_SMTP_HOST", None)
    with log.open("wb") as err:
        server = subprocess.Popen(
            [sys.executable, "-c", "from paperatlas.cli import main; main()", "--db", str(db),
             "--model", "none", "serve", "--port", str(port), "--workers", "2", *extra],
            env=env, stdout=subprocess.DEVNULL, stderr=err)
    return server, port, log, db


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path, Path]]:
    server, port, log, db = start_serve(tmp_path, "--no-worker")
    web: list[int] = []
    try:
        started(log, 2, server, 60)
        web = web_processes(server.pid)
        yield server, port, log, db
    finally:  # (a failed test: stop all, leaving no web process behind)
        web += web_processes(server.pid)
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        for pid in web:
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)


def test_connections_spread_over_both_processes(
        served: tuple[subprocess.Popen[bytes], int, Path, Path]) -> None:
    """16 connections opened at once while one web process is busy: both processes
    accept some (it takes those queued on its own socket once it is free; with one shared
    socket the free process took them all). A web process that dies is replaced on its
    socket, and the new one gets connections too. SIGTTIN adds a process with a socket of
    its own, SIGTTOU removes one; SIGTERM stops all."""
    server, port, log, db = served
    pids = web_processes(server.pid)
    assert len(pids) == 2, pids
    conns = burst(port, 16, busy=pids[0])
    try:
        peers = peers_by_process(pids, port)
        assert sorted(p for ps in peers.values() for p in ps) == sorted(
            c.getsockname()[1] for c in conns)
        assert all(peers[p] for p in pids), {p: len(v) for p, v in peers.items()}
    finally:
        for conn in conns:
            conn.close()

    os.kill(pids[0], signal.SIGKILL)  # its replacement listens on the same socket
    started(log, 3, server, 60)
    again = web_processes(server.pid)
    assert len(again) == 2 and pids[0] not in again and pids[1] in again, (pids, again)
    conns = burst(port, 16, busy=pids[1])
    try:
        peers = peers_by_process(again, port)
        assert all(peers[p] for p in again), {p: len(v) for p, v in peers.items()}
    finally:
        for conn in conns:
            conn.close()

    # a second server on the same port fails (it does not join the first one's sockets)
    second = subprocess.run(
        [sys.executable, "-c", "from paperatlas.cli import main; main()", "--db", str(db),
         "--model", "none", "serve", "--port", str(port), "--workers", "2", "--no-worker"],
        capture_output=True, timeout=60, env={**os.environ, "PAPERATLAS_SECRET_KEY": "k"})
    assert second.returncode != 0 and b"in use" in second.stderr, second.stderr[-2000:]

    server.send_signal(signal.SIGTTIN)  # one process more, on a socket of its own
    started(log, 4, server, 60)
    more = web_processes(server.pid)
    assert len(more) == 3 and set(again) < set(more), (again, more)
    assert listening(port) == 3
    server.send_signal(signal.SIGTTOU)  # and one less
    deadline = time.monotonic() + 30
    while len(web_processes(server.pid)) > 2 or listening(port) > 2:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0, log.read_text()[-2000:]
    assert not any(Path(f"/proc/{p}").exists() for p in more)
    assert "Traceback" not in log.read_text(), log.read_text()


def test_sockets_of_one_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each web process's socket: the same address, SO_REUSEPORT and TCP_NODELAY (which
    accepted connections inherit); elsewhere than Linux the processes share one socket."""
    import uvicorn

    from paperatlas.cli.webprocs import balanced, reuseport_sockets

    assert balanced() == ""
    socks = reuseport_sockets(uvicorn.Config("x:y", host="127.0.0.1", port=0, workers=3))
    try:
        assert len(socks) == 3 and len({s.getsockname() for s in socks}) == 1
        for sock in socks:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        for sock in socks:
            sock.close()
    monkeypatch.setattr(sys, "platform", "darwin")
    assert "SO_REUSEPORT" in balanced()


def test_a_killed_serve_leaves_no_process_behind(tmp_path: Path) -> None:
    """SIGKILL of ``serve --workers 2`` (nothing of it can stop its children): the web
    processes see their parent gone and stop, and the job worker gets SIGTERM (Linux's
    parent-death signal); before, all three ran on as orphans."""
    server, _, log, _ = start_serve(tmp_path)
    children: list[int] = []
    try:
        started(log, 2, server, 60)
        children = [int(p) for p in Path(f"/proc/{server.pid}/task/{server.pid}/children")
                    .read_text().split()]
        commands = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in children}
        assert sum(b"spawn_main" in c for c in commands.values()) == 2, commands
        assert sum(b"worker" in c and b"spawn_main" not in c for c in commands.values()) == 1
        server.kill()
        server.wait()
        deadline = time.monotonic() + 20
        alive = children
        while alive:
            assert time.monotonic() < deadline, f"left running: {alive}"
            time.sleep(0.2)
            alive = [p for p in alive if Path(f"/proc/{p}").exists() and
                     Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    finally:
        if server.poll() is None:
            server.kill()
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
