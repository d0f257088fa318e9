"""Author identifiers: each importer keeps them (ORCID, Semantic Scholar, OpenAlex,
Hugging Face), a paper keeps every source's, and authors are joined or told apart by them
(one author under two spellings; two people of one name key with different ORCIDs); on
the recorded answers in the shared data and a real SQLite library."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperatlas import Library
from paperatlas.author_ids import group, normalize, parse_ref
from paperatlas.authors import author_key
from paperatlas.errors import InvalidOptionError, NotFoundError
from paperatlas.ingest import InputFile, detect
from paperatlas.records.authors import Mention
from paperatlas.records.papers import AuthorIds, Record
from paperatlas.store.migrations_authors import m021_author_ids
from standin import StandIn
from test_parsers import parse
from test_sources_cross import server, synced  # noqa: F401  (server: a fixture)

RECORDED = Path("data/formats/api-responses-openalex-crossref")
PNAS = "10.1073/pnas.1414271111"
#: Nikolaos K. Paschos, the third author of the PNAS paper (Crossref and OpenAlex give it).
PASCHOS = "0000-0002-1689-6636"
#: ORCID's own example iD (Josiah Carberry): a second person written "Paschos, N." here.
OTHER = "0000-0002-1825-0097"


def recorded(shared: Path, service: str, name: str) -> Path:
    return shared / RECORDED / service / name


def crossref_message(shared: Path, name: str) -> dict[str, Any]:
    body = json.loads(recorded(shared, "crossref", name).read_text(encoding="utf-8"))
    return dict(body["response"]["message"])


def write_work(path: Path, message: dict[str, Any]) -> Path:
    """A Crossref work answer around ``message``."""
    path.write_text(json.dumps({"status": "ok", "message-type": "work",
                                "message-version": "1.0.0", "message": message}),
                    encoding="utf-8")
    return path


def ids_of(rec: Record) -> dict[str, dict[str, str]]:
    return {a.name: a.ids for a in rec.author_ids}


# -- identifiers ------------------------------------------------------------------------------
@pytest.mark.parametrize(("scheme", "raw", "value"), [
    ("orcid", "https://orcid.org/0000-0002-1689-6636", PASCHOS),
    ("orcid", "http://orcid.org/0000-0002-1689-6636", PASCHOS),
    ("orcid", "0000000216896636", PASCHOS),
    ("orcid", "orcid:0000-0002-1825-0097", OTHER),
    ("orcid", "0000-0002-9079-593x", "0000-0002-9079-593X"),  # a check character X
    ("orcid", "0000-0002-1689-6637", None),  # a wrong check character
    ("orcid", "not an orcid", None),
    ("s2", "2541052", "2541052"), ("s2", 2541052, "2541052"),
    ("s2", "https://www.semanticscholar.org/author/2541052", "2541052"), ("s2", "0", None),
    ("s2", "J. Smith", None),
    ("openalex", "https://openalex.org/A5002193027", "A5002193027"),
    ("openalex", "a5002193027", "A5002193027"), ("openalex", "W2741809807", None),
    ("hf", "ClownRat", "ClownRat"), ("hf", "two words", None), ("hf", None, None),
])
def test_identifiers_are_normalized(scheme: str, raw: object, value: str | None) -> None:
    assert normalize(scheme, raw) == value


def test_an_author_named_by_an_identifier() -> None:
    assert parse_ref(f"orcid:{PASCHOS}") == ("orcid", PASCHOS)
    assert parse_ref(PASCHOS) == ("orcid", PASCHOS)
    assert parse_ref(f"https://orcid.org/{PASCHOS}") == ("orcid", PASCHOS)
    assert parse_ref("s2:2541052") == ("s2", "2541052")
    assert parse_ref("https://openalex.org/A5002193027") == ("openalex", "A5002193027")
    assert parse_ref("hf:ClownRat") == ("hf", "ClownRat")
    for text in ("Smith, J.", "smith.j", "orcid:0000-0002-1689-6637", "doi:10.1/x", ""):
        assert parse_ref(text) is None


# -- each importer keeps them ---------------------------------------------------------------
def test_openalex_keeps_orcids_and_author_ids(shared: Path) -> None:
    [rec] = parse(recorded(shared, "openalex", "doi_10_1073_2Fpnas_1414271111.json"))
    ids = ids_of(rec)
    assert ids["Nikolaos K. Paschos"] == {"orcid": PASCHOS, "openalex": "A5002193027"}
    assert ids["Donald J. Responte"] == {"openalex": "A5043066789"}  # no ORCID known
    assert len(rec.author_ids) == len(rec.authors) == 5


def test_crossref_works_and_lists_keep_orcids(shared: Path) -> None:
    path = recorded(shared, "crossref", "doi_10_1073_2Fpnas_1414271111.json")
    assert detect(InputFile.inspect(path)).name == "crossref"
    [rec] = parse(path)
    assert rec.title.startswith("Developing functional musculoskeletal tissues")
    assert rec.ids["doi"] == PNAS and rec.venue == "Proceedings of the National Academy of Sciences"
    assert rec.date == "2014-10-27" and rec.authors[2] == "Nikolaos K. Paschos"
    assert rec.author_ids == [AuthorIds("Nikolaos K. Paschos", {"orcid": PASCHOS})]
    [found] = parse(recorded(shared, "crossref", "search_c2b545f6.json"))  # a work-list
    assert found.ids["doi"] == "10.1093/jamiaopen/ooae021" and len(found.authors) == 11
    assert ids_of(found)["Yifan Peng"] == {"orcid": "0000-0001-9309-8331"}
    assert len(found.author_ids) == 5
    [preprint] = parse(recorded(shared, "crossref", "doi_10_1101_2F2024_04_01_587366.json"))
    assert preprint.venue == "bioRxiv" and preprint.extra["type"] == "posted-content"


def test_semantic_scholar_keeps_author_ids(shared: Path) -> None:
    [rec] = parse(recorded(shared, "semantic-scholar", "doi_10_1073_pnas_1414271111.json"))
    assert ids_of(rec)["N. Paschos"] == {"s2": "3776061"}
    assert ids_of(rec)["Kyriacos, Κυριάκος, Athanasiou, Αθανασίου"] == {"s2": "2541052"}
    batch = parse(shared / "data/formats/semantic-scholar-api/paper_batch_authors.json",
                  "semantic-scholar")  # a batch of authors only (no titles): named
    duflo = [a.ids["s2"] for r in batch for a in r.author_ids if a.name == "E. Duflo"]
    assert duflo == ["2259683"] * 3


def test_pubmed_keeps_orcids(shared: Path) -> None:
    recs = parse(shared / "data/formats/pubmed-eutils/sotawhat_efetch_5articles_2026-06.xml")
    kept = [a for r in recs for a in r.author_ids]
    assert AuthorIds("David Kersting", {"orcid": "0000-0002-8451-1830"}) in kept
    assert all(a.name in r.authors for r in recs for a in r.author_ids)


def test_hugging_face_keeps_claimed_accounts(shared: Path) -> None:
    recs = parse(shared / "data/formats/hf-daily-papers-api/daily_papers_2024-10-25_deep-diver.json")
    kept = [a for r in recs for a in r.author_ids]
    assert AuthorIds("Zesen Cheng", {"hf": "ClownRat"}) in kept
    assert len(kept) == 50 and sum(len(r.authors) for r in recs) == 191  # 50 claimed


def test_csl_json_keeps_orcids(shared: Path, tmp_path: Path) -> None:
    """A CSL-JSON item as Crossref writes one (its author objects carry ``ORCID``)."""
    message = crossref_message(shared, "doi_10_1073_2Fpnas_1414271111.json")
    item = {"id": "makris2014", "type": "article-journal", "title": message["title"][0],
            "author": message["author"], "issued": message["issued"], "DOI": message["DOI"],
            "container-title": message["container-title"][0]}
    path = tmp_path / "items.json"
    path.write_text(json.dumps([item]), encoding="utf-8")
    [rec] = parse(path)
    assert rec.ids["doi"] == PNAS
    assert rec.author_ids == [AuthorIds("Nikolaos K. Paschos", {"orcid": PASCHOS})]


# -- telling authors together and apart -----------------------------------------------------
def mention(paper: int, source: int, position: int, name: str, **ids: str) -> Mention:
    return Mention(source, position, paper, position, name, frozenset(ids.items()))


def test_one_orcid_one_person_other_ids_only_join() -> None:
    people = group([
        mention(1, 1, 0, "John A. Smith", orcid=PASCHOS),
        mention(1, 2, 0, "J. Smith", s2="11"),  # the same paper's other source
        mention(2, 3, 0, "Smith J", s2="11"),  # another key, the same S2 id
        mention(3, 4, 0, "John Smith", orcid=OTHER, s2="11"),  # S2 gave two people one id
        mention(4, 5, 0, "Jane Smith", s2="12"),
    ], author_key)
    by_orcid = {p.orcid: sorted(p.papers) for p in people}
    assert by_orcid == {PASCHOS: [1, 2], OTHER: [3], None: [4]}
    # Two authors of one source are two people, whatever their names' keys.
    two = group([mention(5, 6, 0, "J. Smith", s2="21"), mention(5, 6, 1, "John Smith", s2="22"),
                 mention(5, 7, 1, "Smith, John", openalex="A22")], author_key)
    assert sorted(sorted(i for m in p.mentions for i in m.ids) for p in two) == [
        [("openalex", "A22"), ("s2", "22")], [("s2", "21")]]


@pytest.fixture(scope="module")
def paschos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """The PNAS paper from Crossref, OpenAlex and Semantic Scholar (Paschos's ORCID, his
    OpenAlex and S2 ids), and three real Crossref works given other Paschos authors: his
    ORCID under his names swapped (``Paschos Nikolaos``: another name key), another
    person's ORCID as ``Nikolaos Paschos``, and ``N. Paschos`` with none."""
    from conftest import shared_dir

    shared = shared_dir()
    if not (shared / RECORDED).is_dir():
        pytest.skip(f"shared data not found at {shared}")
    tmp = tmp_path_factory.mktemp("author_ids")
    files = [recorded(shared, "crossref", "doi_10_1073_2Fpnas_1414271111.json"),
             recorded(shared, "openalex", "doi_10_1073_2Fpnas_1414271111.json"),
             recorded(shared, "semantic-scholar", "doi_10_1073_pnas_1414271111.json")]
    for name, author in [
            ("doi_10_1023_2Fa_1007154515475.json",
             {"given": "Paschos", "family": "Nikolaos", "ORCID": f"https://orcid.org/{PASCHOS}"}),
            ("doi_10_1016_2Fj_addr_2015_01_008.json",
             {"given": "Nikolaos", "family": "Paschos", "ORCID": f"http://orcid.org/{OTHER}"}),
            ("doi_10_1063_2F1_4938384.json", {"given": "N.", "family": "Paschos"})]:
        message = copy.deepcopy(crossref_message(shared, name))
        message["author"] = [*message["author"], {**author, "sequence": "additional"}]
        files.append(write_work(tmp / name, message))
    lib = Library(tmp / "a.db", embedding_model=None)
    report = lib.ingest(files)
    assert (report.added, report.merged, report.rejected) == (4, 2, 0)
    lib.index(embed=False)
    yield lib
    lib.close()


