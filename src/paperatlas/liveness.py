"""Which process owns an ingest run, and whether it is still alive (to spot killed runs).

A run records its host name, process id and the process's start time (from
``/proc`` on Linux, so that a reused process id is not mistaken for the owner).
A run whose owner is gone is no longer running: it was killed or crashed.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), if readable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return stat.rpartition(")")[2].split()


def this_process(pid: int | None = None) -> dict[str, Any]:
    """Who this (or process ``pid``) is: host, process id and start time when known."""
    pid = os.getpid() if pid is None else pid
    fields = _proc_stat(pid)
    start = fields[19] if fields is not None and len(fields) > 19 else None
    return {"host": socket.gethostname(), "pid": pid, "start": start}


def is_alive(owner: Mapping[str, Any] | None) -> bool | None:
    """Whether the process ``owner`` (from :func:`this_process`) still runs.

    False for a run without a recorded owner (written before owners were recorded),
    None when this machine cannot tell (the owner ran on another host).
    """
    if not isinstance(owner, Mapping) or not isinstance(owner.get("pid"), int):
        return False
    if owner.get("host") != socket.gethostname() or sys.platform == "win32":
        return None
    pid = int(owner["pid"])
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    except OSError:
        return None
    fields = _proc_stat(pid)
    if fields is None:
        return True  # no /proc (not Linux): the process id exists
    if fields[0] in ("Z", "X"):  # a zombie: dead, not yet reaped
        return False
    start = owner.get("start")
    return start is None or len(fields) <= 19 or fields[19] == start


def end_with_parent(parent: int, *, signum: int | None = None, every: float = 0.5) -> None:
    """End this process once ``parent`` has ended (it was killed: nothing stops its
    children): a thread checks every ``every`` s, then sends this process ``signum`` (its
    own graceful stop) or, without one, exits at once."""
    import signal
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        if signum is None:
            os._exit(1)
        signal.raise_signal(signum)  # its own handler stops the process gracefully

    threading.Thread(target=watch, name="paperatlas-parent-watch", daemon=True).start()


def die_with_parent() -> None:
    """For ``subprocess.Popen(preexec_fn=...)``: the child gets SIGTERM when the process
    that started it dies, killed or not (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
