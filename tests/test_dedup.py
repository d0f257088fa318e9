"""Dedup on ingest: identifiers, titles, near-identical titles, and what never merges."""

from __future__ import annotations

import json

from paperatlas import Library
from paperatlas.dedup import abstract_similarity, title_similarity
from paperatlas.text import normalize_title

from conftest import ABSTRACT_A, ABSTRACT_B


def jsonl(rows: list[dict[str, object]]) -> str:
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def test_same_doi_in_any_spelling_merges(lib: Library, write) -> None:
    lib.ingest([write("a.csv", f"title,doi,abstract\nOne title,10.1000/ABC,\"{ABSTRACT_A}\"\n")])
    report = lib.ingest([write("b.jsonl", jsonl([
        {"title": "A completely different title", "doi": "https://doi.org/10.1000/abc"}]))])
    assert (report.added, report.merged) == (0, 1)
    paper = lib.papers.get("10.1000/abc")
    assert paper.title == "One title" and len(paper.sources) == 2
    assert paper.collections == ["a", "b"]


def test_arxiv_versions_merge_and_arxiv_doi_is_arxiv(lib: Library, write) -> None:
    lib.ingest([write("a.jsonl", jsonl([{"id": "2104.12255v1", "title": "Paper X"}]))])
    report = lib.ingest([write("b.jsonl", jsonl([
        {"title": "Paper X (v2)", "doi": "10.48550/arXiv.2104.12255"},
        {"title": "Other", "url": "https://arxiv.org/abs/2104.12255v3"}]))])
    assert (report.added, report.merged) == (0, 2)
    paper = lib.papers.get("arXiv:2104.12255")
    assert paper.key == "2104.12255v1"  # the key the first source gave
    assert paper.ids == {"arxiv": "2104.12255v1"}


def test_conflicting_dois_never_merge(lib: Library, write) -> None:
    lib.ingest([write("a.csv", f"title,doi,abstract\nShared title,10.1000/one,\"{ABSTRACT_A}\"\n")])
    report = lib.ingest([write("b.csv", f"title,doi,abstract\nShared title,10.1000/two,\"{ABSTRACT_A}\"\n")])
    assert (report.added, report.merged) == (1, 0)
    assert lib.stats().papers == 2


def test_conflicting_arxiv_ids_never_merge(lib: Library, write) -> None:
    lib.ingest([write("a.jsonl", jsonl([{"arxiv": "2101.00001", "title": "Same"}]))])
    report = lib.ingest([write("b.jsonl", jsonl([{"arxiv": "2101.00002", "title": "Same"}]))])
    assert report.added == 1


def test_normalized_title_merges_and_fills_gaps(lib: Library, write) -> None:
    lib.ingest([write("a.csv", "title\nBERT: Pre-training of Deep Bidirectional Transformers\n")])
    report = lib.ingest([write("b.csv", "title,abstract,authors,year,doi\n"
                               f"bert pre-training of deep bidirectional transformers!,\"{ABSTRACT_A}\","
                               "Devlin; Chang,2019,10.18653/v1/N19-1423\n")])
    assert report.merged == 1
    paper = lib.papers.get("10.18653/v1/n19-1423")
    assert paper.abstract == ABSTRACT_A and paper.authors == ["Devlin", "Chang"]
    assert paper.year == 2019 and paper.title.startswith("BERT:")


def test_near_identical_title_needs_agreeing_abstract(lib: Library, write) -> None:
    title = "Hierarchical organization of scientific studies for literature review support"
    lib.ingest([write("a.csv", f"title,abstract\n{title},\"{ABSTRACT_A}\"\n")])
    typo = title.replace("organization", "organisation")
    same = lib.ingest([write("b.csv", f"title,abstract\n{typo},\"{ABSTRACT_A[:-30]}\"\n")])
    assert same.merged == 1
    other = lib.ingest([write("c.csv", f"title,abstract\n{typo} tools,\"{ABSTRACT_B}\"\n")])
    assert other.added == 1


