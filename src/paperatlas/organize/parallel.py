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
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_FORK = (multiprocessing.get_context("fork")
         if "fork" in multiprocessing.get_all_start_methods() else None)
_THREADS: ContextVar[int] = ContextVar("paperatlas_tree_threads", default=1)
_TASK: tuple[Callable[[Any, Any], Any], Any] | None = None  # what forked workers run


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
    one and ``workers - 1`` forked from it (``shared`` is inherited, never pickled; items
    and results are). Items are dealt out largest first (``sizes``, default all equal) to
    the least loaded process. Runs here alone where fork is not available or a pool cannot
    start."""
    global _TASK
    workers = min(workers, len(items))
    if workers > 1 and _FORK is not None:
        load = [0.0] * workers
        share: list[list[int]] = [[] for _ in range(workers)]
        for i in sorted(range(len(items)), key=lambda i: -(sizes[i] if sizes else 1.0)):
            w = load.index(min(load))
            share[w].append(i)
            load[w] += sizes[i] if sizes else 1.0
        _TASK = (_run_share, (fn, shared, items))
        try:
            with _frozen() as release, ProcessPoolExecutor(workers - 1, mp_context=_FORK) as pool:
                futures = [pool.submit(_run_task, s) for s in share[1:]]
                release()  # the workers are forked by now
                out: dict[int, R] = {}
                with using_threads(1):  # the other cores are busy
                    out.update(_run_share((fn, shared, items), share[0]))
                for f in futures:
                    out.update(f.result())
                return [out[i] for i in range(len(items))]
        except (OSError, AssertionError, BrokenProcessPool):  # no fork here (or a daemon)
            pass
        finally:
            _TASK = None
    return [fn(shared, item) for item in items]


def _run_share(task: tuple[Callable[[Any, Any], Any], Any, Sequence[Any]],
               indices: list[int]) -> dict[int, Any]:
    fn, shared, items = task
    return {i: fn(shared, items[i]) for i in indices}


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


def _run_task(item: Any) -> Any:
    if _TASK is None:  # pragma: no cover - only a forked worker calls this
        raise RuntimeError("no task: fork_map starts the workers")
    fn, shared = _TASK
    with using_threads(1):
        return fn(shared, item)
