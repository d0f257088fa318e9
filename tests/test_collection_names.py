"""Issue 20, item 7: a file named by a hash gives its collection a name from what it holds
(the Daily Papers seed pages are ``000_60a7c2738998f4b5.txt`` ...)."""

from __future__ import annotations

import shutil
from pathlib import Path

from paperatlas import Library
from paperatlas.ingest.keys import content_collection
from paperatlas.records.papers import Record


def test_opaque_names_are_replaced_by_content() -> None:
    rec = Record(title="t", extra={"listed_on": "Jul 3"})
    assert content_collection("000_60a7c2738998f4b5", "dailypapers",
                              rec) == "Daily Papers, Jul 3 (000)"
    assert content_collection("9b2e4c1d-0a1b-4c2d-8e3f-001122334455", "ris",
                              Record(title="t", date="2024-05-01")) == "RIS, 2024-05-01"
    assert content_collection("001_7ab91367a8e1e5a9", "dailypapers",
                              Record(title="t")) == "Daily Papers (001)"
    for kept in ("my-reading-list", "scifact", "2024-07-03", "deadbeef"):  # say something
        assert content_collection(kept, "ris", rec) == kept


def test_seed_pages_are_named_by_their_day(seeds: Path, tmp_path: Path) -> None:
    page = sorted(seeds.glob("000_*.txt"))[0]
    shutil.copy(page, tmp_path / page.name)
    shutil.copy(page, tmp_path / "reading-list.txt")
    with Library(tmp_path / "l.db", embedding_model=None) as lib:
        report = lib.ingest([tmp_path / page.name])
        assert report.files[0].collection == "Daily Papers, Jul 3 (000)"
        lib.ingest([tmp_path / "reading-list.txt"])
        lib.ingest([tmp_path / page.name], collection="mine")
        names = {c.name for c in lib.collections.all()}
    assert names == {"Daily Papers, Jul 3 (000)", "reading-list", "mine"}
