"""Citations out: the RIS and CSL-JSON writers (with BibTeX), and round trips through
paperatlas's own importers, on papers from real exports (Zotero, arXiv)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from paperatlas import Library
from paperatlas.export import _venue, csl_item, name_parts, ris_entry, writer_for
from paperatlas.ingest.csljson import csl_date, csl_name
from paperatlas.ingest.mapping import natural_name
from paperatlas.records.papers import Paper

ZOTERO = Path("data") / "formats" / "zotero"
SLR = ZOTERO / "slr-deepfake-collection"
ARXIV_ATOM = Path("data") / "formats" / "arxiv-api-atom" / "query_all-testing_start0_max100_2026.xml"
KAGGLE = (Path("data") / "formats" / "arxiv-kaggle-metadata-sample"
          / "arxiv-metadata-oai-snapshot_sample49.jsonl")
FORMATS = ("bibtex", "ris", "csljson")
SUFFIX = {"bibtex": "bib", "ris": "ris", "csljson": "json"}


def _paper(**fields: object) -> Paper:
    base: dict[str, object] = {"id": 1, "key": "2401.00001", "title": "A title",
                               "abstract": "", "authors": [], "date": None, "year": None,
                               "venue": None, "categories": [], "links": []}
    base.update(fields)
    return Paper(**base)  # type: ignore[arg-type]


def fields(lib: Library, fmt: str | None = None) -> list[tuple[object, ...]]:
    """What a round trip keeps, paper by paper: title, authors, year, DOI, arXiv id, venue
    and abstract. Two losses are the formats': BibTeX leaves out a venue that only names a
    preprint server, and RIS reads every name as ``Family, Given``, so a name with a comma
    in it (an institution: "Ministeriet for By, Bolig og Landdistrikter") comes back
    turned around."""
    rows = []
    for p in lib.papers():
        venue = _venue(p) if fmt == "bibtex" else p.venue
        authors = [natural_name(a.split(",")) if fmt == "ris" else a for a in p.authors]
        rows.append((p.title, tuple(authors), p.year, p.ids.get("doi"), p.ids.get("arxiv"),
                     venue, p.abstract))
    return sorted(rows, key=repr)


def round_trip(lib: Library, fmt: str, tmp_path: Path) -> Library:
    out = tmp_path / f"out-{fmt}.{SUFFIX[fmt]}"
    with out.open("w", encoding="utf-8") as fh:
        n = lib.papers.export(fmt, fh)
    assert n == lib.papers.count()
    back = Library(tmp_path / f"back-{fmt}.db", embedding_model=None)
    report = back.ingest([out])
    assert report.files[0].format == fmt and not report.rejected and not report.failed
    return back


# -- writers ---------------------------------------------------------------------------------
def test_name_parts() -> None:
    assert name_parts("Ludwig van Beethoven") == {"family": "van Beethoven", "given": "Ludwig"}
    assert name_parts("R. Uma Maheshwari") == {"family": "Maheshwari", "given": "R. Uma"}
    assert name_parts("John Smith Jr.") == {"family": "Smith", "given": "John", "suffix": "Jr."}
    assert name_parts("John Smith, Jr.") == {"family": "Smith", "given": "John", "suffix": "Jr."}
    assert name_parts("Jens, Forstædernes Tænketank Kvorning") == {
        "literal": "Jens, Forstædernes Tænketank Kvorning"}  # as a real Zotero item has it
    assert name_parts("OpenAI") == {"literal": "OpenAI"}
    for name in ("Ludwig van Beethoven", "John Smith Jr.", "Betül Karagöz", "OpenAI",
                 "Jens, Forstædernes Tænketank Kvorning"):
        assert csl_name(name_parts(name)) == name


def test_ris_entry_of_an_arxiv_paper() -> None:
    paper = _paper(title="Attention,\nagain", authors=["Ashish Vaswani", "Noam Shazeer Jr."],
                   date="2017-06-12", year=2017, venue="arXiv", categories=["cs.CL"],
                   ids={"arxiv": "1706.03762", "doi": "10.48550/arXiv.1706.03762"},
                   abstract="The dominant models.")
    assert ris_entry(paper).splitlines() == [
        "TY  - UNPB", "ID  - 2401.00001", "TI  - Attention, again", "AU  - Vaswani, Ashish",
        "AU  - Shazeer, Noam, Jr.", "PY  - 2017", "DA  - 2017/06/12/", "JO  - arXiv",
        "DO  - 10.48550/arXiv.1706.03762", "UR  - https://arxiv.org/abs/1706.03762",
        "AB  - The dominant models.", "KW  - cs.CL", "ER  - "]
    journal = ris_entry(_paper(venue="Nature", year=2020, date="2020"))
    assert "TY  - JOUR" in journal and "DA  - 2020///" in journal and "JO  - Nature" in journal
    assert "TY  - CONF" in ris_entry(_paper(venue="Proceedings of ACL"))
    assert ris_entry(_paper(key="x")).startswith("TY  - GEN")


def test_csl_item_as_zotero_writes_it() -> None:
    paper = _paper(authors=["Ludwig van Beethoven", "OpenAI"], date="2024-03", year=2024,
                   venue="bioRxiv", ids={"arxiv": "2401.00001"}, categories=["a", "b"],
                   links=["https://example.org/p"])
    item = csl_item(paper)
    assert item == {
        "id": "2401.00001", "type": "article", "title": "A title",
        "author": [{"family": "van Beethoven", "given": "Ludwig"}, {"literal": "OpenAI"}],
        "issued": {"date-parts": [[2024, 3]]}, "publisher": "bioRxiv",
        "URL": "https://example.org/p", "keyword": "a, b", "number": "arXiv:2401.00001",
        "note": "arXiv:2401.00001"}
    journal = csl_item(_paper(venue="Proceedings of NeurIPS", ids={"doi": "10.1/x"}, year=2020))
    assert journal["type"] == "paper-conference" and journal["container-title"] == \
        "Proceedings of NeurIPS" and journal["DOI"] == "10.1/x"
    assert journal["issued"] == {"date-parts": [[2020]]}


def test_csl_dates() -> None:
    assert csl_date({"date-parts": [[2024, 3, 5]]}) == "2024-03-05"
    assert csl_date({"date-parts": [["2019"]]}) == "2019"
    assert csl_date({"raw": "2020-01-02"}) == "2020-01-02"
    assert csl_date(None) == ""


def test_writer_names() -> None:
    from paperatlas.errors import InvalidOptionError

    with pytest.raises(InvalidOptionError, match="csljson"):
        writer_for("endnote")


# -- round trips -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Library:
    """Papers with arXiv ids (Atom, Kaggle lines: LaTeX and mojibake cleaned at ingest) and
    journal and conference papers with DOIs and keywords (Zotero's RIS)."""
    lib = Library(tmp_path_factory.mktemp("mixed") / "lib.db", embedding_model=None)
    lib.ingest([shared_data / ARXIV_ATOM, shared_data / KAGGLE, shared_data / SLR /
                "Exported Items.ris"])
    return lib


@pytest.fixture(scope="module")
def shared_data() -> Path:
    from conftest import shared_dir

    return shared_dir()


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_through_our_importers(mixed: Library, fmt: str, tmp_path: Path) -> None:
    back = round_trip(mixed, fmt, tmp_path)
    with back:
        assert back.papers.count() == mixed.papers.count()
        assert fields(back, fmt) == fields(mixed, fmt)
    got = fields(mixed)
    assert sum(1 for r in got if r[4]) >= 140 and sum(1 for r in got if r[3]) >= 400
    assert any("Betül Karagöz" in r[1] for r in got)


@pytest.mark.parametrize("source", [SLR / "Exported Items.ris", SLR / "New collection.bib",
                                    SLR / "Exported Items.csv",
                                    ZOTERO / "zotero-bbt-json_bulk-performance_1241.json",
                                    ZOTERO / "bbt-biblatex_bulk-performance_1241.bib"])
def test_zotero_exports_round_trip(source: Path, shared_data: Path, tmp_path: Path) -> None:
    with Library(tmp_path / "zotero.db", embedding_model=None) as lib:
        lib.ingest([shared_data / source])
        assert lib.papers.count() > 400
        for fmt in FORMATS:
            with round_trip(lib, fmt, tmp_path) as back:
                assert fields(back, fmt) == fields(lib, fmt), fmt


def test_csljson_is_detected_and_read(write, lib: Library) -> None:  # type: ignore[no-untyped-def]
    items = [{"id": "http://zotero.org/users/1/items/AB", "type": "article-journal",
              "title": "Deep <i>learning</i>", "container-title": "Nature",
              "author": [{"family": "LeCun", "given": "Yann"},
                         {"family": "Beethoven", "non-dropping-particle": "van",
                          "given": "Ludwig"}],
              "issued": {"date-parts": [["2015", "5", "27"]]}, "DOI": "10.1038/nature14539",
              "page": "436-444"},
             {"id": "b", "type": "article", "title": "A preprint", "publisher": "arXiv",
              "number": "arXiv:2401.00001", "issued": {"date-parts": [[2024]]}}]
    path = write("My Library.json", json.dumps(items))
    report = lib.ingest([path])
    assert report.files[0].format == "csljson" and report.added == 2
    nature = lib.papers["10.1038/nature14539"]
    assert (nature.title, nature.authors, nature.date, nature.venue) == (
        "Deep learning", ["Yann LeCun", "Ludwig van Beethoven"], "2015-05-27", "Nature")
    assert nature.sources[0].extra.get("page") == "436-444"
    preprint = lib.papers["arXiv:2401.00001"]
    assert preprint.venue == "arXiv" and preprint.year == 2024


def test_export_of_a_paper_reads_back_whole(lib: Library, write) -> None:  # type: ignore[no-untyped-def]
    path = write("one.ris", "TY  - JOUR\nTI  - Über <i>alles</i>\nAU  - Smith, John, Jr.\n"
                 "PY  - 2020\nJO  - Nature\nDO  - 10.1/abc\nAB  - An abstract.\nER  - \n")
    lib.ingest([path])
    for fmt in FORMATS:
        out = io.StringIO()
        lib.papers.export(fmt, out)
        assert "Smith" in out.getvalue() and "Über alles" in out.getvalue()
    [paper] = list(lib.papers())
    assert paper.authors == ["John Smith Jr."] and paper.title == "Über alles"


def test_only_web_links_are_cited() -> None:
    from paperatlas.export import bibtex_entry

    paper = _paper(links=["javascript:alert(1)", "https://example.org/p"])
    assert csl_item(paper)["URL"] == "https://example.org/p"
    assert "javascript" not in ris_entry(paper) + bibtex_entry(paper, "k")
    assert "url = {https://example.org/p}" in bibtex_entry(paper, "k")
