"""Signed, expiring link tokens (confirm a subscription, unsubscribe from it).

A token is ``SUBSCRIPTION.EXPIRY.MAC``: the subscription id, the expiry as Unix seconds in
base 36, and the first 16 bytes of an HMAC-SHA256 (URL-safe base64) over the purpose, id
and expiry, keyed by a random secret that the library makes once and keeps in its
database (so links survive restarts and work from every process). Subscription ids are
never reused, so a token can only ever name the subscription it was made for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from ..errors import PaperatlasError
from ..store import Store, utcnow

#: What a token is for, and how long it lasts (seconds).
PURPOSES: dict[str, int] = {"confirm": 7 * 86400, "unsubscribe": 366 * 86400}
_SECRET = "links"
#: A token's shape: an id SQLite can hold, a base-36 expiry, an URL-safe base64 MAC.
_TOKEN = re.compile(r"([1-9][0-9]{0,17})\.([0-9A-Za-z]{1,12})\.([0-9A-Za-z_-]{1,64})")


class LinkError(PaperatlasError):
    """A confirmation or unsubscribe link that is malformed, forged or expired."""


def link_secret(store: Store) -> bytes:
    """The library's link-signing secret, made (in its own transaction) on first use."""
    value = store.subscriptions.secret(_SECRET)
    if value is None:
        with store.transaction():
            store.subscriptions.put_secret(_SECRET, secrets.token_hex(32), utcnow())
        value = store.subscriptions.secret(_SECRET)
    assert value is not None
    return bytes.fromhex(value)


def _mac(secret: bytes, purpose: str, sub_id: int, expiry: str) -> str:
    digest = hmac.new(secret, f"{purpose}:{sub_id}:{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def make_token(secret: bytes, purpose: str, sub_id: int, now: float) -> str:
    """A token for ``purpose`` (one of :data:`PURPOSES`) on a subscription."""
    expiry = _base36(int(now) + PURPOSES[purpose])
    return f"{sub_id}.{expiry}.{_mac(secret, purpose, sub_id, expiry)}"


def read_token(secret: bytes, purpose: str, token: str, now: float) -> int:
    """The subscription id a valid token names; :class:`LinkError` otherwise."""
    found = _TOKEN.fullmatch(token.strip())
    if found is None:  # ASCII only: "²" passes str.isdigit() and then int() fails
        raise LinkError(f"this {purpose} link is not valid (it may have been cut short: "
                        "copy the whole link from the email)")
    sub_id, expiry, mac = int(found[1]), found[2].lower(), found[3]
    if not hmac.compare_digest(mac.encode(), _mac(secret, purpose, sub_id, expiry).encode()):
        raise LinkError(f"this {purpose} link is not valid (it was not made by this library)")
    if int(expiry, 36) < now:
        raise LinkError(f"this {purpose} link has expired" + (
            ": subscribe again to get a new one" if purpose == "confirm" else ""))
    return sub_id