def test_near_identical_title_without_abstract_needs_higher_similarity(lib: Library, write) -> None:
    title = "Graph neural networks as adapters for large language models"
    lib.ingest([write("a.csv", f"title\n{title}\n")])
    assert lib.ingest([write("b.csv", f"title\n{title[:-1]}\n")]).merged == 1  # one char
    assert lib.ingest([write("c.csv", "title\nGraph neural networks as adapters for small language models\n")]).added == 1


def test_generic_title_with_unrelated_abstracts_stays_apart(lib: Library, write) -> None:
    lib.ingest([write("a.csv", f"title,abstract\nSummary,\"{ABSTRACT_A}\"\n")])
    report = lib.ingest([write("b.csv", f"title,abstract\nSummary,\"{ABSTRACT_B}\"\n")])
    assert report.added == 1
    keys = [p.key for p in lib.papers()]
    assert len(keys) == 2 and keys[1] == "b:" + keys[0]  # same slug, made unique


def test_distinct_keys_in_one_file_never_merge(lib: Library, write) -> None:
    rows = [{"_id": "1", "title": "Same title", "text": ABSTRACT_A},
            {"_id": "2", "title": "Same title", "text": ABSTRACT_A}]
    report = lib.ingest([write("corpus.jsonl", jsonl(rows))])
    assert report.added == 2
    assert {p.key for p in lib.papers()} == {"1", "2"}
    # a second file with the same record merges into one of them
    again = lib.ingest([write("other.jsonl", jsonl([{"title": "Same title", "text": ABSTRACT_A}]))])
    assert again.merged == 1


def test_duplicate_within_a_file_without_keys_merges(lib: Library, write) -> None:
    report = lib.ingest([write("a.csv", f"title,abstract\nT one,\"{ABSTRACT_A}\"\nT one,\"{ABSTRACT_A}\"\n")])
    assert (report.added, report.merged) == (1, 1)
    assert len(lib.papers.get(next(lib.papers()).key).sources) == 2


def test_colliding_keys_are_made_unique(lib: Library, write) -> None:
    lib.ingest([write("x/corpus.jsonl", jsonl([{"_id": "7", "title": "Alpha", "text": ABSTRACT_A}]))])
    lib.ingest([write("y/corpus.jsonl", jsonl([{"_id": "7", "title": "Beta", "text": ABSTRACT_B}]))])
    assert lib.papers.get("7").title == "Alpha"
    assert lib.papers.get("y:7").title == "Beta"


def test_similarity_functions() -> None:
    assert title_similarity(normalize_title("A B C"), normalize_title("a, b; c")) == 100.0
    assert abstract_similarity(ABSTRACT_A, ABSTRACT_A) == 1.0
    low = abstract_similarity(ABSTRACT_A, ABSTRACT_B)
    assert low is not None and low < 0.05
    assert abstract_similarity("short", ABSTRACT_A) is None


def _letters(i: int) -> str:
    return "".join("abcdefghijklmnopqrstuvwxyz"[int(d)] for d in f"{i:03d}")


def test_fuzzy_match_survives_a_crowded_title_start(lib: Library, write) -> None:
    rows = [{"title": f"A survey of the {(_letters(i) + ' ') * 4}family of methods"} for i in range(700)]
    rows.append({"title": "A survey of the literature on hierarchical topic organization"})
    assert lib.ingest([write("many.jsonl", jsonl(rows))]).added == 701
    report = lib.ingest([write("one.jsonl", jsonl(
        [{"title": "A survey of the literature on hierarchical topic organisation"}]))])
    assert report.merged == 1


def test_titles_that_differ_in_a_number_never_fuzzy_merge(lib: Library, write) -> None:
    lib.ingest([write("a.csv", f"title,abstract\nLlama 2: Open Foundation and Chat Models,\"{ABSTRACT_A}\"\n")])
    report = lib.ingest([write("b.csv", f"title,abstract\nLlama 3: Open Foundation and Chat Models,\"{ABSTRACT_A}\"\n")])
    assert report.added == 1
    assert lib.ingest([write("c.csv", "title\nPart 1 of a long study\nPart 10 of a long study\n")]).added == 2