def paper_keys(lib: Library, dois: list[str]) -> list[str]:
    out = []
    for doi in dois:
        row = lib.store.conn.execute(
            "SELECT p.key FROM papers p JOIN paper_ids i ON i.paper_id = p.id"
            " WHERE i.scheme = 'doi' AND i.value = ?", (doi,)).fetchone()
        out.append(row[0])
    return out


def test_a_paper_keeps_the_ids_of_every_source(paschos: Library) -> None:
    rows = paschos.store.conn.execute(
        "SELECT DISTINCT a.name, a.scheme, a.value FROM author_ids a JOIN paper_ids i"
        " ON i.paper_id = a.paper_id WHERE i.scheme = 'doi' AND i.value = ?"
        " AND a.name LIKE '%Paschos%'", (PNAS,)).fetchall()
    assert sorted(map(tuple, rows)) == [
        ("N. Paschos", "s2", "3776061"), ("Nikolaos K. Paschos", "openalex", "A5002193027"),
        ("Nikolaos K. Paschos", "orcid", PASCHOS)]
    paper = paschos.papers.get(paper_keys(paschos, [PNAS])[0])
    kept = [s.extra.get("author_ids") for s in paper.sources]
    assert len(kept) == 3 and all(kept)  # each source row holds its own


def test_two_spellings_with_one_orcid_are_one_author(paschos: Library) -> None:
    pnas, swapped = paper_keys(paschos, [PNAS, "10.1023/a:1007154515475"])
    assert author_key("Paschos Nikolaos") != author_key("Nikolaos K. Paschos")
    page = paschos.authors.get(f"orcid:{PASCHOS}")
    assert {p.key for p in page.papers} == {pnas, swapped} and page.total == 2
    assert {"Nikolaos K. Paschos", "N. Paschos", "Paschos Nikolaos"} <= set(page.variants)
    assert page.name == "Nikolaos K. Paschos"
    assert {(i.scheme, i.value) for i in page.ids} == {
        ("orcid", PASCHOS), ("s2", "3776061"), ("openalex", "A5002193027")}
    assert page.ids[0].url == f"https://orcid.org/{PASCHOS}"
    # The swapped name's own key is the same author; a bare ORCID and its URL name him too.
    assert {p.key for p in paschos.authors.get("nikolaos.p").papers} == {pnas, swapped}
    assert paschos.authors.get(f"https://orcid.org/{PASCHOS}").key == page.key
    assert paschos.authors.get("openalex:A5002193027").key == page.key
    # Athanasiou: Semantic Scholar runs his names together (another key), in his place.
    kyriacos = paschos.authors.get("Kyriacos A. Athanasiou")
    assert "Kyriacos, Κυριάκος, Athanasiou, Αθανασίου" in kyriacos.variants
    assert kyriacos.name == "Kyriacos A. Athanasiou"
    assert ("s2", "2541052") in {(i.scheme, i.value) for i in kyriacos.ids}


