"""The child side of the fault-injection harness (tests/faults.py): runs the paperatlas CLI
with its SQL statements counted, and dies by SIGKILL at a chosen one, or with its file
size limited (a disk that fills up).

Run as ``python -c "import faults_child; faults_child.main()" ARGS...`` with ``tests`` on
``PYTHONPATH``; only this module reads its environment variables, never production code:

- ``FAULTS_KILL_AT=K``: SIGKILL this process just before its K-th SQL statement (1-based,
  counted over every connection the process opens);
- ``FAULTS_COUNT=PATH``: write the number of statements run to PATH at exit (an
  uninterrupted run, to spread the kill points over), then, a line each, the number and
  text of every statement that starts with ``FAULTS_MARK`` (where each job begins);
- ``--model hash-64`` (an argument): the tests' hashing embedder (tests/test_semantic.py);
- ``FAULTS_FSIZE=BYTES``: ``RLIMIT_FSIZE``: a write that makes a file larger fails with
  EFBIG (SIGXFSZ ignored), as on a full disk, without root or a mount;
- ``FAULTS_NOW=ISO``: the time syncs see as now (``Sources.clock``), so a killed run, its
  re-run and the uninterrupted run ask the same window of a source even when they start
  in different minutes (arXiv's query names the window's end to the minute).
"""

from __future__ import annotations

import atexit
import os
import resource
import signal
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

_count = 0


def _install(kill_at: int, mark: str, marks: list[str]) -> None:
    real = sqlite3.connect

    def traced(statement: str) -> None:
        global _count
        _count += 1
        if _count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if mark and statement.startswith(mark):
            marks.append(f"{_count}\t{' '.join(statement.split())}")

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real(*args, **kwargs)
        conn.set_trace_callback(traced)
        return conn

    sqlite3.connect = connect  # type: ignore[assignment]


@contextmanager
def pinned_clock(iso: str | None) -> Iterator[None]:
    """Syncs see ``iso`` (UTC, ISO 8601) as now; the wall clock where it is None."""
    if not iso:
        yield
        return
    from datetime import datetime

    from paperatlas.facade import sources

    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    real = sources.Sources.__init__

    def init(self: sources.Sources, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self.clock = lambda: at

    sources.Sources.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        sources.Sources.__init__ = real  # type: ignore[method-assign]


@contextmanager
def hashing_models() -> Iterator[None]:
    """``--model hash-64`` makes the tests' small deterministic embedder, not a real one."""
    from paperatlas import library
    from test_semantic import HashingEmbedder

    real = library.SentenceTransformerEmbedder

    def make(name: str, **options: Any) -> Any:
        return HashingEmbedder(name, 64) if name == "hash-64" else real(name, **options)

    library.SentenceTransformerEmbedder = make  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        library.SentenceTransformerEmbedder = real  # type: ignore[misc]


def main() -> None:
    kill_at = int(os.environ.get("FAULTS_KILL_AT", "0"))
    count_to = os.environ.get("FAULTS_COUNT")
    fsize = os.environ.get("FAULTS_FSIZE")
    marks: list[str] = []
    _install(kill_at, os.environ.get("FAULTS_MARK", ""), marks)
    if count_to:
        atexit.register(lambda: open(count_to, "w").write(  # noqa: SIM115
            "\n".join([str(_count), *marks])))
    if fsize:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(fsize), int(fsize)))
    from paperatlas.cli import main as cli

    sys.argv = ["paperatlas", *sys.argv[1:]]
    with (hashing_models() if "hash-64" in sys.argv else nullcontext(),
          pinned_clock(os.environ.get("FAULTS_NOW"))):
        cli(prog_name="paperatlas")
