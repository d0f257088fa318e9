"""arXiv's XML listings: API Atom feeds and OAI-PMH harvests (inline and real samples)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperatlas import Library, ParseError
from paperatlas.errors import UnknownFormatError
from paperatlas.ingest import InputFile, detect, make_parser, numbered_lines
from paperatlas.records.papers import Record

from conftest import dump

ATOM_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <link href="http://arxiv.org/api/query?search_query%3Dall%3Aelectron" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=all:electron</title>
  <id>http://arxiv.org/api/cHxbiOdZaP56ODnBPIenZhzg5f8</id>
  <opensearch:totalResults>2</opensearch:totalResults>
"""
ENTRY_NEW = """  <entry>
    <id>http://arxiv.org/abs/0808.05394v2</id>
    <updated>2009-01-05T10:00:00Z</updated>
    <published>2008-08-28T12:00:00Z</published>
    <title>Electron   Transport in
      Quantum Wires</title>
    <summary>  We study electron transport
in quantum wires.
</summary>
    <author><name>Ada Lovelace</name><arxiv:affiliation>Analytical Engine Co</arxiv:affiliation></author>
    <author><name>Alan Turing</name></author>
    <arxiv:doi>10.1103/PhysRevB.1.2</arxiv:doi>
    <link title="doi" href="http://dx.doi.org/10.1103/PhysRevB.1.2" rel="related"/>
    <arxiv:comment>12 pages, 3 figures</arxiv:comment>
    <arxiv:journal_ref>Phys. Rev. B 1, 2 (2009)</arxiv:journal_ref>
    <link href="http://arxiv.org/abs/0808.05394v2" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/0808.05394v2" rel="related" type="application/pdf"/>
    <arxiv:primary_category term="cond-mat.mes-hall" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cond-mat.mes-hall" scheme="http://arxiv.org/schemas/atom"/>
    <category term="quant-ph" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
"""
ENTRY_OLD = """  <entry>
    <id>http://arxiv.org/abs/astro-ph/0601001v1</id>
    <published>2006-01-02T14:57:58Z</published>
    <title>Hot Jupiters</title>
    <summary>Planets.</summary>
    <author><name>Andrew Gould</name></author>
    <category term="astro-ph" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
"""
ATOM = ATOM_HEAD + ENTRY_NEW + ENTRY_OLD + "</feed>\n"
ATOM_ERROR = ATOM_HEAD + """  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.12345</summary>
    <author><name>arXiv api core</name></author>
  </entry>
</feed>
"""

OAI_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<responseDate>2024-01-01T00:00:00Z</responseDate>
<request verb="ListRecords" metadataPrefix="oai_dc">http://export.arxiv.org/oai2</request>
"""
DC_RECORD = """<record>
<header><identifier>oai:arXiv.org:0808.05394</identifier><datestamp>2009-01-06</datestamp></header>
<metadata>
 <oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/1.1/">
 <dc:title>Electron Transport in Quantum Wires</dc:title>
 <dc:creator>Lovelace, Ada</dc:creator>
 <dc:creator>Turing, Alan</dc:creator>
 <dc:subject>Condensed Matter - Mesoscale and Nanoscale Physics</dc:subject>
 <dc:subject>Quantum Physics</dc:subject>
 <dc:description>  We study electron transport
in quantum wires.
</dc:description>
 <dc:description>Comment: 12 pages, 3 figures</dc:description>
 <dc:date>2008-08-28</dc:date>
 <dc:date>2009-01-05</dc:date>
 <dc:type>text</dc:type>
 <dc:identifier>http://arxiv.org/abs/0808.05394</dc:identifier>
 <dc:identifier>Phys. Rev. B 1, 2 (2009)</dc:identifier>
 <dc:identifier>doi:10.1103/PhysRevB.1.2</dc:identifier>
 </oai_dc:dc>
</metadata>
</record>
"""
DELETED_RECORD = """<record>
<header status="deleted"><identifier>oai:arXiv.org:0901.0001</identifier><datestamp>2010-01-01</datestamp></header>
</record>
"""
OAI_DC = (OAI_HEAD + "<ListRecords>\n" + DC_RECORD + DELETED_RECORD
          + '<resumptionToken cursor="0" completeListSize="3">6960524|1001</resumptionToken>\n'
          + "</ListRecords>\n</OAI-PMH>\n")
OAI_ARXIV = OAI_HEAD + """<GetRecord><record>
<header><identifier>oai:arXiv.org:1401.2122</identifier><datestamp>2018-01-25</datestamp></header>
<metadata>
 <arXiv xmlns="http://arxiv.org/OAI/arXiv/">
 <id>1401.2122</id><created>2014-01-09</created><updated>2017-10-23</updated>
 <authors><author><keyname>Sergyeyev</keyname><forenames>A.</forenames><affiliation>Silesian University</affiliation></author>
 <author><keyname>Planck Collaboration</keyname></author></authors>
 <title>New integrable (3+1)-dimensional
  systems</title><categories>math.AP hep-th</categories><comments>16 pages</comments>
 <journal-ref>Lett. Math. Phys. 108 (2018)</journal-ref><doi>10.1007/s11005-017-1013-4, 10.1007/OTHER</doi>
 <abstract>  We introduce a novel construction.