def test_same_name_key_different_orcids_stay_apart(paschos: Library) -> None:
    pnas, swapped, other, unknown = paper_keys(paschos, [
        PNAS, "10.1023/a:1007154515475", "10.1016/j.addr.2015.01.008", "10.1063/1.4938384"])
    page = paschos.authors.get("N. Paschos")
    assert page.key == "paschos.n"
    assert [r.key for r in page.people] == [f"orcid:{PASCHOS}", f"orcid:{OTHER}"]
    assert {r.key: r.papers for r in page.people} == {f"orcid:{OTHER}": 1,
                                                        f"orcid:{PASCHOS}": 2}
    assert [p.key for p in page.papers] == [unknown] and page.total == 1  # neither's
    theirs = paschos.authors.get(f"orcid:{OTHER}")
    assert [p.key for p in theirs.papers] == [other] and theirs.name == "Nikolaos Paschos"
    assert [r.key for r in theirs.people] == [f"orcid:{PASCHOS}"]
    assert pnas not in {p.key for p in theirs.papers}
    mine = paschos.authors.get(f"orcid:{PASCHOS}")
    assert {p.key for p in mine.papers} == {pnas, swapped} and mine.key == f"orcid:{PASCHOS}"
    assert [r.key for r in mine.people] == [f"orcid:{OTHER}"]
    assert paschos.authors.feed(f"orcid:{OTHER}").html_path == f"/authors/orcid:{OTHER}"


