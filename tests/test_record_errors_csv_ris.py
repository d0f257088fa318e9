"""Record-level errors in CSV/TSV and RIS: a broken record is rejected (file, line, reason)
and the rest of its file goes in; ``--strict`` rejects the file; a broken file fails whole."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperatlas import Library
from paperatlas.cli import main
from paperatlas.errors import ParseError
from paperatlas.ingest import FieldMap, InputFile, make_parser, numbered_lines
from paperatlas.records.papers import IngestReport

from conftest import dump

SLR = "data/formats/zotero/slr-deepfake-collection"


def _parse(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, title, error) of each record the file's parser yields."""
    file = InputFile.inspect(path)
    parser = make_parser(file, None, FieldMap.parse([]))
    with file.open_text() as fh:
        return [(r.line, r.title, r.error) for r in parser.parse(file, numbered_lines(fh,
                                                                                     str(path)))]


def _strict_stores_nothing(tmp_path: Path, path: Path) -> None:
    with Library(tmp_path / "strict.db", embedding_model=None) as lib:
        before = [r for r in dump(lib) if not r.startswith("ingest_")]
        report = lib.ingest([path], strict=True)
        assert not report.files[0].ok and report.files[0].error_line is not None
        assert [r for r in dump(lib) if not r.startswith("ingest_")] == before
        assert lib.stats().papers == 0


# -- small files: which records go in, what is rejected ------------------------------------

RIS_A = "TY  - JOUR\nTI  - Paper A\nER  - \n\n"
RIS_B = "TY  - JOUR\nTI  - Paper B\nER  - \n"


@pytest.mark.parametrize(("text", "rejected", "reason", "titles"), [
    (RIS_A + "TY  - JOUR\nTI  - No end\nAU  - Roe, R.\n" + RIS_B,
     5, "no 'ER  -' before the next 'TY  -' at line 8", ["Paper A", "Paper B"]),
    (RIS_A + "TI  - Stray tag\nstray text\n\n" + RIS_B,
     5, "lines 5-6: tags or text outside a record", ["Paper A", "Paper B"]),
    (RIS_A + "ER  - \n" + RIS_B, 5, "line 5: tags or text outside a record",
     ["Paper A", "Paper B"]),
    (RIS_A + RIS_B + "\ntrailing text\n", 9, "line 9: tags or text outside",
     ["Paper A", "Paper B"]),
    (RIS_A + RIS_B + "T", 8, "(the last line is cut off: a truncated file?)",
     ["Paper A", "Paper B"]),
])
def test_ris_broken_record_is_rejected_and_the_rest_goes_in(
        lib: Library, write: Callable[[str, str], Path], tmp_path: Path, text: str,
        rejected: int, reason: str, titles: list[str]) -> None:
    path = write("broken.ris", text)
    recs = _parse(path)
    assert [t for _, t, e in recs if e is None] == titles
    assert [(line, reason in (e or "")) for line, _, e in recs if e] == [(rejected, True)]
    report = lib.ingest([path])
    assert report.files[0].ok and report.added == len(titles) and report.rejected == 1
    assert [(r.line, r.reason) for r in report.files[0].rejections] == [
        (rejected, next(e for _, _, e in recs if e))]
    _strict_stores_nothing(tmp_path, path)


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("title,abstract\nA,x\nB,c,d\nC,y\n", 3, "row has 3 fields but the header has 2"),
    ('title,abstract\nA,x\nB,"abc"def\nC,y\n', 3, "malformed CSV: ',' expected after '\"'"),
    ('title,abstract\nA,x\nB,"abc"def,"spans\ntwo lines"\nC,y\n', 3,
     "malformed CSV: ',' expected after '\"'"),
    ('title,abstract\nA,x\nC,y\nB,"abc"def\n', 4, "malformed CSV: ',' expected after '\"'"),
    ("title\tabstract\nA\tx\nB\tc\td\nC\ty\n", 3, "row has 3 fields but the header has 2"),
])
def test_csv_broken_row_is_rejected_and_the_rest_goes_in(
        lib: Library, write: Callable[[str, str], Path], tmp_path: Path, text: str,
        line: int, reason: str) -> None:
    path = write("broken.tsv" if "\t" in text else "broken.csv", text)
    recs = _parse(path)
    assert [t for _, t, e in recs if e is None] == ["A", "C"]
    assert [(n, e) for n, _, e in recs if e] == [(line, reason)]
    report = lib.ingest([path])
    assert report.files[0].ok and report.added == 2 and report.rejected == 1
    (rejection,) = report.files[0].rejections
    assert (rejection.line, rejection.reason) == (line, reason)
    _strict_stores_nothing(tmp_path, path)


@pytest.mark.parametrize(("name", "text", "line", "reason"), [
    ("open.csv", 'title,abstract\nA,x\nB,"abc"def,"never closed\nC,y\n', 3,
     "runs to the end of the file: truncated?"),
    ("cut.csv", 'title,abstract\nA,x\nB,"cut in a quo', 3, "unexpected end of data"),
    ("header.csv", 'title,"ab"c\nA,x\n', 1, "malformed CSV"),
    ("wrong.csv", "name_of_thing,x\nA,x\n", 1, "no title column"),
    ("first.ris", "Provider: somewhere\nTY  - JOUR\nTI  - A\nER  - \n", 1,
     "expected a tag line"),
    ("cut.ris", RIS_A + "TY  - JOUR\nTI  - Paper B\n", 5, "never ends"),
])
def test_broken_csv_or_ris_file_fails_whole(
        lib: Library, write: Callable[[str, str], Path], name: str, text: str, line: int,
        reason: str) -> None:
    path = write(name, text)
    with pytest.raises(ParseError) as err:
        _parse(path)
    assert err.value.line == line and reason in err.value.reason
    report = lib.ingest([path])
    assert report.files[0].error_line == line and lib.stats().papers == 0


