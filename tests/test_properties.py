"""Property tests: arbitrary input never raises anything but our own errors."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperatlas import Library, ParseError
from paperatlas import ids as idmod
from paperatlas.ingest import FORMAT_NAMES, InputFile, make_parser, numbered_lines
from paperatlas.text import normalize_title, parse_date, slug, split_authors

SUFFIX = {"dailypapers": ".txt", "beir": ".jsonl", "jsonl": ".jsonl", "json": ".json",
          "csv": ".csv", "tsv": ".tsv", "arxiv-atom": ".xml", "arxiv-oai": ".xml",
          "bibtex": ".bib", "ris": ".ris", "pubmed-xml": ".xml", "biorxiv": ".json",
          "hf-daily": ".json", "openalex": ".json", "semantic-scholar": ".json",
          "arxiv-snapshot": ".json", "arxiv-rss": ".xml", "csljson": ".json", "crossref": ".json"}

# Text that looks a little like our formats, so parsers get past their first line.
fragments = st.sampled_from([
    "{", "}", "[", "]", '"', ",", "\t", "\n", "\r\n", ":", "title", "_id", "text", "abstract",
    '{"title": "x"}', '{"_id": "1", "text": "y"}', "Get trending papers in your email inbox!",
    "Jul 3", "\ufeff", "é", "\x00", "null", "1", '"a,b"', "title,abstract\n",
    '<feed xmlns="http://www.w3.org/2005/Atom">', "<entry>", "</entry>", "<title>",
    "</title>", "<id>http://arxiv.org/abs/2101.00001v1</id>", "<OAI-PMH>", "<record>",
    "<metadata>", "</record>", "<ListRecords>", "@article{k,", "title = {", "}", "@string{",
    "author = {A, B and C}", "TY  - JOUR\n", "TI  - x\n", "AU  - A, B\n", "ER  - \n",
    "\\\"o", "{\\em x}", "#",
])
documents = st.one_of(
    st.binary(max_size=600),
    st.lists(st.one_of(fragments, st.text(max_size=20)), max_size=40).map("".join),
)


def _parse_all(data: bytes | str, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{SUFFIX[fmt]}"
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        file = InputFile.inspect(path)
        parser = make_parser(file, fmt, None)
        with file.open_text() as fh:
            for rec in parser.parse(file, numbered_lines(fh, str(path))):
                assert isinstance(rec.title, str) and rec.entry >= 1


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=documents)
def test_parsers_raise_only_parse_errors(fmt: str, data: bytes | str) -> None:
    try:
        _parse_all(data, fmt)
    except ParseError as exc:
        assert str(exc).startswith(str(Path(exc.path)))


@settings(max_examples=40, deadline=None)
@given(data=documents, suffix=st.sampled_from([".txt", ".jsonl", ".json", ".csv", ".tsv",
                                               ".dat", ".xml", ".bib", ".ris"]))
def test_ingest_never_raises_and_never_half_writes(data: bytes | str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        with Library(Path(tmp) / "lib.db") as lib:
            report = lib.ingest([path])
            stats = lib.stats()
            if report.failed:
                assert stats.papers == 0 and stats.sources == 0
            else:
                assert stats.sources == report.added + report.merged


@given(st.text(max_size=200))
def test_text_helpers_are_total(text: str) -> None:
    for scheme in idmod.NORMALIZERS:
        idmod.normalize(scheme, text)
    idmod.recognize(text)
    parse_date(text)
    split_authors(text)
    assert slug(text) and normalize_title(text) == normalize_title(normalize_title(text))
