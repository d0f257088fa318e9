"""Who is asking: signed cookie sessions, CSRF tokens, API tokens, and who may read or write.

Sessions are Starlette's signed cookies (itsdangerous, keyed by ``WebSettings.secret_key``):
HttpOnly, SameSite=Lax, and Secure when the request came over https. A signed-in cookie
also holds a random session id whose hash the library keeps (``web_sessions``); every
request that uses the session checks it is still there, so sign-out, a new password or
removing the user ends the session even where the cookie was copied. Every HTML form that
writes carries the session's CSRF token in a hidden field (403 without it). Writes through
``/api`` need ``Authorization: Bearer TOKEN`` (401 without a valid one). Reading is open
unless ``WebSettings.private``; then every page and API route needs a signed-in user or a
token, except the sign-in page itself. Failed sign-ins and bad tokens are throttled per
account and per client address (``WebSettings.auth_limits``): 429 with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .context import context
from .errors import error_response

SESSION_COOKIE = "paperatlas_session"
#: Routes open to everyone even in private mode (the sign-up pages are 404 unless open
#: sign-up is on: then strangers may sign up to read a private library).
OPEN_PATHS = frozenset({"/signin", "/signout", "/signup", "/signup/confirm", "/api/signup",
                        "/api/signup/confirm"})
#: ``request.state.signed_in`` before the session was checked.
_UNCHECKED = object()
#: Path prefixes open to everyone even in private mode (signed links in messages).
OPEN_PREFIXES = ("/unsubscribe/", "/subscriptions/confirm/", "/api/unsubscribe",
                 "/api/subscriptions/confirm")


class SignInRequired(Exception):
    """The route needs a signed-in user (pages) or an API token (``/api``)."""

    def __init__(self, message: str, next_url: str = "/") -> None:
        super().__init__(message)
        self.next_url = next_url


class SessionCookies:
    """Starlette's session middleware, adding the Secure flag when served over https."""

    def __init__(self, app: ASGIApp, secret_key: str, max_age: int) -> None:
        options: dict[str, Any] = {"session_cookie": SESSION_COOKIE, "max_age": max_age,
                                   "same_site": "lax"}
        self.plain = SessionMiddleware(app, secret_key, https_only=False, **options)
        self.secure = SessionMiddleware(app, secret_key, https_only=True, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        https = scope.get("scheme") in ("https", "wss")
        await (self.secure if https else self.plain)(scope, receive, send)


def install(app: FastAPI, secret_key: str, session_days: int) -> None:
    """Sessions, sign-in redirects, and the visitor's name and CSRF token in every page."""
    app.add_middleware(SessionCookies, secret_key=secret_key or secrets.token_urlsafe(32),
                       max_age=session_days * 86400)
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.state.paperatlas.templates.context_processors.append(_page_context)


def is_api(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith("/api/")


def _session(request: Request) -> dict[str, Any] | None:
    """The session, or None where there is none (a 500 page answered outside it)."""
    session: dict[str, Any] | None = request.scope.get("session")
    return session


def _cookie_user(request: Request) -> str | None:
    session = _session(request)
    name = session.get("user") if session is not None else None
    return name if isinstance(name, str) else None


def session_user(request: Request) -> str | None:
    """The signed-in user as :func:`signed_in` found it for this request (every route
    checks first), else the name the cookie holds; never takes the library's lock."""
    checked, user = _checked(request)
    return user if checked else _cookie_user(request)


def _checked(request: Request) -> tuple[bool, str | None]:
    """Whether this request's session was checked yet, and who it found."""
    found = getattr(request.state, "signed_in", _UNCHECKED)
    if found is _UNCHECKED:
        return False, None
    return True, found if isinstance(found, str) else None


def signed_in(request: Request) -> str | None:
    """The signed-in user: the cookie's session must still be in the library, unexpired
    (else the cookie is signed out). Checked once per request."""
    checked, user = _checked(request)
    if checked:
        return user
    session = _session(request)
    session_id = session.get("sid") if session is not None else None
    if _cookie_user(request) is not None and isinstance(session_id, str):
        with context(request).library() as lib:
            user = lib.people.session_user(session_id)
    if user is None and session is not None and "user" in session:
        session.pop("user", None)  # ended, expired, or from before server-side sessions
        session.pop("sid", None)
    request.state.signed_in = user
    return user


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made when a form first needs it."""
    session = _session(request)
    if session is None:
        return ""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, sent: str | None) -> None:
    """403 unless ``sent`` is the session's CSRF token."""
    session = _session(request)
    expected = session.get("csrf") if session is not None else None
    if not (isinstance(expected, str) and expected and sent
            and hmac.compare_digest(expected.encode(), sent.encode())):
        raise HTTPException(403, "this form is out of date or was not sent from this site "
                                 "(CSRF check failed): reload the page and try again")


def start_session(request: Request, user: str) -> None:
    """Sign ``user`` in with a fresh session (and a fresh CSRF token)."""
    ctx = context(request)
    with ctx.library() as lib:
        session_id = lib.people.session_start(user, ctx.settings.session_days * 86400)
    request.session.clear()
    request.session.update(user=user, sid=session_id, csrf=secrets.token_urlsafe(32))
    request.state.signed_in = user


def end_session(request: Request) -> None:
    """Sign out: end the session in the library (wherever its cookie was copied) too."""
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        with context(request).library() as lib:
            lib.people.session_end(session_id)
    request.session.clear()
    request.state.signed_in = None


def client_address(request: Request) -> str | None:
    """The client's address, as throttles count it: an IPv6 one by its /64, which one host
    can rotate through (behind a proxy, uvicorn's ``--proxy-headers`` sets it)."""
    host = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host or None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def flash(request: Request, message: str) -> None:
    """A message for the next page shown to this visitor."""
    request.session["flash"] = message


def page_writer(request: Request, csrf: str | None) -> str:
    """The user a form writes as: signed in (else a redirect to sign in) and with the
    session's CSRF token (else 403)."""
    user = signed_in(request)
    if user is None:
        raise SignInRequired("sign in to make changes", back_url(request))
    check_csrf(request, csrf)
    return user


def api_writer(request: Request) -> str:
    """The user an API write acts for: the owner of the request's bearer token."""
    user = getattr(request.state, "token_user", None)
    if not isinstance(user, str):
        raise SignInRequired("writing through the API needs a token: send "
                             "'Authorization: Bearer TOKEN' (make one with "
                             "`paperatlas users token NAME`)")
    return user


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def guard(request: Request) -> None:
    """Run before every route: check an API token when one is sent (401 when unknown) and,
    in private mode, let only signed-in users and token holders through."""
    ctx = context(request)
    token = bearer(request) if is_api(request) else None
    if token is not None:
        with ctx.library() as lib:
            request.state.token_user = lib.people.token_check(
                token, client=client_address(request), limits=ctx.settings.auth_limits).name
        return
    user = signed_in(request) if _cookie_user(request) is not None else None
    path = request.url.path
    if not ctx.settings.private or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired("this library is private: sign in"
                             + (" or send an API token" if is_api(request) else ""), target)


def local_url(url: str | None, default: str = "/") -> str:
    """``url`` if it is a path on this site (never another host), else ``default``."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url


def back_url(request: Request) -> str:
    """The page a form was sent from (its Referer on this site), else the home page."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/"
    return local_url(referer.path + (f"?{referer.query}" if referer.query else ""))


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    if is_api(request):
        response = error_response(request, 401, "SignInRequired", str(exc))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return RedirectResponse("/signin?next=" + quote(local_url(exc.next_url), safe="/"),
                            status_code=303)


def _page_context(request: Request) -> dict[str, Any]:
    """What every page knows of its visitor: the name, a CSRF token maker, a flash message."""
    session = _session(request)
    message = session.pop("flash", None) if session is not None else None
    return {"user": session_user(request), "csrf_token": lambda: csrf_token(request),
            "flash": message, "private": context(request).settings.private}
