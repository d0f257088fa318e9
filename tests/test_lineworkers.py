"""A big snapshot file's lines decoded in a helper process give exactly the records of the
same file decoded in this one: good lines, broken ones, over-long ones, a cut last line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

import pytest

from paperatlas import Library
from paperatlas.errors import ParseError
from paperatlas.ingest import InputFile, lineworkers, numbered_lines
from paperatlas.ingest.kaggle import ArxivSnapshotParser
from paperatlas.ingest.limits import MAX_LINE_CHARS, MAX_NESTING
from paperatlas.records.papers import Record

from conftest import process_alive, survivors_of_a_kill

SAMPLE = "data/formats/arxiv-kaggle-metadata-sample/arxiv-metadata-oai-snapshot_sample49.jsonl"


@pytest.fixture
def helper_for_small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lineworkers, "MIN_BYTES", 0)
    monkeypatch.setattr(lineworkers, "CHUNK_LINES", 4)  # many chunks, several in flight
    monkeypatch.setattr(lineworkers.os, "cpu_count", lambda: 2)


def parse(path: Path, helper: bool) -> list[Record]:
    file = InputFile.inspect(path)
    parser = ArxivSnapshotParser()
    parser.helper = helper
    with file.open_text(None) as fh:
        return list(parser.parse(file, numbered_lines(fh, str(path))))


def test_the_helper_gives_the_records_read_here(shared: Path, tmp_path: Path,
                                                helper_for_small_files: None) -> None:
    lines = (shared / SAMPLE).read_text(encoding="utf-8").splitlines()
    bad = [
        '{"id": "x", "title": broken json',
        "[" * (MAX_NESTING + 5) + "]" * (MAX_NESTING + 5),
        '["a list, not an object"]',
        '{"id": "0704.0001", "authors_parsed": ["not", "triples"], "title": "T"}',
        "x" * (MAX_LINE_CHARS + 10),
        "",
    ]
    mixed = [*lines[:10], *bad, *lines[10:], lines[0][:200]]  # the last line cut off
    path = tmp_path / "snap.json"
    path.write_text("\n".join(mixed), encoding="utf-8")  # no line break at the end
    here, helped = parse(path, helper=False), parse(path, helper=True)
    assert helped == here
    assert len(here) == len(mixed) - 1  # the blank line is no record
    errors = [(r.line, r.error) for r in here if r.error]
    assert [line for line, _ in errors] == [11, 12, 13, 14, 15, len(mixed)]
    assert "cut off" in errors[-1][1] and "characters long" in errors[4][1]


def test_a_first_line_that_is_no_json_fails_the_file_either_way(
        tmp_path: Path, helper_for_small_files: None) -> None:
    path = tmp_path / "snap.json"
    path.write_text('{"id":"1","submitter":"x", oops\n{"id": "2"}\n', encoding="utf-8")
    for helper in (False, True):
        with pytest.raises(ParseError, match="invalid JSON") as err:
            parse(path, helper)
        assert err.value.line == 1


def test_an_ingest_through_the_helper_stores_the_same_library(
        shared: Path, tmp_path: Path, write, helper_for_small_files: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [json.loads(line) for line in (shared / SAMPLE).read_text().splitlines()]
    path = write("snap.json", "".join(json.dumps(r) + "\n" for r in rows))
    got = {}
    for helper in (False, True):
        monkeypatch.setattr(ArxivSnapshotParser, "helper", helper)
        with Library(tmp_path / f"{helper}.db", embedding_model=None) as lib:
            report = lib.ingest([path])
            assert (report.added, report.rejected) == (49, 0)
            got[helper] = [(p.key, p.title, p.date, p.authors) for p in lib.papers()]
    assert got[True] == got[False]


#: Reads a snapshot file through the helper, says the helper's pid, then waits to be killed.
KILLED = """
import multiprocessing, sys, time
from paperatlas.ingest import InputFile, lineworkers, numbered_lines
from paperatlas.ingest.kaggle import build_snapshot_record
lineworkers.CHUNK_LINES = 4
file = InputFile.inspect(sys.argv[1])
with file.open_text(None) as fh:
    records = lineworkers.decoded_lines(numbered_lines(fh, sys.argv[1]), build_snapshot_record)
    next(records)
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    time.sleep(60)
"""


def test_the_helper_ends_with_a_killed_ingest(shared: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(shared / SAMPLE)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    helpers = [int(pid) for pid in proc.stdout.readline().split()]
    try:
        assert helpers and all(process_alive(pid) for pid in helpers)
        survivors = survivors_of_a_kill(proc.pid, helpers)
        proc.wait(10)
        assert not survivors, "the helper outlived its ingest"
    finally:
        for pid in helpers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

