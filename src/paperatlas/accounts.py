"""Accounts: users with argon2-hashed passwords, API tokens and web sessions (both kept only
as SHA-256 hashes), and the throttling of failed sign-ins and bad tokens.

Passwords are hashed with argon2id (``argon2-cffi``, in the ``[web]`` extra). A token is
32 random bytes (``pa_`` + URL-safe base64), shown once when made; the library stores its
SHA-256, which is enough for a secret that long and lets a request be checked by lookup.
A web session is the same kind of secret, kept in the signed cookie; deleting its row
(sign-out, a new password, removing the user) ends it wherever the cookie was copied.
Failed sign-ins and bad tokens are counted in ``throttle_events``, which every server
process shares, so a limit holds across ``serve --workers N``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import (
    AuthError,
    ConflictError,
    InvalidOptionError,
    NotFoundError,
    PaperatlasError,
    TooManyRequestsError,
)
from .records.people import ApiToken, NewToken, User
from .store import Store, utcnow

log = logging.getLogger(__name__)

#: A user name: a letter or digit, then up to 63 letters, digits and ``. _ @ -``.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_LABEL = 100
TOKEN_PREFIX = "pa_"
#: Throttle events are kept this long (longer than any window counting them: other limits,
#: such as those on confirmation mails, share the table), and pruned every PRUNE_EVERY events.
KEEP_EVENTS_S = 7 * 86400
PRUNE_EVERY = 100


@dataclass(frozen=True)
class AuthLimits:
    """When failed sign-ins and bad API tokens are refused (429); 0 turns a limit off."""

    account_failures: int = 5  # failed sign-ins for one account per window
    client_failures: int = 20  # failed sign-ins from one client (IP address) per window
    signin_window_s: int = 15 * 60
    token_failures: int = 20  # bad API tokens from one client per window
    token_window_s: int = 60


@dataclass(frozen=True)
class Revoked:
    """What ending a user's access took away."""

    sessions: int
    tokens: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccountService:
    """The users and API tokens of one library."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock  # seconds since the epoch: session expiry and throttle windows
        self._hasher: Any = None
        self._dummy: str | None = None
        self._events = 0

    @property
    def hasher(self) -> Any:
        """argon2's PasswordHasher (imported when first needed)."""
        if self._hasher is None:
            try:
                from argon2 import PasswordHasher
            except ImportError as exc:
                raise PaperatlasError("accounts need argon2-cffi: pip install "
                                      "'paperatlas[web]'") from exc
            self._hasher = PasswordHasher()
        return self._hasher

    def add(self, name: str, password: str) -> User:
        """A new user; the name is unique regardless of case."""
        check_name(name)
        check_password(password)
        if self.store.users.get(name) is not None:
            raise ConflictError(f"a user named {name!r} already exists")
        digest = self.hasher.hash(password)
        with self.store.transaction():
            self.store.users.add(name, digest, utcnow())
        return self.get(name)

    def check(self, name: str, password: str, *, client: str | None = None,
              limits: AuthLimits | None = None) -> User:
        """The user whose name and password these are; :class:`AuthError` otherwise.

        With ``limits``, failures are counted per account and per ``client`` (an address):
        past a limit every try is refused with :class:`TooManyRequestsError` (the right
        password too) until the window has passed; a success clears the account's count."""
        if limits is None:
            return self._check(name, password)
        account = "signin:user:" + name.strip().lower()[:100]
        checks = [(account, limits.account_failures, "for this account")]
        if client:
            checks.append((f"signin:client:{client}", limits.client_failures,
                           "from your address"))
        for key, most, where in checks:
            self.refuse_if_over(key, most, limits.signin_window_s,
                                f"too many failed sign-ins {where}")
        try:
            user = self._check(name, password)
        except AuthError:
            self.record_events([key for key, _, _ in checks])
            raise
        with self.store.transaction():
            self.store.throttle.clear(account)
        return user

    def _check(self, name: str, password: str) -> User:
        from argon2.exceptions import InvalidHashError, VerificationError

        stored = self.store.users.password_hash(name) if len(password) <= MAX_PASSWORD else None
        if stored is None:
            self._waste_time(password)  # an unknown name takes as long as a wrong password
            raise AuthError("wrong user name or password")
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            raise AuthError("wrong user name or password") from None
        if self.hasher.check_needs_rehash(stored):  # the hash parameters were raised
            with self.store.transaction():
                self.store.users.set_password_hash(name, self.hasher.hash(password))
        return self.get(name)

    def get(self, name: str) -> User:
        user = self.store.users.get(name)
        if user is None:
            raise NotFoundError(f"no user named {name!r}")
        return user

    def all(self) -> list[User]:
        return self.store.users.all()

    def set_password(self, name: str, password: str) -> Revoked:
        """Give a user a new password, ending all their web sessions and API tokens."""
        check_password(password)
        user = self.get(name)
        digest = self.hasher.hash(password)
        with self.store.transaction():
            self.store.users.set_password_hash(user.name, digest)
            ended = Revoked(self.store.sessions.remove_user(user.name),
                            self.store.users.remove_tokens(user.name))
            self.store.throttle.clear("signin:user:" + user.name.lower())
        return ended

    def remove(self, name: str) -> None:
        """Delete a user, their tokens and sessions (their edits and uploads stay)."""
        with self.store.transaction():
            if not self.store.users.remove(name):
                raise NotFoundError(f"no user named {name!r}")

    def token_create(self, name: str, label: str = "") -> NewToken:
        """A new API token for a user; the returned ``token`` is the only copy."""
        user = self.get(name)
        label = " ".join(label.split())
        if len(label) > MAX_LABEL:
            raise InvalidOptionError("token label", label[:20] + "…",
                                     [f"at most {MAX_LABEL} characters"])
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction():
            info = self.store.users.add_token(user.name, token_hash(token), label, utcnow())
        return NewToken(token=token, info=info)

    def token_check(self, token: str, *, client: str | None = None,
                    limits: AuthLimits | None = None) -> User:
        """The user an API token belongs to (noting when it was last used).

        With ``limits`` and a ``client``, a client that sent too many bad tokens lately is
        refused (:class:`TooManyRequestsError`) whatever token it sends."""
        key = f"token:client:{client}" if limits is not None and client else None
        if key is not None and limits is not None:
            self.refuse_if_over(key, limits.token_failures, limits.token_window_s,
                                "too many invalid API tokens from your address")
        info = self.store.users.token_user(token_hash(token.strip()))
        if info is None:
            if key is not None:
                self.record_events([key])
            raise AuthError("invalid API token")
        with self.store.transaction():
            self.store.users.touch_token(info.id, utcnow())
        return self.get(info.user)

    def tokens(self, name: str) -> list[ApiToken]:
        return self.store.users.tokens(self.get(name).name)

    # -- web sessions --------------------------------------------------------------------
    def session_start(self, name: str, lifetime_s: float) -> str:
        """A new session for a user, good for ``lifetime_s``; returns its secret id (the
        cookie keeps it; the library keeps its hash). Expired sessions are pruned."""
        user = self.get(name)
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.transaction():
            self.store.sessions.prune(_iso(now))
            self.store.sessions.add(token_hash(session_id), user.name, _iso(now),
                                    _iso(now + lifetime_s))
        return session_id

    def session_user(self, session_id: str) -> str | None:
        """The name of the user a live session belongs to; None once it ended or expired."""
        return self.store.sessions.user(token_hash(session_id), _iso(self.clock()))

    def session_end(self, session_id: str) -> bool:
        """End one session (sign-out); False if it had already ended."""
        with self.store.transaction():
            return self.store.sessions.remove(token_hash(session_id))

    # -- throttling ------------------------------------------------------------------------
    def refuse_if_over(self, key: str, most: int, window_s: float, message: str) -> None:
        """:class:`TooManyRequestsError` if ``key`` saw ``most`` events (failures, sign-ups,
        mails: whatever its caller counts under it) in the window."""
        if most <= 0:
            return
        now = self.clock()
        since = now - window_s
        failures = self.store.throttle.count(key, since)
        if failures < most:
            return
        oldest = self.store.throttle.oldest(key, since)
        wait = (oldest if oldest is not None else now) + window_s - now
        log.warning("refused: %s (%d failures in %ds): %r", message, failures, window_s, key)
        raise TooManyRequestsError(f"{message}: try again in {_duration(wait)}",
                                   retry_after=wait)

    def record_events(self, keys: list[str]) -> None:
        """Note an event under each key, in its own transaction (and now and then drop
        events long past)."""
        now = self.clock()
        with self.store.transaction():
            for key in keys:
                self.store.throttle.record(key, now)
            if self._events % PRUNE_EVERY == 0:
                self.store.throttle.prune(now - KEEP_EVENTS_S)
        self._events += 1

    def _waste_time(self, password: str) -> None:
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_hex(8))
        with contextlib.suppress(Exception):  # a mismatch; only the time it takes matters
            self.hasher.verify(self._dummy, password[:MAX_PASSWORD])


def check_name(name: str) -> None:
    """:class:`InvalidOptionError` unless ``name`` can name a user (:data:`NAME_RE`)."""
    if not NAME_RE.fullmatch(name):
        raise InvalidOptionError("user name", name[:80], [
            "1-64 letters, digits and . _ @ -, starting with a letter or digit"])


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidOptionError("password", "*" * min(len(password), 8),
                                 [f"{MIN_PASSWORD} to {MAX_PASSWORD} characters"])


def _iso(t: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC text (the store's format: it sorts as text)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(seconds: float) -> str:
    whole = max(1, int(seconds + 0.999))
    if whole < 120:
        return f"{whole} seconds"
    return f"{(whole + 59) // 60} minutes"
