"""arXiv's metadata snapshot (Kaggle lines), and big files in batches: resumed after a
kill, checked whole before a batch commits, strict and dry runs all or nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from paperatlas import Library
from paperatlas.ingest import InputFile, detect, numbered_lines
from paperatlas.ingest import kaggle as kaggle_mod
from paperatlas.ingest.kaggle import ArxivSnapshotParser
from paperatlas.records.papers import Record

SAMPLE = "data/formats/arxiv-kaggle-metadata-sample/arxiv-metadata-oai-snapshot_sample49.jsonl"


def sample_rows(shared: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (shared / SAMPLE).read_text().splitlines()]


def copies(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` rows from the real ones, each with a new arXiv id and a numbered title."""
    out = []
    for i in range(n):
        row = dict(rows[i % len(rows)])
        row["id"] = f"2301.{i + 10000:05d}"
        row["title"] = f"{row['title']} part {i}"
        out.append(row)
    return out


def lines(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)


def parse(path: Path) -> list[Record]:
    file = InputFile.inspect(path)
    with file.open_text() as fh:
        return list(ArxivSnapshotParser().parse(file, numbered_lines(fh, str(path))))


def papers(lib: Library) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in lib.store.conn.execute(
        "SELECT p.key, p.title, p.date, s.entry, s.line FROM papers p"
        " JOIN sources s ON s.paper_id = p.id ORDER BY s.entry")]


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("paperatlas.importer.BATCH_RECORDS", 10)
    return 10


def test_snapshot_lines_become_records(shared: Path) -> None:
    path = shared / SAMPLE
    assert detect(InputFile.inspect(path)).name == "arxiv-snapshot"
    recs = parse(path)
    assert len(recs) == 49 and all(r.error is None for r in recs)
    first = recs[0]
    assert first.source_key == "2212.11867" and first.ids == {"arxiv": "2212.11867v1"}
    assert first.authors == ["Marcus Michelen", "Xuan-Truong Vu"]
    assert first.title == ("Zeros of a growing number of derivatives of random polynomials "
                           "with independent roots")
    assert first.abstract.startswith("Let $X_1,X_2,") and "\n" not in first.abstract
    assert first.date == "2022-12-22"  # v1 "created", not update_date
    assert first.extra["update_date"] == "2022-12-23"
    assert first.extra["comments"] == "12 pages" and first.links == [
        "https://arxiv.org/abs/2212.11867"]
    with_doi = next(r for r in recs if r.venue)
    assert with_doi.ids["doi"] == "10.1088/1674-1137/ac600c"
    assert with_doi.venue == "Chinese Physics C46, (2022) 073106"
    revised = [r for r in recs if r.extra["latest_version"] != "v1"]
    assert revised and all(r.ids["arxiv"].endswith(r.extra["latest_version"]) for r in revised)
    assert all(r.extra["signals"] == {"version": int(r.extra["latest_version"][1:])}
               for r in recs)


def test_ingest_sample_then_again_skips(lib: Library, shared: Path) -> None:
    report = lib.ingest([shared / SAMPLE])
    assert (report.files[0].format, report.added, report.rejected) == ("arxiv-snapshot", 49, 0)
    assert lib.ingest([shared / SAMPLE]).skipped == 49 and lib.papers.count() == 49


def test_broken_line_is_a_rejected_record(lib: Library, shared: Path, write) -> None:
    rows = sample_rows(shared)
    text = lines(rows[:3]) + '{"id":"2212.99999","title":"cut\n' + lines(rows[3:6])
    report = lib.ingest([write("snap.json", text)], format="arxiv-snapshot")
    assert report.added == 6 and report.rejected == 1
    assert report.files[0].rejections[0].line == 4
    assert report.files[0].rejections[0].reason.startswith("invalid JSON")


