"""How a tree build uses more than one core, without its result depending on how many.

A build runs with single-threaded BLAS (:func:`one_blas_thread`), so every matrix product
is computed by the same kernel whatever the machine, and the cores are used explicitly:
tiles of a similarity matrix on threads (:func:`thread_map`; numpy releases the GIL in
them) and whole subtrees in forked processes (:func:`fork_map`; igraph's Leiden holds the
GIL). Both return their results in input order, so a tree is the same with 1 or N workers.
"""

from __future__ import annotations

import ctypes
import gc
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_CAN_FORK = hasattr(os, "fork")
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
#: Seconds between a worker's checks that its parent lives (where Linux's prctl is missing).
_POLL = 0.5
_THREADS: ContextVar[int] = ContextVar("paperatlas_tree_threads", default=1)


def default_workers(cap: int = 4) -> int:
    """The cores this process may run on, at most ``cap``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cap, cores))


def threads() -> int:
    """How many threads numeric kernels may use here (1 inside a forked worker)."""
    return _THREADS.get()


@contextmanager
def using_threads(count: int) -> Iterator[None]:
    """Let :func:`thread_map` use ``count`` threads inside the block."""
    token = _THREADS.set(max(1, count))
    try:
        yield
    finally:
        _THREADS.reset(token)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Single-threaded BLAS inside the block (results then do not depend on the machine's
    thread settings; several BLAS threads also slow small products down)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def thread_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``fn`` over ``items`` on :func:`threads` threads, results in order."""
    count = min(threads(), len(items))
    if count <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(fn, items))


def fork_map(fn: Callable[[Any, T], R], shared: Any, items: Sequence[T], workers: int,
             sizes: Sequence[float] | None = None) -> list[R]:
    """``fn(shared, item)`` for each item, results in order, on ``workers`` processes: this
    one and ``workers - 1`` forked from it (``shared`` and the items are inherited, never
    pickled; results are). Items are dealt out largest first (``sizes``, default all equal)
    to the least loaded process, before the fork: each worker starts on its share at once
    (a pool's feeder thread would wait for this process to let go of the GIL, which
    igraph's Leiden holds). A worker holds only the write end of its own pipe and ends
    when this process does (:func:`_die_with`). Runs here alone where fork is not available
    or a process cannot start."""
    workers = min(workers, len(items))
    if workers <= 1 or not _CAN_FORK:
        return [fn(shared, item) for item in items]
    load = [0.0] * workers
    share: list[list[int]] = [[] for _ in range(workers)]
    for i in sorted(range(len(items)), key=lambda i: -(sizes[i] if sizes else 1.0)):
        w = load.index(min(load))
        share[w].append(i)
        load[w] += sizes[i] if sizes else 1.0
    task = (fn, shared, items)
    started: list[_Worker] = []
    try:
        with _frozen() as release:
            for indices in share[1:]:
                started.append(_fork(task, indices, [w.fd for w in started]))
            release()  # the workers are forked by now
    except OSError:  # no process can start here now: run alone
        _stop(started)
        return [fn(shared, item) for item in items]
    out: dict[int, R] = {}
    try:
        with using_threads(1):  # the other cores are busy
            out.update(_run_share(task, share[0]))
        for worker in started:
            ok, got = _receive(worker)
            if not ok:
                raise got
            out.update(got)
    finally:
        _stop(started)
    return [out[i] for i in range(len(items))]


@dataclass
class _Worker:
    """A forked worker: its pid, the read end of the pipe it answers on, whether reaped."""

    pid: int
    fd: int
    reaped: bool = False


def _fork(task: tuple[Callable[[Any, Any], Any], Any, Sequence[Any]], indices: list[int],
          others: list[int]) -> _Worker:
    """Fork a worker for ``indices``. It closes the read end of its pipe and ``others``
    (the read ends of earlier workers); this process closes the write end."""
    parent = os.getpid()
    read_end, write_end = os.pipe()
    _flush_std_streams()  # else the worker writes this process's buffered output again
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:  # the worker: never returns
        code = 1
        try:
            _die_with(parent)
            for fd in (read_end, *others):
                os.close(fd)
            code = _run_forked(task, indices, write_end)
        finally:
            _flush_std_streams()
            os._exit(code)
    os.close(write_end)
    return _Worker(pid, read_end)


def _receive(worker: _Worker) -> tuple[bool, Any]:
    """A worker's answer, read from its pipe until the worker closes it."""
    chunks = []
    while chunk := os.read(worker.fd, 1 << 20):
        chunks.append(chunk)
    if chunks:
        try:
            answer: tuple[bool, Any] = pickle.loads(b"".join(chunks))
            return answer
        except Exception as exc:
            return False, RuntimeError(f"a tree worker's answer could not be read: {exc}")
    code = os.waitstatus_to_exitcode(os.waitpid(worker.pid, 0)[1])
    worker.reaped = True
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    return False, RuntimeError(f"a tree worker died ({how})")


def _stop(started: list[_Worker]) -> None:
    """Close the read ends, end the workers still running and reap every one (a worker
    that answered has closed its pipe and is exiting; this waits for it)."""
    for worker in started:
        with suppress(OSError):
            os.close(worker.fd)
        if not worker.reaped:  # until reaped, its pid cannot be another process's
            with suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
            with suppress(ChildProcessError):
                os.waitpid(worker.pid, 0)
            worker.reaped = True
    started.clear()


def _run_share(task: tuple[Callable[[Any, Any], Any], Any, Sequence[Any]],
               indices: list[int]) -> dict[int, Any]:
    fn, shared, items = task
    return {i: fn(shared, items[i]) for i in indices}


def _run_forked(task: tuple[Callable[[Any, Any], Any], Any, Sequence[Any]],
                indices: list[int], write_end: int) -> int:
    """A forked worker: its share, written to ``write_end`` pickled as ``(True, results)``
    or ``(False, error)``; the exit code."""
    try:
        with using_threads(1):
            result: tuple[bool, Any] = (True, _run_share(task, indices))
    except BaseException as exc:
        result = (False, exc)
    try:
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        data = pickle.dumps((False, RuntimeError(
            f"a tree worker's result could not be sent: {exc}")))
    try:
        with open(write_end, "wb", closefd=True) as pipe:
            pipe.write(data)
    except BrokenPipeError:  # the parent is gone
        return 1
    return 0 if result[0] else 1


def _die_with(parent: int) -> None:
    """Make this forked worker end when ``parent`` does: the kernel kills it (Linux's
    ``PR_SET_PDEATHSIG``; then, in case the parent died before that call, a check that it
    is still the parent), else a thread that polls for a new parent."""
    if _parent_death_signal(signal.SIGKILL):
        if os.getppid() != parent:
            os._exit(1)
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="paperatlas-parent-watch", daemon=True).start()


def _parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent ends; whether it did."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    return bool(prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0)


def release_memory() -> None:
    """Hand the memory freed so far back to the system (glibc's ``malloc_trim``): freed
    blocks below glibc's mmap threshold, which grows with the largest array freed, else
    stay resident, and a forked worker would copy the pages it reuses."""
    if not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()


@contextmanager
def _frozen() -> Iterator[Callable[[], None]]:
    """Keep this process's objects out of the workers' garbage collections, which would
    otherwise touch (and so copy) every page that holds one; yields a function that ends
    it early (once the workers are forked). A freeze the caller made is left alone."""
    mine = gc.get_freeze_count() == 0
    if mine:
        gc.freeze()

    def release() -> None:
        nonlocal mine
        if mine:
            gc.unfreeze()
            mine = False

    try:
        yield release
    finally:
        release()
