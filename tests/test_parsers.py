"""Each input format: records, line numbers, detection and malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperatlas import InvalidOptionError, Library, ParseError
from paperatlas.ingest import FieldMap, InputFile, detect, make_parser, numbered_lines
from paperatlas.records.papers import Record

from conftest import ABSTRACT_A, ABSTRACT_B, daily_page


def parse(path: Path, fmt: str | None = None, mapping: list[str] | None = None) -> list[Record]:
    file = InputFile.inspect(path)
    parser = make_parser(file, fmt, FieldMap.parse(mapping or []))
    with file.open_text() as fh:
        return list(parser.parse(file, numbered_lines(fh, str(path))))


def test_daily_papers_page(write) -> None:
    path = write("page.txt", daily_page([("Paper One", ABSTRACT_A), ("Paper Two", ABSTRACT_B)]))
    assert detect(InputFile.inspect(path)).name == "dailypapers"
    recs = parse(path)
    assert [r.title for r in recs] == ["Paper One", "Paper Two"]
    assert recs[0].abstract == ABSTRACT_A
    assert (recs[0].line, recs[0].entry, recs[1].line, recs[1].entry) == (11, 1, 15, 2)
    assert recs[0].extra == {"listed_on": "Jul 3"}


def test_daily_papers_without_date_or_header(write) -> None:
    recs = parse(write("p.txt", daily_page([("T", ABSTRACT_A)], date=None)))
    assert recs[0].extra == {} and recs[0].title == "T"
    bare = parse(write("bare.txt", f"A title\n\n{ABSTRACT_A}\n"))
    assert [r.title for r in bare] == ["A title"]


def test_daily_papers_truncated_names_the_line(write) -> None:
    text = daily_page([("Paper One", ABSTRACT_A)]) + "\nDangling title\n"
    with pytest.raises(ParseError, match=r"page\.txt:15: title 'Dangling title' has no abstract"):
        parse(write("page.txt", text))


def test_daily_papers_missing_title_is_malformed(write) -> None:
    text = daily_page([("Paper One", ABSTRACT_A)]) + "\n" + ABSTRACT_B * 3 + "\n\nX\n"
    with pytest.raises(ParseError, match=r":15: expected a paper title"):
        parse(write("page.txt", text))


def test_beir_lines_with_metadata(write) -> None:
    lines = [
        {"_id": "d1", "title": "First", "text": ABSTRACT_A, "metadata": {"year": "2004"}},
        {"_id": "2104.12255", "title": "Second", "text": ABSTRACT_B},
    ]
    path = write("corpus.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    assert detect(InputFile.inspect(path)).name == "beir"
    recs = parse(path)
    assert recs[0].source_key == "d1" and recs[0].date == "2004" and recs[0].abstract == ABSTRACT_A
    assert recs[1].ids == {"arxiv": "2104.12255"}  # an id that is an arXiv id is recognized
    assert recs[1].line == 2


def test_jsonl_bad_line_names_file_and_line(write) -> None:
    recs = parse(write("x.jsonl", '{"title": "ok"}\n\n{"title": "cut off\n[1, 2]\n'))
    assert [(r.line, r.entry, r.title) for r in recs] == [(1, 1, "ok"), (3, 2, ""), (4, 3, "")]
    assert (recs[1].error or "").startswith("invalid JSON")  # a broken line: a rejected record
    assert recs[2].error == "expected a JSON object, got list"
    with pytest.raises(ParseError, match=r"y\.jsonl:1: expected a JSON object, got list"):
        parse(write("y.jsonl", '[1, 2]\n{"title": "ok"}\n'), "jsonl")  # no JSON Lines at all


def test_arxiv_kaggle_metadata_lines(shared: Path) -> None:
    path = shared / "data/formats/arxiv-kaggle-metadata-sample/arxiv-metadata-oai-snapshot_sample49.jsonl"
    recs = parse(path)
    assert len(recs) == 49
    first = recs[0]
    assert first.ids["arxiv"] == "2212.11867v1" and first.source_key == "2212.11867"
    assert first.authors == ["Marcus Michelen", "Xuan-Truong Vu"]
    assert first.categories == ["math.PR", "math.CA", "math.CV"]
    assert "\n" not in first.title and first.title.startswith("Zeros of a growing number")
    assert first.date == "2022-12-22"  # v1's date; update_date is kept in extra


def test_json_document_shapes(write) -> None:
    arr = write("a.json", json.dumps([{"title": "A", "doi": "10.1000/A"}, {"title": "B"}], indent=2))
    assert [r.title for r in parse(arr)] == ["A", "B"]
    assert parse(arr)[0].ids == {"doi": "10.1000/A"}
    wrapped = write("w.json", json.dumps({"total": 2, "data": [
        {"paperId": "0" * 40, "title": "S2 paper", "externalIds": {"DOI": "10.5555/x", "ArXiv": "2101.00001"},
         "authors": [{"name": "Ada Lovelace"}], "year": 2021}]}))
    rec = parse(wrapped)[0]
    assert rec.ids == {"s2": "0" * 40, "doi": "10.5555/x", "arxiv": "2101.00001"}
    assert rec.authors == ["Ada Lovelace"] and rec.date == "2021"


def test_json_document_error_has_line(write) -> None:
    with pytest.raises(ParseError, match=r"b\.json:3: invalid JSON"):
        parse(write("b.json", '[\n  {"title": "A"},\n  {"title": }\n]'))


def test_csv_with_mapping_and_aliases(write) -> None:
    path = write("l.csv", 'Name,Summary,Authors,Year,DOI\n'
                          '"A, with comma","multi\nline abstract","Smith, J.; Doe, A.",2020,'
                          'https://doi.org/10.1000/XYZ\n'
                          'Second,,Bob and Carol,2021,\n')
    recs = parse(path, mapping=["abstract=Summary"])
    assert recs[0].title == "A, with comma" and recs[0].abstract == "multi line abstract"
    assert recs[0].authors == ["Smith, J.", "Doe, A."]
    assert recs[0].ids == {"doi": "10.1000/XYZ"} and recs[0].date == "2020"
    assert (recs[0].line, recs[1].line) == (2, 4)
    assert recs[1].authors == ["Bob", "Carol"]


def test_tsv_and_missing_title_column(write) -> None:
    recs = parse(write("t.tsv", "title\tabstract\nT1\tA1\n"))
    assert recs[0].title == "T1"
    with pytest.raises(ParseError, match=r"no title column .*--map title=COLUMN"):
        parse(write("n.csv", "name_of_thing,x\na,b\n"))
    assert parse(write("m.csv", "name_of_thing,x\na,b\n"), mapping=["title=name_of_thing"])[0].title == "a"


def test_csv_truncated_and_ragged(write) -> None:
    with pytest.raises(ParseError, match=r"c\.csv:3: malformed CSV"):
        parse(write("c.csv", 'title,abstract\nA,"ok"\nB,"never closed\n'))
    ragged = parse(write("r.csv", "title,abstract\nA,b\nB,c,d\nC,e\n"))  # a record error
    assert [(r.line, r.title, r.error) for r in ragged] == [
        (2, "A", None), (3, "", "row has 3 fields but the header has 2"), (4, "C", None)]


def test_encodings_and_long_lines(write) -> None:
    bom = write("bom.csv", "\ufefftitle,abstract\nCaf\u00e9 paper,x\n".encode("utf-8"))
    assert parse(bom)[0].title == "Café paper"
    latin = write("latin.csv", "title,abstract\nNa\u00efve \u201cquotes\u201d,x\n".encode("cp1252"))
    assert InputFile.inspect(latin).encoding == "cp1252"
    assert parse(latin)[0].title == "Naïve “quotes”"
    undefined = write("raw.csv", b"title,abstract\nbyte \x81 here,x\n")
    assert parse(undefined)[0].title == "byte \x81 here"
    utf16 = write("u16.csv", "title,abstract\nWide,x\n".encode("utf-16"))
    assert parse(utf16)[0].title == "Wide"
    long_abstract = "word " * 100_000
    big = write("big.csv", f"title,abstract\nLong,{long_abstract}\n")
    assert len(parse(big)[0].abstract) == len(long_abstract.strip())


def test_detection_and_bad_format_names(write) -> None:
    assert detect(InputFile.inspect(write("x.tsv", "a\tb\n"))).name == "tsv"
    assert detect(InputFile.inspect(write("x.json", '{"data": []}'))).name == "json"
    with pytest.raises(InvalidOptionError, match="valid values are: dailypapers, arxiv-atom, arxiv-oai, beir"):
        make_parser(InputFile.inspect(write("x.csv", "title\n")), "xml", None)
    with pytest.raises(InvalidOptionError, match="mapping field 'titel'"):
        FieldMap.parse(["titel=x"])


def test_a_text_file_is_a_daily_papers_page_only_by_its_shape(lib: Library, write) -> None:
    """A page pasted without its header still reads (one paragraph a line, blank lines
    between); a README or licence wrapped over consecutive lines is no page (a folder's
    PROVENANCE.txt was read as 16 "papers" before)."""
    headerless = write("pasted.txt", "A Title\n\nAn abstract that ends.\n\nB Title\n\nMore.\n")
    assert detect(InputFile.inspect(headerless)).name == "dailypapers"
    notes = write("PROVENANCE.txt", "Real bioRxiv API answer.\n\nFile : details.json\n"
                  "Source repo : github.com/x/y\nCommit : 2276\n\nFormat notes: escaping.\n")
    report = lib.ingest([notes])
    assert report.failed and "cannot detect the format" in (report.failed[0].error or "")
    assert lib.papers.count() == 0


def test_unknown_format_is_a_file_error(lib: Library, write) -> None:
    report = lib.ingest([write("mystery.bin", "just some words here\n")])
    assert report.failed and "cannot detect the format" in (report.failed[0].error or "")


def test_truncated_utf8_is_an_error_not_a_cp1252_guess(lib: Library, write) -> None:
    data = "title,abstract\nCaf\u00e9,x\nNa\u00efve,y\n".encode() + "\u00e9".encode()[:1]
    report = lib.ingest([write("cut.csv", data)])
    assert report.failed[0].error == f"{report.files[0].path}:4: the file ends inside a UTF-8 character (truncated?)"


def test_recorded_api_responses(shared: Path) -> None:
    formats = shared / "data" / "formats"
    search = parse(formats / "api-responses-openalex-crossref/openalex/search_2e24dd7e.json")
    assert search and all(r.title for r in search)
    assert all("openalex" in r.ids for r in search)
    with_abstract = [r for r in search if r.abstract]
    assert with_abstract and "  " not in with_abstract[0].abstract  # rebuilt from the index
    cited = parse(formats / "semantic-scholar-api/citation_item.json")
    assert cited[0].title and "s2" in cited[0].ids and "contexts" in cited[0].extra


def test_uninverted_abstract_order(write) -> None:
    path = write("w.json", json.dumps({"results": [{"display_name": "W", "abstract_inverted_index": {
        "world": [1], "hello": [0, 2]}}]}))
    assert parse(path)[0].abstract == "hello world hello"