def test_names_without_ids_and_unknown_ids(paschos: Library) -> None:
    # Responte has only an OpenAlex id: his page is his name key's, as before.
    page = paschos.authors.get("D. Responte")
    assert page.key == "responte.d" and page.total == 1
    assert [i.scheme for i in page.ids] == ["s2", "openalex"]
    with pytest.raises(NotFoundError):
        paschos.authors.get("orcid:0000-0001-5109-3700")  # a valid iD nobody here has
    with pytest.raises(InvalidOptionError):
        paschos.authors.get("orcid:0000-0002-1689-6637")  # a wrong check character


def test_author_pages_on_the_web_show_orcids(paschos: Library) -> None:
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from paperatlas.web import WebSettings, create_app

    client = TestClient(create_app(paschos, WebSettings(page_size=10)))
    html = client.get(f"/authors/orcid:{PASCHOS}").text
    assert f'href="https://orcid.org/{PASCHOS}"' in html and "Nikolaos K. Paschos" in html
    assert f"/feeds/authors/orcid:{PASCHOS}.rss" in html
    split = client.get("/authors/paschos.n").text
    assert f'href="/authors/orcid%3A{OTHER}"' in split and "told apart by their ORCIDs" in split
    data = client.get(f"/api/authors/{OTHER}").json()
    assert data["key"] == f"orcid:{OTHER}" and data["ids"] == [
        {"scheme": "orcid", "value": OTHER, "url": f"https://orcid.org/{OTHER}"}]
    assert client.get("/api/authors/orcid:0000-0001-5109-3700").status_code == 404
    assert client.get(f"/feeds/authors/orcid:{PASCHOS}.rss").status_code == 200


