"""A stand-in for remote APIs: a real HTTP server on 127.0.0.1 that replays recorded
answers (``../shared/data/formats``) and injects faults.

Routes map a path to a list of :class:`Reply` (one per request, the last repeated) or to
a function of the request. Every request is logged with its time, path and query, so tests
can check paging, cursors and pacing.

Below the server: what the tests of the sources share (faults given before the normal
answers, a library with one source, an uninterrupted run to compare a resumed one with,
and the recorded arXiv API answer served in pages).
"""

from __future__ import annotations

import gzip
import itertools
import re
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from paperatlas import Library
from paperatlas.records.sources import SourceSpec
from paperatlas.sources import SourceSettings

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
#: The recorded arXiv API answer (100 entries), under the shared ``data`` folder.
ARXIV_RECORDED = "formats/arxiv-api-atom/query_all-testing_start0_max100_2026.xml"


@dataclass(frozen=True)
class Reply:
    """One answer: status, body, headers; and faults: a delay before answering, a body
    cut after ``truncate`` bytes (the Content-Length promises all of it)."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: int | None = None
    gzip: bool = False


@dataclass(frozen=True)
class Seen:
    at: float  # time.monotonic()
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


Handler = Callable[[Seen], Reply]


class StandIn:
    """The server's routes and log (see :func:`standin`)."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply] | Handler] = {}
        self.prefixes: dict[str, Handler] = {}
        self.log: list[Seen] = []
        self.base_url = ""
        self._lock = threading.Lock()

    def route(self, path: str, *replies: Reply | Handler) -> None:
        if len(replies) == 1 and callable(replies[0]):
            self.routes[path] = replies[0]
        else:
            self.routes[path] = [r for r in replies if isinstance(r, Reply)]

    def prefix(self, start: str, handler: Handler) -> None:
        """Answer every path that starts with ``start`` (longest prefix first) by
        ``handler`` (paths with parameters in them: ``/details/biorxiv/FROM/TO/N``)."""
        self.prefixes[start] = handler

    def seen(self, path: str | None = None) -> list[Seen]:
        return [s for s in self.log if path is None or s.path == path]

    def _answer(self, seen: Seen) -> Reply:
        with self._lock:
            self.log.append(seen)
            target = self.routes.get(seen.path)
            if target is None:
                starts = [p for p in self.prefixes if seen.path.startswith(p)]
                if not starts:
                    return Reply(b"not found", 404)
                target = self.prefixes[max(starts, key=len)]
            if callable(target):
                handler = target
            else:
                return target.pop(0) if len(target) > 1 else target[0]
        return handler(seen)


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class _H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            seen = Seen(time.monotonic(), parts.path, parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()})
            reply = state._answer(seen)
            if reply.delay:
                time.sleep(reply.delay)
            body = gzip.compress(reply.body) if reply.gzip else reply.body
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            if reply.gzip:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body if reply.truncate is None else body[:reply.truncate])
            if reply.truncate is not None:
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    return _H


@contextmanager
def standin() -> Iterator[StandIn]:
    """A running stand-in server; ``base_url`` is its ``http://127.0.0.1:PORT``."""
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# -- what the tests of the sources share --------------------------------------------------


class Faults(Generic[K]):
    """Replies given before the normal answers, by what a request asks for (a page's
    start, a token, a day): each once, in their order."""

    def __init__(self, faults: Mapping[K, list[Reply]] | None = None) -> None:
        self._pending = {k: list(v) for k, v in (faults or {}).items()}

    def take(self, key: K) -> Reply | None:
        """The next fault for ``key``, if one is left."""
        queue = self._pending.get(key)
        return queue.pop(0) if queue else None


def source_library(path: Path, spec: SourceSpec, now: datetime) -> Library:
    """The library at ``path``, its clock at ``now``, with the source ``spec`` (added the
    first time)."""
    lib = Library(path, embedding_model=None)
    lib.sources.clock = lambda: now
    if not lib.sources.all():
        lib.sources.add(spec)
    return lib


def stored_papers(lib: Library, columns: str = "key, title, abstract, authors") -> list[
        tuple[Any, ...]]:
    """The ``columns`` of every paper, sorted: what two runs are compared by."""
    return sorted(tuple(r) for r in lib.store.conn.execute(f"SELECT {columns} FROM papers"))


def stored_keys(lib: Library) -> list[str]:
    """The key of every paper, sorted."""
    return sorted(r[0] for r in lib.store.conn.execute("SELECT key FROM papers"))


def uninterrupted(serve: Callable[[StandIn], object],
                  open_lib: Callable[[Path, StandIn], Library], path: Path,
                  settings: SourceSettings, read: Callable[[Library], T]) -> T:
    """``read`` of the library at ``path`` after one sync from a fresh stand-in that
    ``serve`` sets up, with no fault: what a run resumed after faults must equal."""
    with standin() as clean:
        serve(clean)
        with open_lib(path, clean) as lib:
            lib.sources.sync(settings=settings)
            return read(lib)


def split_feed(path: Path) -> tuple[str, list[str]]:
    """An arXiv API answer as its head (up to the first entry) and its entries."""
    text = path.read_text(encoding="utf-8")
    head = text[:text.index("<entry>")]
    entries = re.findall(r"<entry>.*?</entry>", text, flags=re.S)
    return head, entries


def arxiv_page(head: str, entries: list[str], start: int, size: int) -> bytes:
    """The arXiv API answer with ``size`` of ``entries`` from ``start``."""
    head = re.sub(r"<opensearch:totalResults>\d+<", f"<opensearch:totalResults>"
                  f"{len(entries)}<", head)
    head = re.sub(r"<opensearch:startIndex>\d+<", f"<opensearch:startIndex>{start}<", head)
    return (head + "\n".join(entries[start:start + size]) + "\n</feed>\n").encode()


def serve_feed(server: StandIn, feed: tuple[str, list[str]],
               faults: dict[int, list[Reply]] | None = None) -> None:
    """Answer /api/query from the recorded entries; ``faults[start]`` are answered first."""
    head, entries = feed
    pending = Faults(faults)

    def answer(seen: Seen) -> Reply:
        start = int(seen.arg("start") or 0)
        if (fault := pending.take(start)) is not None:
            return fault
        return Reply(arxiv_page(head, entries, start, int(seen.arg("max_results") or 10)),
                     headers={"Content-Type": "application/atom+xml"})

    server.route("/api/query", answer)


def paced(times: Iterable[float], interval: float, slack: float = 0.02) -> bool:
    """Whether requests that arrived at ``times`` kept ``interval`` apart, as a loaded
    machine can show it: n requests span at least n-1 intervals less ``slack`` (the first
    one's arrival may lag more than the others'), and no two came closer than a quarter
    of one. A limiter that does not wait fails both."""
    t = list(times)
    gaps = [b - a for a, b in itertools.pairwise(t)]
    return (bool(gaps) and min(gaps) >= interval / 4
            and t[-1] - t[0] >= len(gaps) * interval - slack)
