"""Security headers on every answer, and ``HEAD`` for every ``GET`` route.

Pages load their script and style from ``/static`` only (no inline ``<script>``, event
handler or ``style`` attribute), so the Content-Security-Policy allows nothing else.
``/docs`` (Swagger UI) sets its own policy: the hash of its one inline script, and inline
styles, which Swagger UI needs. The app is wrapped whole (outside Starlette's error
middleware), so even an unexpected 500 carries the headers.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The policy of every page: only this site's files; never framed; no plugins.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


class SecuredApp(FastAPI):
    """FastAPI, with :class:`SecurityHeaders` around the whole middleware stack."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


class SecurityHeaders:
    """Add :data:`HEADERS` to every HTTP answer (those a response set itself win), and
    answer ``HEAD`` as ``GET`` without the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in HEADERS if n not in have]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            elif head and message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # HEAD: drop the body, keep GET's headers (Content-Length too)
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_secured)


def docs_policy(html: str) -> str:
    """The policy of the Swagger UI page ``html``: its inline scripts by hash, inline
    styles, and this site otherwise."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html))
    return CSP.replace("script-src 'self'", f"script-src 'self' {hashes}").replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'")
