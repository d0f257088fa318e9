"""A stand-in for an OpenAI-compatible chat completions endpoint: a real HTTP server on
127.0.0.1 that answers ``POST /v1/chat/completions`` whole or streamed (server-sent
events), and injects faults (HTTP errors, malformed bodies, silence).

``with chat_standin() as server:`` gives its ``base`` (``http://127.0.0.1:PORT/v1``), the
requests it received, and ``server.answer``: a function of the request (its JSON) that
returns a :class:`Chat`. The default answer, :func:`cite_first`, reads the numbered
evidence of paperatlas's prompt and answers from its first sentence, citing ``[1]``.

Run as a script it serves :func:`cite_first` until interrupted (for a bench run with no
real endpoint): ``python tests/llm_standin.py --port 8765``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/v1/chat/completions"


@dataclass
class Chat:
    """One answer: the model's ``content`` (streamed in ``pieces`` when given, else word
    by word), or a raw ``body`` with a ``status`` (and ``content_type``); faults: ``delay`` seconds before
    answering, ``gap`` seconds between streamed pieces, silence after ``hang_after``
    pieces (until the server stops), ``raw`` data lines streamed after the pieces as they
    are (a malformed chunk)."""

    content: str = ""
    status: int = 200
    body: str | None = None
    delay: float = 0.0
    pieces: list[str] | None = None
    gap: float = 0.0
    hang_after: int | None = None
    raw: list[str] = field(default_factory=list)
    content_type: str = "application/json"


def evidence_of(request: dict[str, Any]) -> list[tuple[int, str, str]]:
    """The numbered evidence in the request's last message: (n, paper key, sentence)."""
    prompt = request["messages"][-1]["content"]
    return [(int(n), key, text) for n, key, text in
            re.findall(r"^\[(\d+)\] \(([^)]*)\) (.*)$", prompt, re.M)]


def cite_first(request: dict[str, Any]) -> Chat:
    """A model that trusts the first evidence sentence: SUPPORT, the sentence, ``[1]``;
    NOT ENOUGH EVIDENCE when it was given none."""
    evidence = evidence_of(request)
    if not evidence:
        return Chat("VERDICT: NOT ENOUGH EVIDENCE\nNot enough evidence.")
    text = evidence[0][2].rstrip(". ")
    return Chat(f"VERDICT: SUPPORT\nThe library says: {text} [1].")


@dataclass
class ChatStandIn:
    """The running server: its base URL, what it received, and how it answers."""

    base: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    answer: Callable[[dict[str, Any]], Chat] = cite_first
    stopping: threading.Event = field(default_factory=threading.Event)


def _handler(state: ChatStandIn) -> type[BaseHTTPRequestHandler]:
    class _H(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length))
            state.requests.append(request)
            state.headers.append(dict(self.headers))
            chat = state.answer(request) if self.path == PATH else Chat(status=404,
                                                                         body="not found")
            if chat.delay:
                state.stopping.wait(chat.delay)
            try:
                if chat.body is not None or chat.status != 200 or not request.get("stream"):
                    self._whole(chat)
                else:
                    self._stream(chat)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (a timeout test)

        def _whole(self, chat: Chat) -> None:
            body = chat.body if chat.body is not None else json.dumps(
                {"choices": [{"message": {"role": "assistant", "content": chat.content}}]})
            data = body.encode("utf-8")
            self.send_response(chat.status)
            self.send_header("Content-Type", chat.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, chat: Chat) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()  # no length: the body ends when the connection closes
            pieces = chat.pieces if chat.pieces is not None else re.findall(
                r"\S+\s*|\s+", chat.content)
            self._event({"choices": [{"delta": {"role": "assistant"}}]})
            for i, piece in enumerate(pieces):
                if chat.hang_after is not None and i >= chat.hang_after:
                    state.stopping.wait(30)
                    return
                if chat.gap and i:
                    time.sleep(chat.gap)
                self._event({"choices": [{"delta": {"content": piece}}]})
            for line in chat.raw:
                self.wfile.write(f"data: {line}\n\n".encode())
            self._event({"choices": [{"delta": {}, "finish_reason": "stop"}]})
            self.wfile.write(b"data: [DONE]\n\n")

        def _event(self, chunk: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return _H


@contextmanager
def chat_standin(port: int = 0) -> Iterator[ChatStandIn]:
    """A running chat completions stand-in (see the module's docstring)."""
    state = ChatStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()  # silent answers end now
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve cite_first until interrupted.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with chat_standin(args.port) as server:
        print(server.base, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