# -- the store --------------------------------------------------------------------------------
def test_the_migration_reads_stored_rows_in_again_and_reruns(paschos: Library,
                                                              tmp_path: Path) -> None:
    conn = paschos.store.conn
    before = conn.execute("SELECT * FROM author_ids ORDER BY 1, 2, 6").fetchall()
    with paschos.store.transaction(dry_run=True):  # rolled back: the fixture is shared
        conn.execute("DELETE FROM author_ids")
        m021_author_ids(conn)
        m021_author_ids(conn)
        assert conn.execute("SELECT * FROM author_ids ORDER BY 1, 2, 6").fetchall() == before
        pid = conn.execute("SELECT paper_id FROM paper_ids WHERE value = ?",
                           (PNAS,)).fetchone()[0]
        conn.execute("DELETE FROM papers WHERE id = ?", (pid,))
        assert conn.execute("SELECT COUNT(*) FROM author_ids WHERE paper_id = ?",
                            (pid,)).fetchone()[0] == 0
    assert len(before) == 1 + 9 + 5 + 2  # Crossref, OpenAlex, S2 of PNAS; the two made


def test_a_source_synced_from_the_apis_keeps_author_ids(
        tmp_path: Path, server: StandIn) -> None:  # noqa: F811
    """OpenAlex and Semantic Scholar, replayed from a stand-in server (the live sources
    read their answers with the importers' parsers)."""
    with synced(tmp_path / "s.db", server, ("oa", "s2")) as lib:
        counts = lib.store.author_ids.counts()
        assert counts["papers"] == 8 and counts["orcid"] >= 20 and counts["s2"] >= 30
        lib.index(embed=False)
        white = lib.authors.get("Andrew D. White")
        assert white.total == 3 and ("orcid", "0000-0002-6647-3965") in {
            (i.scheme, i.value) for i in white.ids}
        assert len([i for i in white.ids if i.scheme == "s2"]) == 2  # S2 split him in two


# -- a paper's authors with their identifiers ----------------------------------------------
def test_a_papers_authors_carry_their_ids_on_its_page_api_and_csl(paschos: Library,
                                                                    tmp_path: Path) -> None:
    pytest.importorskip("httpx")
    import json

    from fastapi.testclient import TestClient

    from paperatlas.author_ids import on_paper
    from paperatlas.web import WebSettings, create_app

    pnas, other = paper_keys(paschos, [PNAS, "10.1016/j.addr.2015.01.008"])
    paper = paschos.papers.get(pnas)
    ids = dict(zip(paper.authors, on_paper(paper), strict=True))
    paschos_name = next(a for a in paper.authors if "Paschos" in a)
    # Crossref's ORCID, OpenAlex's id, and Semantic Scholar's under "N. Paschos"
    assert ids[paschos_name] == {"orcid": PASCHOS, "s2": "3776061", "openalex": "A5002193027"}
    # Semantic Scholar's "Kyriacos, Κυριάκος, Athanasiou, Αθανασίου": his place, a word
    assert ids["Kyriacos A. Athanasiou"]["s2"] == "2541052"
    client = TestClient(create_app(paschos, WebSettings(page_size=10)))
    html = client.get(f"/papers/{pnas}").text
    assert f'href="/authors/orcid%3A{PASCHOS}">{paschos_name}</a> <a class="orcid" ' \
           f'href="https://orcid.org/{PASCHOS}"' in html
    assert client.get(f"/api/papers/{pnas}").json()["author_ids"] == on_paper(paper)
    theirs = paschos.papers.get(other)  # another person of that name key, with their ORCID
    assert {"orcid": OTHER} in on_paper(theirs)
    # CSL-JSON writes the ORCID as Crossref does, and reading it back keeps it
    out = tmp_path / "p.csl.json"
    out.write_text(paschos.export.text("csljson", papers=[pnas]), encoding="utf-8")
    [item] = json.loads(out.read_text(encoding="utf-8"))
    assert [a.get("ORCID") for a in item["author"] if a.get("family") == "Paschos"] == [
        f"https://orcid.org/{PASCHOS}"]
    with Library(tmp_path / "back.db", embedding_model=None) as back:
        back.ingest([out])
        again = back.papers.get(pnas)
        assert {"orcid": PASCHOS} in on_paper(again)
