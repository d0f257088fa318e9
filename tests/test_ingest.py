"""Ingest as a unit of work: bad files, rejections, dry runs, interruptions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperatlas import InvalidOptionError, Library
from paperatlas.importer import Importer

from conftest import ABSTRACT_A, ABSTRACT_B, daily_page, dump


def test_bad_file_leaves_db_as_it_was_and_others_go_in(lib: Library, write) -> None:
    good1 = write("1.txt", daily_page([("Good one", ABSTRACT_A)]))
    bad = write("2.jsonl", "{broken\n" + json.dumps({"title": "fine", "text": "x"}) + "\n")
    good2 = write("3.csv", "title,abstract\nGood two,x\n")
    lib.ingest([good1])
    before = [r for r in dump(lib) if not r.startswith("ingest_")]
    alone = lib.ingest([bad])
    assert [r for r in dump(lib) if not r.startswith("ingest_")] == before
    assert (alone.failed[0].error or "").startswith(f"{bad}:1: invalid JSON")
    report = lib.ingest([bad, good1, good2])
    assert [f.ok for f in report.files] == [False, True, True]
    assert report.failed[0].error_line == 1
    assert report.added == 1 and lib.stats().papers == 2
    assert {c.name for c in lib.collections.all()} == {"1", "3"}  # nothing of "2" remains
    run = lib.papers.runs()[0]
    assert run["status"] == "errors" and run["summary"]["failed_files"] == 1
    logged = lib.store.conn.execute(
        "SELECT status, error_line FROM ingest_files WHERE path = ?", (str(bad),)).fetchall()
    assert [tuple(r) for r in logged] == [("error", 1), ("error", 1)]


def test_records_without_title_are_rejected_and_counted(lib: Library, write) -> None:
    path = write("r.jsonl", "\n".join(json.dumps(r) for r in [
        {"title": "Kept", "abstract": "a"}, {"title": "", "abstract": "no title"},
        {"abstract": "missing"}, {"title": "!!!"}, {"title": "x" * 3000}]) + "\n")
    report = lib.ingest([path])
    f = report.files[0]
    assert (f.records, f.added, f.rejected) == (5, 1, 4)
    assert [(r.line, r.reason) for r in f.rejections][:3] == [
        (2, "no title"), (3, "no title"), (4, "title has no letters or digits")]
    assert f.rejected_by_reason["no title"] == 2
    assert "3000 characters" in f.rejections[3].reason


def test_dry_run_writes_nothing_and_predicts_the_real_run(lib: Library, write) -> None:
    lib.ingest([write("a.csv", "title,abstract\nExisting paper,x\n")])
    page = write("p.txt", daily_page([("Existing paper", ABSTRACT_A), ("New paper", ABSTRACT_B)]))
    before = dump(lib)
    dry = lib.ingest([page], dry_run=True)
    assert dump(lib) == before
    assert dry.run_id is None and (dry.added, dry.merged) == (1, 1)
    assert [(c.action, c.title, c.rule) for c in dry.files[0].changes] == [
        ("merged", "Existing paper", "title"), ("added", "New paper", "new")]
    real = lib.ingest([page])
    assert (real.added, real.merged) == (dry.added, dry.merged)


def test_empty_missing_and_folder_inputs(lib: Library, write, tmp_path: Path) -> None:
    empty = write("empty.csv", "")
    blank = write("blank.txt", "\ufeff\n\n  \n")
    write("dir/late.csv", " " * 10_000 + "\ntitle\nAfter a lot of blank space\n")
    write("dir/a.csv", "title\nIn a folder\n")
    write("dir/.hidden.csv", "title\nHidden\n")
    report = lib.ingest([empty, blank, tmp_path / "in" / "dir", tmp_path / "missing.csv"])
    assert [f.records for f in report.files[:4]] == [0, 0, 1, 1]
    assert report.files[4].error and "missing.csv" in report.files[4].error
    assert "cannot read file" in report.files[4].error
    assert lib.stats().papers == 2


def test_progress_is_reported_in_bytes(lib: Library, write) -> None:
    path = write("p.csv", "title\n" + "".join(f"Paper {i}\n" for i in range(20_000)))
    seen: list[tuple[int, int]] = []
    lib.ingest([path], progress=lambda p, done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert seen and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_collection_option_and_new_collection_on_rerun(lib: Library, write) -> None:
    path = write("x.csv", "title\nSome paper\n")
    lib.ingest([path], collection="reading-list")
    again = lib.ingest([path], collection="project")
    assert again.skipped == 1 and lib.stats().sources == 1
    assert lib.papers.get(next(lib.papers()).key).collections == ["project", "reading-list"]


def test_bad_format_name_fails_before_anything(lib: Library, write) -> None:
    with pytest.raises(InvalidOptionError, match="valid values are"):
        lib.ingest([write("x.csv", "title\nA\n")], format="bibtex-ish")
    assert lib.papers.runs() == []


def test_interrupted_ingest_rolls_back_the_file_and_resumes(
        tmp_path: Path, write, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "".join(f"Paper number {i},abstract {i}\n" for i in range(50))
    path = write("big.csv", "title,abstract\n" + rows)
    first = write("first.csv", "title\nDone before the crash\n")
    lib = Library(tmp_path / "crash.db")
    original = Importer._record
    calls = {"n": 0}

    def crashing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Importer, "_record", crashing)
    with pytest.raises(KeyboardInterrupt):
        lib.ingest([first, path])
    monkeypatch.setattr(Importer, "_record", original)
    lib.close()
    lib = Library(tmp_path / "crash.db")
    assert lib.stats().papers == 1  # the first file committed; the big one left nothing
    assert lib.papers.runs()[0]["status"] == "interrupted"
    report = lib.ingest([first, path])
    assert (report.skipped, report.added) == (1, 50)
    lib.close()
