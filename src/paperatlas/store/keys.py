"""Title blocking keys as stored: 64-bit integers."""

from __future__ import annotations

import hashlib
from functools import lru_cache


@lru_cache(maxsize=4096)  # dedup and the insert after it hash the same keys
def key_hash(key: str) -> int:
    """A blocking key as a signed 64-bit integer, the same in every process (blake2b);
    two keys that collide only add a candidate, which the title comparison drops."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big",
                          signed=True)
