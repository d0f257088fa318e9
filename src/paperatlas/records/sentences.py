"""What the index job did to the papers' stored sentences."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SentenceReport:
    """What the index job did to the stored sentences: papers whose abstracts it split,
    papers already up to date, papers whose sentences went (deleted, or no abstract now),
    and the library's totals after."""

    split: int
    unchanged: int
    removed: int
    papers: int
    sentences: int
