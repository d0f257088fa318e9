"""The CLI over a real library file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperatlas.cli import main

from conftest import ABSTRACT_A, ABSTRACT_B, daily_page


@pytest.fixture
def run(tmp_path: Path):
    db = str(tmp_path / "cli.db")

    def _run(*args: str, ok: bool = True):
        result = CliRunner().invoke(main, ["--db", db, *args])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return _run


@pytest.fixture
def page(write) -> Path:
    path: Path = write("page.txt", daily_page([("Paper One", ABSTRACT_A), ("Paper Two", ABSTRACT_B)]))
    return path


def test_ingest_summary_and_stats(run, page: Path) -> None:
    out = run("ingest", str(page)).output
    assert "2 records, 2 added, 0 merged, 0 skipped, 0 rejected" in out
    assert "total: 2 records in 1 files; 2 papers were added" in out
    stats = json.loads(run("stats", "--json").output)
    assert stats["papers"] == 2 and stats["sources"] == 2 and stats["collections"] == 1
    assert "papers          2" in run("stats").output


def test_ingest_json_and_dry_run(run, page: Path) -> None:
    dry = json.loads(run("ingest", str(page), "--dry-run", "--json").output)
    assert dry["dry_run"] and dry["added"] == 2 and dry["run_id"] is None
    assert [c["action"] for c in dry["files"][0]["changes"]] == ["added", "added"]
    text = run("ingest", str(page), "--dry-run").output
    assert "+ paper-one-" in text and "dry run: nothing was written" in text
    assert json.loads(run("stats", "--json").output)["papers"] == 0


def test_ingest_bad_file_exits_non_zero_with_file_and_line(run, page: Path, write) -> None:
    bad = write("bad.csv", 'title,abstract\nA,"open\n')
    result = run("ingest", str(bad), str(page), ok=False)
    assert result.exit_code == 1
    assert f"error: {bad}:2: malformed CSV" in result.output
    assert json.loads(run("stats", "--json").output)["papers"] == 2


def test_ingest_unknown_format_lists_valid_ones(run, page: Path) -> None:
    result = run("ingest", "--format", "xml", str(page), ok=False)
    assert result.exit_code == 2 and "dailypapers" in result.output
    result = run("ingest", "--map", "nonsense=x", str(page), ok=False)
    assert result.exit_code == 1 and "valid values are: key, title" in result.output


def test_show_by_key_and_identifier(run, write) -> None:
    path = write("x.csv", "id,title,doi,authors\nk1,Some paper,10.1000/XY,Ada; Bob\n")
    run("ingest", str(path), "--collection", "mine")
    out = run("show", "k1").output
    assert "Some paper" in out and "doi: 10.1000/XY" in out and "collections: mine" in out
    assert f"{path}:2 [csv] entry 1 key=k1" in out
    shown = json.loads(run("show", "https://doi.org/10.1000/xy", "--json").output)
    assert shown["key"] == "k1" and shown["authors"] == ["Ada", "Bob"]
    missing = run("show", "nope", ok=False)
    assert missing.exit_code == 1 and "no paper with key or identifier 'nope'" in missing.output


def test_collections_and_papers(run, page: Path) -> None:
    run("ingest", str(page), "-c", "daily")
    assert run("collections").output.split() == ["2", "daily"]
    assert json.loads(run("collections", "--json").output)[0]["papers"] == 2
    lines = run("papers", "-c", "daily").output.splitlines()
    assert len(lines) == 2 and "Paper One" in lines[0]
    assert run("papers", "-c", "other", ok=False).exit_code == 1
    rows = [json.loads(x) for x in run("papers", "--json", "-n", "1").output.splitlines()]
    assert len(rows) == 1 and rows[0]["title"] == "Paper One"
    keys = run("papers", "--keys").output.split()
    assert len(keys) == 2 and keys[0].startswith("paper-one-")
    assert run("papers", "--recent", "--keys").output.split() == keys[::-1]  # no dates: newest id first


def test_export_jsonl_and_csv(run, page: Path, tmp_path: Path) -> None:
    run("ingest", str(page))
    rows = [json.loads(x) for x in run("export").output.splitlines()]
    assert {"key", "title", "abstract", "authors", "ids", "collections", "sources"} <= set(rows[0])
    assert rows[0]["sources"][0]["line"] == 11 and rows[0]["collections"] == ["page"]
    out = tmp_path / "out.csv"
    run("export", "--format", "csv", "-o", str(out))
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["title"] for r in table] == ["Paper One", "Paper Two"]
    assert table[0]["sources"] == f"{page}:11" and not (tmp_path / "out.csv.part").exists()


def test_export_round_trips_into_another_library(run, page: Path, tmp_path: Path) -> None:
    run("ingest", str(page))
    exported = tmp_path / "export.jsonl"
    run("export", "-o", str(exported))
    other = CliRunner().invoke(main, ["--db", str(tmp_path / "b.db"), "ingest", str(exported)])
    assert "2 added" in other.output
    keys = CliRunner().invoke(main, ["--db", str(tmp_path / "b.db"), "papers"]).output
    assert keys == run("papers").output  # the same keys survive the round trip


def test_db_from_environment_and_runs(tmp_path: Path, page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "env.db"
    monkeypatch.setenv("PAPERATLAS_DB", str(db))
    result = CliRunner().invoke(main, ["ingest", str(page)])
    assert result.exit_code == 0 and db.exists()
    runs = CliRunner().invoke(main, ["runs"]).output
    assert runs.startswith("#1 ") and "added 2" in runs


def test_help_does_not_create_a_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "h.db"), "--help"])
    assert result.exit_code == 0 and "ingest" in result.output
    assert not (tmp_path / "h.db").exists()


def test_format_option_forces_a_parser_and_export_filters(run, write, page: Path) -> None:
    odd = write("listing.dat", "title;abstract\nForced one;x\n".replace(";", ","))
    assert run("ingest", str(odd), ok=False).exit_code == 1  # .dat cannot be detected
    assert "1 added" in run("ingest", "--format", "csv", str(odd), "-c", "forced").output
    run("ingest", str(page))
    rows = [json.loads(x) for x in run("export", "-c", "forced").output.splitlines()]
    assert [r["title"] for r in rows] == ["Forced one"]
    runs = json.loads(run("runs", "--json").output)
    assert [r["status"] for r in runs] == ["ok", "ok", "errors"]
    assert runs[0]["summary"]["added"] == 2


def test_rejections_in_a_json_document_name_the_record(run, tmp_path: Path) -> None:
    """A JSON document has no line per record: rejections name the record's number."""
    doc = tmp_path / "papers.json"
    doc.write_text(json.dumps([{"title": "Kept", "abstract": ABSTRACT_A},
                               {"abstract": "No title here."}]))
    out = run("ingest", str(doc))
    assert "rejected 1 (" in out.output and "record 2" in out.output
    assert f"{doc}:0" not in out.output
