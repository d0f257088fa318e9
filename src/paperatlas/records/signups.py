"""Typed records of open sign-up: a sign-up waiting for its address to confirm it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PendingSignup:
    """Someone who signed up and has not followed the confirmation link yet (no secret:
    the library keeps only hashes of the password and of the link's secret)."""

    id: int
    name: str
    email: str
    created_at: str
    expires_at: str
