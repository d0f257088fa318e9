"""How a tree build uses more than one core, without its result depending on how many.

A build runs with single-threaded BLAS (:func:`one_blas_thread`), so every matrix product
is computed by the same kernel whatever the machine, and the cores are used explicitly:
tiles of a similarity matrix on threads (:func:`thread_map`; numpy releases the GIL in
them) and whole subtrees in forked processes (:func:`fork_map`; igraph's Leiden holds the
GIL). Both return their results in input order, so a tree is the same with 1 or N workers.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_FORK = (multiprocessing.get_context("fork")
         if "fork" in multiprocessing.get_all_start_methods() else None)
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
    igraph's Leiden holds). Runs here alone where fork is not available or a process
    cannot start."""
    workers = min(workers, len(items))
    if workers <= 1 or _FORK is None:
        return [fn(shared, item) for item in items]
    load = [0.0] * workers
    share: list[list[int]] = [[] for _ in range(workers)]
    for i in sorted(range(len(items)), key=lambda i: -(sizes[i] if sizes else 1.0)):
        w = load.index(min(load))
        share[w].append(i)
        load[w] += sizes[i] if sizes else 1.0
    task = (fn, shared, items)
    started: list[tuple[Any, Any]] = []
    try:
        with _frozen() as release:
            for indices in share[1:]:
                reader, writer = _FORK.Pipe(duplex=False)
                proc = _FORK.Process(target=_run_forked, args=(task, indices, writer),
                                     daemon=True)
                proc.start()
                writer.close()
                started.append((proc, reader))
            release()  # the workers are forked by now
    except (OSError, AssertionError):  # no fork here (or a daemon, which may not have one)
        for proc, reader in started:
            proc.kill()
            reader.close()
        return [fn(shared, item) for item in items]
    out: dict[int, R] = {}
    try:
        with using_threads(1):  # the other cores are busy
            out.update(_run_share(task, share[0]))
    except BaseException:
        for proc, reader in started:
            proc.kill()
            proc.join()
            reader.close()
        raise
    for proc, reader in started:
        try:
            ok, got = reader.recv()
        except EOFError:
            ok, got = False, RuntimeError(f"a tree worker died (exit code {proc.exitcode})")
        finally:
            reader.close()
            proc.join()
        if not ok:
            raise got
        out.update(got)
    return [out[i] for i in range(len(items))]


def _run_share(task: tuple[Callable[[Any, Any], Any], Any, Sequence[Any]],
               indices: list[int]) -> dict[int, Any]:
    fn, shared, items = task
    return {i: fn(shared, items[i]) for i in indices}


def _run_forked(task: tuple[Callable[[Any, Any], Any], Any, Sequence[Any]],
                indices: list[int], writer: Any) -> None:
    """A forked worker: its share, sent back as ``(True, results)`` or ``(False, error)``."""
    try:
        with using_threads(1):
            result: tuple[bool, Any] = (True, _run_share(task, indices))
    except BaseException as exc:
        result = (False, exc)
    try:
        writer.send(result)
    except Exception as exc:
        writer.send((False, RuntimeError(f"a tree worker's result could not be sent: {exc}")))
    finally:
        writer.close()


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
