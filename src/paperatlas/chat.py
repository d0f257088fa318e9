"""One client for OpenAI-compatible chat completions endpoints (llama.cpp server, Ollama,
vLLM, hosted APIs), over urllib: :class:`ChatClient` answers whole (:meth:`complete`) or
as it generates (:meth:`stream`, server-sent events).

Every failure raises :class:`LLMError` (an :class:`~paperatlas.errors.UpstreamError`: a 502
at the web edge) naming the URL: the endpoint cannot be reached, answers an HTTP error
(its status and the start of its body), is silent for ``timeout`` seconds (while
connecting, before its answer, or between two streamed chunks), takes longer than
``total`` seconds in all, or answers something that is not a chat completion.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidOptionError, UpstreamError

#: Characters of a reply quoted in an error message at most.
EXCERPT = 200
#: Seconds of silence from the endpoint before a call fails (connect, answer, chunk).
TIMEOUT = 60.0
#: Seconds a whole call may take at most, however steadily the endpoint trickles.
TOTAL = 600.0

Message = Mapping[str, str]


class LLMError(UpstreamError):
    """The chat completions endpoint could not be reached or gave an unusable answer."""


@dataclass(frozen=True)
class LLMSettings:
    """Where a chat model answers: an OpenAI-compatible base URL (``http://host:8080``,
    ``.../v1`` or the full ``.../chat/completions``), the model's name there, an API key
    (sent as a bearer token) and the seconds of silence before a call fails."""

    url: str
    model: str
    api_key: str | None = None
    timeout: float = TIMEOUT

    def client(self) -> ChatClient:
        return ChatClient(self.url, self.model, api_key=self.api_key, timeout=self.timeout)


def completions_url(url: str) -> str:
    """The chat completions URL of a base URL: ``http://host:8080`` (no path) gets
    ``/v1/chat/completions``, ``http://host:8080/v1`` gets ``/chat/completions``, a URL
    that ends with ``/chat/completions`` stays as it is. Not an http(s) URL with a host:
    :class:`InvalidOptionError`."""
    url = url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidOptionError("LLM URL", url, ["http://HOST:PORT", "http://HOST:PORT/v1",
                                                  "https://HOST/v1/chat/completions"])
    if url.endswith("/chat/completions"):
        return url
    return f"{url}/v1/chat/completions" if not parts.path else f"{url}/chat/completions"


class ChatClient:
    """Chat completions from one model at one endpoint (see the module's docstring)."""

    def __init__(self, url: str, model: str, *, api_key: str | None = None,
                 timeout: float = TIMEOUT, total: float = TOTAL) -> None:
        if not model.strip():
            raise InvalidOptionError("LLM model", model, ["a model name the endpoint serves"])
        if not timeout > 0 or not total > 0:
            raise InvalidOptionError("LLM timeout", timeout, ["seconds above 0"])
        self.url = completions_url(url)
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.total = total

    def complete(self, messages: Sequence[Message], **params: Any) -> str:
        """The model's answer (``choices[0].message.content``) to ``messages``; ``params``
        go into the request as they are (``temperature``, ``max_tokens``, ...)."""
        deadline = time.monotonic() + self.total
        with self._open(messages, params, stream=False) as response:
            body = self._read_all(response, deadline)
        return self._content(body)

    def stream(self, messages: Sequence[Message], **params: Any) -> Iterator[str]:
        """The model's answer in pieces as it generates them (``"stream": true``: server-sent
        events, ``data: {...}`` lines with ``choices[0].delta.content``, until
        ``data: [DONE]`` or the end of the body). An endpoint that answers with one whole
        JSON completion instead yields it as one piece."""
        deadline = time.monotonic() + self.total
        with self._open(messages, params, stream=True) as response:
            if response.headers.get("Content-Type", "").startswith("application/json"):
                yield self._content(self._read_all(response, deadline))
                return
            for data in self._events(response, deadline):
                if data.strip() == "[DONE]":
                    return
                piece = self._delta(data)
                if piece:
                    yield piece

    # -- the request -----------------------------------------------------------------------

    def _open(self, messages: Sequence[Message], params: Mapping[str, Any],
              *, stream: bool) -> http.client.HTTPResponse:
        payload: dict[str, Any] = {"model": self.model, "messages": list(messages), **params}
        if stream:
            payload["stream"] = True
        headers = {"Content-Type": "application/json",
                   "Accept": "text/event-stream" if stream else "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(payload).encode("utf-8"),
                                         headers=headers, method="POST")
        try:
            response: http.client.HTTPResponse = urllib.request.urlopen(
                request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = self._excerpt(exc)
            raise LLMError(f"{self.url}: HTTP {exc.code}: {detail}") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise self._timed_out() from exc
            raise LLMError(f"{self.url}: cannot connect: {exc.reason}") from exc
        except TimeoutError as exc:
            raise self._timed_out() from exc
        except (OSError, http.client.HTTPException) as exc:
            raise LLMError(f"{self.url}: request failed: {exc}") from exc
        return response

    def _read_all(self, response: http.client.HTTPResponse, deadline: float) -> str:
        """The whole body, read in pieces so that ``total`` bounds a trickling endpoint."""
        chunks: list[bytes] = []
        while True:
            chunk = self._guarded(lambda: response.read1(65536))
            if not chunk:
                return b"".join(chunks).decode("utf-8", errors="replace")
            chunks.append(chunk)
            self._check_deadline(deadline)

    def _events(self, response: http.client.HTTPResponse, deadline: float) -> Iterator[str]:
        """The ``data`` of each server-sent event (multi-line data joined; comments,
        ``event:`` and ``id:`` lines skipped). A body with no event at all (an HTML page,
        plain text) raises."""
        data: list[str] = []
        events, other = 0, ""
        while True:
            raw = self._guarded(response.readline)
            self._check_deadline(deadline)
            if not raw:
                if data:
                    yield "\n".join(data)
                elif not events:
                    raise LLMError(f"{self.url}: reply is not a stream of server-sent events: "
                                   f"{other[:EXCERPT]!r}")
                return
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line:
                if data:
                    events += 1
                    yield "\n".join(data)
                    data = []
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif not events and len(other) < EXCERPT:
                other += line + "\n"

    def _guarded(self, read: Any) -> bytes:
        try:
            chunk: bytes = read()
        except TimeoutError as exc:
            raise self._timed_out() from exc
        except (OSError, http.client.HTTPException) as exc:
            raise LLMError(f"{self.url}: the answer broke off: {exc!r}") from exc
        return chunk

    # -- the reply -------------------------------------------------------------------------

    def _content(self, body: str) -> str:
        reply = self._json(body)
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"{self.url}: reply has no choices[0].message.content: "
                           f"{body[:EXCERPT]!r}") from exc
        if not isinstance(content, str):
            raise LLMError(f"{self.url}: choices[0].message.content is not text: "
                           f"{body[:EXCERPT]!r}")
        return content

    def _delta(self, data: str) -> str:
        """The text of one streamed chunk (none for a chunk that only carries the role or
        the finish reason); an ``error`` object in the stream raises."""
        chunk = self._json(data)
        if isinstance(chunk, dict) and "error" in chunk:
            raise LLMError(f"{self.url}: error in the stream: {data[:EXCERPT]!r}")
        try:
            choices = chunk["choices"]
            if not choices:  # usage-only chunks carry no choice
                return ""
            content = choices[0].get("delta", {}).get("content")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMError(f"{self.url}: chunk has no choices[0].delta: "
                           f"{data[:EXCERPT]!r}") from exc
        if content is not None and not isinstance(content, str):
            raise LLMError(f"{self.url}: choices[0].delta.content is not text: "
                           f"{data[:EXCERPT]!r}")
        return content or ""

    def _json(self, text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise LLMError(f"{self.url}: reply is not JSON: {text[:EXCERPT]!r}") from exc

    def _excerpt(self, exc: urllib.error.HTTPError) -> str:
        try:
            return " ".join(exc.read(4 * EXCERPT).decode("utf-8", errors="replace").split()
                            )[:EXCERPT]
        except (OSError, http.client.HTTPException):
            return ""

    def _check_deadline(self, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise LLMError(f"{self.url}: no complete answer after {self.total:g}s")

    def _timed_out(self) -> LLMError:
        return LLMError(f"{self.url}: timed out after {self.timeout:g}s of silence")
