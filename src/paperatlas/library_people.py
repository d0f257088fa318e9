"""The parts of :class:`~paperatlas.library.Library` about people and their things:
users and API tokens, collections they make, background jobs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .accounts import AccountService, AuthLimits, Revoked
from .bounds import MAX_LIST, check_id, check_limit
from .errors import ConflictError, InvalidOptionError
from .jobs import JobService
from .library_base import LibraryBase
from .records.jobs import Job
from .records.papers import CollectionInfo
from .records.people import ApiToken, NewToken, User
from .store import utcnow


class PeopleMixin(LibraryBase):
    """Users, tokens, collections and jobs (mixed into ``Library``)."""

    accounts: AccountService
    job_service: JobService

    # -- users and API tokens ----------------------------------------------------------
    def user_add(self, name: str, password: str) -> User:
        """A new user who may sign in to the web app (password hashed with argon2)."""
        return self.accounts.add(name, password)

    def user_check(self, name: str, password: str, *, client: str | None = None,
                   limits: AuthLimits | None = None) -> User:
        """The user, if the password is theirs; :class:`AuthError` otherwise. With
        ``limits``, failures per account and ``client`` are throttled
        (:class:`TooManyRequestsError`)."""
        return self.accounts.check(name, password, client=client, limits=limits)

    def user_password(self, name: str, password: str) -> Revoked:
        """Set a user's password, ending their web sessions and API tokens."""
        return self.accounts.set_password(name, password)

    def user(self, name: str) -> User:
        return self.accounts.get(name)

    def users(self) -> list[User]:
        return self.accounts.all()

    def user_remove(self, name: str) -> None:
        """Delete a user, their tokens and web sessions."""
        self.accounts.remove(name)

    def token_create(self, name: str, label: str = "") -> NewToken:
        """A new API token for a user; ``.token`` is its only copy."""
        return self.accounts.token_create(name, label)

    def token_check(self, token: str, *, client: str | None = None,
                    limits: AuthLimits | None = None) -> User:
        """The user an API token belongs to; :class:`AuthError` for an unknown token. With
        ``limits``, a ``client`` sending many bad tokens is throttled."""
        return self.accounts.token_check(token, client=client, limits=limits)

    def session_start(self, name: str, lifetime_s: float) -> str:
        """A new web session for a user; returns its secret id (for the cookie)."""
        return self.accounts.session_start(name, lifetime_s)

    def session_user(self, session_id: str) -> str | None:
        """The user a web session belongs to, or None once it ended or expired."""
        return self.accounts.session_user(session_id)

    def session_end(self, session_id: str) -> bool:
        """End a web session (sign-out)."""
        return self.accounts.session_end(session_id)

    def tokens(self, name: str) -> list[ApiToken]:
        return self.accounts.tokens(name)

    # -- collections and jobs --------------------------------------------------------------
    def collection_create(self, name: str) -> CollectionInfo:
        """A new, empty collection."""
        name = " ".join(name.split())
        if not name or len(name) > 200:
            raise InvalidOptionError("collection name", name, ["1 to 200 characters"])
        if self.store.collections.id_for(name) is not None:
            raise ConflictError(f"a collection named {name!r} already exists")
        with self.store.transaction():
            self.store.collections.ensure(name, utcnow())
        made = self.store.collections.get(name)
        assert made is not None  # made just now, in this connection
        return made

    def collection_add(self, name: str, keys: Iterable[str]) -> int:
        """Put papers (by key or identifier) in a collection; returns how many were new."""
        repo = self.store.collections
        return self._collect(name, keys, lambda c, p: repo.add_paper(c, p, utcnow()))

    def collection_remove(self, name: str, keys: Iterable[str]) -> int:
        """Take papers out of a collection (they stay in the library); returns how many."""
        return self._collect(name, keys, self.store.collections.remove_paper)

    def _collect(self, name: str, keys: Iterable[str], change: Callable[[int, int], bool]) -> int:
        cid = self.store.collections.require(name) or 0
        ids = [self._resolve(k) for k in keys]
        with self.store.transaction():
            return sum(change(cid, pid) for pid in ids)

    def job_create(self, kind: str, params: dict[str, Any],
                   created_by: str | None = None) -> Job:
        """A queued job; ``params`` describe it to people (file name, collection, ...)."""
        return self.job_service.create(kind, params, created_by)

    def job(self, job_id: int) -> Job:
        check_id("job", job_id)
        return self.job_service.get(job_id)

    def jobs(self, limit: int = 20) -> list[Job]:
        check_limit(limit, MAX_LIST)
        return self.job_service.recent(limit)

    def jobs_abandon(self) -> int:
        """Fail the jobs a stopped process left queued or running; returns how many."""
        return self.job_service.abandon()
