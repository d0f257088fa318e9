"""Where the app is reached: the public base URL of links in mail and feeds, and the
``Host`` names it answers (others get 400, before any route runs).

Links never come from the request's ``Host`` header: they come from the configured base
URL, else from the address ``serve`` listens on. The host check stops a forged ``Host``
(DNS rebinding, poisoned caches) reaching the app at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InvalidOptionError

#: Names always answered: this machine, and what Starlette's TestClient sends.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "testserver")
_ANY_ADDRESS = ("", "0.0.0.0", "::")


def served_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` (IPv6 addresses in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def check_base_url(url: str) -> str:
    """The base URL without its trailing slash; :class:`InvalidOptionError` unless it is an
    http(s) URL with a host and no query or fragment."""
    split = urlsplit(url.strip())
    if split.scheme not in ("http", "https") or not split.hostname or split.query \
            or split.fragment or "@" in split.netloc:
        raise InvalidOptionError("base URL", url, [
            "an http:// or https:// URL such as https://papers.example.org"])
    return url.strip().rstrip("/")


def check_host_pattern(name: str) -> str:
    """A host name to allow: ``papers.example.org``, an IP address, ``*.example.org`` (any
    subdomain) or ``*`` (any name: only behind a proxy that checks the name itself)."""
    value = name.strip().lower()
    bare = value.removeprefix("*.") if value != "*" else "x"
    if not bare or any(c in bare for c in "/@*[] \t\\") or len(value) > 253:
        raise InvalidOptionError("allowed host", name, [
            "a host name such as papers.example.org", "*.example.org", "an IP address", "*"])
    return value


def host_name(header: str) -> str | None:
    """The name of a ``Host`` header without its port (None when it is malformed)."""
    value = header.strip().lower()
    if value.startswith("["):
        name, sep, rest = value[1:].partition("]")
    else:
        name, sep, rest = value.partition(":")
        rest, sep = (":" + rest, ":") if sep else ("", "")
    if rest and not (rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit()):
        return None
    if not all(c.isascii() and (c.isalnum() or c in ".-:") for c in name):
        return None
    return name or None


def trusted(base_urls: Iterable[str], host: str, extra: Iterable[str]) -> tuple[str, ...]:
    """The names answered: the base URLs' hosts, the address served on (unless it is every
    address), this machine, and the ``extra`` names."""
    names = [*(urlsplit(url).hostname or "" for url in base_urls),
             "" if host in _ANY_ADDRESS else host, *LOCAL_HOSTS, *extra]
    return tuple(dict.fromkeys(n.lower() for n in names if n))


class TrustedHosts:
    """ASGI middleware: 400 for a request whose ``Host`` is not one of ``hosts``."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = tuple(hosts)
        self.any = "*" in self.hosts
        self.exact = frozenset(h for h in self.hosts if not h.startswith("*"))
        self.suffixes = tuple(h[1:] for h in self.hosts if h.startswith("*."))

    def allows(self, header: str) -> bool:
        name = host_name(header)
        if name is None:
            return False
        return self.any or name in self.exact or name.endswith(self.suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if self.allows(header):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        message = (f"unknown host {header[:100]!r}: this server answers "
                   f"{', '.join(self.hosts)}; add a name with `serve --allowed-host NAME` or "
                   "allowed_hosts in the settings file")
        api = scope.get("path", "").startswith("/api")
        body = (json.dumps({"error": {"type": "UnknownHost", "message": message}})
                if api else message).encode()
        await send({"type": "http.response.start", "status": 400, "headers": [
            (b"content-type", b"application/json" if api else b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff")]})
        await send({"type": "http.response.body", "body": body})
