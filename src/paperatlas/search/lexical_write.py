"""Writing the lexical index: one process at a time, every shard in one hold.

Each shard is its own tantivy index with its own writer lock. :func:`acquire` takes the
shards' writers in order and lets go of those it got when one stays busy past the wait,
so two processes never hold half each. A paper lives in the shard ``id % shards``.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import tantivy

from ..authors import author_key
from ..errors import StoreError

#: Seconds an index write waits for another process's writer to finish before giving up.
LOCK_WAIT = 60.0
#: How many times a paper's title is indexed beside its abstract (title words weigh more).
#: Chosen on SciFact train and NFCorpus dev against a separate title field at boost 0.2
#: (bench/RESULTS.md): as good, with one term query per word instead of two.
TITLE_COPIES = 2
#: Each shard writer's indexing memory (tantivy flushes a segment when it is full).
_HEAP = 64_000_000
#: Files of an index written before the shards (tantivy's, at the folder's top level).
_UNSHARDED = re.compile(
    r"(meta\.json|\.managed\.json|\.tantivy-(meta|writer)\.lock|[0-9a-f]{32}\.[a-z]+(\.del)?)")


class IndexBusyError(StoreError):
    """Another process kept the search index's writer for longer than the wait."""


def acquire(indexes: Sequence[Any], folder: Path, wait: float) -> list[Any]:
    """A writer for each of ``indexes``, all held, or :class:`IndexBusyError` after
    ``wait`` seconds (retrying with backoff) with none held."""
    deadline = time.monotonic() + wait
    held: list[Any] = []
    try:
        for index in indexes:
            held.append(_one(index, folder, wait, deadline))
    except BaseException:
        for writer in held:
            writer.rollback()
            writer.wait_merging_threads()
        raise
    return held


def _one(index: Any, folder: Path, wait: float, deadline: float) -> Any:
    delay = 0.02
    while True:
        try:
            return index.writer(heap_size=_HEAP, num_threads=1)
        except ValueError as exc:  # tantivy says LockBusy in a ValueError
            if "LockBusy" not in str(exc):
                raise
        left = deadline - time.monotonic()
        if left <= 0:
            raise IndexBusyError(
                f"another process is writing the search index in {folder} (waited "
                f"{wait:g} s); run `paperatlas index` again once it is done") from None
        time.sleep(min(delay, left))
        delay = min(delay * 2, 0.5)


def release(writers: Sequence[Any], *, commit_failed: bool) -> None:
    """Let go of every writer (rolling back what was not committed when ``commit_failed``)."""
    for writer in writers:
        if commit_failed:
            writer.rollback()
        writer.wait_merging_threads()  # consumes the writer: the lock is free again


def remove_stale(folder: Path, keep: set[str]) -> int:
    """Delete what older layouts of the index left in ``folder``: tantivy's files at its
    top level (before the shards) and shard folders not in ``keep``; how many went."""
    gone = 0
    for path in folder.iterdir():
        if path.is_file() and _UNSHARDED.fullmatch(path.name):
            path.unlink(missing_ok=True)
        elif path.is_dir() and path.name not in keep and (path / "meta.json").exists():
            shutil.rmtree(path, ignore_errors=True)
        else:
            continue
        gone += 1
    return gone


class IndexWriter:
    """The writers of a lexical index's shards while ``LexicalIndex.writing`` holds them."""

    def __init__(self, writers: Sequence[Any], folder: Path, shards: set[str],
                 reload: Any) -> None:
        self._writers = list(writers)
        self._folder = folder
        self._shards = shards
        self._reload = reload

    def update(self, rows: Iterable[dict[str, Any]], removed: Iterable[int]) -> None:
        """Replace the given papers' documents and drop the removed ones; each shard that
        changed commits."""
        writers, n = self._writers, len(self._writers)
        dirty: set[int] = set()
        for pid in removed:
            writers[pid % n].delete_documents_by_term("pid", pid)
            dirty.add(pid % n)
        for row in rows:
            shard = row["id"] % n
            writer = writers[shard]
            writer.delete_documents_by_term("pid", row["id"])
            writer.add_document(_document(row))
            dirty.add(shard)
        for shard in sorted(dirty):
            writers[shard].commit()
        self._reload()

    def clear(self) -> None:
        """Delete every document (and what older layouts left); commits."""
        for writer in self._writers:
            writer.delete_all_documents()
            writer.commit()
        remove_stale(self._folder, self._shards)
        self._reload()


def _document(row: dict[str, Any]) -> Any:
    doc = tantivy.Document()
    doc.add_integer("pid", row["id"])
    for _ in range(TITLE_COPIES):
        doc.add_text("all", row["title"])
    doc.add_text("all", row["abstract"])
    doc.add_text("words", row["title"])
    for name in row["authors"]:
        doc.add_text("author", name)
        if key := author_key(name):
            doc.add_text("akey", key)
    for cat in row["categories"]:
        doc.add_text("category", cat)
    if row["year"] is not None:
        doc.add_integer("year", row["year"])
    for cid in row["collections"]:
        doc.add_integer("collection", cid)
    return doc
