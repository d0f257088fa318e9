"""What a lexical search reads between two reloads: the shards' searchers and each term's
document frequencies, read once and kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Terms whose document frequencies a generation keeps (emptied when it holds more).
FREQS_KEPT = 1 << 16


@dataclass(frozen=True)
class Generation:
    """The shards' searchers as of the last reload, and each term's document frequency in
    every shard as read from them (kept: 11 ``doc_freq`` calls cost ~0.17 ms a query)."""

    searchers: list[Any]
    freqs: dict[str, list[int]] = field(default_factory=dict)

    def doc_freqs(self, tokens: list[str], field: str = "all") -> list[list[int]]:
        """``[shard][i]``: how many of a shard's papers have ``tokens[i]`` in ``field``."""
        freqs = self.freqs
        if len(freqs) > FREQS_KEPT:
            freqs.clear()
        keys = tokens if field == "all" else [f"{field}\x00{tok}" for tok in tokens]
        per_token = [freqs.get(key) or freqs.setdefault(
            key, [int(s.doc_freq(field, tok)) for s in self.searchers])
            for key, tok in zip(keys, tokens, strict=True)]
        return [[f[shard] for f in per_token] for shard in range(len(self.searchers))]
