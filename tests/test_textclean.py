# ruff: noqa: RUF001  (the examples are Unicode text: Greek letters, dashes)
"""Clean text at ingest (paperatlas.textclean): each cleaner on real examples from the shared
exports, then one ingest per route (a Zotero export, a source's API answer) showing clean
paper fields and a source row as the parser read it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperatlas import Library
from paperatlas.records.papers import Record
from paperatlas.records.sources import SourceSpec
from paperatlas.textclean import (
    clean_record,
    clean_text,
    decode_escapes,
    fix_mojibake,
    latex_to_unicode,
    strip_html,
)
from standin import ARXIV_RECORDED, StandIn, serve_feed, source_library, split_feed

FORMATS = Path("data") / "formats"
ZOTERO_JSON = FORMATS / "zotero" / "zotero-bbt-json_bulk-performance_1241.json"


def _zotero_items(shared: Path) -> list[dict[str, str]]:
    items: list[dict[str, str]] = json.loads((shared / ZOTERO_JSON).read_text())["items"]
    return items


def _line_with(path: Path, needle: str) -> str:
    return next(line for line in path.read_text(encoding="utf-8").splitlines() if needle in line)


# -- HTML ------------------------------------------------------------------------------------
def test_zotero_search_highlights_are_stripped(shared: Path) -> None:
    raw = next(i["abstractNote"] for i in _zotero_items(shared)
               if i.get("abstractNote", "").startswith('<span class="searchword">Ontologies'))
    clean = strip_html(raw)
    assert "<" not in clean and "searchword" not in clean
    assert clean.startswith("Ontologies for Developing Things offers")


def test_zotero_nocase_span_in_a_title(shared: Path) -> None:
    raw = next(i["title"] for i in _zotero_items(shared) if i["title"].startswith("Futures <span"))
    assert clean_text(raw) == ("Futures Within: Reversible time and house-building in Maputo, "
                               "Mozambique")


def test_crossref_jats_abstract(shared: Path) -> None:
    crossref = shared / FORMATS / "api-responses-openalex-crossref" / "crossref"
    work = json.loads((crossref / "doi_10_1038_2Fs42256_024_00832_8.json").read_text())
    raw = work["response"]["message"]["abstract"]
    assert raw.startswith("<jats:title>Abstract</jats:title><jats:p>Large language models")
    assert clean_text(raw).startswith("Large language models (LLMs) have shown")
    sections = json.loads((crossref / "search_c2b545f6.json").read_text())
    raw = next(w["abstract"] for w in sections["response"]["message"]["items"]
               if w.get("abstract"))
    assert clean_text(raw).startswith("Objective: To automate scientific claim verification "
                                      "using PubMed abstracts.")


def test_inline_tags_entities_and_what_is_not_a_tag() -> None:
    assert clean_text("H<sub>2</sub>O in <i>E. coli</i>") == "H2O in E. coli"
    assert clean_text("a<br/>b<p>c</p>") == "a b c"
    assert clean_text("<mml:math><mml:mi>α</mml:mi></mml:math>-helix") == "α-helix"
    assert strip_html("p &lt; 0.05 &amp; AT&T, R&D; caf&#233; &#x3B1;") == "p < 0.05 & AT&T, R&D; café α"
    assert strip_html("&lt;i&gt;in vivo&lt;/i&gt;") == "in vivo"
    # Comparisons and unknown names are text, not markup.
    for text in ("p<0.05 and q>1", "a <x and y> b", "if x < y and y > z"):
        assert clean_text(text) == text


# -- literal escapes ---------------------------------------------------------------------------
def test_literal_escapes_from_hoc_and_scifact(shared: Path) -> None:
    hoc = json.loads(_line_with(shared / "data/hierarchy/hoc-dev/corpus_with_labels.jsonl",
                                "AtPol\\\\u03bb"))
    text = next(v for v in hoc.values() if isinstance(v, str) and "AtPol\\u03bb" in v)
    assert "AtPolλ gene" in decode_escapes(text)
    scifact = json.loads(_line_with(shared / "data/scifact/corpus.jsonl", "\\\\u200eaugmented"))
    assert "\\u200e" in scifact["text"]  # a left-to-right mark, written out: dropped
    assert "it is related to augmented morbidity" in clean_text(scifact["text"])


def test_surrogate_pairs_and_lone_surrogates() -> None:
    assert decode_escapes("smile \\ud83d\\ude00") == "smile 😀"
    assert decode_escapes("half \\ud800 left") == "half \\ud800 left"  # kept as written
    assert decode_escapes("Hif-1 \\u03b1") == "Hif-1 α"


# -- mojibake ----------------------------------------------------------------------------------
def test_mojibake_in_arxiv_names(shared: Path) -> None:
    atom = (shared / "data" / ARXIV_RECORDED).read_text(encoding="utf-8")
    names = dict.fromkeys(re.findall(r"<name>([^<]*Ã[^<]*)</name>", atom))
    fixed = [fix_mojibake(n) for n in names]
    assert "Betül Karagöz" in fixed and "José Raúl Romero" in fixed
    assert "Florian Kroiß" in fixed and "Lasse Møldrup" in fixed
    assert not any("Ã" in n for n in fixed)


def test_text_that_only_looks_like_mojibake_is_left(shared: Path) -> None:
    titles = (shared / FORMATS / "semantic-scholar-api" / "paper_search_bulk_titles.json")
    portuguese = next(t for t in re.findall(r'"title": "([^"]*)"', titles.read_text())
                      if "DETECÇÃO" in t)
    assert fix_mojibake(portuguese) == portuguese
    for text in ("Fremtidens bedre byrum - visioner og drømme", "Schläger", "Ångström"):
        assert clean_text(text) == text


# -- LaTeX -------------------------------------------------------------------------------------
def test_latex_in_arxiv_metadata(shared: Path) -> None:
    sample = shared / FORMATS / "arxiv-kaggle-metadata-sample"
    line = json.loads(_line_with(sample / "arxiv-metadata-oai-snapshot_sample49.jsonl",
                                 "Salinas"))
    assert "Adrián Pérez-Salinas" in clean_text(line["authors"])
    assert "Radoica Draškić" in clean_text(line["authors"])
    text = clean_text(json.loads(_line_with(sample / "arxiv-metadata-oai-snapshot_sample49.jsonl",
                                            "doubling variables"))["abstract"])
    assert "the technique of “doubling variables,” which" in text


def test_latex_accents_quotes_and_dashes() -> None:
    assert latex_to_unicode(r'Schl{\"a}ger, M\"uller, Fran\c{c}ois, \v{S}koda') == \
        "Schläger, Müller, François, Škoda"
    assert latex_to_unicode(r"Stra{\ss}e, {\o}ster, Ku{\l}a, \'{\i}") == "Straße, øster, Kuła, í"
    assert latex_to_unicode(r"R\'{e}nyi, AT\&T, 50\%") == "Rényi, AT&T, 50%"
    assert latex_to_unicode("the ``Holy Trinity'' of tests") == "the “Holy Trinity” of tests"
    assert latex_to_unicode("pages 12--15, a -- b, yes---no") == "pages 12–15, a – b, yes—no"
    # Math, other commands and command-line options are left as written.
    for text in (r"$\alpha$ and $\bar x$, \cdot \left( \int \kappa", "run it with --fast",
                 "an apostrophe's ''"):
        assert latex_to_unicode(text) == text


# -- all of it, on a record --------------------------------------------------------------------
def test_clean_record_cleans_a_copy() -> None:
    rec = Record(title="A <i>study</i>  of\nthings", abstract="&amp; more",
                 authors=["BetÃ¼l KaragÃ¶z", "<b></b>"], venue="Proc.\tof X",
                 categories=["a&amp;b"], extra={"note": "<p>raw</p>"})
    clean = clean_record(rec)
    assert (clean.title, clean.abstract, clean.authors, clean.venue, clean.categories) == (
        "A study of things", "& more", ["Betül Karagöz"], "Proc. of X", ["a&b"])
    assert rec.title == "A <i>study</i>  of\nthings" and rec.authors[0] == "BetÃ¼l KaragÃ¶z"
    assert clean.extra is rec.extra and rec.extra == {"note": "<p>raw</p>"}


def test_abstract_paragraphs_stay() -> None:
    text = "OBJECTIVES: To  find\nout.\n\nDESIGN: A <i>study</i>.\n \n\n"
    assert clean_text(text, paragraphs=True) == "OBJECTIVES: To find out.\n\nDESIGN: A study."
    assert clean_text(text) == "OBJECTIVES: To find out. DESIGN: A study."
    assert clean_record(Record(title="t", abstract=text)).abstract.count("\n\n") == 1


@pytest.mark.parametrize("text", ["", "Plain ASCII title", "Ünïcödé already fine"])
def test_clean_text_leaves_clean_text(text: str) -> None:
    assert clean_text(text) == text


# -- ingest routes ---------------------------------------------------------------------------
def test_zotero_export_ingests_clean_and_keeps_the_source_row(lib: Library, shared: Path) -> None:
    lib.ingest([shared / ZOTERO_JSON], collection="zotero")
    found = {p.title: p for p in lib.papers(collection="zotero")}
    title = "Futures Within: Reversible time and house-building in Maputo, Mozambique"
    assert title in found
    ontologies = next(p for p in found.values() if p.abstract.startswith("Ontologies for"))
    assert "<span" not in ontologies.abstract
    assert not any("<span" in p.title or "<span" in p.abstract for p in found.values())
    row = lib.store.conn.execute(
        "SELECT s.title FROM sources s JOIN papers p ON p.id = s.paper_id WHERE p.key = ?",
        (found[title].key,)).fetchone()
    assert row[0].startswith('Futures <span class="nocase">Within</span>')


def test_a_source_answer_ingests_clean_and_keeps_the_source_row(tmp_path: Path,
                                                                 server: StandIn,
                                                                 shared: Path) -> None:
    serve_feed(server, split_feed(shared / "data" / ARXIV_RECORDED))
    spec = SourceSpec(name="testing", kind="arxiv", query="testing", since="2026-11-01",
                      base_url=server.base_url)
    with source_library(tmp_path / "a.db", spec, datetime(2026, 12, 4, 6, tzinfo=UTC)) as lib:
        [report] = lib.sources.sync()
        assert report.ok and report.added == 100
        authors = {a for p in lib.papers() for a in p.authors}
        assert {"Betül Karagöz", "Florian Kroiß", "C. Lämmerzahl"} <= authors
        assert not any("Ã" in a for a in authors)
        extra = json.loads(next(r[0] for r in lib.store.conn.execute(
            "SELECT extra FROM sources WHERE extra LIKE '%Gyros%'")))
        assert "LÃ¤mmerzahl" in json.dumps(extra, ensure_ascii=False)  # as the answer had it


_FIELD = st.text(alphabet=st.sampled_from(list("ab -'`<&\\\t\n\u00e9")), max_size=8)


@settings(max_examples=300, deadline=None)
@given(title=_FIELD.filter(str.strip), authors=st.lists(_FIELD, max_size=3),
       categories=st.lists(_FIELD, max_size=2), venue=st.none() | _FIELD)
def test_clean_record_equals_cleaning_each_field(title: str, authors: list[str],
                                                 categories: list[str],
                                                 venue: str | None) -> None:
    """The record-wide check that skips clean fields gives what cleaning each field does."""
    rec = Record(title=title, abstract="x", authors=authors, categories=categories, venue=venue)
    got = clean_record(rec)
    assert got.title == clean_text(title)
    assert got.authors == [c for c in map(clean_text, authors) if c]
    assert got.categories == [c for c in map(clean_text, categories) if c]
    assert got.venue == (clean_text(venue) or None if venue else venue)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .-'\t\n\r\x0b\x0c")), max_size=30))
def test_plain_ascii_only_has_its_white_space_collapsed(text: str) -> None:
    expected = " ".join(text.split())
    if "--" not in text and "''" not in text:  # else LaTeX dashes and quotes
        assert clean_text(text) == expected
        assert clean_text(text + " a<b>") == " ".join((text + " a").split())  # tag stripped
