"""A stand-in for remote APIs: a real HTTP server on 127.0.0.1 that replays recorded
answers (``../shared/data/formats``) and injects faults.

Routes map a path to a list of :class:`Reply` (one per request, the last repeated) or to
a function of the request. Every request is logged with its time, path and query, so tests
can check paging, cursors and pacing.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


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
