"""Accounts: users with argon2-hashed passwords, and API tokens kept only as SHA-256 hashes.

Passwords are hashed with argon2id (``argon2-cffi``, in the ``[web]`` extra). A token is
32 random bytes (``pa_`` + URL-safe base64), shown once when made; the library stores its
SHA-256, which is enough for a secret that long and lets a request be checked by lookup.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from typing import Any

from .errors import AuthError, ConflictError, InvalidOptionError, NotFoundError, PaperatlasError
from .models import ApiToken, NewToken, User
from .store import Store, utcnow

#: A user name: a letter or digit, then up to 63 letters, digits and ``. _ @ -``.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_LABEL = 100
TOKEN_PREFIX = "pa_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccountService:
    """The users and API tokens of one library."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._hasher: Any = None
        self._dummy: str | None = None

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
        if not NAME_RE.fullmatch(name):
            raise InvalidOptionError("user name", name, [
                "1-64 letters, digits and . _ @ -, starting with a letter or digit"])
        _check_password(password)
        if self.store.users.get(name) is not None:
            raise ConflictError(f"a user named {name!r} already exists")
        digest = self.hasher.hash(password)
        with self.store.transaction():
            self.store.users.add(name, digest, utcnow())
        return self.get(name)

    def check(self, name: str, password: str) -> User:
        """The user whose name and password these are; :class:`AuthError` otherwise."""
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

    def remove(self, name: str) -> None:
        """Delete a user and their tokens (their edits and uploads stay)."""
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

    def token_check(self, token: str) -> User:
        """The user an API token belongs to (noting when it was last used)."""
        info = self.store.users.token_user(token_hash(token.strip()))
        if info is None:
            raise AuthError("invalid API token")
        with self.store.transaction():
            self.store.users.touch_token(info.id, utcnow())
        return self.get(info.user)

    def tokens(self, name: str) -> list[ApiToken]:
        return self.store.users.tokens(self.get(name).name)

    def _waste_time(self, password: str) -> None:
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_hex(8))
        with contextlib.suppress(Exception):  # a mismatch; only the time it takes matters
            self.hasher.verify(self._dummy, password[:MAX_PASSWORD])


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidOptionError("password", "*" * min(len(password), 8),
                                 [f"{MIN_PASSWORD} to {MAX_PASSWORD} characters"])
