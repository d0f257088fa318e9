"""A big snapshot file's lines decoded in a helper process give exactly the records of the
same file decoded in this one: good lines, broken ones, over-long ones, a cut last line;
and the records the helper prepares for storage (text cleaning and the rest) are the ones
prepared here, so a library ingested either way is the same."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable
from contextlib import suppress
from pathlib import Path
from typing import TypeVar

import pytest

from paperatlas import Library
from paperatlas.errors import ParseError
from paperatlas.ingest import InputFile, lineworkers, numbered_lines
from paperatlas.ingest.kaggle import ArxivSnapshotParser
from paperatlas.ingest.limits import MAX_LINE_CHARS, MAX_NESTING
from paperatlas.ingest.prepare import Prepared
from paperatlas.ingest.source import Lines
from paperatlas.records.papers import Record

from conftest import process_alive, survivors_of_a_kill

T = TypeVar("T")
SAMPLE = "data/formats/arxiv-kaggle-metadata-sample/arxiv-metadata-oai-snapshot_sample49.jsonl"


@pytest.fixture
def helper_for_small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lineworkers, "MIN_BYTES", 0)
    monkeypatch.setattr(lineworkers, "CHUNK_LINES", 4)  # many chunks, several in flight
    monkeypatch.setattr(lineworkers.os, "cpu_count", lambda: 2)


def parse(path: Path, helper: bool) -> list[Record]:
    return read(path, helper, ArxivSnapshotParser.parse)


def prepared(path: Path, helper: bool) -> list[Prepared]:
    return read(path, helper, ArxivSnapshotParser.prepared)


def read(path: Path, helper: bool,
         method: Callable[[ArxivSnapshotParser, InputFile, Lines], Iterable[T]]) -> list[T]:
    """What ``method`` of a snapshot parser (with or without the helper) gives of a file."""
    file = InputFile.inspect(path)
    parser = ArxivSnapshotParser()
    parser.helper = helper
    with file.open_text(None) as fh:
        return list(method(parser, file, numbered_lines(fh, str(path))))


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


#: What text cleaning acts on: LaTeX, markup, entities, literal escapes, mojibake, dashes,
#: quotes, invisible characters and loose white space.
TITLE_DIRT = [" of {\\\"u}ber  \\'etude and \\c{c}a", " <i>in vivo</i> &amp; vitro",
              " for Bet\u00c3\u00bcl\u2019s ``quoted'' data", " 12--15 --- dashes",
              " \\u00e9t\u00e9 ", "\u200b with\u00adout", "  spaced\n\tout  "]
AUTHOR_DIRT = ["G{\\\"o}del", "Bet\u00c3\u00bcl", "<b>Bold</b>", "Ren\\'e", "A &amp; B"]


def dirty_rows(shared: Path) -> list[dict[str, object]]:
    """The sample lines, most with text that cleaning changes (in every cleaned field)."""
    rows = [json.loads(line) for line in (shared / SAMPLE).read_text().splitlines()]
    for i, row in enumerate(rows):
        if i % 5 == 4:
            continue  # some lines left as they are
        row["title"] = f"{row['title']}{TITLE_DIRT[i % len(TITLE_DIRT)]}"
        row["abstract"] = f"{TITLE_DIRT[(i + 1) % len(TITLE_DIRT)]}\n\n{row['abstract']}  "
        parsed = row["authors_parsed"]
        assert isinstance(parsed, list)
        parsed[0][0] += AUTHOR_DIRT[i % len(AUTHOR_DIRT)]
        row["journal-ref"] = ["J. <i>Phys</i>  A", "Ann. {\\\"U}. 12--15", ""][i % 3]
        row["categories"] = f"  {row['categories']}\tcs.LG "
    rows[3]["title"] = "<b></b>"  # nothing is left of it: rejected once cleaned
    return rows


def test_the_helper_prepares_the_records_prepared_here(
        shared: Path, tmp_path: Path, helper_for_small_files: None) -> None:
    path = tmp_path / "snap.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in dirty_rows(shared)), encoding="utf-8")
    here, helped = prepared(path, helper=False), prepared(path, helper=True)
    assert helped == here
    assert [p.rec for p in here] != parse(path, helper=False)  # the text was cleaned
    cleaned = [p for p in here if p.rec.title != p.raw_title and not p.reason]
    assert len(cleaned) >= 30 and all(p.norm and p.keys and p.rids for p in cleaned)
    assert [(p.line, p.reason) for p in here if p.reason] == [(4, "no title")]
    assert "{\\" not in " ".join(a for p in here for a in p.rec.authors)


def _library(db: Path) -> tuple[str, list[tuple[object, ...]]]:
    """A library's export and its source rows (title as read, extra)."""
    with Library(db, embedding_model=None) as lib:
        out = io.StringIO()
        lib.papers.export("jsonl", out)
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT entry, line, title, match_rule, extra FROM sources"
                            " ORDER BY entry").fetchall()
    finally:
        conn.close()
    return json.dumps([{k: v for k, v in json.loads(line).items() if k != "sources"}
                       for line in out.getvalue().splitlines()]), rows


def ingested_both_ways(rows: list[dict[str, object]], tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch, added: int,
                       rejected: int) -> tuple[str, list[tuple[object, ...]]]:
    """The library of ``rows`` ingested through the helper, which must equal the one
    ingested in this process; ``added`` and ``rejected``: what each ingest reports."""
    path = tmp_path / "snap.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    got = {}
    for helper in (False, True):
        monkeypatch.setattr(ArxivSnapshotParser, "helper", helper)
        with Library(tmp_path / f"{helper}.db", embedding_model=None) as lib:
            report = lib.ingest([path])
            assert (report.added, report.rejected) == (added, rejected)
        got[helper] = _library(tmp_path / f"{helper}.db")
    assert got[True] == got[False]
    return got[True]


def test_lines_needing_cleaning_store_the_same_library_either_way(
        shared: Path, tmp_path: Path, helper_for_small_files: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = dirty_rows(shared)
    export, sources = ingested_both_ways(rows, tmp_path, monkeypatch, 48, 1)
    papers = json.loads(export)
    assert "über étude and ça" in papers[0]["title"] and "Gödel" in papers[0]["authors"][0]
    assert not any("<i>" in p["title"] or "  " in p["abstract"] for p in papers)
    # the source row keeps the title as the parser read it (its white space collapsed)
    assert sources[0][2] == " ".join(str(rows[0]["title"]).split())


def test_an_ingest_through_the_helper_stores_the_same_library(
        shared: Path, tmp_path: Path, helper_for_small_files: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [json.loads(line) for line in (shared / SAMPLE).read_text().splitlines()]
    export, _ = ingested_both_ways(rows, tmp_path, monkeypatch, 49, 0)
    assert len(json.loads(export)) == 49


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

