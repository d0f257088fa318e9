"""A polite HTTP client for remote sources.

Each source says how often its host may be asked (``interval``, seconds between two
requests, as the API documents it); the client waits that long between requests to one
host, honours ``Retry-After`` on 429 and 503, backs off exponentially with jitter on
other failures (5xx, timeouts, cut connections, truncated bodies), sends a descriptive
User-Agent with the contact address from settings, accepts gzip, and makes conditional
requests (``If-None-Match``/``If-Modified-Since``) when given the last answer's
validators. Every request is logged (``Http.log``) so tests can check the pacing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from .. import __version__
from ..errors import UpstreamError

#: Statuses worth asking again after a wait (Retry-After when the answer gives one).
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class SourceError(UpstreamError):
    """A remote source failed, refused or answered something unreadable; the message
    names the URL. The run stops there and the source's cursor stays before the page."""


@dataclass(frozen=True)
class Politeness:
    """How a sync treats remote hosts (from settings; the defaults are the documented
    behaviour). ``pace`` scales every wait between requests (0: none, for benchmarks
    against a local stand-in server); backoff and Retry-After waits scale with it too."""

    contact: str | None = None  # an email address, sent in the User-Agent
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 4
    backoff: float = 2.0  # the first wait after a failure; doubled each time, jittered
    max_backoff: float = 120.0
    max_retry_after: float = 900.0  # a longer Retry-After stops the run instead
    pace: float = 1.0

    def user_agent(self) -> str:
        contact = f"; mailto:{self.contact}" if self.contact else ""
        return f"paperatlas/{__version__} (+https://github.com/paperatlas/paperatlas{contact})"


@dataclass(frozen=True)
class Answer:
    """A successful answer (or 304 Not Modified, with an empty body)."""

    url: str
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def validators(self) -> dict[str, str]:
        """What to send next time for a conditional request."""
        out = {}
        if etag := self.headers.get("etag"):
            out["etag"] = etag
        if modified := self.headers.get("last-modified"):
            out["modified"] = modified
        return out


def rebase(url: str, base_url: str | None) -> str:
    """``url`` with its scheme and host (and port) replaced by ``base_url``'s, path kept
    (for mirrors, proxies and tests). A path in ``base_url`` goes before the URL's."""
    if not base_url:
        return url
    base, parts = urlsplit(base_url), urlsplit(url)
    path = base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))


@dataclass(frozen=True)
class Request:
    """One request as made: when (monotonic seconds), to which host, and its status."""

    at: float
    host: str
    url: str
    status: int | None  # None: no answer (timeout, connection error)


class Http:
    """The client a sync uses for every source (one per run)."""

    def __init__(self, politeness: Politeness | None = None, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 jitter: Callable[[], float] = random.random) -> None:
        self.politeness = p = politeness or Politeness()
        self._client = httpx.Client(
            timeout=httpx.Timeout(p.read_timeout, connect=p.connect_timeout),
            headers={"User-Agent": p.user_agent(), "Accept-Encoding": "gzip"},
            follow_redirects=True, transport=transport)
        self._sleep, self._clock, self._jitter = sleep, clock, jitter
        self._last: dict[str, float] = {}  # host -> when it was last asked
        self.log: list[Request] = []

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, *, interval: float, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None,
            validators: Mapping[str, str] | None = None) -> Answer:
        """GET ``url``, at least ``interval`` seconds after the last request to its host;
        retried on 429/5xx/timeouts. Raises :class:`SourceError` on any other status, or
        when the retries are spent."""
        send = dict(headers or {})
        if validators:
            if etag := validators.get("etag"):
                send["If-None-Match"] = etag
            if modified := validators.get("modified"):
                send["If-Modified-Since"] = modified
        host = urlsplit(url).netloc
        shown = str(httpx.URL(url, params=params)) if params else url
        problem = ""
        for attempt in range(self.politeness.retries + 1):
            self._wait_turn(host, interval)
            wait = self._backoff(attempt)
            try:
                answer = self._client.get(url, params=params, headers=send)
                body = answer.content  # read whole: a cut body raises here
            except httpx.TimeoutException as exc:
                self._note(host, shown, None)
                problem = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                self._note(host, shown, None)
                problem = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                self._note(host, shown, answer.status_code)
                status = answer.status_code
                if status < 300 or status == 304:
                    return Answer(str(answer.url), status, body,
                                  {k.lower(): v for k, v in answer.headers.items()})
                problem = f"HTTP {status}: {_excerpt(body)}"
                if status not in _RETRY_STATUSES:
                    raise SourceError(f"{shown}: {problem}")
                if (after := retry_after(answer.headers.get("retry-after"))) is not None:
                    if after > self.politeness.max_retry_after:
                        raise SourceError(f"{shown}: {problem}; the server asks to wait "
                                          f"{after:.0f} s (Retry-After): try again later")
                    wait = after * self.politeness.pace
            if attempt < self.politeness.retries:
                self._sleep(wait)
        raise SourceError(f"{shown}: {problem} (gave up after "
                          f"{self.politeness.retries + 1} tries)")

    def _wait_turn(self, host: str, interval: float) -> None:
        last = self._last.get(host)
        if last is not None:
            wait = last + interval * self.politeness.pace - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last[host] = self._clock()

    def _backoff(self, attempt: int) -> float:
        p = self.politeness
        base = min(p.max_backoff, p.backoff * 2.0 ** attempt)
        return float(base * (0.5 + self._jitter()) * p.pace)

    def _note(self, host: str, url: str, status: int | None) -> None:
        self.log.append(Request(self._last.get(host, self._clock()), host, url, status))


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp()) - time.time())


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body[:limit * 2].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")
