"""Reference-manager exports: BibTeX/BibLaTeX, RIS and Zotero (Better BibTeX) JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from paperatlas import Library
from paperatlas.errors import ParseError
from paperatlas.ingest import FieldMap, InputFile, detect, numbered_lines
from paperatlas.ingest.bibtex import BibtexParser
from paperatlas.ingest.ris import RisParser
from paperatlas.records.papers import Record

from conftest import dump

BIB = r"""% exported by JabRef
@string{ pami = "IEEE Trans. Pattern Anal. Mach. Intell." }
@STRING(first = {Deep })
@comment{ jabref-meta: databaseType:bibtex; @article{not, title={an entry}} }
@preamble{ "\newcommand{\noop}[1]{}" }

@article{mueller2020,
  author    = {M{\"u}ller, J{\"o}rg and O'Brien, A. and {World Health Organization} and others},
  title     = {{BERT} for {\em Sch{\"o}ne} Texts: \& more -- 50\% better},
  journal   = pami,
  year      = 2020,
  month     = mar,
  doi       = {10.1109/TPAMI.2020.12\_34},
  keywords  = {nlp; transformers, {deep learning}},
  abstract  = "We {\'e}tudie " # "concatenated " # {values.},
}

@InProceedings{smith2021,
  author = {John Smith and de la Cruz, Maria and Doe, Jr., Jane},
  title = first # "Learning on " # {Graphs},
  booktitle = {Proceedings of NeurIPS},
  date = {2021-12-06/2021-12-14},
  eprint = {2101.00001v2}, eprinttype = {arxiv},
}

@misc{anon, title = "Only an {arXiv} id", archivePrefix = {arXiv}, eprint = {2202.02222},
  url = {https://example.org/paper\_1}, pmid = {12345}}
"""


def _parse(path: Path, parser: type[BibtexParser] | type[RisParser] = BibtexParser,
           mapping: FieldMap | None = None) -> list[Record]:
    file = InputFile.inspect(path)
    with file.open_text() as fh:
        return list(parser(mapping).parse(file, numbered_lines(fh, str(path))))


def test_bibtex_fields_accents_macros_and_concatenation(write) -> None:
    recs = _parse(write("refs.bib", BIB))
    assert [r.source_key for r in recs] == ["mueller2020", "smith2021", "anon"]
    a, b, c = recs
    assert a.title == "BERT for Schöne Texts: & more \u2013 50% better"
    assert a.authors == ["Jörg Müller", "A. O'Brien", "World Health Organization"]
    assert a.venue == "IEEE Trans. Pattern Anal. Mach. Intell."  # the @string macro
    assert a.date == "2020-03" and a.line == 7 and a.entry == 1
    assert a.ids == {"doi": "10.1109/TPAMI.2020.12_34"}
    assert a.categories == ["nlp", "transformers", "deep learning"]
    assert a.abstract == "We étudie concatenated values."
    assert a.extra["entrytype"] == "article"
    assert b.title == "Deep Learning on Graphs"
    assert b.authors == ["John Smith", "Maria de la Cruz", "Jane Doe Jr."]
    assert (b.venue, b.date, b.ids) == ("Proceedings of NeurIPS", "2021-12-06",
                                        {"arxiv": "2101.00001v2"})
    assert c.ids == {"arxiv": "2202.02222", "pmid": "12345"}
    assert c.links == ["https://example.org/paper_1"] and c.date is None


def test_bibtex_mapping_override_and_detection(write) -> None:
    path = write("x.txt", BIB)
    assert detect(InputFile.inspect(path)) is BibtexParser
    recs = _parse(path, mapping=FieldMap.parse(["venue=booktitle"]))
    assert recs[1].venue == "Proceedings of NeurIPS"


@pytest.mark.parametrize(("text", "line", "reason", "titles"), [
    ("@article{a, title={A}}\n\n@article{b,\n  title = {B}\n  year = 2020\n}\n@misc{c, title={C}}\n",
     3, "expected ',' or '}' after the field 'title'", ["A", "C"]),
    ("@article{a, title={A}}\n@article{b, title = {B\n\n@misc{c, title={C}}\n", 2, "never closed",
     ["A", "C"]),
    ("@article{a, title={A},\n@misc{c, title={C}}\n", 1, "expected a field name", ["C"]),
    ("@article{a, title={A}}\n@article b, title={B}}\n", 2, "expected '@type{'", ["A"]),
    ("@article{a, title={A}}\nsome garbage } between { entries\n@article{c, title={C}}\n", 0, "",
     ["A", "C"]),
])
def test_bibtex_broken_entry_is_rejected_and_the_rest_goes_in(
        lib: Library, write, text: str, line: int, reason: str, titles: list[str]) -> None:
    path = write("broken.bib", text)
    recs = _parse(path)
    assert [r.title for r in recs if not r.error] == titles
    report = lib.ingest([path])
    assert report.files[0].ok and report.added == len(titles)
    assert [r.line for r in report.files[0].rejections] == ([line] if line else [])
    assert all(r.reason.startswith("broken entry '@") and reason in r.reason
               for r in report.files[0].rejections)
    strict = lib.ingest([write("strict.bib", text)], strict=True)
    assert strict.failed if line else not strict.failed


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("@article{a, title={A}}\n@article{b, title = {B", 2, "never closed"),
    ("@article{a, title={A}}\n@article{b, title = {B}", 2, "expected ',' or '}'"),
    ("@article b, title={B}}\n", 1, "expected '@type{'"),
])
def test_bibtex_truncated_or_unreadable_file_fails_whole(
        lib: Library, write, text: str, line: int, reason: str) -> None:
    path = write("broken.bib", text)
    with pytest.raises(ParseError) as err:
        _parse(path)
    assert err.value.line == line and reason in err.value.reason
    assert str(err.value).startswith(f"{path}:{line}: broken entry")
    before = dump(lib)
    report = lib.ingest([path])
    assert report.files[0].error_line == line
    assert [r for r in dump(lib) if not r.startswith("ingest_")] == [
        r for r in before if not r.startswith("ingest_")]
    assert lib.stats().papers == 0


ZOTERO = "data/formats/zotero"


@pytest.mark.parametrize("damage", [  # (what, damage the entry, entries lost)
    ("unbalanced", lambda e: e.replace("title = {", "title = {{", 1), 1),
    ("no comma", lambda e: e.replace(",\n", "\n", 1), 1),
    ("no key", lambda e: e.replace("{", "{,", 1).replace(",,", ",", 1), 1),
    ("garbage after it", lambda e: e + "@@@ garbage ((( {\n", 0),
])
@pytest.mark.parametrize("name", ["bbt-biblatex_bulk-performance_1241.bib",
                                  "slr-deepfake-collection/New collection.bib"])
def test_real_zotero_export_with_one_malformed_entry(
        shared: Path, tmp_path: Path, name: str, damage: tuple[str, Any, int]) -> None:
    text = (shared / ZOTERO / name).read_text(encoding="utf-8-sig")
    starts = [i for i in range(len(text)) if text.startswith("@", i) and (
        i == 0 or text[i - 1] == "\n")]
    at, end = starts[len(starts) // 2], starts[len(starts) // 2 + 1]
    broken = text[:at] + damage[1](text[at:end]) + text[end:]
    whole_lib = Library(tmp_path / "whole.db", embedding_model=None)
    (tmp_path / "whole.bib").write_text(text)
    whole = whole_lib.ingest([tmp_path / "whole.bib"])
    lib = Library(tmp_path / "lib.db", embedding_model=None)
    (tmp_path / "broken.bib").write_text(broken)
    report = lib.ingest([tmp_path / "broken.bib"])
    lost = damage[2]
    line = text[:at].count("\n") + 1 if lost else text[:end].count("\n") + 1
    assert report.files[0].ok and report.rejected == whole.rejected + 1
    assert [r.line for r in report.files[0].rejections] == [line]
    assert report.records == whole.records + 1 - lost  # every other entry is read
    assert report.added + report.merged == whole.added + whole.merged - lost
    assert lib.ingest([tmp_path / "broken.bib"], strict=True).failed
    whole_lib.close()
    lib.close()


RIS = """TY  - JOUR
TI  - Deep Learning on Graphs
AU  - Smith, John
AU  - de la Cruz, Maria
AB  - A first line
  continued on a second line.
PY  - 2021///
DA  - 2021/12/06/
T2  - Proceedings of NeurIPS
KW  - graphs
KW  - deep learning
DO  - https://doi.org/10.1000/XYZ.1
UR  - https://arxiv.org/abs/2101.00001
SN  - 1234-5678
ER  - \n
TY  - BOOK
T1  - A book without an abstract
A1  - Roe, Richard
Y1  - 1999
ER  -
"""


def test_ris_records(write) -> None:
    path = write("refs.txt", RIS)
    assert detect(InputFile.inspect(path)) is RisParser
    a, b = _parse(path, RisParser)
    assert a.title == "Deep Learning on Graphs" and a.line == 1 and b.line == 17
    assert a.authors == ["John Smith", "Maria de la Cruz"]
    assert a.abstract == "A first line continued on a second line."
    assert (a.date, a.venue, a.categories) == ("2021-12-06", "Proceedings of NeurIPS",
                                               ["graphs", "deep learning"])
    assert a.ids == {"doi": "10.1000/XYZ.1", "arxiv": "2101.00001"}
    assert a.extra == {"ty": "JOUR", "sn": "1234-5678"}
    assert (b.title, b.authors, b.date, b.abstract) == (
        "A book without an abstract", ["Richard Roe"], "1999", "")


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("not a tag\nTY  - JOUR\nTI  - A\nER  - \n", 1, "expected a tag line"),
    ("TY  - JOUR\nTI  - A\nER  - \nTY  - JOUR\nTI  - B\n", 4, "never ends"),
    ("TI  - A\nER  - \n", 1, "outside a record"),
])
def test_ris_errors(lib: Library, write, text: str, line: int, reason: str) -> None:
    path = write("broken.ris", text)
    with pytest.raises(ParseError) as err:
        _parse(path, RisParser)
    assert err.value.line == line and reason in err.value.reason
    assert lib.ingest([path]).files[0].error_line == line and lib.stats().papers == 0


def test_sniffers_leave_other_formats_alone(write) -> None:
    others = {
        "a.csv": "title,abstract\n@article{x, in a cell},y\n",
        "a.json": '[{"title": "@article{x,"}]',
        "a.jsonl": '{"title": "TY  - JOUR"}\n',
        "a.tsv": "title\tabstract\tyear\nA\tB\t2020\n",
    }
    for name, text in others.items():
        assert detect(InputFile.inspect(write(name, text))).name not in ("bibtex", "ris"), name


def test_same_doi_in_bibtex_and_ris_is_one_paper_with_both_sources(lib: Library, write) -> None:
    bib = write("lib.bib", "@article{k, title = {Graph Learning, Deeply}, "
                           "author = {Smith, John}, doi = {10.1000/xyz.1}}\n")
    ris = write("lib.ris", RIS)
    lib.ingest([bib])
    report = lib.ingest([ris])
    assert (report.added, report.merged) == (1, 1)  # the DOI matches although titles differ
    papers = {p.title: p for p in lib.papers()}
    paper = papers["Graph Learning, Deeply"]
    assert sorted(s.format for s in paper.sources) == ["bibtex", "ris"]
    assert paper.ids["doi"] == "10.1000/xyz.1" and paper.ids["arxiv"].startswith("2101.00001")


def test_zotero_json_creators_tags_and_abstract_note(write) -> None:
    doc = {"config": {"label": "BetterBibTeX JSON"}, "items": [{
        "itemType": "journalArticle", "title": "Zotero paper", "abstractNote": "An abstract.",
        "creators": [{"creatorType": "editor", "firstName": "Ed", "lastName": "Itor"},
                     {"creatorType": "author", "firstName": "Ann", "lastName": "Author"},
                     {"creatorType": "author", "name": "The Consortium"}],
        "date": "2019-05-02", "DOI": "10.1000/abc", "url": "https://example.org",
        "publicationTitle": "Journal of Tests", "tags": [{"tag": "one"}, {"tag": "two words"}]}]}
    from paperatlas.ingest.jsonfmt import JsonDocumentParser

    path = write("zotero.json", json.dumps(doc))
    assert detect(InputFile.inspect(path)) is JsonDocumentParser
    file = InputFile.inspect(path)
    with file.open_text() as fh:
        (rec,) = JsonDocumentParser().parse(file, numbered_lines(fh, str(path)))
    assert (rec.title, rec.abstract, rec.date) == ("Zotero paper", "An abstract.", "2019-05-02")
    assert rec.authors == ["Ann Author", "The Consortium"]
    assert (rec.venue, rec.categories) == ("Journal of Tests", ["one", "two words"])
    assert rec.ids == {"doi": "10.1000/abc"} and rec.links == ["https://example.org"]


# -- the real exports in ../shared/data/formats/zotero (see its PROVENANCE.txt) ----------

def _zotero(shared: Path) -> Path:
    path = shared / "data" / "formats" / "zotero"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


def test_real_biblatex_and_bbt_json_of_one_library_merge(shared: Path, lib: Library) -> None:
    z = _zotero(shared)
    bib = lib.ingest([z / "bbt-biblatex_bulk-performance_1241.bib"]).files[0]
    assert (bib.format, bib.records, bib.added, bib.rejected) == ("bibtex", 1241, 1241, 0)
    js = lib.ingest([z / "zotero-bbt-json_bulk-performance_1241.json"]).files[0]
    assert (js.format, js.records, js.rejected) == ("json", 1241, 0)
    assert js.merged >= 1235 and lib.stats().papers <= 1247  # merged, not duplicated
    stats = lib.stats()
    assert stats.identifiers.get("doi", 0) == 88 and stats.with_abstract >= 300
    papers = {p.title: p for p in lib.papers()}
    oldrup = papers["Between the City and the Rural: Negotiating Place and Identity in a "
                    "Danish Suburban Housing Area"]
    assert oldrup.authors == ["Helene Oldrup"] and oldrup.date == "2009-04-21"
    assert oldrup.venue == "Housing, Theory and Society"
    assert "Bæredygtige forstæder: Udredning og anbefalinger fra Forstædernes Tænketank" in papers


def test_real_zotero_exports_bib_ris_csv_merge(shared: Path, lib: Library) -> None:
    slr = _zotero(shared) / "slr-deepfake-collection"
    bib = lib.ingest([slr / "New collection.bib"]).files[0]
    assert (bib.format, bib.records, bib.added, bib.rejected) == ("bibtex", 467, 467, 0)
    ris = lib.ingest([slr / "Exported Items.ris"]).files[0]
    assert (ris.format, ris.records, ris.merged, ris.rejected) == ("ris", 467, 467, 0)
    csv = lib.ingest([slr / "Exported Items.csv"]).files[0]
    assert (csv.format, csv.records, csv.merged) == ("csv", 466, 466)
    stats = lib.stats()
    assert stats.papers == 467 and stats.identifiers.get("doi") == 465
    assert stats.with_abstract == 246
    paper = next(p for p in lib.papers() if p.ids.get("doi") == "10.1016/j.heliyon.2024.e25757")
    assert paper.authors[:2] == ["Abdul Qadir", "Rabbia Mahum"] and paper.venue == "Heliyon"
    assert sorted(s.format for s in paper.sources) == ["bibtex", "csv", "ris"]
