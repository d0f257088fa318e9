"""JSON Lines decoded in a second process while this one stores the records.

For a big file of one record per line (the 2.5-million-line arXiv snapshot), decoding
each line, building its record and preparing it (cleaning its text, ...) is about 40%
of an ingest's CPU, and the store cannot use a second core. :func:`decoded_lines` hands
chunks of lines to one helper process (``spawn``: it holds nothing of this process, no
SQLite connection; it ends when this process does, killed or not) and yields their
records in file order, with a few chunks in flight, so memory stays bounded. It reads
and numbers the lines itself, and gives exactly the records (error records included) of
:meth:`~.jsonfmt.JsonLinesParser._lines` on the same file. :func:`prepared_lines` has
the helper also prepare each record for storage (:func:`~.prepare.prepare`: text
cleaning, limits, identifiers, title keys), so the ingesting process is left with
dedup and the writes (it gets them as :func:`~.prepare.prepare` here would make them).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from ..errors import ParseError
from ..liveness import end_with_parent
from ..records.papers import Record
from .limits import MAX_LINE_CHARS, MAX_NESTING, error_record, json_too_deep
from .prepare import Prepared, prepare
from .source import Lines

T = TypeVar("T")

#: Lines per chunk handed to the helper, and chunks in flight.
CHUNK_LINES = 1000
IN_FLIGHT = 4
#: Files smaller than this are decoded here (starting the helper costs ~0.5 s).
MIN_BYTES = 16 << 20

#: ``(line number, entry, text, cut, problem)``: ``cut`` when the line is the file's last
#: and has no line break; ``problem`` when the line is already known to be a bad record.
_Item = tuple[int, int, str, bool, str | None]


def worth_it(size: int) -> bool:
    """Whether a file of ``size`` bytes is decoded in a helper process."""
    return size >= MIN_BYTES and (os.cpu_count() or 1) > 1


def decode(line: str, cut: bool) -> tuple[Any, str | None]:
    """A line's JSON object, or why it is none (as the record error says it); check
    :func:`too_deep` first."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        problem = f"invalid JSON: {exc}"
        if cut:
            problem += " (the last line is cut off: a truncated file?)"
        return None, problem
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}"
    return obj, None


def too_deep(line: str) -> str | None:
    """Why a line is not even decoded (it nests too deep), or None."""
    return f"JSON nested deeper than {MAX_NESTING} levels" if json_too_deep(line) else None


def _as_is(rec: Record) -> Record:
    return rec


def _chunk(build: Callable[..., Record], finish: Callable[[Record], T],
           items: list[_Item]) -> list[T | str]:
    """In the helper: ``finish`` of each item's record, or why its line holds no JSON
    object (the reader decides whether that fails the file)."""
    out: list[T | str] = []
    for n, entry, text, cut, known in items:
        known = known or too_deep(text)
        if known is not None:
            out.append(finish(error_record(known, line=n, entry=entry)))
            continue
        obj, problem = decode(text, cut)
        out.append(problem if problem is not None else finish(build(obj, line=n, entry=entry)))
    return out


def decoded_lines(fh: Lines, build: Callable[..., Record]) -> Iterator[Record]:
    """``build(obj, line=, entry=)`` of each line's object, built in a helper process;
    ``build`` must be a module-level function (it is sent to the helper by name)."""
    return _decoded(fh, build, _as_is)


def prepared_lines(fh: Lines, build: Callable[..., Record]) -> Iterator[Prepared]:
    """:func:`decoded_lines`, each record also prepared for storage in the helper (the
    :func:`~.prepare.prepare` of each record :func:`decoded_lines` gives)."""
    return _decoded(fh, build, prepare)


def _decoded(fh: Lines, build: Callable[..., Record],
             finish: Callable[[Record], T]) -> Iterator[T]:
    entry = 0
    resumed = fh.number > 0
    fh.tolerant = True
    pending: deque[tuple[list[_Item], Future[list[T | str]]]] = deque()

    def results(sent: list[_Item], future: Future[list[T | str]]) -> Iterator[T]:
        for (n, number, _, _, _), got in zip(sent, future.result(), strict=True):
            if not isinstance(got, str):
                yield got
            elif number == 1 and not resumed:  # the first line: no JSON Lines file
                raise ParseError(got, path=fh.path, line=n)
            else:
                yield finish(error_record(got, line=n, entry=number))

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=end_with_parent,
                             initargs=(os.getpid(),)) as pool:
        try:
            items: list[_Item] = []
            for n, line in fh:
                if n in fh.long:
                    entry += 1
                    items.append((n, entry, "", False, f"line is {fh.long[n].chars} characters"
                                  f" long (more than {MAX_LINE_CHARS})"))
                elif line.strip():
                    entry += 1
                    items.append((n, entry, line, not fh.final_newline, None))
                if len(items) >= CHUNK_LINES:
                    pending.append((items, pool.submit(_chunk, build, finish, items)))
                    items = []
                    while len(pending) >= IN_FLIGHT:
                        yield from results(*pending.popleft())
            if items:
                pending.append((items, pool.submit(_chunk, build, finish, items)))
            while pending:
                yield from results(*pending.popleft())
        finally:
            for _, future in pending:
                future.cancel()
