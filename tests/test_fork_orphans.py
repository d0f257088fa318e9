"""Forked tree workers hold no pipe ends they do not use, and die with their parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from paperatlas.organize import parallel

from conftest import process_alive, survivors_of_a_kill

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")

#: A build's parent: forks 2 workers (3 with itself); each says its pid, then works
#: (sleeps, or returns a result too big for a pipe's buffer while the parent is busy;
#: "poll" sleeps without prctl).
PARENT = """
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location("parallel", sys.argv[2])  # not the package: fast
parallel = sys.modules["parallel"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(parallel)
if sys.argv[1] == "poll":  # as where Linux's prctl is missing: a thread watches the parent
    parallel._parent_death_signal = lambda signum: False
    parallel._POLL = 0.05

def task(kind, item):
    os.write(1, f"worker {os.getpid()}\\n".encode())  # one write: lines never interleave
    if kind != "send" or item == 0:
        time.sleep(60)
    return b"x" * (4 << 20)

os.write(1, f"parent {os.getpid()}\\n".encode())
parallel.fork_map(task, sys.argv[1], [0, 1, 2], 3)
"""


#: Counts the pipe ends each worker holds beyond its parent's, in a fresh process: in
#: pytest's own process, threads of earlier tests (event loops' self-pipes) may open pipes
#: between the count and the fork.
HELD = """
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("parallel", sys.argv[1])
parallel = sys.modules["parallel"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(parallel)

def pipes():
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("pipe:"):
            out.add(target)
    return out

def held(_, item):
    return os.getpid(), sorted(pipes())

before = pipes()
got = parallel.fork_map(held, None, list(range(4)), 4)
workers = [sorted(set(p) - before) for pid, p in got if pid != os.getpid()]
print(json.dumps({"workers": workers, "parent_after": sorted(pipes() - before)}))
"""


def test_workers_hold_only_their_own_write_end() -> None:
    out = subprocess.run([sys.executable, "-c", HELD, parallel.__file__], check=True,
                         capture_output=True, text=True, timeout=60)
    result = json.loads(out.stdout)
    workers = result["workers"]
    assert len(workers) == 3
    # the one pipe end a worker needs: where it writes its results (no read ends: with
    # its own read end open, a worker whose parent died would block on a full pipe)
    assert [len(extra) for extra in workers] == [1, 1, 1]
    assert len({extra[0] for extra in workers}) == 3
    assert result["parent_after"] == []  # and the parent let go of every end


@pytest.mark.parametrize("kind", ["sleep", "send", "poll"])
def test_workers_die_with_a_killed_parent(kind: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", PARENT, kind, parallel.__file__],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    workers: list[int] = []
    try:
        parent = int(proc.stdout.readline().split()[1])
        while len(workers) < 2:
            line = proc.stdout.readline()
            assert line, "the parent ended early"
            pid = int(line.split()[1])
            if pid != parent:
                workers.append(pid)
        time.sleep(0.3)  # the "send" workers are blocked on a full pipe by now
        assert all(process_alive(pid) for pid in workers)
        survivors = survivors_of_a_kill(parent, workers)
        proc.wait(10)
        assert not survivors, "orphaned tree workers"
    finally:
        for pid in workers:  # never leave one behind, even when the test fails
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