</abstract></arXiv>
</metadata>
</record></GetRecord>
</OAI-PMH>
"""
OAI_RAW = OAI_HEAD + """<ListRecords><record>
<header><identifier>oai:arXiv.org:hep-th/9901001</identifier><datestamp>2008-02-03</datestamp></header>
<metadata>
 <arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">
 <id>hep-th/9901001</id><submitter>Some One</submitter>
 <version version="v1"><date>Fri, 1 Jan 1999 10:00:00 GMT</date><size>20kb</size></version>
 <version version="v2"><date>Tue, 2 Feb 1999 11:00:00 GMT</date><size>21kb</size></version>
 <title>Strings</title><authors>J. Doe, R. Roe and M. Moe</authors>
 <categories>hep-th gr-qc</categories><abstract>About strings.</abstract>
 </arXivRaw>
</metadata>
</record></ListRecords>
</OAI-PMH>
"""


def parse(path: Path, fmt: str | None = None) -> list[Record]:
    file = InputFile.inspect(path)
    parser = make_parser(file, fmt, None)
    with file.open_text() as fh:
        return list(parser.parse(file, numbered_lines(fh, str(path))))


# -- the arXiv API (Atom) --------------------------------------------------------------

def test_atom_entries(write) -> None:
    path = write("query.xml", ATOM)
    assert detect(InputFile.inspect(path)).name == "arxiv-atom"
    new, old = parse(path)
    assert new.title == "Electron Transport in Quantum Wires"
    assert new.abstract == "We study electron transport in quantum wires."
    assert new.authors == ["Ada Lovelace", "Alan Turing"]
    assert new.date == "2008-08-28"
    assert new.categories == ["cond-mat.mes-hall", "quant-ph"]
    assert new.ids == {"arxiv": "0808.05394v2", "doi": "10.1103/PhysRevB.1.2"}
    assert new.source_key == "0808.05394"
    assert new.venue == "Phys. Rev. B 1, 2 (2009)"
    assert new.links == ["http://arxiv.org/abs/0808.05394v2", "http://arxiv.org/pdf/0808.05394v2",
                         "http://dx.doi.org/10.1103/PhysRevB.1.2"]
    assert new.extra == {"comments": "12 pages, 3 figures", "updated": "2009-01-05",
                         "affiliations": {"Ada Lovelace": ["Analytical Engine Co"]}}
    assert (new.line, new.entry, old.line, old.entry) == (7, 1, 28, 2)
    assert old.ids == {"arxiv": "astro-ph/0601001v1"} and old.source_key == "astro-ph/0601001"
    assert old.categories == ["astro-ph"] and old.date == "2006-01-02" and old.links == []


def test_atom_by_suffix_and_by_name(write) -> None:
    bare = ATOM.replace("arxiv.org", "example.org")  # no longer sniffed as arXiv's
    assert detect(InputFile.inspect(write("feed.atom", bare))).name == "arxiv-atom"
    with pytest.raises(UnknownFormatError, match="cannot detect the format"):
        detect(InputFile.inspect(write("feed.xml", bare)))
    assert len(parse(write("other.xml", bare), "arxiv-atom")) == 2


def test_atom_error_entry_is_a_parse_error(lib: Library, write) -> None:
    path = write("bad_id.xml", ATOM_ERROR)
    with pytest.raises(ParseError, match=r"bad_id\.xml:7: the arXiv API answered with an error: "
                                         r"incorrect id format for 1234\.12345$"):
        parse(path)
    report = lib.ingest([path])
    assert report.failed and report.failed[0].error_line == 7 and lib.stats().papers == 0


# -- OAI-PMH -----------------------------------------------------------------------------

def test_oai_dc_records_and_deleted_ones(write) -> None:
    path = write("harvest.xml", OAI_DC)
    assert detect(InputFile.inspect(path)).name == "arxiv-oai"
    (rec,) = parse(path)  # the deleted record is skipped, the resumption token ignored
    assert rec.title == "Electron Transport in Quantum Wires"
    assert rec.authors == ["Ada Lovelace", "Alan Turing"]
    assert rec.abstract == "We study electron transport in quantum wires."
    assert rec.categories == ["Condensed Matter - Mesoscale and Nanoscale Physics", "Quantum Physics"]
    assert rec.date == "2008-08-28" and rec.venue == "Phys. Rev. B 1, 2 (2009)"
    assert rec.ids == {"arxiv": "0808.05394", "doi": "10.1103/PhysRevB.1.2"}
    assert rec.source_key == "0808.05394" and rec.links == ["http://arxiv.org/abs/0808.05394"]
    assert rec.extra == {"comments": "12 pages, 3 figures", "updated": "2009-01-05"}
    assert (rec.line, rec.entry) == (6, 1)


def test_oai_arxiv_and_arxivraw_formats(write) -> None:
    (rec,) = parse(write("get.xml", OAI_ARXIV))
    assert rec.title == "New integrable (3+1)-dimensional systems"
    assert rec.authors == ["A. Sergyeyev", "Planck Collaboration"]
    assert rec.categories == ["math.AP", "hep-th"] and rec.date == "2014-01-09"
    assert rec.ids == {"arxiv": "1401.2122", "doi": "10.1007/s11005-017-1013-4"}
    assert rec.venue == "Lett. Math. Phys. 108 (2018)"
    assert rec.links == ["https://arxiv.org/abs/1401.2122"]
    assert rec.extra == {"comments": "16 pages", "updated": "2017-10-23",
                         "other_dois": ["10.1007/OTHER"],
                         "affiliations": {"A. Sergyeyev": ["Silesian University"]}}
    (raw,) = parse(write("raw.xml", OAI_RAW))
    assert raw.ids == {"arxiv": "hep-th/9901001v2"} and raw.source_key == "hep-th/9901001"
    assert raw.authors == ["J. Doe", "R. Roe", "M. Moe"]
    assert raw.date == "1999-01-01" and raw.extra["updated"] == "1999-02-02"


def test_oai_errors_and_unsupported_metadata(write) -> None:
    empty = OAI_HEAD + '<error code="noRecordsMatch">nothing in that range</error>\n</OAI-PMH>\n'
    assert parse(write("empty.xml", empty)) == []
    bad = OAI_HEAD + '<error code="badResumptionToken">expired</error>\n</OAI-PMH>\n'
    with pytest.raises(ParseError, match=r"bad\.xml:5: the OAI-PMH server answered with an "
                                         r"error: badResumptionToken expired"):
        parse(write("bad.xml", bad))
    marc = OAI_DC.replace("oai_dc:dc", "marc:record").replace(
        "xmlns:oai_dc=", "xmlns:marc=")
    with pytest.raises(ParseError, match=r"marc\.xml:6: unsupported OAI-PMH metadata format <record>"):
        parse(write("marc.xml", marc))
    with pytest.raises(ParseError, match=r"x\.xml:2: not an OAI-PMH response: the root element is <feed>"):
        parse(write("x.xml", ATOM), "arxiv-oai")


# -- malformed files and detection -------------------------------------------------------

def test_malformed_xml_names_file_and_line_and_writes_nothing(lib: Library, write) -> None:
    lib.ingest([write("first.xml", ATOM)])
    before = [r for r in dump(lib) if not r.startswith("ingest_")]
    good = DC_RECORD.replace("0808.05394", "0901.0002")  # goes in, then is rolled back
    broken = DC_RECORD.replace("</dc:title>", "</dc:titel>")
    bad = write("broken.xml", OAI_HEAD + "<ListRecords>\n" + good + broken
                + "</ListRecords>\n</OAI-PMH>\n")
    report = lib.ingest([bad])
    assert report.failed[0].error == f"{bad}:32: malformed XML: mismatched tag (column 49)"
    assert report.failed[0].error_line == 32
    assert [r for r in dump(lib) if not r.startswith("ingest_")] == before
    with pytest.raises(ParseError, match=r"cut\.xml:11: malformed XML: no element found \(column 5\)"):
        parse(write("cut.xml", ATOM.split("<title>Electron")[0]))


def test_sniffing_leaves_other_files_alone(write) -> None:
    def detected(name: str, text: str) -> str:
        try:
            return detect(InputFile.inspect(write(name, text))).name
        except UnknownFormatError:
            return "unknown"

    assert detected("a.xml", '<?xml version="1.0"?>\n<root><item>arxiv.org</item></root>\n') == "unknown"
    assert detected("b.xml", '<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title></feed>') == "unknown"
    assert detected("c.json", json.dumps({"body": ATOM})) == "json"
    assert detected("d.jsonl", json.dumps({"title": OAI_DC}) + "\n") == "jsonl"
    assert detected("e.csv", "title,abstract\n<OAI-PMH,x\n") == "csv"
    assert detected("f.rss", '<rss version="2.0"><channel><link>https://arxiv.org</link></channel></rss>') == "unknown"
    assert detected("g.xml", OAI_DC.replace("<OAI-PMH", "<Other")) == "arxiv-oai"  # still ListRecords


# -- through the library -------------------------------------------------------------------

def test_same_paper_from_atom_and_oai_merges(lib: Library, write) -> None:
    first = lib.ingest([write("api.xml", ATOM)])
    assert (first.added, first.files[0].format) == (2, "arxiv-atom")
    second = lib.ingest([write("oai.xml", OAI_DC)])
    assert (second.files[0].format, second.records, second.added, second.merged) == (
        "arxiv-oai", 1, 0, 1)
    assert second.files[0].changes == [] and lib.stats().papers == 2
    paper = lib.papers.get("0808.05394")
    assert paper.key == "0808.05394"
    assert sorted(s.format for s in paper.sources) == ["arxiv-atom", "arxiv-oai"]
    assert paper.ids["doi"] == "10.1103/PhysRevB.1.2"
    assert lib.papers.get("astro-ph/0601001").title == "Hot Jupiters"


# -- the real samples ------------------------------------------------------------------------

def _samples(shared: Path, name: str) -> Path:
    folder = shared / "data" / "formats" / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return folder


def test_real_arxiv_api_answers(shared: Path) -> None:
    folder = _samples(shared, "arxiv-api-atom")
    counts = {p.name: len(parse(p)) for p in sorted(folder.glob("*.xml"))}
    assert counts == {
        "idlist_0000.0000_error_2026.xml": 0,  # an empty feed, not an error entry
        "idlist_0808.05394_1707.08567_2026.xml": 1,
        "idlist_2104.12255v1_2026.xml": 1,
        "idlist_astro-ph_0601001_2026.xml": 1,
        "legacy_idlist_1111.2011v2.xml": 1,
        "legacy_query_au-del_maestro.xml": 10,
        "legacy_query_au-del_maestro_ANDNOT_ti.xml": 10,
        "query_all-testing_start0_max100_2026.xml": 100,
        "query_all-testing_start10_max10_2026.xml": 10,
    }
    page = parse(folder / "query_all-testing_start0_max100_2026.xml")
    assert all(r.title and r.abstract and r.authors and r.date for r in page)
    assert all("arxiv" in r.ids and r.links[0].startswith("https://arxiv.org/abs/") for r in page)
    assert len({c for r in page for c in r.categories}) == 38
    (legacy,) = parse(folder / "legacy_idlist_1111.2011v2.xml")
    assert legacy.ids == {"arxiv": "1111.2011v2", "doi": "10.1103/PhysRevB.85.115117"}
    assert legacy.title == ("Quantum Criticality for Extended Nodes on a Bethe Lattice in the "
                            "Large Connectivity Limit")
    assert legacy.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]
    assert legacy.venue == "Phys. Rev. B 85, 115117 (2012)"
    assert legacy.extra["comments"] == "8 pages, 3 figures. Published version"
    (old,) = parse(folder / "idlist_astro-ph_0601001_2026.xml")
    assert old.ids == {"arxiv": "astro-ph/0601001v1"} and len(old.extra["affiliations"]) == 4


def test_real_oai_harvests(shared: Path, lib: Library) -> None:
    folder = _samples(shared, "arxiv-oai-pmh")
    quant = folder / "arxiv_oai_dc_quant-ph_2000records.xml"
    report = lib.ingest([quant])
    f = report.files[0]
    assert (f.format, f.records, f.added, f.merged, f.rejected) == ("arxiv-oai", 2000, 1000, 1000, 0)
    assert lib.stats().papers == 1000  # each of the 1,000 ids is listed twice
    paper = lib.papers.get("0704.0046")
    assert paper.authors == ["I. Csiszar", "F. Hiai", "D. Petz"]
    assert paper.venue == "J. Math. Phys. 48(2007), 092102." and paper.date == "2007-04-01"
    hep = {p.name: parse(p) for p in sorted((folder / "hepcrawl").glob("*.xml"))}
    assert len(hep) == 15 and sum(len(recs) for recs in hep.values()) == 30
    assert all(r.title and r.abstract and "arxiv" in r.ids for recs in hep.values() for r in recs)
    (single,) = hep["arxiv-single.xml"]
    assert single.ids == {"arxiv": "1401.2122", "doi": "10.1007/s11005-017-1013-4"}
    assert single.categories[0] == "math.AP" and single.authors == ["A. Sergyeyev"]