def test_header_only_csv_is_fine(lib: Library, write: Callable[[str, str], Path]) -> None:
    report = lib.ingest([write("only.csv", "title,abstract\n")])
    assert report.files[0].ok and report.records == 0 and not report.failed


# -- the real Zotero exports, one record broken ------------------------------------------

def _ingest(tmp_path: Path, name: str, text: str) -> IngestReport:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with Library(tmp_path / f"{name}.db", embedding_model=None) as lib:
        return lib.ingest([path])


def _real(shared: Path, name: str) -> str:
    path = shared / SLR / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path.read_text(encoding="utf-8-sig")


def _break_ris(text: str, how: str) -> tuple[str, int]:
    """The export with its middle record broken, and the line of the rejection."""
    lines = text.split("\n")
    starts = [i for i, ln in enumerate(lines) if ln.startswith("TY  - ")]
    at = starts[len(starts) // 2]
    if how == "no ER":  # the record's 'ER  -' deleted: it runs into the next one
        end = next(i for i in range(at, len(lines)) if lines[i].startswith("ER  -"))
        return "\n".join(lines[:end] + lines[end + 1:]), at + 1
    # a tag and a note pasted between two records
    return "\n".join([*lines[:at], "N1  - pasted note", "more of it", "", *lines[at:]]), at + 1


@pytest.mark.parametrize("how", ["no ER", "outside a record"])
def test_real_ris_export_with_one_broken_record(shared: Path, tmp_path: Path,
                                                how: str) -> None:
    text = _real(shared, "Exported Items.ris")
    broken, line = _break_ris(text, how)
    whole = _ingest(tmp_path, "whole.ris", text)
    report = _ingest(tmp_path, "broken.ris", broken)
    lost = 1 if how == "no ER" else 0
    assert whole.records == 467 and whole.rejected == 0
    assert report.files[0].ok and report.rejected == 1
    (rejection,) = report.files[0].rejections
    assert rejection.line == line and rejection.path == str(tmp_path / "broken.ris")
    assert ("no 'ER  -'" if lost else "outside a record") in rejection.reason
    assert report.records == whole.records + 1 - lost  # every other record is read
    assert report.added == whole.added - lost
    _strict_stores_nothing(tmp_path, tmp_path / "broken.ris")


def _break_csv(text: str, how: str) -> tuple[str, int]:
    """The export with one row in its middle broken (each row of this export is one line)."""
    lines = text.split("\n")
    at = len(lines) // 2
    assert lines[at].startswith('"') and lines[at].count('"') % 2 == 0
    if how == "extra field":
        lines[at] += ',"one too many"'
    else:  # text after a quoted field's closing quote
        lines[at] = lines[at].replace('",', '"oops,', 1)
    return "\n".join(lines), at + 1


@pytest.mark.parametrize("how", ["extra field", "quote"])
def test_real_csv_export_with_one_broken_row(shared: Path, tmp_path: Path, how: str) -> None:
    text = _real(shared, "Exported Items.csv")
    broken, line = _break_csv(text, how)
    whole = _ingest(tmp_path, "whole.csv", text)
    report = _ingest(tmp_path, "broken.csv", broken)
    assert whole.records == 466 and whole.rejected == 0
    assert report.files[0].ok and report.rejected == 1
    (rejection,) = report.files[0].rejections
    assert rejection.line == line
    assert rejection.reason == ("row has 88 fields but the header has 87"
                                if how == "extra field" else
                                "malformed CSV: ',' expected after '\"'")
    assert report.records == whole.records  # the broken row counts, every other row is read
    assert report.added == whole.added - 1
    _strict_stores_nothing(tmp_path, tmp_path / "broken.csv")


def test_cli_reports_the_broken_record_and_strict_rejects_the_file(
        shared: Path, tmp_path: Path) -> None:
    broken, line = _break_ris(_real(shared, "Exported Items.ris"), "no ER")
    path = tmp_path / "broken.ris"
    path.write_text(broken, encoding="utf-8")
    db = str(tmp_path / "cli.db")
    strict = CliRunner().invoke(main, ["--db", db, "ingest", "--strict", str(path)])
    assert strict.exit_code == 1
    assert f"{path}:{line}: a record is rejected (strict)" in strict.output
    assert "0 papers were added" in strict.output and "1 files failed" in strict.output
    loose = CliRunner().invoke(main, ["--db", db, "ingest", str(path)])
    assert loose.exit_code == 0, loose.output
    assert "467 records, 466 added, 0 merged, 0 skipped, 1 rejected" in loose.output
    assert "no 'ER  -' before the next 'TY  -'" in loose.output
    assert f"at {path}:{line}\n" in loose.output and "0 files failed" in loose.output
