"""A parsed record made ready to store: the per-record work that needs no library.

Before a record is deduplicated and stored (:mod:`paperatlas.importer`), its text is
cleaned (:func:`~paperatlas.textclean.clean_record`), its title normalized, its limits
checked, its identifiers put in match form, its title's blocking keys found and its
source row's ``extra`` built. None of it reads the library, so :func:`prepare` can run
anywhere: in the ingesting process, or in the helper process that decodes a big file's
lines (:mod:`.lineworkers`), beside the writes. Either way it gives the same
:class:`Prepared` for the same record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..author_ids import source_extra
from ..dedup import match_ids
from ..records.papers import Record
from ..text import block_keys, normalize_title
from ..textclean import clean_record, clean_text
from .limits import validate


@dataclass(slots=True)
class Prepared:
    """A record as the importer stores it. ``rec`` is the cleaned record (the paper gets
    its fields), ``raw_title`` the title as the parser read it (its source row keeps it);
    ``reason`` says why it is rejected (then the fields after it are empty)."""

    rec: Record
    raw_title: str
    norm: str
    reason: str | None
    #: ``scheme -> match value`` (:func:`~paperatlas.dedup.match_ids`).
    rids: dict[str, str]
    #: The normalized title's blocking keys (:func:`~paperatlas.text.block_keys`).
    keys: list[str]
    #: The source row's ``extra`` (:func:`~paperatlas.author_ids.source_extra`).
    extra: dict[str, Any]

    @property
    def entry(self) -> int:
        return self.rec.entry

    @property
    def line(self) -> int:
        return self.rec.line


def prepare(raw: Record) -> Prepared:
    """``raw`` cleaned and checked, with what its dedup and source row need."""
    rec = clean_record(raw)
    norm = normalize_title(rec.title)
    reason = validate(rec, norm)
    if reason:
        return Prepared(rec, raw.title, norm, reason, {}, [], {})
    return Prepared(rec, raw.title, norm, None, match_ids(rec.ids), block_keys(norm),
                    source_extra(rec, clean_text))
