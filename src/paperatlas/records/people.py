"""Typed records of the people who may write: users and their API tokens."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    """Someone who may sign in to the web app and write (edits, collections, uploads)."""

    name: str
    created_at: str
    tokens: int = 0  # how many API tokens the user has


@dataclass(frozen=True)
class ApiToken:
    """An API token as stored: never the token itself, only what describes it."""

    id: int
    user: str
    label: str
    created_at: str
    last_used_at: str | None


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``token`` is shown once and cannot be read back later."""

    token: str
    info: ApiToken