def test_newer_version_revises_the_paper(lib: Library, shared: Path, write) -> None:
    row = sample_rows(shared)[0]
    lib.ingest([write("old.jsonl", lines([row]))])
    newer = {**row, "title": "Zeros of derivatives of random polynomials, revised",
             "versions": [*row["versions"], {"version": "v2", "created": "Mon, 2 Jan 2023"}]}
    assert lib.ingest([write("new.jsonl", lines([newer]))]).merged == 1
    (title,) = lib.store.conn.execute("SELECT title FROM papers").fetchone()
    assert title == newer["title"] and lib.papers.count() == 1


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs in the ingest."""


def kill_after(nbytes: int):  # type: ignore[no-untyped-def]
    def progress(path: str, done: int, total: int) -> None:
        if done >= nbytes:
            raise Killed
    return progress


def test_killed_ingest_resumes_after_its_last_batch(
        tmp_path: Path, shared: Path, write, small_batches: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = copies(sample_rows(shared), 120)
    path = write("big.json", lines(rows))
    whole = Library(tmp_path / "whole.db", embedding_model=None)
    assert whole.ingest([path]).added == 120
    expected = papers(whole)
    whole.close()

    lib = Library(tmp_path / "lib.db", embedding_model=None)
    with pytest.raises(Killed):  # TextIOWrapper reads 8 KB at a time: a few batches in
        lib.ingest([path], progress=kill_after(path.stat().st_size // 2))
    stored = lib.papers.count()
    assert 0 < stored < 120 and stored % small_batches == 0
    built: list[int] = []
    real = kaggle_mod.snapshot_record

    def counted(obj: dict[str, Any], *, line: int, entry: int) -> Record:
        built.append(line)
        return real(obj, line=line, entry=entry)

    monkeypatch.setattr(kaggle_mod, "snapshot_record", counted)
    seen: list[int] = []
    report = lib.ingest([path], progress=lambda p, done, total: seen.append(done))
    assert built == list(range(stored + 1, 121))  # the done lines are not parsed again
    assert seen[0] == len(lines(rows[:stored]).encode())  # the bar starts where it stopped
    assert (report.records, report.added, report.skipped) == (120, 120, 0)
    assert papers(lib) == expected
    assert lib.store.conn.execute("SELECT COUNT(*) FROM ingest_progress").fetchone()[0] == 0
    statuses = [r["status"] for r in lib.papers.runs()]
    assert statuses == ["ok", "interrupted"]
    lib.close()


def test_resume_of_a_csv_passes_over_stored_rows(tmp_path: Path, write,
                                                 small_batches: int) -> None:
    text = "title,abstract\n" + "".join(f"Paper number {i},{'words ' * 10}{i}\n"
                                        for i in range(500))
    path = write("big.csv", text)
    whole = Library(tmp_path / "whole.db", embedding_model=None)
    whole.ingest([path])
    expected = papers(whole)
    whole.close()
    lib = Library(tmp_path / "lib.db", embedding_model=None)
    with pytest.raises(Killed):
        lib.ingest([path], progress=kill_after(len(text) // 2))
    before = lib.papers.count()
    assert 0 < before < 500 and before % small_batches == 0
    report = lib.ingest([path])
    assert (report.records, report.added, report.skipped) == (500, 500, 0)
    assert papers(lib) == expected
    lib.close()


def test_big_file_broken_at_its_end_fails_whole(lib: Library, write,
                                                small_batches: int) -> None:
    entries = "".join(f"@article{{k{i},\n  title = {{Paper number {i}}},\n}}\n"
                      for i in range(40))
    report = lib.ingest([write("refs.bib", entries + "@article{cut,\n  title = {Cut")])
    assert report.failed and report.files[0].error_line == 121
    assert lib.papers.count() == 0
    assert lib.store.conn.execute("SELECT COUNT(*) FROM ingest_progress").fetchone()[0] == 0


def test_strict_and_dry_run_stay_all_or_nothing(lib: Library, shared: Path, write,
                                                small_batches: int) -> None:
    rows = copies(sample_rows(shared), 30)
    rows[25]["title"] = ""
    path = write("snap.jsonl", lines(rows))
    strict = lib.ingest([path], strict=True)
    assert strict.failed and lib.papers.count() == 0  # nothing of its 2 full batches
    dry = lib.ingest([path], dry_run=True)
    assert (dry.added, dry.rejected) == (29, 1) and lib.papers.count() == 0
    real = lib.ingest([path])
    assert (real.added, real.rejected) == (29, 1) and lib.papers.count() == 29
