"""The five real Daily Papers pages: 386 entries of 334 distinct papers."""

from __future__ import annotations

import shutil
from pathlib import Path

from paperatlas import Library

from conftest import dump


def test_seeds_give_334_papers_with_386_sources(lib: Library, seeds: Path) -> None:
    report = lib.ingest([seeds])
    assert report.records == 386
    assert report.added == 334 and report.merged == 52
    assert report.rejected == 0 and not report.failed
    stats = lib.stats()
    assert (stats.papers, stats.sources, stats.collections, stats.files) == (334, 386, 5, 5)
    assert stats.with_abstract == 334


def test_seeds_again_change_nothing(lib: Library, seeds: Path, tmp_path: Path) -> None:
    lib.ingest([seeds])
    before = [r for r in dump(lib) if not r.startswith("ingest_")]
    again = lib.ingest([seeds])
    assert (again.added, again.merged, again.skipped) == (0, 0, 386)
    # the same pages from another place are the same listing
    copy = tmp_path / "copy"
    shutil.copytree(seeds, copy)
    moved = lib.ingest([copy])
    assert (moved.added, moved.merged, moved.skipped) == (0, 0, 386)
    after = [r for r in dump(lib) if not r.startswith("ingest_")]
    assert after == before
    assert [r["status"] for r in lib.papers.runs()] == ["ok", "ok", "ok"]


def test_seed_pages_each_form_a_collection(lib: Library, seeds: Path) -> None:
    lib.ingest([seeds])
    names = {c.name: c.papers for c in lib.collections.all()}
    # each named by its day and number (the files are named by hashes)
    assert len(names) == 5 and all(n.startswith("Daily Papers") for n in names)
    assert sorted(n[-4:-1] for n in names) == sorted(p.stem[:3] for p in seeds.glob("*.txt"))
    assert sum(names.values()) == 386  # no page lists the same paper twice


def test_a_paper_on_two_pages_keeps_both_sources(lib: Library, seeds: Path) -> None:
    lib.ingest([seeds])
    multi = [p for p in lib.papers() if len(p.sources) > 1]
    assert multi  # some papers appear on more than one page
    assert sum(len(p.sources) - 1 for p in lib.papers()) == 52
    paper = multi[0]
    assert len(paper.collections) == len(paper.sources)
    for source in paper.sources:
        assert source.format == "dailypapers" and source.line > 0
        text = Path(source.path).read_text(encoding="utf-8").splitlines()
        assert text[source.line - 1] == paper.title


def test_seed_dates_are_kept_as_listing_dates(lib: Library, seeds: Path) -> None:
    lib.ingest([seeds])
    chime = next(p for p in lib.papers() if p.title.startswith("CHIME:"))
    assert chime.key.startswith("chime-llm-assisted-hierarchical-organization")
    extra = lib.store.conn.execute(
        "SELECT extra FROM sources s JOIN papers p ON p.id = s.paper_id WHERE p.key = ?",
        (chime.key,)).fetchone()[0]
    assert '"listed_on": "Jul 3"' in extra