def test_an_older_version_met_later_changes_nothing(lib: Library, write, shared) -> None:
    """bioRxiv answers can bring version 1 after version 2: the paper keeps version 2's
    text and its signals (version 2), and stays one paper."""
    recorded = (shared / "data/formats/biorxiv-api/"
                "details_biorxiv_2026-09-07_2026-09-09_cursor0_cancer_biology.json")
    v2 = next(i for i in json.loads(recorded.read_text(encoding="utf-8"))["collection"]
              if i["doi"] == "10.64898/2026.04.19.716936")
    assert v2["version"] == "2"
    v1 = dict(v2, version="1", date="2026-09-05", title="ACLY and OGDH in liver cancer cells",
              abstract="A first version of the study.", license="cc_by", type="draft")

    def answer(item: dict[str, object]) -> str:
        return json.dumps({"messages": [{"status": "ok", "total": "1"}], "collection": [item]})

    lib.ingest([write("v2.json", answer(v2))], format="biorxiv")
    report = lib.ingest([write("v1.json", answer(v1))], format="biorxiv")
    assert (report.added, report.merged) == (0, 1)
    assert lib.stats().papers == 1
    paper = lib.papers.get(str(v2["doi"]))
    assert paper.title == v2["title"] and paper.abstract == v2["abstract"]
    signals = lib.store.signals.of([paper.id])[paper.id]["biorxiv"]
    assert signals["version"] == 2 and signals["license"] == v2["license"]


def test_a_duplicate_is_found_in_a_title_block_of_any_size(lib: Library, write) -> None:
    """Candidates come from every paper under the title's blocking keys (no cap): 800
    papers share the title's first and last words (both its keys), and a near-duplicate
    of the last one stored still merges with it."""
    title = "Graph neural networks for molecules: {} {} and protein ligand binding sites"
    rows = [{"id": f"p{i}", "title": title.format("variant", i),
             "abstract": ABSTRACT_B if i == 799 else f"{ABSTRACT_A} Variant {i}."}
            for i in range(800)]
    lib.ingest([write("many.jsonl", jsonl(rows))])
    assert lib.stats().papers == 800
    report = lib.ingest([write("again.jsonl", jsonl([
        {"title": title.format("varaint", 799), "abstract": ABSTRACT_B}]))])
    assert (report.added, report.merged) == (0, 1)
    merged = lib.store.conn.execute(
        "SELECT p.key FROM sources s JOIN papers p ON p.id = s.paper_id "
        "WHERE s.match_rule != 'new'").fetchall()
    assert [r[0] for r in merged] == ["p799"]


def test_duplicates_within_one_batch_merge_as_across_files(lib: Library, write) -> None:
    """A paper added by a batch keeps its identifiers and title keys in memory until the
    batch ends; a later record of the same batch that is the same paper still merges."""
    title = "Contrastive pretraining of protein language models for structure prediction"
    rows = [
        {"title": title, "doi": "10.1000/p1", "abstract": ABSTRACT_A},
        {"title": "Something else entirely", "doi": "10.1000/P1"},  # the same DOI
        {"title": title.replace("pretraining", "pretrainin"),
         "abstract": ABSTRACT_A},  # a near-identical title
        {"title": title.upper(), "abstract": ABSTRACT_A},  # the same title
        {"title": "An unrelated paper on graph coloring", "abstract": ABSTRACT_B},
    ]
    report = lib.ingest([write("one.jsonl", jsonl(rows))])
    assert (report.added, report.merged) == (2, 3)
    rules = [r[0] for r in lib.store.conn.execute("SELECT match_rule FROM sources ORDER BY entry")]
    assert rules == ["new", "id:doi", "fuzzy-title", "title", "new"]
    paper = lib.papers.get("10.1000/p1")
    assert len(paper.sources) == 4 and paper.collections == ["one"]
